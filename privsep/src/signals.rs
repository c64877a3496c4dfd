//! SIGTERM/SIGINT as an async event, through a signalfd (tokio's own signal driver needs a
//! socketpair, which the role filters refuse). Call [`Termination::block`] before any thread
//! exists, so that every thread inherits the blocked mask and only the signalfd sees them.

use std::os::fd::{AsRawFd, RawFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The blocked signals, before a runtime exists.
pub struct Blocked(SignalFd);

/// Registered with a runtime.
pub struct Termination(AsyncFd<Fd>);

struct Fd(SignalFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl Termination {
    /// Blocks SIGTERM and SIGINT in this thread (and threads created later) and opens a
    /// signalfd for them.
    pub fn block() -> nix::Result<Blocked> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGTERM);
        mask.add(Signal::SIGINT);
        mask.thread_block()?;
        SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).map(Blocked)
    }

    /// Inside a runtime.
    pub fn register(b: Blocked) -> std::io::Result<Termination> {
        // SAFETY: the signalfd is a valid open fd owned by `Fd`, which the AsyncFd owns for
        // its whole life; as_raw_fd always returns that same fd.
        let fd =
            unsafe { AsyncFd::register_with_interest(Fd(b.0), Interest::READABLE) }.map_err(|e| e.into_parts().1)?;
        Ok(Termination(fd))
    }

    /// Resolves when SIGTERM or SIGINT arrives.
    pub async fn recv(&self) -> Signal {
        loop {
            let Ok(mut guard) = self.0.readable().await else {
                return Signal::SIGTERM;
            };
            match guard.get_inner().0.read_signal() {
                Ok(Some(info)) => return Signal::try_from(info.ssi_signo as i32).unwrap_or(Signal::SIGTERM),
                _ => guard.clear_ready(),
            }
        }
    }
}
