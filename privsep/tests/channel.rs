//! T15: the channel cannot be abused. Every malformed frame ends the channel with a specific
//! error, and no received descriptor outlives the error (counted in /proc/self/fd).

mod common;

use common::{devnull, open_fds, Msg};

use std::os::fd::AsFd;

use privsep::channel::{pair, send_bytes, Channel, ChannelError, Message, Received, MAX_FRAME};
use privsep::codec;
use proptest::prelude::*;

fn frame(id: u64, m: &Msg) -> Vec<u8> {
    let mut f = vec![privsep::channel::TAG_INLINE];
    f.extend(codec::encode(&(id, m)).unwrap());
    f
}

fn recv(b: &mut Channel) -> Result<Received<Msg>, ChannelError> {
    b.recv::<Msg>()
}

/// One test, so the fd counts are not disturbed by other tests running in this process.
#[test]
fn malformed_frames_are_refused_and_leak_no_fd() {
    let (a, b) = pair().unwrap();
    let mut b = Channel::new(b);
    let null = devnull();
    let before = open_fds();

    // Oversize: one byte over the cap arrives truncated (MSG_TRUNC).
    let big = vec![0u8; MAX_FRAME + 1];
    nix::sys::socket::send(std::os::fd::AsRawFd::as_raw_fd(&a), &big, nix::sys::socket::MsgFlags::empty()).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::Oversize)));
    // ...and our own sender refuses to produce one.
    assert!(matches!(send_bytes(a.as_fd(), &big, &[]), Err(ChannelError::Oversize)));

    // Two fds where the type expects one.
    send_bytes(a.as_fd(), &frame(1, &Msg::OneFd), &[null.as_fd(), null.as_fd()]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::FdMismatch { expected: 1, got: 2 })));

    // An fd on a message that expects none.
    send_bytes(a.as_fd(), &frame(2, &Msg::NoFd("x".into())), &[null.as_fd()]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::FdMismatch { expected: 0, got: 1 })));

    // No fd where one is expected.
    send_bytes(a.as_fd(), &frame(3, &Msg::OneFd), &[]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::FdMismatch { expected: 1, got: 0 })));

    // More fds than the control buffer holds: MSG_CTRUNC.
    let many: Vec<_> = (0..16).map(|_| null.as_fd()).collect();
    let raw: Vec<i32> = many.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
    let payload = frame(4, &Msg::OneFd);
    let iov = [std::io::IoSlice::new(&payload)];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&raw)];
    nix::sys::socket::sendmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&a),
        &iov,
        &cmsg,
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .unwrap();
    let r = recv(&mut b);
    assert!(matches!(r, Err(ChannelError::ControlTruncated)), "{r:?}");

    // Garbage bytes (an unknown tag), with an fd attached for good measure.
    send_bytes(a.as_fd(), &[0xff, 0xfe, 0x01, 0x02, 0x03], &[null.as_fd()]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::Spill(_))));
    // Garbage after a valid tag.
    send_bytes(a.as_fd(), &[0x00, 0xfe, 0x01, 0x02, 0x03], &[null.as_fd()]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::Decode(_))));
    // A spill header whose "memfd" is a plain file, and one with no fd at all.
    send_bytes(a.as_fd(), &[0x01, 4, 0, 0, 0], &[null.as_fd()]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::Spill(_))));
    send_bytes(a.as_fd(), &[0x01, 4, 0, 0, 0], &[]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::Spill(_))));
    // A spill claiming more than the message cap.
    send_bytes(a.as_fd(), &[0x01, 0xff, 0xff, 0xff, 0xff], &[null.as_fd()]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::Oversize)));

    // A valid frame followed by trailing bytes.
    let mut trailing = frame(5, &Msg::NoFd("y".into()));
    trailing.push(0);
    send_bytes(a.as_fd(), &trailing, &[]).unwrap();
    assert!(matches!(recv(&mut b), Err(ChannelError::Decode(_))));

    // Not one of the fds that arrived with bad frames is still open.
    assert_eq!(open_fds(), before, "a refused frame leaked an fd");

    // A well-formed frame still works, and its fd arrives close-on-exec.
    send_bytes(a.as_fd(), &frame(6, &Msg::OneFd), &[null.as_fd()]).unwrap();
    let ok = recv(&mut b).unwrap();
    assert_eq!((ok.id, ok.fds.len()), (6, 1));
    let flags = nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(&ok.fds[0]), nix::fcntl::FcntlArg::F_GETFD).unwrap();
    assert!(nix::fcntl::FdFlag::from_bits_retain(flags).contains(nix::fcntl::FdFlag::FD_CLOEXEC));
    drop(ok);
    assert_eq!(open_fds(), before);

    // A message too large for one datagram is spilled to a sealed memfd and arrives whole.
    let long = "x".repeat(3 * MAX_FRAME);
    Channel::new(a.try_clone().unwrap()).send(7, &Msg::NoFd(long.clone()), &[]).unwrap();
    let r = recv(&mut b).unwrap();
    assert_eq!((r.id, r.body), (7, Msg::NoFd(long)));
    assert_eq!(open_fds(), before, "the spill memfd was closed");

    // The peer going away reads as Closed.
    drop(a);
    assert!(matches!(recv(&mut b), Err(ChannelError::Closed)));
}

#[test]
fn a_request_outside_the_permit_ends_the_served_channel() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (a, b) = pair().unwrap();
        let server = privsep::channel::AsyncChannel::new(b).unwrap();
        let serve = tokio::spawn(privsep::rpc::serve(
            server,
            |m: &Msg| match m {
                Msg::NoFd(_) => Ok(()),
                Msg::OneFd => Err("OneFd".to_string()),
            },
            |m: Msg, _fds| async move { privsep::rpc::Answer::from(m) },
        ));
        let client_chan = privsep::channel::AsyncChannel::new(a).unwrap();
        let (client, _reader) = privsep::rpc::Client::<Msg, Msg>::start(client_chan);
        let echoed = client.call(&Msg::NoFd("hi".into()), &[]).await.unwrap();
        assert_eq!(echoed.body, Msg::NoFd("hi".into()));
        let null = devnull();
        assert!(client.call(&Msg::OneFd, &[null.as_fd()]).await.is_err());
        let end = serve.await.unwrap();
        assert!(matches!(end, privsep::rpc::ServeEnd::NotPermitted(ref k) if k == "OneFd"), "{end}");
        // Every later call fails: the channel is gone.
        assert!(client.call(&Msg::NoFd("again".into()), &[]).await.is_err());
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Fuzzing the frame decoder: arbitrary bytes (and sometimes an fd) never panic, never
    /// leak the fd, and either decode to a frame whose fd count matches or are refused.
    #[test]
    fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 1..512), with_fd in any::<bool>()) {
        let (a, b) = pair().unwrap();
        let mut b = Channel::new(b);
        let null = devnull();
        let fds: Vec<_> = if with_fd { vec![null.as_fd()] } else { vec![] };
        send_bytes(a.as_fd(), &bytes, &fds).unwrap();
        match recv(&mut b) {
            Ok(r) => prop_assert_eq!(r.fds.len(), r.body.fd_count()),
            Err(ChannelError::Decode(_)) | Err(ChannelError::FdMismatch { .. }) | Err(ChannelError::Spill(_)) | Err(ChannelError::Oversize) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    /// Valid frames always round-trip.
    #[test]
    fn valid_frames_round_trip(id in any::<u64>(), s in ".{0,200}") {
        let (a, b) = pair().unwrap();
        let mut b = Channel::new(b);
        Channel::new(a).send(id, &Msg::NoFd(s.clone()), &[]).unwrap();
        let r = recv(&mut b).unwrap();
        prop_assert_eq!((r.id, r.body), (id, Msg::NoFd(s)));
    }
}
