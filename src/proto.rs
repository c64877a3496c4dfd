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
    /// The broker's settings and key material; None in every other role's init.
    pub broker: Option<BrokerInit>,
    pub front: FrontInit,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct BrokerInit {
    pub key_passphrase: Option<Secret>,
    pub key_previous: Option<Secret>,
    pub auth_request_limit: u32,
    pub auth_window_ms: u64,
    pub session_timeout_secs: u64,
    /// Subsonic `p` and `t`+`s` accepted (Auth.SubsonicPasswords).
    pub subsonic_passwords: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct FrontInit {
    /// ExtAuth.TrustedSources, validated: CIDRs, and "@" for unix-socket peers.
    pub trusted_sources: Vec<String>,
    /// ExtAuth.UserHeader.
    pub user_header: String,
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
/// request for key or password material; identity is established by the broker from the
/// credentials, never taken from the front's word (ExtAuth, where the proxy vouches, excepted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Liveness and version.
    Ping,
    /// One Subsonic API call: authenticate, then answer. One round trip per HTTP request.
    Api { client: Client, creds: Credentials, call: Call },
    /// Web UI login with a password: a session on success.
    Login { client: Client, username: String, password: Secret },
    /// First admin, with the one-time setup code from the log.
    Setup { client: Client, code: Secret, username: String, password: Secret },
    /// Who a web session belongs to (slides its expiry). With `csrf`, also checks the CSRF
    /// token, as every state-changing request must.
    Session { token: Secret, csrf: Option<Secret> },
    /// Ends a web session (needs its CSRF token).
    Logout { token: Secret, csrf: Secret },
    /// The scanner reports the end of a scan pass.
    ScanFinished { files: u64 },
}

impl Message for Request {}

impl Request {
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Ping => "Ping",
            Request::Api { .. } => "Api",
            Request::Login { .. } => "Login",
            Request::Setup { .. } => "Setup",
            Request::Session { .. } => "Session",
            Request::Logout { .. } => "Logout",
            Request::ScanFinished { .. } => "ScanFinished",
        }
    }
}

/// The permit table (OpenSSH's MON_PERMIT): which request kinds each role may send. The
/// broker checks it for every request before looking at anything else; a request outside it
/// closes that role's channel (and the supervisor restarts the role).
pub fn permit(role: Role, req: &Request) -> Result<(), String> {
    let allowed: &[&str] = match role {
        Role::Front => &["Ping", "Api", "Login", "Setup", "Session", "Logout"],
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

/// A string that must never reach a log: Debug prints a placeholder.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Who is asking, as far as the front can tell: the client address (the TCP peer, or the
/// address a trusted proxy forwarded; "unix" for a unix-socket peer) and the Subsonic client
/// name (`c`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Client {
    pub addr: String,
    pub name: String,
}

/// How a Subsonic request authenticates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Credentials {
    /// `u` + `p` (the front has already decoded `enc:` hex).
    Password { user: String, password: Secret },
    /// `u` + `t` + `s`: t = md5(password + s).
    Token { user: String, token: Secret, salt: Secret },
    /// OpenSubsonic `apiKey`.
    ApiKey { key: Secret },
    /// ExtAuth: a trusted reverse proxy named the user in its header.
    External { user: String },
}

/// The Subsonic methods the broker answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Call {
    Ping,
    GetLicense,
    TokenInfo,
    GetUser { username: String },
    GetUsers,
    CreateUser(UserFields),
    UpdateUser(UserFields),
    DeleteUser { username: String },
    ChangePassword { username: String, password: Secret },
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UserFields {
    pub username: String,
    pub password: Option<Secret>,
    pub email: Option<String>,
    pub admin: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserInfo {
    pub username: String,
    pub email: String,
    pub admin: bool,
}

/// A Subsonic error: code and message, and for a rate-limited request the seconds to wait.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiError {
    pub code: i64,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: i64, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), retry_after: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Answer {
    Empty,
    License,
    TokenInfo { username: String },
    User(UserInfo),
    Users(Vec<UserInfo>),
}

/// A new web session: the cookie value and the CSRF token, both shown only now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionGrant {
    pub token: Secret,
    pub csrf: Secret,
    pub user: UserInfo,
    pub expires_in_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Pong {
        server_version: String,
        uptime_ms: u64,
    },
    Api(Result<Answer, ApiError>),
    /// Login and Setup.
    Session(Result<SessionGrant, ApiError>),
    /// Session lookup: the user, or None (unknown, expired, or a CSRF mismatch).
    Who(Option<UserInfo>),
    Done,
}

impl Message for Reply {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_may_ping_but_not_report_scans() {
        assert!(permit(Role::Front, &Request::Ping).is_ok());
        let login = Request::Login { client: Client::default(), username: "a".into(), password: Secret("x".into()) };
        assert!(permit(Role::Front, &login).is_ok());
        assert!(permit(Role::Scanner, &login).is_err());
        assert!(permit(Role::Transcoder, &login).is_err());
        assert!(permit(Role::Front, &Request::ScanFinished { files: 1 }).is_err());
        assert!(permit(Role::Scanner, &Request::ScanFinished { files: 1 }).is_ok());
        assert!(permit(Role::Broker, &Request::Ping).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::Password { user: "alice".into(), password: Secret("hunter2".into()) };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
