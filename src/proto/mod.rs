//! Every message that crosses a process boundary, and what each role may ask the broker.
//!
//! Read this file to answer "what can the front ask the broker?": see [`permit`]. What the
//! scanner may tell the broker, and the data it carries, is in one file too: `scan.rs`.
//!
//! Channels (all SEQPACKET, see privsep::channel):
//! - supervisor -> every role, fd 3: one [`Control::Init`]; to the broker also
//!   [`Control::Attach`] carrying the broker's end of a (re)started peer's channel.
//! - role <-> broker, fd 4: [`Request`] up, [`Reply`] down, matched by request id.
//! - the transcoder's fd 4 is the one channel that runs the other way: the broker sends
//!   [`media::Job`]s and the transcoder answers (see media.rs); it may ask the broker nothing.

pub mod account;
pub mod admin;
pub mod error;
pub mod library;
pub mod media;
pub mod metrics;
pub mod scan;
pub mod share;
pub mod smart;
pub mod tls;
pub mod userdata;

use std::path::PathBuf;

use privsep::channel::Message;
use serde::{Deserialize, Serialize};

pub use error::ApiError;

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
    pub music_folders: Vec<PathBuf>,
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
    pub scanner: ScannerInit,
    pub transcoder: TranscoderInit,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TranscoderInit {
    /// The configured ffmpeg, resolved to an absolute path at start; None: no transcoding.
    /// The transcoder's landlock domain may execute this file (and its ELF interpreter) only.
    pub ffmpeg: Option<PathBuf>,
    /// `redoubt doctor` only: the profiles its throwaway transcoder checks (empty otherwise).
    pub checks: Vec<media::ProfileCheck>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct BrokerInit {
    /// ExtAuth.TrustedSources is set (see [`Allowed`]).
    pub ext_auth: bool,
    pub key_passphrase: Option<Secret>,
    pub key_previous: Option<Secret>,
    pub auth_request_limit: u32,
    pub auth_window_ms: u64,
    pub session_timeout_secs: u64,
    /// A session ends this long after login, however active (Auth.SessionMaxAge).
    pub session_max_age_secs: u64,
    /// Subsonic `p` and `t`+`s` accepted (Auth.SubsonicPasswords).
    pub subsonic_passwords: bool,
    pub scan_on_startup: bool,
    /// Scanner.Schedule, already validated.
    pub scan_schedule: String,
    pub ignored_articles: String,
    pub media: MediaSettings,
    /// Backup.Path (absolute; None: no backups), Backup.Schedule (validated), Backup.Count.
    pub backup_path: Option<std::path::PathBuf>,
    pub backup_schedule: String,
    pub backup_count: u32,
    /// TLSKey, when HTTPS is on: the broker signs the front's TLS 1.3 handshakes with it.
    pub tls: Option<tls::TlsKey>,
    pub shares: ShareSettings,
    pub library: LibrarySettings,
}

/// Scanner.PurgeMissing: when songs whose files are gone are deleted rather than kept
/// marked missing (Navidrome's values).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub enum PurgeMissing {
    #[default]
    Never,
    Always,
    /// After full scans only.
    Full,
}

/// What the end of a scan does with missing files and playlist files.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LibrarySettings {
    pub purge_missing: PurgeMissing,
    /// PlaylistsPath: folder patterns relative to a music folder (`.`, `*`, `**`).
    pub playlists_path: Vec<String>,
    pub auto_import_playlists: bool,
}

/// EnableSharing, DefaultShareExpiration (0: never), DefaultDownloadableShare.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ShareSettings {
    pub enabled: bool,
    pub default_expiration_secs: u64,
    pub default_downloadable: bool,
}

/// Streaming, transcoding and artwork settings the broker enforces.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct MediaSettings {
    pub enable_downloads: bool,
    /// Admins may create, edit and delete transcoding profiles.
    pub enable_transcoding_config: bool,
    /// As in [`TranscoderInit`]; profiles must name this program (or plain `ffmpeg`).
    pub ffmpeg: Option<PathBuf>,
    /// Used when only maxBitRate asks for less than the source has.
    pub default_downsampling_format: String,
    pub max_transcodes: u32,
    pub max_transcodes_per_user: u32,
    /// CoverArtPriority: file name patterns (`cover.*`), and `embedded`.
    pub cover_art_priority: Vec<String>,
    /// LyricsPriority: `.lrc`-style sidecar suffixes and `embedded`, in order.
    pub lyrics_priority: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ScannerInit {
    pub genre_separators: String,
    pub artist_separators: Vec<String>,
    pub file_timeout_ms: u64,
    /// 0: no watcher.
    pub watcher_wait_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct FrontInit {
    /// ExtAuth.TrustedSources, validated: CIDRs, and "@" for unix-socket peers.
    pub trusted_sources: Vec<String>,
    /// ExtAuth.UserHeader.
    pub user_header: String,
    /// ExtAuth.LogoutURL (empty: none).
    pub logout_url: String,
    /// Limits.MaxConnections, resolved against the descriptor limit (never 0).
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub max_connections_per_proxy: usize,
    pub request_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// TLSCert, when HTTPS is on: the chain only; the key stays with the broker.
    pub tls: Option<tls::TlsChain>,
    /// Prometheus.Enabled: the metrics endpoint's path and credentials; None: no endpoint.
    pub metrics: Option<metrics::MetricsInit>,
    /// EnableSharing: off, `/share/` is a 404 and users have no shareRole.
    pub enable_sharing: bool,
    /// ShareURL (empty: derived from the request).
    pub share_url: String,
    /// DefaultShareExpiration (0: never) and DefaultDownloadableShare: what the UI's share
    /// form starts from (the broker applies them itself to a share made without them).
    pub default_share_expiration_secs: u64,
    pub default_downloadable_share: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Control {
    Init(Box<RoleInit>),
    /// One fd: the broker's end of a channel to a (re)started role.
    Attach(Role),
    /// `redoubt scan [--full]` (SIGUSR1, SIGUSR2 to the supervisor).
    Scan {
        full: bool,
    },
    /// The broker to the supervisor: this role has sandboxed itself and answered the broker
    /// (the broker itself: its database is open and it serves). READY=1 waits for all four.
    Up(Role),
    /// The broker to the supervisor: one line for systemd's `STATUS=` (scans).
    Status(String),
    /// The supervisor to the broker: a role died (`how`: its exit status or signal, and the
    /// delay) and is being restarted; recorded as a security event, and counted for the
    /// metrics by `cause` (`exit` or the signal's name, a bounded label).
    Restarted {
        role: Role,
        how: String,
        cause: String,
    },
    /// The supervisor's liveness check of the broker (the watchdog): answered `Alive(n)`.
    Probe(u64),
    Alive(u64),
    /// The supervisor to the broker, after SIGHUP re-read a good TLSCert/TLSKey pair: the new
    /// key (the broker keeps the one before too, for handshakes begun with the old chain).
    TlsKey(Box<tls::TlsKey>),
    /// The broker to the supervisor: it holds the key of this leaf certificate now.
    TlsKeyHeld(tls::LeafId),
    /// The supervisor to the front, after the broker has the new key: the new chain.
    TlsChain(tls::TlsChain),
}

impl Message for Control {
    fn fd_count(&self) -> usize {
        match self {
            Control::Init(_)
            | Control::Scan { .. }
            | Control::Up(_)
            | Control::Status(_)
            | Control::Restarted { .. }
            | Control::Probe(_)
            | Control::Alive(_)
            | Control::TlsKey(_)
            | Control::TlsKeyHeld(_)
            | Control::TlsChain(_) => 0,
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
    /// A role's first message once sandboxed (instead of a Ping, answered the same): its
    /// sandbox as it measured it, for the admin security page.
    Hello(admin::SandboxFacts),
    /// The front refused or ignored an ExtAuth user header: a security event. The broker
    /// records a bounded number of these per minute, so a flood cannot fill its table.
    ExtAuthRefused(admin::ExtAuthRefusal),
    /// One Subsonic API call: authenticate, then answer. One round trip per HTTP request.
    Api { client: Client, creds: Credentials, call: Call },
    /// A deterministic library call the front may answer from its cache: authenticate, then
    /// answer `NotModified` if `have` names this user and the database generation is still
    /// the same (nothing was written since), else the answer with a fresh stamp.
    CachedApi { client: Client, creds: Credentials, call: library::LibraryCall, have: Option<CacheStamp> },
    /// Web UI login with a password: a session on success.
    Login { client: Client, username: String, password: Secret },
    /// First admin, with the one-time setup code from the log.
    Setup { client: Client, code: Secret, username: String, password: Secret },
    /// Who a web session belongs to (slides its expiry). With `csrf`, also checks the CSRF
    /// token, as every state-changing request must.
    Session { token: Secret, csrf: Option<Secret> },
    /// Ends a web session (needs its CSRF token).
    Logout { token: Secret, csrf: Secret },
    /// The web UI behind a trusted ExtAuth proxy: a session for the user the proxy named (the
    /// front vouches, as with [`Credentials::External`]; permitted only with ExtAuth on).
    ProxyLogin { client: Client, user: String },
    /// Whether the first admin may still be created with the setup code (no user exists):
    /// the web UI's first-run page. Answered [`Reply::SetupOpen`].
    SetupState,
    /// The scanner's requests: the scan protocol (see scan.rs).
    Scanner(scan::ScannerRequest),
    /// stream, download, getCoverArt: authenticate, then answer with an fd or an image.
    Media { client: Client, creds: Credentials, call: media::MediaCall },
    /// HTTPS: sign a TLS 1.3 server CertificateVerify input with the key of the leaf
    /// certificate `leaf` ([`tls::leaf_id`]), in TLS signature scheme `scheme`. The broker
    /// refuses any other message ([`tls::is_tls13_server_verify`]) and any scheme outside
    /// [`tls::TLS13_SCHEMES`]. Answered [`Reply::Signature`]; never the key.
    TlsSign { leaf: tls::LeafId, scheme: u16, message: serde_bytes::ByteBuf },
    /// The front's metrics endpoint: the broker's counts (plain numbers, no user data; the
    /// front has checked the scraper's credential). Answered [`Reply::Metrics`].
    Metrics,
    /// A share's public page: no credentials; the broker checks the share (and its password).
    SharePage { client: Client, page: share::SharePageRequest },
    /// A link of a share's page: the broker checks the token it minted, then answers like
    /// [`Request::Media`].
    ShareMedia { client: Client, media: share::ShareMediaRequest },
}

impl Message for Request {}

impl Request {
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Ping => "Ping",
            Request::Hello(_) => "Hello",
            Request::ExtAuthRefused(_) => "ExtAuthRefused",
            Request::Api { .. } => "Api",
            Request::CachedApi { .. } => "CachedApi",
            Request::Login { .. } => "Login",
            Request::Setup { .. } => "Setup",
            Request::Session { .. } => "Session",
            Request::Logout { .. } => "Logout",
            Request::ProxyLogin { .. } => "ProxyLogin",
            Request::SetupState => "SetupState",
            Request::Scanner(r) => r.kind(),
            Request::Media { .. } => "Media",
            Request::TlsSign { .. } => "TlsSign",
            Request::Metrics => "Metrics",
            Request::SharePage { .. } => "SharePage",
            Request::ShareMedia { .. } => "ShareMedia",
        }
    }
}

/// What the configuration adds to the fixed permit table. The broker learns it from the
/// supervisor at start ([`BrokerInit`]), never from the peer whose requests it checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowed {
    /// ExtAuth.TrustedSources is set: the front may pass on a user a trusted proxy named
    /// ([`Credentials::External`], [`Request::ProxyLogin`]). Without it, such a request
    /// closes the front's channel.
    pub ext_auth: bool,
    /// TLSCert/TLSKey are set: the front may ask for handshake signatures
    /// ([`Request::TlsSign`]).
    pub tls: bool,
}

/// The permit table (OpenSSH's MON_PERMIT): what each role may send. The broker checks it for
/// every request before looking at anything else; a request outside it closes that role's
/// channel (and the supervisor restarts the role). The match is exhaustive on purpose: a new
/// request kind does not compile until it says who may send it.
pub fn permit(role: Role, req: &Request, allowed: Allowed) -> Result<(), String> {
    let (ok, why) = match req {
        Request::Ping | Request::Hello(_) => (matches!(role, Role::Front | Role::Scanner), ""),
        Request::ExtAuthRefused(_) => (role == Role::Front, ""),
        Request::Api { creds, .. } | Request::CachedApi { creds, .. } | Request::Media { creds, .. } => {
            let vouched = matches!(creds, Credentials::External { .. });
            (role == Role::Front && (allowed.ext_auth || !vouched), if vouched { " (ExtAuth is off)" } else { "" })
        }
        Request::Login { .. }
        | Request::Setup { .. }
        | Request::Session { .. }
        | Request::Logout { .. }
        | Request::SetupState
        | Request::Metrics
        | Request::SharePage { .. }
        | Request::ShareMedia { .. } => (role == Role::Front, ""),
        Request::ProxyLogin { .. } => (role == Role::Front && allowed.ext_auth, " (ExtAuth is off)"),
        Request::TlsSign { .. } => (role == Role::Front && allowed.tls, " (HTTPS is off)"),
        Request::Scanner(r) => match r {
            scan::ScannerRequest::NextScan
            | scan::ScannerRequest::CheckFolders { .. }
            | scan::ScannerRequest::StoreFolders { .. }
            | scan::ScannerRequest::ScanFinished { .. }
            | scan::ScannerRequest::WatcherTriggered => (role == Role::Scanner, ""),
        },
    };
    // The transcoder only answers the broker's jobs (media::Job) and the broker asks itself
    // nothing: neither appears above.
    if ok {
        Ok(())
    } else {
        Err(format!("{} may not send {}{why}", role.name(), req.kind()))
    }
}

/// A path inside a music folder, relative to it, as raw bytes (file names need not be UTF-8).
pub type RelPath = Vec<u8>;

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
    /// The web UI: a web session's token (its cookie), and the session's CSRF token when the
    /// request carried one. The broker looks the session up like [`Request::Session`]; a
    /// wrong CSRF token fails the check, and a call that changes state
    /// ([`Call::changes_state`]) is refused without one. `/rest` never makes these: the
    /// cookie is not a credential there.
    Session { token: Secret, csrf: Option<Secret> },
}

/// The Subsonic methods the broker answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Call {
    Ping,
    GetLicense,
    TokenInfo,
    GetUser {
        username: String,
    },
    GetUsers,
    CreateUser(UserFields),
    UpdateUser(UserFields),
    DeleteUser {
        username: String,
    },
    ChangePassword {
        username: String,
        password: Secret,
    },
    GetScanStatus,
    StartScan {
        full: bool,
    },
    Library(library::LibraryCall),
    UserData(userdata::UserDataCall),
    MediaAdmin(media::MediaAdmin),
    Lyrics(media::LyricsCall),
    /// OpenSubsonic getTranscodeDecision: what the broker would stream this client.
    TranscodeDecision(Box<media::DecisionRequest>),
    /// The web UI's admin pages (admins only; see admin.rs).
    Admin(admin::AdminCall),
    /// The web UI's settings: one's own password and API keys (no Subsonic method).
    Account(account::AccountCall),
    Share(share::ShareCall),
}

impl Call {
    /// Whether the call changes anything a user could notice (a row written on their behalf,
    /// a scan started). A web session must prove such a call with its CSRF token; the broker
    /// checks it (see [`Credentials::Session`]), and the front's method table says the same
    /// of each method (`front::methods`, tested to agree). Exhaustive on purpose: a new call
    /// does not compile until it says which it is.
    pub fn changes_state(&self) -> bool {
        use media::MediaAdmin as M;
        match self {
            Call::Ping
            | Call::GetLicense
            | Call::TokenInfo
            | Call::GetUser { .. }
            | Call::GetUsers
            | Call::GetScanStatus
            | Call::Library(_)
            | Call::Lyrics(_)
            // Like stream, it notes the player (last seen), which is not the user's doing.
            | Call::TranscodeDecision(_)
            | Call::Admin(_) => false,
            Call::CreateUser(_)
            | Call::UpdateUser(_)
            | Call::DeleteUser { .. }
            | Call::ChangePassword { .. }
            | Call::StartScan { .. } => true,
            Call::UserData(u) => u.writes(),
            Call::Account(a) => a.writes(),
            Call::Share(s) => s.writes(),
            Call::MediaAdmin(a) => match a {
                M::Transcodings | M::Players => false,
                M::CreateTranscoding(_)
                | M::UpdateTranscoding { .. }
                | M::DeleteTranscoding { .. }
                | M::UpdatePlayer { .. } => true,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UserFields {
    pub username: String,
    pub password: Option<Secret>,
    pub email: Option<String>,
    pub admin: Option<bool>,
    /// The music folders the user may see (Subsonic `musicFolderId`, repeatable). None: on
    /// create, every folder; on update, unchanged.
    pub folders: Option<FolderAccess>,
}

/// Which music folders a user may see (broker::access). Admins see all, whatever is stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum FolderAccess {
    /// Every folder, those added later too: every user's until an admin restricts them.
    All,
    /// These music folder ids only.
    Only(Vec<i64>),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserInfo {
    pub username: String,
    pub email: String,
    pub admin: bool,
    /// The music folders the user may see now (every active one for an admin or an
    /// unrestricted user): getUser's `folder` elements.
    pub folders: Vec<i64>,
    /// Sees every folder, those added later too (an admin, or a user nobody restricted).
    pub all_folders: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Answer {
    Empty,
    License,
    TokenInfo {
        username: String,
    },
    User(UserInfo),
    Users(Vec<UserInfo>),
    /// `error`: why the last scan failed (a plain sentence), until one completes.
    ScanStatus {
        scanning: bool,
        count: u64,
        folder_count: u64,
        last_scan: Option<u64>,
        error: Option<String>,
    },
    Library(Box<library::LibraryAnswer>),
    UserData(Box<userdata::UserDataAnswer>),
    MediaAdmin(Box<media::MediaAdminAnswer>),
    Lyrics(Box<media::LyricsAnswer>),
    TranscodeDecision(Box<media::TranscodeDecision>),
    Admin(Box<admin::AdminAnswer>),
    Account(Box<account::AccountAnswer>),
    Share(Box<share::ShareAnswer>),
}

/// Who an answer was computed for, and the database generation it was computed at (the
/// broker bumps the generation after every write that changed a row).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CacheStamp {
    pub user: String,
    pub generation: u64,
    /// The music folders the user could see then (broker::access): an answer made for other
    /// access is never revalidated, even when the change did not move the generation (an
    /// offline `redoubt user folders` beside the running daemon).
    pub access: Vec<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Revalidated {
    NotModified,
    Fresh { answer: Box<library::LibraryAnswer>, stamp: CacheStamp },
}

/// A new web session: the cookie value and the CSRF token, both shown only now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionGrant {
    pub token: Secret,
    pub csrf: Secret,
    pub user: UserInfo,
    pub expires_in_secs: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Pong {
        server_version: String,
        uptime_ms: u64,
    },
    /// The answer to [`scan::ScannerRequest::NextScan`]: a scan to run. Carries one fd: a
    /// shared page the scanner writes the path of the file it is reading into, so that the
    /// broker knows which file a crash or hang happened on.
    Scan(scan::ScanJob),
    /// The answer to [`scan::ScannerRequest::CheckFolders`].
    FoldersToRead(Vec<scan::FolderToRead>),
    Api(Result<Answer, ApiError>),
    /// Login and Setup.
    Session(Result<SessionGrant, ApiError>),
    /// Session lookup: the user, or None (unknown, expired, or a CSRF mismatch).
    Who(Option<UserInfo>),
    /// [`Request::SetupState`]: the setup code still works (no user exists).
    SetupOpen(bool),
    Done,
    /// With the fd [`media::MediaAnswer::fd_count`] names.
    Media(Result<media::MediaAnswer, ApiError>),
    Revalidated(Result<Revalidated, ApiError>),
    /// [`Request::TlsSign`]: the signature, or why the broker refused.
    Signature(Result<serde_bytes::ByteBuf, String>),
    Metrics(Box<metrics::BrokerMetrics>),
    SharePage(Result<Box<share::SharePage>, share::ShareRefusal>),
}

impl Message for Reply {
    fn fd_count(&self) -> usize {
        match self {
            Reply::Scan(_) => 1,
            Reply::Media(Ok(a)) => a.fd_count(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scan::ScannerRequest;
    use super::*;

    #[test]
    fn front_may_ping_but_not_report_scans() {
        let permit = |role, req: &Request| permit(role, req, Allowed::default());
        assert!(permit(Role::Front, &Request::Ping).is_ok());
        let login = Request::Login { client: Client::default(), username: "a".into(), password: Secret("x".into()) };
        assert!(permit(Role::Front, &login).is_ok());
        assert!(permit(Role::Scanner, &login).is_err());
        assert!(permit(Role::Transcoder, &login).is_err());
        assert!(permit(Role::Transcoder, &Request::Ping).is_err(), "the transcoder asks the broker nothing");
        assert!(permit(Role::Front, &Request::Scanner(ScannerRequest::ScanFinished { scan: 1, files: 1 })).is_err());
        assert!(permit(Role::Front, &Request::Scanner(ScannerRequest::NextScan)).is_err());
        assert!(permit(Role::Scanner, &Request::Scanner(ScannerRequest::ScanFinished { scan: 1, files: 1 })).is_ok());
        assert!(permit(Role::Scanner, &Request::Scanner(ScannerRequest::NextScan)).is_ok());
        assert!(permit(Role::Broker, &Request::Ping).is_err());
        let hello = Request::Hello(admin::SandboxFacts::default());
        assert!(permit(Role::Front, &hello).is_ok() && permit(Role::Scanner, &hello).is_ok());
        assert!(permit(Role::Transcoder, &hello).is_err(), "the transcoder answers the broker's ping instead");
        let refused = Request::ExtAuthRefused(admin::ExtAuthRefusal { addr: "x".into(), why: "y".into() });
        assert!(permit(Role::Front, &refused).is_ok());
        assert!(permit(Role::Scanner, &refused).is_err(), "only the front reports ExtAuth refusals");
    }

    #[test]
    fn proxy_vouched_credentials_only_with_ext_auth() {
        let vouched = Request::Api {
            client: Client::default(),
            creds: Credentials::External { user: "admin".into() },
            call: Call::Ping,
        };
        let err = permit(Role::Front, &vouched, Allowed { ext_auth: false, tls: false }).unwrap_err();
        assert!(err.contains("ExtAuth is off"), "{err}");
        assert!(permit(Role::Front, &vouched, Allowed { ext_auth: true, tls: false }).is_ok());
        assert!(permit(Role::Scanner, &vouched, Allowed { ext_auth: true, tls: false }).is_err());
        let media = Request::Media {
            client: Client::default(),
            creds: Credentials::External { user: "admin".into() },
            call: media::MediaCall::Download { id: "x".into() },
        };
        assert!(permit(Role::Front, &media, Allowed { ext_auth: false, tls: false }).is_err());
        let ui = Request::ProxyLogin { client: Client::default(), user: "admin".into() };
        let err = permit(Role::Front, &ui, Allowed { ext_auth: false, tls: false }).unwrap_err();
        assert!(err.contains("ExtAuth is off"), "{err}");
        assert!(permit(Role::Front, &ui, Allowed { ext_auth: true, tls: false }).is_ok());
        assert!(permit(Role::Scanner, &ui, Allowed { ext_auth: true, tls: false }).is_err());
    }

    #[test]
    fn web_sessions_are_a_front_credential_and_setup_state_is_the_fronts_question() {
        let session = Credentials::Session { token: Secret("t".into()), csrf: None };
        let api = Request::Api { client: Client::default(), creds: session, call: Call::Ping };
        assert!(permit(Role::Front, &api, Allowed::default()).is_ok());
        assert!(permit(Role::Scanner, &api, Allowed::default()).is_err());
        assert!(permit(Role::Front, &Request::SetupState, Allowed::default()).is_ok());
        assert!(permit(Role::Scanner, &Request::SetupState, Allowed::default()).is_err());
        assert!(permit(Role::Front, &Request::Metrics, Allowed::default()).is_ok());
        for role in [Role::Scanner, Role::Transcoder, Role::Broker] {
            assert!(permit(role, &Request::Metrics, Allowed::default()).is_err(), "only the front serves metrics");
        }
        assert!(Call::StartScan { full: false }.changes_state());
        assert!(!Call::Library(library::LibraryCall::Genres).changes_state());
        let star = userdata::UserDataCall::Star { star: true, ids: vec![], album_ids: vec![], artist_ids: vec![] };
        assert!(Call::UserData(star).changes_state());
        assert!(!Call::UserData(userdata::UserDataCall::NowPlaying).changes_state());
        use account::AccountCall as A;
        assert!(!Call::Account(A::ApiKeys).changes_state());
        for changes in [
            A::CreateApiKey { name: "n".into() },
            A::RevokeApiKey { id: "k".into() },
            A::SetAvatar { image: None },
            A::ChangeOwnPassword { current: Secret("a".into()), new: Secret("b".into()) },
        ] {
            assert!(Call::Account(changes).changes_state());
        }
    }

    #[test]
    fn only_the_front_may_ask_for_handshake_signatures_and_only_with_https_on() {
        let sign = Request::TlsSign { leaf: [0; 32], scheme: 0x0403, message: Default::default() };
        let on = Allowed { tls: true, ..Allowed::default() };
        assert!(permit(Role::Front, &sign, on).is_ok());
        let err = permit(Role::Front, &sign, Allowed::default()).unwrap_err();
        assert!(err.contains("HTTPS is off"), "{err}");
        for role in [Role::Scanner, Role::Transcoder, Role::Broker] {
            assert!(permit(role, &sign, on).is_err(), "{role:?}");
        }
    }

    /// A share's page and links are the front's questions alone, and the share methods that
    /// write say so (a web session proves them with its CSRF token).
    #[test]
    fn shares_are_asked_by_the_front_and_their_writes_marked() {
        let page = Request::SharePage {
            client: Client::default(),
            page: share::SharePageRequest { id: "x".into(), password: None, list_token: None, visit: true },
        };
        let media = Request::ShareMedia {
            client: Client::default(),
            media: share::ShareMediaRequest {
                share: "x".into(),
                what: share::ShareWhat::Stream,
                token: Secret("t".into()),
                size: None,
                from_start: true,
            },
        };
        for req in [&page, &media] {
            assert!(permit(Role::Front, req, Allowed::default()).is_ok());
            assert!(permit(Role::Scanner, req, Allowed::default()).is_err());
            assert!(permit(Role::Transcoder, req, Allowed::default()).is_err());
        }
        assert!(!Call::Share(share::ShareCall::List).changes_state());
        assert!(Call::Share(share::ShareCall::Delete { id: "x".into() }).changes_state());
        assert!(Call::Share(share::ShareCall::Create(Default::default())).changes_state());
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::Password { user: "alice".into(), password: Secret("hunter2".into()) };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
