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

/// One process's sandbox, measured by the process itself on the running kernel right after
/// entering it: the landlock outcome of entering it, and the kernel's answers to asking
/// (privsep::sandbox::measure: seccomp mode, no_new_privs, capabilities, ids, and whether a
/// landlock domain refuses to open `/proc/self/status`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SandboxFacts {
    pub pid: u32,
    /// Effective uid and gid.
    pub uid: u32,
    pub gid: u32,
    /// The kernel's landlock ABI (None: no landlock).
    pub landlock_abi: Option<i32>,
    /// The landlock ruleset was fully enforced on this process (restrict_self's answer).
    pub landlock_enforced: bool,
    /// Opening `/proc/self/status` was refused (EACCES): the domain is in force.
    pub landlock_denies: bool,
    /// `PR_GET_SECCOMP`: 0 off, 2 filter.
    pub seccomp_mode: i32,
    /// The filters the process installed itself (the supervisor's, inherited, come on top).
    pub seccomp_filters: u32,
    pub no_new_privs: bool,
    /// Effective and permitted capabilities (bit sets; 0 is none).
    pub cap_eff: u64,
    pub cap_prm: u64,
    /// Seconds since the epoch, when the process measured itself.
    pub measured_at: i64,
}

impl SandboxFacts {
    /// Measures this process now, with what entering the sandbox reported.
    pub fn measure(report: &privsep::sandbox::Report) -> SandboxFacts {
        let m = privsep::sandbox::measure();
        SandboxFacts {
            pid: std::process::id(),
            uid: m.euid,
            gid: m.egid,
            landlock_abi: report.landlock_abi,
            landlock_enforced: report.landlock_enforced,
            landlock_denies: m.landlock_denies_proc,
            seccomp_mode: m.seccomp_mode,
            seccomp_filters: report.seccomp_filters as u32,
            no_new_privs: m.no_new_privs,
            cap_eff: m.cap_eff,
            cap_prm: m.cap_prm,
            measured_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        }
    }

    /// Whether everything the policy promises is in force: landlock enforced (and refusing),
    /// a seccomp filter, no_new_privs, no capabilities, not root.
    pub fn confined(&self) -> bool {
        self.landlock_enforced
            && self.landlock_denies
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

    /// A process outside any sandbox (this test) measures as not confined, and each missing
    /// layer alone makes a measured sandbox not confined.
    #[test]
    fn only_every_layer_together_is_confined() {
        let here = SandboxFacts::measure(&privsep::sandbox::Report::default());
        assert!(!here.confined(), "{here:?}");
        assert_eq!(here.pid, std::process::id());
        let full = SandboxFacts {
            uid: 65534,
            landlock_enforced: true,
            landlock_denies: true,
            seccomp_mode: 2,
            no_new_privs: true,
            ..SandboxFacts::default()
        };
        assert!(full.confined());
        for broken in [
            SandboxFacts { uid: 0, ..full.clone() },
            SandboxFacts { landlock_denies: false, ..full.clone() },
            SandboxFacts { seccomp_mode: 0, ..full.clone() },
            SandboxFacts { no_new_privs: false, ..full.clone() },
            SandboxFacts { cap_eff: 1 << 21, ..full.clone() },
        ] {
            assert!(!broken.confined(), "{broken:?}");
        }
    }

    #[test]
    fn event_kinds_round_trip_their_names() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.name()), Some(k));
        }
    }
}
