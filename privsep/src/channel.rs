//! The framed channel between roles.
//!
//! One `socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)` per pair of processes; the kernel
//! keeps message boundaries, so a frame is exactly one datagram:
//!
//! - `0x00` + `bincode((id, body))`, with the body's fds as `SCM_RIGHTS` (inline), or
//! - `0x01` + the length as u32 LE, with a sealed memfd holding `bincode((id, body))` as the
//!   first fd and the body's fds after it (spilled). The kernel caps a datagram at the socket's
//!   send buffer (212,992 bytes by default, not raisable without privilege), so messages over
//!   [`MAX_FRAME`] travel this way, up to [`MAX_MESSAGE`].
//!
//! Anything unexpected is fatal to the channel, never repaired: a datagram over [`MAX_FRAME`]
//! (`MSG_TRUNC`), a control message that did not fit (`MSG_CTRUNC`), a control message that is
//! not `SCM_RIGHTS`, an unknown tag, a spill that is not a sealed memfd of the stated length, a
//! body that does not decode, or a number of fds other than the body declares. Received fds are wrapped in `OwnedFd` before anything is checked, so an error
//! path closes them instead of leaking them, and they arrive close-on-exec
//! (`MSG_CMSG_CLOEXEC`).

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType};
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::codec;
pub use crate::codec::MAX_MESSAGE;

/// Largest datagram, tag included; larger messages are spilled to a memfd.
pub const MAX_FRAME: usize = 64 * 1024;
/// The most fds any one message may carry (a spill's memfd comes on top).
pub const MAX_FDS: usize = 4;
pub const TAG_INLINE: u8 = 0;
pub const TAG_SPILLED: u8 = 1;

/// A message type that can cross a channel. `fd_count` says how many fds must travel with
/// this value; the receiver enforces it exactly.
pub trait Message: Serialize + DeserializeOwned + Send + Sync + 'static {
    fn fd_count(&self) -> usize {
        0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("peer closed the channel")]
    Closed,
    #[error("channel I/O: {0}")]
    Io(Errno),
    #[error("frame larger than {MAX_FRAME} bytes")]
    Oversize,
    #[error("control data truncated (too many fds)")]
    ControlTruncated,
    #[error("unexpected control message")]
    UnexpectedControl,
    #[error("undecodable frame: {0}")]
    Decode(#[from] codec::CodecError),
    #[error("frame carries {got} fds, its type expects {expected}")]
    FdMismatch { expected: usize, got: usize },
    #[error("refusing to send {0} fds")]
    TooManyFds(usize),
    #[error("bad spilled frame: {0}")]
    Spill(String),
}

impl From<Errno> for ChannelError {
    fn from(e: Errno) -> Self {
        ChannelError::Io(e)
    }
}

/// A connected pair of SEQPACKET sockets, both close-on-exec.
pub fn pair() -> Result<(OwnedFd, OwnedFd), Errno> {
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
}

/// Send one raw frame. Used by the typed senders and by tests that need to send garbage.
pub fn send_bytes(fd: BorrowedFd<'_>, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), ChannelError> {
    if bytes.len() > MAX_FRAME {
        return Err(ChannelError::Oversize);
    }
    if fds.len() > MAX_FDS + 1 {
        return Err(ChannelError::TooManyFds(fds.len()));
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [IoSlice::new(bytes)];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &cmsg };
    let sent = sendmsg::<()>(fd.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    if sent != bytes.len() {
        // SEQPACKET sends are all or nothing; anything else is a broken channel.
        return Err(ChannelError::Io(Errno::EMSGSIZE));
    }
    Ok(())
}

/// Receive one raw frame into `buf` (which must hold `MAX_FRAME` bytes).
///
/// Hand-written over recvmsg(2) rather than nix's wrapper: with `MSG_CTRUNC` nix declines to
/// walk the control data, which would leave the fds that did arrive open and unowned. The
/// kernel installs only whole fds and sets `msg_controllen` to what it filled, so walking it
/// is safe even when truncated; every fd is owned before any check can return.
pub fn recv_bytes(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Vec<OwnedFd>), ChannelError> {
    // Room for MAX_FDS + 1 fds (16-byte header + 20 bytes of fds, aligned), u64-aligned.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data; an all-zero value is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: `msg` points at `iov` (covering `buf`) and `control`, both alive and exclusively
    // borrowed for the duration of the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(Errno::last().into());
    }
    let mut fds = Vec::new();
    let mut unexpected = false;
    // SAFETY: CMSG_FIRSTHDR/NXTHDR stay within msg_control/msg_controllen as set by the
    // kernel; CMSG_DATA of an SCM_RIGHTS header holds (cmsg_len - CMSG_LEN(0)) bytes of fds,
    // each newly installed in our table for us alone, so wrapping them in OwnedFd is sound.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c) as *const RawFd;
                let count = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            } else {
                unexpected = true;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_TRUNC != 0 {
        return Err(ChannelError::Oversize);
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(ChannelError::ControlTruncated);
    }
    if unexpected {
        return Err(ChannelError::UnexpectedControl);
    }
    if n == 0 {
        return Err(ChannelError::Closed);
    }
    Ok((n as usize, fds))
}

/// Encodes a message into the datagram to send and, for a spilled one, its memfd.
fn encode_frame<T: Message>(
    id: u64,
    body: &T,
    fds: &[BorrowedFd<'_>],
) -> Result<(Vec<u8>, Option<OwnedFd>), ChannelError> {
    if body.fd_count() != fds.len() {
        return Err(ChannelError::FdMismatch { expected: body.fd_count(), got: fds.len() });
    }
    if fds.len() > MAX_FDS {
        return Err(ChannelError::TooManyFds(fds.len()));
    }
    let frame = codec::encode_after(TAG_INLINE, &(id, body))?;
    let payload = &frame[1..];
    if payload.len() < MAX_FRAME {
        return Ok((frame, None));
    }
    if payload.len() > MAX_MESSAGE {
        return Err(ChannelError::Oversize);
    }
    let memfd = spill(payload)?;
    let mut frame = vec![TAG_SPILLED];
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    Ok((frame, Some(memfd)))
}

fn spill(payload: &[u8]) -> Result<OwnedFd, ChannelError> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let fd = memfd_create(c"redoubt-frame", MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING)?;
    let mut written = 0;
    while written < payload.len() {
        written += nix::unistd::write(&fd, &payload[written..])?;
    }
    // Sealed: the receiver reads exactly what was sent, and the sender cannot change it after.
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SEAL;
    fcntl(fd.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals))?;
    Ok(fd)
}

fn unspill(fd: &OwnedFd, len: usize) -> Result<Vec<u8>, ChannelError> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    let bad = |w: &str| ChannelError::Spill(w.to_string());
    let seals =
        SealFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GET_SEALS).map_err(|_| bad("not a memfd"))?);
    if !seals.contains(SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW) {
        return Err(bad("memfd not sealed"));
    }
    if nix::sys::stat::fstat(fd.as_raw_fd())?.st_size != len as i64 {
        return Err(bad("length does not match"));
    }
    let mut buf = vec![0u8; len];
    let mut read = 0;
    while read < len {
        match nix::sys::uio::pread(fd, &mut buf[read..], read as i64)? {
            0 => return Err(bad("short read")),
            n => read += n,
        }
    }
    Ok(buf)
}

/// Parses a received datagram (and its fds) into a message.
fn decode_datagram<T: Message>(frame: &[u8], mut fds: Vec<OwnedFd>) -> Result<Received<T>, ChannelError> {
    let payload = payload_of(frame, &mut fds)?;
    decode_payload(&payload, fds)
}

/// A datagram's payload: the frame's own bytes, or a spilled one read from its memfd (the
/// first fd, taken out of `fds`).
fn payload_of<'f>(frame: &'f [u8], fds: &mut Vec<OwnedFd>) -> Result<std::borrow::Cow<'f, [u8]>, ChannelError> {
    match frame.first() {
        Some(&TAG_INLINE) => Ok(std::borrow::Cow::Borrowed(&frame[1..])),
        Some(&TAG_SPILLED) => {
            let len: [u8; 4] = frame[1..].try_into().map_err(|_| ChannelError::Spill("bad header".into()))?;
            let len = u32::from_le_bytes(len) as usize;
            if len > MAX_MESSAGE {
                return Err(ChannelError::Oversize);
            }
            if fds.is_empty() {
                return Err(ChannelError::Spill("no memfd".into()));
            }
            let memfd = fds.remove(0);
            Ok(std::borrow::Cow::Owned(unspill(&memfd, len)?))
        }
        _ => Err(ChannelError::Spill("unknown frame tag".into())),
    }
}

fn decode_payload<T: Message>(payload: &[u8], fds: Vec<OwnedFd>) -> Result<Received<T>, ChannelError> {
    let (id, body): (u64, T) = codec::decode(payload)?;
    if body.fd_count() != fds.len() {
        // `fds` is dropped here: every fd we were not promised is closed.
        return Err(ChannelError::FdMismatch { expected: body.fd_count(), got: fds.len() });
    }
    Ok(Received { id, body, fds })
}

/// Sends a typed message on a (blocking or non-blocking) channel fd.
fn send_message(
    fd: BorrowedFd<'_>,
    frame: &[u8],
    spill: &Option<OwnedFd>,
    fds: &[BorrowedFd<'_>],
) -> Result<(), ChannelError> {
    match spill {
        None => send_bytes(fd, frame, fds),
        Some(m) => {
            let mut all = Vec::with_capacity(fds.len() + 1);
            all.push(m.as_fd());
            all.extend_from_slice(fds);
            send_bytes(fd, frame, &all)
        }
    }
}

/// One decoded frame.
#[derive(Debug)]
pub struct Received<T> {
    pub id: u64,
    pub body: T,
    pub fds: Vec<OwnedFd>,
}

/// A received datagram whose body is not decoded yet: only its id is read, so that the
/// waiting caller decodes the body on its own thread (`rpc::Client`). Its records are then
/// allocated and freed by one thread, and the callers' decoding runs in parallel instead of
/// one after another on the reader task.
#[derive(Debug)]
pub struct Datagram {
    pub id: u64,
    payload: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl Datagram {
    fn read(frame: &[u8], mut fds: Vec<OwnedFd>) -> Result<Datagram, ChannelError> {
        let payload = payload_of(frame, &mut fds)?.into_owned();
        let id = codec::decode_prefix::<u64>(&payload)?;
        Ok(Datagram { id, payload, fds })
    }

    /// Checks and decodes the body as [`AsyncChannel::recv`] would: a body that does not
    /// decode, or a number of fds other than it declares, is an error (the fds are closed).
    pub fn decode<T: Message>(self) -> Result<Received<T>, ChannelError> {
        decode_payload(&self.payload, self.fds)
    }
}

/// Blocking end of a channel (supervisor, and roles before their runtime exists).
pub struct Channel {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Channel {
    pub fn new(fd: OwnedFd) -> Self {
        Channel { fd, buf: vec![0; MAX_FRAME] }
    }

    pub fn send<T: Message>(&self, id: u64, body: &T, fds: &[BorrowedFd<'_>]) -> Result<(), ChannelError> {
        let (frame, spill) = encode_frame(id, body, fds)?;
        send_message(self.fd.as_fd(), &frame, &spill, fds)
    }

    pub fn recv<T: Message>(&mut self) -> Result<Received<T>, ChannelError> {
        let (n, fds) = recv_bytes(self.fd.as_fd(), &mut self.buf)?;
        decode_datagram(&self.buf[..n], fds)
    }

    /// Zeroes the receive buffer: the last message may have carried secrets (the broker's
    /// init holds the key passphrase).
    pub fn wipe(&mut self) {
        for b in self.buf.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference; volatile keeps the
            // zeroing from being optimised away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }

    pub fn into_fd(mut self) -> OwnedFd {
        self.wipe();
        self.fd
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Non-blocking end of a channel on a tokio runtime. Sends may come from many tasks at once
/// (each frame is one atomic `sendmsg`); receives must come from one task.
pub struct AsyncChannel {
    fd: AsyncFd<OwnedFd>,
}

impl AsyncChannel {
    /// Must be called inside a tokio runtime.
    pub fn new(fd: OwnedFd) -> std::io::Result<Self> {
        let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;
        // SAFETY: an OwnedFd is a valid open fd that stays open, and refers to the same
        // description, for as long as the AsyncFd owns it; as_raw_fd always returns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(AsyncChannel { fd })
    }

    pub async fn send<T: Message>(&self, id: u64, body: &T, fds: &[BorrowedFd<'_>]) -> Result<(), ChannelError> {
        let (frame, spill) = encode_frame(id, body, fds)?;
        loop {
            let mut guard = self.fd.writable().await.map_err(io_errno)?;
            match send_message(self.fd.get_ref().as_fd(), &frame, &spill, fds) {
                Err(ChannelError::Io(Errno::EAGAIN)) => guard.clear_ready(),
                other => return other,
            }
        }
    }

    /// Receives one message; `buf` must hold [`MAX_FRAME`] bytes.
    pub async fn recv<T: Message>(&self, buf: &mut [u8]) -> Result<Received<T>, ChannelError> {
        let (n, fds) = self.recv_bytes(buf).await?;
        decode_datagram(&buf[..n], fds)
    }

    /// Receives one datagram and reads only its id; [`Datagram::decode`] does the rest.
    pub async fn recv_datagram(&self, buf: &mut [u8]) -> Result<Datagram, ChannelError> {
        let (n, fds) = self.recv_bytes(buf).await?;
        Datagram::read(&buf[..n], fds)
    }

    /// Ends the channel both ways: the peer and this side's reader see it closed.
    pub fn shutdown(&self) {
        let _ = nix::sys::socket::shutdown(self.fd.get_ref().as_raw_fd(), nix::sys::socket::Shutdown::Both);
    }

    async fn recv_bytes(&self, buf: &mut [u8]) -> Result<(usize, Vec<OwnedFd>), ChannelError> {
        loop {
            let mut guard = self.fd.readable().await.map_err(io_errno)?;
            match recv_bytes(self.fd.get_ref().as_fd(), buf) {
                Err(ChannelError::Io(Errno::EAGAIN)) => guard.clear_ready(),
                other => return other,
            }
        }
    }
}

fn io_errno(e: std::io::Error) -> ChannelError {
    ChannelError::Io(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    enum Msg {
        Hello(String),
        WithFd,
    }
    impl Message for Msg {
        fn fd_count(&self) -> usize {
            matches!(self, Msg::WithFd) as usize
        }
    }

    fn devnull() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    #[test]
    fn frame_round_trip_with_fd() {
        let (a, b) = pair().unwrap();
        let a = Channel::new(a);
        let mut b = Channel::new(b);
        a.send(1, &Msg::Hello("hi".into()), &[]).unwrap();
        let r: Received<Msg> = b.recv().unwrap();
        assert_eq!((r.id, r.body), (1, Msg::Hello("hi".into())));
        let f = devnull();
        a.send(2, &Msg::WithFd, &[f.as_fd()]).unwrap();
        let r: Received<Msg> = b.recv().unwrap();
        assert_eq!(r.fds.len(), 1);
        let flags = nix::fcntl::fcntl(r.fds[0].as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert!(nix::fcntl::FdFlag::from_bits_retain(flags).contains(nix::fcntl::FdFlag::FD_CLOEXEC));
    }

    #[test]
    fn sender_refuses_fd_count_that_does_not_match_type() {
        let (a, _b) = pair().unwrap();
        let a = Channel::new(a);
        let f = devnull();
        assert!(matches!(
            a.send(1, &Msg::Hello("x".into()), &[f.as_fd()]),
            Err(ChannelError::FdMismatch { expected: 0, got: 1 })
        ));
    }
}
