//! systemd's notification protocol (sd_notify(3)), written by hand: one datagram per message
//! to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a path, or `@name` for an abstract one).
//!
//! The socket is opened and connected before the supervisor narrows its sandbox and kept:
//! after narrowing no socket may be created, and landlock's abstract-unix-socket scope lets a
//! datagram socket send to a peer it was connected to before the domain existed.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::sys::socket::{connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

pub struct Notify {
    fd: OwnedFd,
    /// `WATCHDOG_USEC` (when it names this process): WATCHDOG=1 is due at half of it.
    pub watchdog: Option<Duration>,
}

/// The address `$NOTIFY_SOCKET` names: an absolute path, or `@…` for the abstract namespace.
pub fn address(value: &str) -> Result<UnixAddr, String> {
    let addr = if let Some(name) = value.strip_prefix('@') {
        UnixAddr::new_abstract(name.as_bytes())
    } else if value.starts_with('/') {
        UnixAddr::new(value)
    } else {
        return Err(format!("NOTIFY_SOCKET={value:?} is neither a path nor an @abstract name; not notifying systemd"));
    };
    addr.map_err(|e| format!("NOTIFY_SOCKET={value:?}: {e}"))
}

/// `WATCHDOG_USEC`, if set, positive, and meant for `pid` (`WATCHDOG_PID`, when set).
pub fn watchdog(usec: Option<&str>, wd_pid: Option<&str>, pid: u32) -> Option<Duration> {
    if let Some(p) = wd_pid {
        if p.trim().parse::<u32>().ok() != Some(pid) {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

impl Notify {
    /// From the environment: None when `NOTIFY_SOCKET` is unset (not started by systemd).
    pub fn from_env() -> Result<Option<Notify>, String> {
        let Some(value) = std::env::var("NOTIFY_SOCKET").ok().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let addr = address(&value)?;
        let fd = socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
            .map_err(|e| format!("NOTIFY_SOCKET: socket: {e}"))?;
        connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)
            .map_err(|e| format!("NOTIFY_SOCKET={value:?}: connect: {e}"))?;
        let watchdog = watchdog(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        Ok(Some(Notify { fd, watchdog }))
    }

    /// Sends one message (`READY=1`, `STATUS=…`); a failure is logged, never fatal.
    pub fn send(&self, msg: &str) {
        let raw = std::os::fd::AsRawFd::as_raw_fd(&self.fd.as_fd());
        if let Err(e) = send(raw, msg.as_bytes(), MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT) {
            tracing::debug!("NOTIFY_SOCKET: sending {msg:?}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{bind, recv};

    #[test]
    fn watchdog_is_for_this_pid_only() {
        assert_eq!(watchdog(Some("30000000"), None, 7), Some(Duration::from_secs(30)));
        assert_eq!(watchdog(Some("30000000"), Some("7"), 7), Some(Duration::from_secs(30)));
        assert_eq!(watchdog(Some("30000000"), Some("8"), 7), None);
        assert_eq!(watchdog(Some("0"), None, 7), None);
        assert_eq!(watchdog(None, None, 7), None);
    }

    #[test]
    fn relative_names_are_refused() {
        assert!(address("run/notify").is_err());
        assert!(address("/run/systemd/notify").is_ok());
    }

    /// An abstract `@name`, as systemd uses in containers and some test setups.
    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("redoubt-notify-test-{}", std::process::id());
        let server = socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).unwrap();
        bind(std::os::fd::AsRawFd::as_raw_fd(&server), &UnixAddr::new_abstract(name.as_bytes()).unwrap()).unwrap();
        let addr = address(&format!("@{name}")).unwrap();
        let fd = socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).unwrap();
        connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr).unwrap();
        let n = Notify { fd, watchdog: None };
        n.send("READY=1");
        let mut buf = [0u8; 64];
        let len = recv(std::os::fd::AsRawFd::as_raw_fd(&server), &mut buf, MsgFlags::empty()).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
    }
}
