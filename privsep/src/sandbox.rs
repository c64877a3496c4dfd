//! Entering a role's sandbox: no_new_privs, non-dumpable, no capabilities, landlock, seccomp.
//!
//! Must run while the process has exactly one thread: landlock (before ABI 8) and seccomp
//! without TSYNC only restrict the calling thread, so a thread created earlier would stay free.
//! [`enter`] checks that and refuses otherwise.

use std::path::PathBuf;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

/// The landlock ABI whose rights we handle: 6 adds signal and abstract-unix scoping.
pub const REQUIRED_ABI: i32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsAccess {
    /// Read files and list directories beneath the path.
    Read,
    /// Read, create, write, truncate and remove regular files and directories beneath it.
    ReadWrite,
    /// Read and execute this one file.
    Execute,
}

#[derive(Debug, Clone)]
pub struct FsRule {
    pub path: PathBuf,
    pub access: FsAccess,
}

pub struct Policy<'a> {
    pub role: &'a str,
    /// Paths the role may touch; everything else is denied.
    pub fs: Vec<FsRule>,
    /// The role's seccomp policy, in seccompiler's JSON format.
    pub seccomp_json: &'a str,
    /// Fail closed when the kernel cannot enforce everything (the default).
    pub require: bool,
}

#[derive(Debug, Default)]
pub struct Report {
    pub landlock_abi: Option<i32>,
    pub landlock_enforced: bool,
    pub seccomp_filters: usize,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{role}: the sandbox must be entered before any thread exists ({threads} running)")]
    Threads { role: String, threads: usize },
    #[error("{role}: {what}")]
    Failed { role: String, what: String },
}

/// The kernel's landlock ABI version, or None when landlock is absent or disabled.
pub fn landlock_abi() -> Option<i32> {
    // SAFETY: landlock_create_ruleset with a null attribute, size 0 and the VERSION flag only
    // returns the ABI version (or an error); it reads no memory and creates no fd.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    (v > 0).then_some(v as i32)
}

/// Threads in this process, when /proc is readable. A role started by the (sandboxed)
/// supervisor inherits a landlock domain without /proc, so there this returns None and the
/// guarantee rests on the structure: roles build their runtime only after `enter`.
fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

/// What the kernel says of this process's confinement now, asked with syscalls only (a
/// landlocked process cannot open `/proc`, which is itself one of the facts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measured {
    /// `PR_GET_SECCOMP`: 0 off, 2 filter (-1: the kernel would not say).
    pub seccomp_mode: i32,
    pub no_new_privs: bool,
    /// Effective and permitted capabilities, as bit sets (`u64::MAX`: unreadable).
    pub cap_eff: u64,
    pub cap_prm: u64,
    pub euid: u32,
    pub egid: u32,
    /// Opening `/proc/self/status` for reading was refused with EACCES: a landlock domain
    /// denies what file permissions allow.
    pub landlock_denies_proc: bool,
}

/// Measures this process's confinement (see [`Measured`]). Each call is one the roles'
/// seccomp policies allow.
pub fn measure() -> Measured {
    // SAFETY: PR_GET_SECCOMP takes no pointer and only returns the calling thread's mode;
    // it kills only a thread in strict mode, which no role uses.
    let seccomp_mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    let bits =
        |set| caps::read(None, set).map(|c| c.iter().fold(0u64, |acc, cap| acc | cap.bitmask())).unwrap_or(u64::MAX);
    let denied = matches!(
        std::fs::File::open("/proc/self/status"),
        Err(e) if e.raw_os_error() == Some(libc::EACCES)
    );
    Measured {
        seccomp_mode,
        no_new_privs: nix::sys::prctl::get_no_new_privs().unwrap_or(false),
        cap_eff: bits(caps::CapSet::Effective),
        cap_prm: bits(caps::CapSet::Permitted),
        euid: nix::unistd::geteuid().as_raw(),
        egid: nix::unistd::getegid().as_raw(),
        landlock_denies_proc: denied,
    }
}

pub fn enter(policy: &Policy<'_>) -> Result<Report, SandboxError> {
    let role = policy.role.to_string();
    let fail = |what: String| SandboxError::Failed { role: role.clone(), what };
    if let Some(threads) = thread_count().filter(|n| *n != 1) {
        return Err(SandboxError::Threads { role: role.clone(), threads });
    }
    let mut report = Report { landlock_abi: landlock_abi(), ..Report::default() };

    nix::sys::prctl::set_no_new_privs().map_err(|e| fail(format!("PR_SET_NO_NEW_PRIVS: {e}")))?;
    // Non-dumpable: no core dump, and /proc/<pid>/{mem,environ,fd} and ptrace are closed to
    // other processes of the same uid.
    nix::sys::prctl::set_dumpable(false).map_err(|e| fail(format!("PR_SET_DUMPABLE: {e}")))?;
    crate::identity::refuse_privilege().map_err(|e| fail(e.to_string()))?;

    match apply_landlock(policy) {
        Ok(()) => report.landlock_enforced = true,
        Err(what) if policy.require => return Err(fail(what)),
        Err(what) => report.warnings.push(format!("RUNNING DEGRADED (Sandbox.Require = false): {what}")),
    }
    match apply_seccomp(policy.seccomp_json) {
        Ok(n) => report.seccomp_filters = n,
        Err(what) if policy.require => return Err(fail(what)),
        Err(what) => report.warnings.push(format!("RUNNING DEGRADED (Sandbox.Require = false): {what}")),
    }
    Ok(report)
}

fn fs_rights(access: FsAccess) -> BitFlags<AccessFs> {
    match access {
        FsAccess::Read => AccessFs::ReadFile | AccessFs::ReadDir,
        FsAccess::ReadWrite => {
            AccessFs::ReadFile
                | AccessFs::ReadDir
                | AccessFs::WriteFile
                | AccessFs::Truncate
                | AccessFs::MakeReg
                | AccessFs::MakeDir
                | AccessFs::RemoveFile
                | AccessFs::RemoveDir
        }
        FsAccess::Execute => AccessFs::Execute | AccessFs::ReadFile,
    }
}

fn apply_landlock(policy: &Policy<'_>) -> Result<(), String> {
    let abi = landlock_abi();
    match abi {
        None => {
            return Err("landlock is not available in this kernel (needs Linux 6.12 or later, \
                        with lsm=landlock); also check that no seccomp filter (a systemd \
                        SystemCallFilter=, or a container engine's seccomp profile) blocks the \
                        landlock_* syscalls"
                .into())
        }
        Some(v) if v < REQUIRED_ABI => {
            return Err(format!(
                "landlock ABI {v} lacks signal and abstract-unix-socket scoping (ABI {REQUIRED_ABI}, Linux 6.12)"
            ))
        }
        _ => {}
    }
    let target = ABI::V6;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(target))
        .and_then(|r| r.handle_access(AccessNet::from_all(target)))
        .and_then(|r| r.scope(Scope::AbstractUnixSocket | Scope::Signal))
        .and_then(|r| r.create())
        .map_err(|e| format!("landlock ruleset: {e}"))?;
    for rule in &policy.fs {
        let fd = PathFd::new(&rule.path).map_err(|e| format!("landlock: open {}: {e}", rule.path.display()))?;
        let mut rights = fs_rights(rule.access);
        if !rule.path.is_dir() {
            // Directory-only rights on a file are an error in landlock.
            rights &= AccessFs::from_file(target);
        }
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, rights))
            .map_err(|e| format!("landlock rule for {}: {e}", rule.path.display()))?;
    }
    let status = ruleset.restrict_self().map_err(|e| format!("landlock restrict_self: {e}"))?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(format!("landlock is only {:?}", status.ruleset));
    }
    Ok(())
}

/// Compiles every filter in the policy and installs them (the kernel stacks them; the
/// strictest verdict wins, so an `errno` filter refines an allowlist).
fn apply_seccomp(json: &str) -> Result<usize, String> {
    let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| format!("seccomp: unsupported architecture: {e:?}"))?;
    let map = seccompiler::compile_from_json(json.as_bytes(), arch)
        .map_err(|e| format!("seccomp policy does not compile: {e}"))?;
    // The allowlist goes in last: it does not permit seccomp(2) itself.
    let mut names: Vec<_> = map.keys().cloned().collect();
    names.sort_by_key(|n| (n == "allow", n.clone()));
    for name in &names {
        seccompiler::apply_filter(&map[name])
            .map_err(|e| format!("seccomp filter {name:?} could not be installed: {e}"))?;
    }
    Ok(names.len())
}

/// Installs a policy's seccomp filters alone (with no_new_privs), as an outer layer that a
/// later [`enter`] stacks on: `redoubt doctor` gives a throwaway transcoder the supervisor's
/// filter first, as every real role inherits it.
pub fn stack_seccomp(json: &str) -> Result<usize, String> {
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {e}"))?;
    apply_seccomp(json)
}

/// Compiles a seccomp policy without installing it (tests, doctor).
pub fn check_seccomp_policy(json: &str) -> Result<usize, String> {
    let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| format!("unsupported architecture: {e:?}"))?;
    seccompiler::compile_from_json(json.as_bytes(), arch).map(|m| m.len()).map_err(|e| e.to_string())
}
