//! What the web UI's admin pages read that `/rest` has no method for: each role's sandbox as
//! the role measured it, the security events the broker recorded, and the scan's problem
//! files. Every [`AdminCall`] is a read and needs an admin: the broker checks both.
//!
//! The sandbox facts travel like this: each role measures itself ([`SandboxFacts::measure`])
//! right after entering its sandbox, before it has read anything from outside, and hands the
//! facts over on its first message (the front and scanner in [`super::Request::Hello`], the
//! transcoder in its answer to the broker's ping, the broker keeps its own). A role restarted
//! after a crash measures itself again.

use serde::{Deserialize, Serialize};

use super::Role;

/// The admin pages' reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminCall {
    /// Each role's sandbox, as the role last measured it.
    Sandbox,
    /// The newest security events, newest first (at most `limit`, at most [`MAX_EVENTS`]).
    SecurityEvents { limit: u32 },
    /// The files the last scans could not read, and why.
    ScanProblems,
    /// Whether transcoding profiles may be edited here (EnableTranscodingConfig), and the
    /// one program a profile may run.
    TranscodingSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminAnswer {
    Sandbox(Vec<RoleSandbox>),
    SecurityEvents(Vec<SecurityEvent>),
    ScanProblems(Vec<ScanProblem>),
    TranscodingSettings { editable: bool, program: Option<String> },
}

/// The events the broker keeps (the newest, older ones are deleted as new ones come).
pub const MAX_EVENTS: u32 = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RoleSandbox {
    pub role: String,
    /// None: the role has not reported since the broker started (not up yet).
    pub facts: Option<SandboxFacts>,
}

/// One process's sandbox, measured by the process itself on the running kernel: the
/// landlock outcome from entering it, the rest from `/proc/self/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SandboxFacts {
    pub pid: u32,
    /// Effective uid and gid (from `/proc/self/status`).
    pub uid: u32,
    pub gid: u32,
    /// The kernel's landlock ABI (None: no landlock).
    pub landlock_abi: Option<i32>,
    /// The landlock ruleset was fully enforced on this process.
    pub landlock_enforced: bool,
    /// `Seccomp:` 0 off, 1 strict, 2 filter.
    pub seccomp_mode: u8,
    /// `Seccomp_filters:` (0 on kernels that do not say).
    pub seccomp_filters: u32,
    /// `NoNewPrivs:`.
    pub no_new_privs: bool,
    /// `CapEff:` and `CapPrm:` (bit sets; 0 is none).
    pub cap_eff: u64,
    pub cap_prm: u64,
    /// Seconds since the epoch, when the role measured itself.
    pub measured_at: i64,
}

impl SandboxFacts {
    /// Reads an already-open `/proc/self/status` (opened before the sandbox, which would refuse
    /// the open: the text is produced when it is read, so it describes the process now).
    pub fn measure(status: &mut impl std::io::Read, report: &privsep::sandbox::Report) -> SandboxFacts {
        let mut text = String::new();
        let _ = status.read_to_string(&mut text);
        let mut f = SandboxFacts::parse(&text);
        f.pid = std::process::id();
        f.landlock_abi = report.landlock_abi;
        f.landlock_enforced = report.landlock_enforced;
        f.measured_at =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        f
    }

    /// The `/proc/<pid>/status` fields this cares about.
    pub fn parse(text: &str) -> SandboxFacts {
        // A field that is missing reads as the worst case, never as "confined".
        let mut f =
            SandboxFacts { uid: u32::MAX, gid: u32::MAX, cap_eff: u64::MAX, cap_prm: u64::MAX, ..Default::default() };
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            let first = value.split_whitespace();
            match key {
                // Real, effective, saved, filesystem: the second is the one that counts.
                "Uid" => f.uid = first.clone().nth(1).and_then(|v| v.parse().ok()).unwrap_or(u32::MAX),
                "Gid" => f.gid = first.clone().nth(1).and_then(|v| v.parse().ok()).unwrap_or(u32::MAX),
                "Seccomp" => f.seccomp_mode = value.parse().unwrap_or(0),
                "Seccomp_filters" => f.seccomp_filters = value.parse().unwrap_or(0),
                "NoNewPrivs" => f.no_new_privs = value == "1",
                "CapEff" => f.cap_eff = u64::from_str_radix(value, 16).unwrap_or(u64::MAX),
                "CapPrm" => f.cap_prm = u64::from_str_radix(value, 16).unwrap_or(u64::MAX),
                _ => {}
            }
        }
        f
    }

    /// Whether everything the policy promises is in force: landlock enforced, a seccomp
    /// filter, no_new_privs, no capabilities, not root.
    pub fn confined(&self) -> bool {
        self.landlock_enforced
            && self.seccomp_mode == 2
            && self.no_new_privs
            && self.cap_eff == 0
            && self.cap_prm == 0
            && self.uid != 0
    }
}

/// What a security event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A wrong password, token, API key or setup code.
    FailedLogin,
    /// A user's bucket filled: password and token logins are refused for a while.
    Lockout,
    /// The front refused (or ignored) an ExtAuth user header.
    ExtAuthRefused,
    /// A transcoding profile change the broker refused.
    TranscodingRefused,
    /// A role died and the supervisor restarted it.
    RoleRestarted,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::FailedLogin,
        EventKind::Lockout,
        EventKind::ExtAuthRefused,
        EventKind::TranscodingRefused,
        EventKind::RoleRestarted,
    ];

    /// The name stored in the database.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::FailedLogin => "failed_login",
            EventKind::Lockout => "lockout",
            EventKind::ExtAuthRefused => "extauth_refused",
            EventKind::TranscodingRefused => "transcoding_refused",
            EventKind::RoleRestarted => "role_restarted",
        }
    }

    pub fn from_name(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One recorded event. Never a password, token or key: who, from where, and what happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecurityEvent {
    /// Seconds since the epoch.
    pub at: i64,
    pub kind: EventKind,
    /// The user named (as given, for a failed login; may be empty).
    pub user: String,
    /// The client address, or the role for a restart.
    pub source: String,
    pub detail: String,
}

/// What the front reports: it refused an ExtAuth header (`why` is its reason; the header's
/// value is not sent).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtAuthRefusal {
    pub addr: String,
    pub why: String,
}

/// A file a scan could not read (the `redoubt scan --problems` list).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScanProblem {
    pub folder: String,
    pub path: String,
    /// Times it crashed or hung the scanner (2 or more: skipped from now on).
    pub crashes: i64,
    pub reason: String,
}

/// The role names of the sandbox table, in its order.
pub fn table_roles() -> [Role; 4] {
    [Role::Front, Role::Broker, Role::Scanner, Role::Transcoder]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_status_fields_are_read() {
        let text = "Name:\tredoubt-front\nUid:\t0\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\n\
                    CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n\
                    Seccomp_filters:\t3\n";
        let f = SandboxFacts::parse(text);
        assert_eq!((f.uid, f.gid, f.seccomp_mode, f.seccomp_filters), (65534, 65534, 2, 3));
        assert!(f.no_new_privs && f.cap_eff == 0 && f.cap_prm == 0);
        assert!(!f.confined(), "landlock was not reported enforced");
        let full = SandboxFacts { landlock_enforced: true, ..f.clone() };
        assert!(full.confined());
        let root = SandboxFacts { uid: 0, ..full.clone() };
        assert!(!root.confined());
        let caps = SandboxFacts::parse("CapEff:\t000001ffffffffff\n");
        assert_eq!(caps.cap_eff, 0x1ff_ffff_ffff);
        // A missing or garbled field never reads as "confined".
        assert_eq!(SandboxFacts::parse("Uid:\tx\n").uid, u32::MAX);
    }

    #[test]
    fn event_kinds_round_trip_their_names() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.name()), Some(k));
        }
    }
}
