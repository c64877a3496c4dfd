//! The listening socket: systemd's (`LISTEN_FDS`), a unix socket, or TCP.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use crate::config::Config;

pub struct Listener {
    pub fd: OwnedFd,
    pub is_unix: bool,
    pub describe: String,
}

/// systemd socket activation: fd 3 when LISTEN_PID is us.
fn from_systemd() -> Option<OwnedFd> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let n: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || n < 1 {
        return None;
    }
    privsep::spawn::take_layout_fd(3)
}

fn is_unix_socket(fd: &OwnedFd) -> bool {
    nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(fd.as_raw_fd())
        .map(|a| nix::sys::socket::SockaddrLike::family(&a) == Some(nix::sys::socket::AddressFamily::Unix))
        .unwrap_or(false)
}

pub fn open(cfg: &Config) -> Result<Listener, String> {
    if let Some(fd) = from_systemd() {
        let is_unix = is_unix_socket(&fd);
        return Ok(Listener { fd, is_unix, describe: "the socket systemd passed (LISTEN_FDS)".into() });
    }
    if let Some(path) = cfg.unix_socket_path() {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                std::fs::remove_file(path).map_err(|e| format!("removing stale socket {}: {e}", path.display()))?
            }
            Ok(_) => return Err(format!("{} exists and is not a socket; refusing to replace it", path.display())),
            Err(_) => {}
        }
        let l = std::os::unix::net::UnixListener::bind(path).map_err(|e| format!("binding {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(cfg.unix_socket_perm))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
        return Ok(Listener {
            fd: l.into(),
            is_unix: true,
            describe: format!("unix:{} (mode {:04o})", path.display(), cfg.unix_socket_perm),
        });
    }
    let l = std::net::TcpListener::bind((cfg.address.as_str(), cfg.port))
        .map_err(|e| format!("binding {}:{}: {e}", cfg.address, cfg.port))?;
    let describe = l.local_addr().map(|a| format!("http://{a}")).unwrap_or_default();
    Ok(Listener { fd: l.into(), is_unix: false, describe })
}
