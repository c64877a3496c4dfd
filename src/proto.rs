//! Every message that crosses a process boundary, and what each role may ask the broker.
//!
//! Read this file to answer "what can the front ask the broker?": see [`permit`].
//!
//! Channels (all SEQPACKET, see privsep::channel):
//! - supervisor -> every role, fd 3: one [`Control::Init`]; to the broker also
//!   [`Control::Attach`] carrying the broker's end of a (re)started peer's channel.
//! - role <-> broker, fd 4: [`Request`] up, [`Reply`] down, matched by request id.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use privsep::channel::Message;
use serde::{Deserialize, Serialize};

/// The processes besides the supervisor. Each has its own sandbox and its own permit list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Broker,
    Front,
    Scanner,
    Transcoder,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Broker, Role::Front, Role::Scanner, Role::Transcoder];

    pub fn name(self) -> &'static str {
        match self {
            Role::Broker => "broker",
            Role::Front => "front",
            Role::Scanner => "scanner",
            Role::Transcoder => "transcoder",
        }
    }

    pub fn from_name(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// Fixed fd layout of a role process.
pub mod fds {
    /// Control channel from the supervisor.
    pub const CONTROL: i32 = 3;
    /// Channel to the broker (all roles but the broker).
    pub const BROKER: i32 = 4;
    /// The listening socket (front only).
    pub const LISTENER: i32 = 5;
}

/// What a role needs to know before it sandboxes itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleInit {
    pub role: Role,
    pub music_folder: PathBuf,
    pub data_folder: PathBuf,
    pub cache_folder: PathBuf,
    pub base_url: String,
    pub log_level: String,
    pub sandbox_require: bool,
    /// The listener is a unix socket (front only; selects the accept type).
    pub listener_is_unix: bool,
    /// Test builds only: probes to run once sandboxed (always empty otherwise).
    pub probes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Control {
    Init(Box<RoleInit>),
    /// One fd: the broker's end of a channel to a (re)started role.
    Attach(Role),
}

impl Message for Control {
    fn fd_count(&self) -> usize {
        match self {
            Control::Init(_) => 0,
            Control::Attach(_) => 1,
        }
    }
}

/// Everything any role can ask the broker. No variant carries SQL, a path to open, or a
/// request for key or password material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Liveness and version (front: `/rest/ping`).
    Ping,
    /// The scanner reports the end of a scan pass.
    ScanFinished { files: u64 },
}

impl Message for Request {}

impl Request {
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Ping => "Ping",
            Request::ScanFinished { .. } => "ScanFinished",
        }
    }
}

/// The permit table (OpenSSH's MON_PERMIT): which request kinds each role may send. The
/// broker checks it for every request before looking at anything else; a request outside it
/// closes that role's channel (and the supervisor restarts the role).
pub fn permit(role: Role, req: &Request) -> Result<(), String> {
    let allowed: &[&str] = match role {
        Role::Front => &["Ping"],
        Role::Scanner => &["Ping", "ScanFinished"],
        Role::Transcoder => &["Ping"],
        Role::Broker => &[],
    };
    if allowed.contains(&req.kind()) {
        Ok(())
    } else {
        Err(format!("{} may not send {}", role.name(), req.kind()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Pong { server_version: String, uptime_ms: u64 },
    Done,
}

impl Message for Reply {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_may_ping_but_not_report_scans() {
        assert!(permit(Role::Front, &Request::Ping).is_ok());
        assert!(permit(Role::Front, &Request::ScanFinished { files: 1 }).is_err());
        assert!(permit(Role::Scanner, &Request::ScanFinished { files: 1 }).is_ok());
        assert!(permit(Role::Broker, &Request::Ping).is_err());
    }
}
