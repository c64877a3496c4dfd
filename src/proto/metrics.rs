//! The numbers behind the Prometheus endpoint that only the broker knows: what
//! [`super::Request::Metrics`] answers. Plain counts and sizes, no user data (no names, no
//! addresses, no paths), so a front that asks learns nothing a scrape would not show.

use serde::{Deserialize, Serialize};

use super::Role;

/// Prometheus.* as the front needs it: where the endpoint is, and the credentials' digests
/// (SHA-256; the front never holds the credentials themselves). At least one is set: the
/// configuration refuses to start otherwise.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct MetricsInit {
    /// Below BaseUrl; starts with `/`, outside `/rest`, `/app` and `/auth`.
    pub path: String,
    /// Prometheus.Password: HTTP Basic, any user name.
    pub password_sha256: Option<[u8; 32]>,
    /// Prometheus.BearerToken: `Authorization: Bearer <token>`.
    pub token_sha256: Option<[u8; 32]>,
}

/// Library scans since the broker started.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ScanMetrics {
    pub completed: u64,
    pub failed: u64,
    /// The scanner died mid-scan (the scan is then run again).
    pub interrupted: u64,
    /// Over completed scans: files read, files that could not be read (or read with a
    /// warning), and seconds spent.
    pub files: u64,
    pub problems: u64,
    pub seconds: f64,
    /// The last completed scan: (seconds, files read, problems).
    pub last: Option<(f64, u64, u64)>,
    pub running: bool,
}

/// Failed credential checks (passwords, tokens, API keys, the setup code, web logins).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct AuthMetrics {
    /// Checks that ran and failed.
    pub failures: u64,
    /// Attempts refused unchecked because a rate-limit bucket was full.
    pub refused: u64,
    /// Users locked out: their per-user bucket filled (from any address).
    pub lockouts: u64,
}

/// Transcodes as the broker admits them (it holds the caps).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct TranscodeMetrics {
    pub running: u64,
    pub started: u64,
    /// Refused at Transcoding.MaxConcurrent, and at Transcoding.MaxConcurrentPerUser.
    pub refused_server_cap: u64,
    pub refused_user_cap: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct BrokerMetrics {
    pub scans: ScanMetrics,
    pub auth: AuthMetrics,
    pub transcodes: TranscodeMetrics,
    /// Role restarts the supervisor reported: (role, cause, count). Causes are `exit` or a
    /// signal's name (`sigkill`, `sigsys`, …): a bounded set.
    pub restarts: Vec<(Role, String, u64)>,
    /// The database's files (main, WAL) in bytes.
    pub database_bytes: u64,
}

/// A role's death as the supervisor tells the broker: `exit` for an exit status, otherwise
/// the signal's name in lower case (bounded: the kernel's signals).
pub fn restart_cause(signal: Option<&str>) -> String {
    match signal {
        None => "exit".into(),
        Some(s) => s.chars().filter(|c| c.is_ascii_alphanumeric()).take(16).collect::<String>().to_ascii_lowercase(),
    }
}
