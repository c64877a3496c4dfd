//! The rpc client against a peer that answers with bytes of its own choosing. In a file of its
//! own: it counts this process's descriptors, which tests running beside it would change.

mod common;

use common::{devnull, open_fds, Msg};

use std::os::fd::AsFd;

use privsep::channel::{pair, send_bytes, AsyncChannel, Channel, ChannelError, Received};
use privsep::codec;
use privsep::rpc::{Client, RpcError};

/// The rpc client decodes an answer on the caller's task, not the reader's: one that does not
/// decode, or whose fds do not match what it declares, still fails the call and ends the
/// channel, as a malformed frame does anywhere else.
#[test]
fn an_answer_that_does_not_decode_fails_the_call_and_ends_the_channel() {
    // A variant Msg does not have; a body that declares an fd the datagram does not carry; a
    // body that declares none, with one.
    let cases = [
        (vec![9u8], false),
        (codec::encode(&Msg::OneFd).unwrap(), false),
        (codec::encode(&Msg::NoFd("x".into())).unwrap(), true),
    ];
    for (tail, with_fd) in cases {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (a, b) = pair().unwrap();
            let before = open_fds();
            let (client, reader) = Client::<Msg, Msg>::start(AsyncChannel::new(a).unwrap());
            let peer = std::thread::spawn(move || {
                // Bounded: a client that failed to end the channel fails the test, not hangs it.
                let five = nix::sys::time::TimeVal::new(5, 0);
                nix::sys::socket::setsockopt(&b, nix::sys::socket::sockopt::ReceiveTimeout, &five).unwrap();
                let mut b = Channel::new(b);
                let asked: Received<Msg> = b.recv().unwrap();
                // The id asked for, then the bad body.
                let mut bad = vec![privsep::channel::TAG_INLINE];
                bad.extend(codec::encode(&asked.id).unwrap());
                bad.extend(&tail);
                let null = devnull();
                let fds: Vec<_> = if with_fd { vec![null.as_fd()] } else { vec![] };
                send_bytes(b.as_fd(), &bad, &fds).unwrap();
                // Then the channel must be closed from the client's side.
                b.recv::<Msg>().err()
            });
            let err = client.call(&Msg::NoFd("hi".into()), &[]).await.err();
            assert!(
                matches!(err, Some(RpcError::Channel(ChannelError::Decode(_) | ChannelError::FdMismatch { .. }))),
                "{err:?}"
            );
            assert!(matches!(peer.join().unwrap(), Some(ChannelError::Closed)));
            reader.await.unwrap();
            assert!(client.call(&Msg::NoFd("again".into()), &[]).await.is_err(), "the channel is gone");
            drop(client);
            assert!(open_fds() <= before, "no descriptor leaked");
        });
    }
}
