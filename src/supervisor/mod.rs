//! The supervisor: refuses privilege, prepares folders and the listener, starts the four
//! roles and keeps them running.
//!
//! Crash policy: a dead front, scanner or transcoder is restarted at once the first time,
//! then with exponential backoff while crashes keep coming (250 ms doubling to 30 s, counted
//! over a minute), so a crash loop is throttled, never a busy loop. A dead broker ends the
//! daemon with a non-zero exit (fail closed: systemd restarts the unit). A role that cannot
//! sandbox itself (exit 78) ends the daemon too: restarting cannot fix the kernel.
//! SIGTERM/SIGINT stop the front, scanner and transcoder, then the broker, then exit 0.

mod listener;
pub mod notify;
pub mod tls;

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use privsep::channel::{self, Channel};
use privsep::spawn::{spawn, Spawn};

use crate::config::{Config, Overrides};
use crate::proto::{fds, Control, Role, RoleInit};
use crate::role::EXIT_SANDBOX;

/// In DataFolder: the supervisor's pid, for `redoubt scan`.
pub const PID_FILE: &str = "redoubt.pid";

const CRASH_WINDOW: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Delay before restarting a role that has crashed `crashes` times within CRASH_WINDOW.
pub fn backoff(crashes: usize) -> Duration {
    if crashes <= 1 {
        return Duration::ZERO;
    }
    let shift = (crashes - 2).min(16) as u32;
    FIRST_BACKOFF.saturating_mul(1 << shift).min(MAX_BACKOFF)
}

struct Running {
    role: Role,
    child: std::process::Child,
}

struct Supervisor {
    cfg: Config,
    listener: listener::Listener,
    broker_ctl: Option<Channel>,
    broker_pid: Option<u32>,
    running: HashMap<i32, Running>,
    crashes: HashMap<Role, VecDeque<Instant>>,
    restart_at: HashMap<Role, Instant>,
    generation: HashMap<Role, u32>,
    /// The systemd credential `password-encryption-key`, read before narrowing.
    credential: Option<String>,
    /// The ffmpeg the transcoder may run, resolved before narrowing.
    ffmpeg: Option<std::path::PathBuf>,
    /// `$NOTIFY_SOCKET`, connected before narrowing (Type=notify).
    notify: Option<notify::Notify>,
    /// Roles the broker reported up (sandboxed and answering); READY=1 once all four are.
    up: HashSet<Role>,
    ready: bool,
    /// The watchdog's liveness check of the broker: the last probe sent, and whether the
    /// broker has answered it.
    probe: u64,
    probe_answered: bool,
    next_watchdog: Option<Instant>,
    /// Cleared when the broker's control channel ends (no more polling it).
    broker_ctl_open: bool,
    /// The front's control channel (non-blocking): new TLS chains after SIGHUP.
    front_ctl: Option<Channel>,
    /// HTTPS: the chain the front serves (and a restarted front gets).
    tls_chain: Option<crate::proto::tls::TlsChain>,
    /// The key, only until the broker has it.
    tls_key: Option<crate::proto::tls::TlsKey>,
    /// A reloaded chain, sent to the front once the broker says it holds its key.
    tls_pending: Option<crate::proto::tls::TlsChain>,
}

/// glibc's malloc settings for the roles that answer requests. Every answer builds and frees
/// hundreds of small strings (one per field of every record, on both sides of the broker
/// round trip); with glibc's default of 7 freed blocks cached per size and thread, the rest
/// go to its shared bins, and the next large allocation walks them all
/// (`malloc_consolidate`). A deeper cache keeps them per thread. Only glibc reads this;
/// roles otherwise start with an empty environment.
pub const MALLOC_TUNABLES: &str = "glibc.malloc.tcache_count=512";

/// The environment a role starts with: nothing but [`MALLOC_TUNABLES`] for the front and the
/// broker. The scanner keeps glibc's defaults, at which its memory bound is measured
/// (bench/scan.sh); the transcoder's ffmpeg gets no environment either way.
fn role_environment(role: Role) -> Vec<(&'static str, String)> {
    match role {
        Role::Front | Role::Broker => vec![("GLIBC_TUNABLES", MALLOC_TUNABLES.to_string())],
        Role::Scanner | Role::Transcoder => Vec::new(),
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (every role inherits it; the front needs
/// one descriptor per connection and one more per song it sends), and resolves
/// Limits.MaxConnections against it: 0 means half the limit, at most 10,000; a configured
/// value above half is lowered, with a warning, so that accept never runs out of descriptors.
fn connection_cap(configured: usize) -> usize {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let limit = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard {
                match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                    Ok(()) => hard,
                    Err(e) => {
                        tracing::warn!("cannot raise the descriptor limit from {soft} to {hard}: {e}");
                        soft
                    }
                }
            } else {
                soft
            }
        }
        Err(e) => {
            tracing::warn!("cannot read the descriptor limit: {e}; assuming 1024");
            1024
        }
    };
    let half = usize::try_from(limit / 2).unwrap_or(usize::MAX).max(16);
    match configured {
        0 => half.min(10_000),
        n if n > half => {
            tracing::warn!(
                "Limits.MaxConnections = {n} is more than half the descriptor limit ({limit}); using {half} (raise LimitNOFILE)"
            );
            half
        }
        n => n,
    }
}

pub fn serve(over: Overrides) -> ExitCode {
    if let Err(e) = privsep::identity::refuse_privilege() {
        eprintln!("redoubt: {e}");
        return ExitCode::from(1);
    }
    let mut cfg = match Config::load(&over) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redoubt: {e}");
            return ExitCode::from(2);
        }
    };
    crate::logging::init("supervisor", &cfg.log_level);
    cfg.max_connections = connection_cap(cfg.max_connections);
    if let Some(w) = privsep::identity::clear_bounding_set() {
        tracing::warn!("{w}");
    }
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    if let Some(src) = &cfg.source {
        tracing::info!("configuration from {}", src.display());
    }
    if !cfg.sandbox_require {
        tracing::warn!("Sandbox.Require = false: roles will run DEGRADED if the kernel cannot enforce their sandbox");
    }
    if let Err(e) = cfg.absolutize().map_err(|e| e.to_string()).and_then(|_| prepare_folders(&cfg)) {
        tracing::error!("{e}");
        return ExitCode::from(2);
    }
    let ffmpeg = match cfg.resolve_ffmpeg() {
        Ok(Some(f)) => {
            tracing::info!("transcoding with {}", f.display());
            Some(f)
        }
        Ok(None) => {
            tracing::warn!("no ffmpeg on PATH and no FFmpegPath: streams are served raw, without transcoding");
            None
        }
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let tls = match cfg.tls.as_ref().map(tls::load).transpose() {
        Ok(pair) => pair,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let listener = match listener::open(&cfg) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(
        "redoubt {} listening on {}{}",
        env!("CARGO_PKG_VERSION"),
        listener.describe,
        tls.as_ref().map(|p| format!(" (HTTPS, TLS 1.3; certificate SHA-256 {})", p.fingerprint())).unwrap_or_default()
    );
    let credential = read_credential();
    // Before narrowing: no socket can be made after it.
    let notify = match notify::Notify::from_env() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    };
    if let Some(wd) = notify.as_ref().and_then(|n| n.watchdog) {
        tracing::info!(
            "systemd watchdog: {} ms, pinged every {} ms while the broker answers",
            wd.as_millis(),
            wd.as_millis() / 2
        );
    }
    // For `redoubt scan`, which signals us.
    if let Err(e) = std::fs::write(cfg.data_folder.join(PID_FILE), format!("{}\n", std::process::id())) {
        tracing::warn!(
            "cannot write {}: {}",
            cfg.data_folder.join(PID_FILE).display(),
            crate::broker::db::explain_io(&e, &cfg.data_folder)
        );
    }
    match narrow(&cfg, ffmpeg.as_deref()) {
        Ok(report) => {
            for w in &report.warnings {
                tracing::warn!("supervisor: {w}");
            }
        }
        Err(e) => {
            tracing::error!("cannot sandbox the supervisor: {e}");
            tracing::error!("`redoubt doctor` shows what this kernel lacks; Sandbox.Require = false runs degraded (not recommended)");
            return ExitCode::from(1);
        }
    }
    let mut sup = Supervisor {
        cfg,
        listener,
        broker_ctl: None,
        broker_pid: None,
        running: HashMap::new(),
        crashes: HashMap::new(),
        restart_at: HashMap::new(),
        generation: HashMap::new(),
        credential,
        ffmpeg,
        notify,
        up: HashSet::new(),
        ready: false,
        probe: 0,
        probe_answered: false,
        next_watchdog: None,
        broker_ctl_open: false,
        front_ctl: None,
        tls_chain: tls.as_ref().map(|p| p.chain.clone()),
        tls_key: tls.map(|p| p.key),
        tls_pending: None,
    };
    match sup.run() {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            sup.stop_all();
            ExitCode::from(1)
        }
    }
}

/// `$CREDENTIALS_DIRECTORY/password-encryption-key` (systemd LoadCredential=), if present.
fn read_credential() -> Option<String> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
    let text = std::fs::read_to_string(Path::new(&dir).join("password-encryption-key")).ok()?;
    let key = text.trim_end_matches(['\n', '\r']).to_string();
    (!key.is_empty()).then_some(key)
}

/// Music must be readable; data and cache are created 0700 if missing and must be writable.
fn prepare_folders(cfg: &Config) -> Result<(), String> {
    let uid = nix::unistd::getuid();
    if cfg.music_folders.is_empty() {
        return Err("MusicFolder is empty: name at least one folder".into());
    }
    for m in &cfg.music_folders {
        std::fs::read_dir(m).map_err(|e| format!("MusicFolder {} is not readable by uid {uid}: {e}", m.display()))?;
    }
    let mut private = vec![("DataFolder", &cfg.data_folder), ("CacheFolder", &cfg.cache_folder)];
    private.extend(cfg.backup_path.as_ref().map(|p| ("Backup.Path", p)));
    for (name, dir) in private {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{name} {} cannot be created by uid {uid}: {e}", dir.display()))?;
        check_writable(dir).map_err(|e| format!("{name} {} is not writable by uid {uid}: {e}", dir.display()))?;
        for change in tighten(dir, 0) {
            tracing::warn!("{name}: {change}");
        }
    }
    Ok(())
}

/// Makes a data or cache folder private again: folders 0700, files 0600 at most (sockets and
/// links are left alone). Returns what it changed, for the log.
fn tighten(dir: &Path, depth: u32) -> Vec<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    fn fix(path: &Path, meta: &std::fs::Metadata, private: u32) -> Option<String> {
        let mode = meta.mode() & 0o7777;
        if mode & 0o7077 == 0 {
            return None;
        }
        let new = mode & private;
        Some(match std::fs::set_permissions(path, std::fs::Permissions::from_mode(new)) {
            Ok(()) => format!("{} was mode {mode:04o}, open to others; now {new:04o}", path.display()),
            Err(e) => format!("{} is mode {mode:04o}, open to others, and cannot be changed: {e}", path.display()),
        })
    }
    let mut changed = Vec::new();
    let Ok(meta) = std::fs::symlink_metadata(dir) else { return changed };
    changed.extend(fix(dir, &meta, 0o700));
    let Ok(entries) = std::fs::read_dir(dir) else { return changed };
    for e in entries.flatten() {
        // Not followed: links and sockets are neither folders nor files here.
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() && depth < 4 {
            changed.extend(tighten(&e.path(), depth + 1));
        } else if meta.is_file() {
            changed.extend(fix(&e.path(), &meta, 0o600));
        }
    }
    changed
}

/// The supervisor's own sandbox, entered once the listener is bound: what any role may touch
/// (roles inherit this domain and narrow it further), plus executing itself again. No
/// network, no other files, and the seccomp filter of policies/seccomp/<arch>/supervisor.json.
fn narrow(cfg: &Config, ffmpeg: Option<&Path>) -> Result<privsep::sandbox::Report, String> {
    use privsep::sandbox::{FsAccess, FsRule};
    let mut fs = vec![
        FsRule { path: cfg.data_folder.clone(), access: FsAccess::ReadWrite },
        FsRule { path: cfg.cache_folder.clone(), access: FsAccess::ReadWrite },
    ];
    // The broker writes backups there (policies/landlock.toml, $BackupPath).
    if let Some(p) = &cfg.backup_path {
        fs.push(FsRule { path: p.clone(), access: FsAccess::ReadWrite });
    }
    fs.extend([
        // Stdio::null() for the roles' stdin.
        FsRule { path: "/dev/null".into(), access: FsAccess::ReadWrite },
        // The transcoder's ffmpeg seeds from it (policies/landlock.toml).
        FsRule { path: "/dev/urandom".into(), access: FsAccess::Read },
    ]);
    for m in &cfg.music_folders {
        fs.push(FsRule { path: m.clone(), access: FsAccess::Read });
    }
    // SIGHUP re-reads TLSCert and TLSKey. A renewal usually writes new files (certbot: new
    // files behind the same symlinks), which a rule on the old files would not cover: the
    // folders holding them, as named and as resolved. No role's own domain grants these.
    for dir in cfg.tls.iter().flat_map(tls::folders) {
        fs.push(FsRule { path: dir, access: FsAccess::Read });
    }
    if Path::new("/etc/ld.so.cache").exists() {
        fs.push(FsRule { path: "/etc/ld.so.cache".into(), access: FsAccess::Read });
    }
    // Re-executing ourselves needs the binary, the dynamic loader and the libraries: exactly
    // the files this process has mapped.
    for path in mapped_files() {
        fs.push(FsRule { path, access: FsAccess::Execute });
    }
    // The transcoder's ffmpeg (its own domain narrows this to ffmpeg alone).
    if let Some(ffmpeg) = ffmpeg {
        for path in crate::policy::ffmpeg_executables(ffmpeg) {
            fs.push(FsRule { path, access: FsAccess::Execute });
        }
        for path in crate::policy::system_libraries() {
            fs.push(FsRule { path, access: FsAccess::Read });
        }
    }
    privsep::sandbox::enter(&privsep::sandbox::Policy {
        role: "supervisor",
        fs,
        seccomp_json: crate::policy::SUPERVISOR_SECCOMP,
        require: cfg.sandbox_require,
    })
    .map_err(|e| e.to_string())
}

fn mapped_files() -> Vec<std::path::PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut files: Vec<std::path::PathBuf> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.dedup();
    files
}

fn check_writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".redoubt-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

fn describe(status: &WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, sig, core) => format!("killed by {sig:?}{}", if *core { " (core dumped)" } else { "" }),
        other => format!("{other:?}"),
    }
}

impl Supervisor {
    fn run(&mut self) -> Result<ExitCode, String> {
        let mut mask = SigSet::empty();
        for s in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGUSR1, Signal::SIGUSR2] {
            mask.add(s);
        }
        mask.thread_block().map_err(|e| format!("sigprocmask: {e}"))?;
        let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| format!("signalfd: {e}"))?;

        for role in Role::ALL {
            self.start(role)?;
        }

        let mut stopping: Option<Instant> = None;
        let mut broker_signalled = false;
        loop {
            let now = Instant::now();
            let next = self
                .restart_at
                .values()
                .copied()
                .chain(stopping.map(|s| s + STOP_GRACE))
                .chain(self.next_watchdog)
                .min();
            let timeout = match next {
                Some(t) => nix::poll::PollTimeout::try_from(
                    t.saturating_duration_since(now).as_millis().min(60_000) as i32 + 1,
                )
                .unwrap_or(nix::poll::PollTimeout::MAX),
                None => nix::poll::PollTimeout::NONE,
            };
            let broker_readable = {
                let mut pfd = vec![nix::poll::PollFd::new(sigfd.as_fd(), nix::poll::PollFlags::POLLIN)];
                if let (Some(b), true) = (&self.broker_ctl, self.broker_ctl_open) {
                    pfd.push(nix::poll::PollFd::new(b.as_fd(), nix::poll::PollFlags::POLLIN));
                }
                match nix::poll::poll(&mut pfd, timeout) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(format!("poll: {e}")),
                }
                pfd.get(1).and_then(|p| p.revents()).is_some_and(|r| !r.is_empty())
            };
            if broker_readable {
                self.read_broker();
            }
            if self.next_watchdog.is_some_and(|t| t <= Instant::now()) && stopping.is_none() {
                self.watchdog_tick();
            }
            while let Ok(Some(info)) = sigfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) if stopping.is_none() => {
                        tracing::info!("stopping");
                        self.notify("STOPPING=1\nSTATUS=stopping");
                        self.next_watchdog = None;
                        stopping = Some(Instant::now());
                        self.restart_at.clear();
                        self.signal_roles(|r| r != Role::Broker, Signal::SIGTERM);
                    }
                    Ok(Signal::SIGHUP) => self.reload_tls(),
                    // `redoubt scan` (SIGUSR1) and `redoubt scan --full` (SIGUSR2).
                    Ok(sig @ (Signal::SIGUSR1 | Signal::SIGUSR2)) if stopping.is_none() => {
                        if let Some(b) = &self.broker_ctl {
                            let _ = b.send(0, &Control::Scan { full: sig == Signal::SIGUSR2 }, &[]);
                        }
                    }
                    _ => {}
                }
            }
            // Reap everything that died.
            loop {
                let status = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => break,
                    Ok(s) => s,
                    Err(e) => return Err(format!("waitpid: {e}")),
                };
                let Some(pid) = status.pid() else { continue };
                let Some(dead) = self.running.remove(&pid.as_raw()) else {
                    continue;
                };
                let role = dead.role;
                if stopping.is_some() {
                    tracing::debug!("{} {}", role.name(), describe(&status));
                    continue;
                }
                if role == Role::Broker {
                    tracing::error!("the broker {}; stopping the daemon (fail closed)", describe(&status));
                    self.broker_ctl = None;
                    self.stop_all();
                    return Ok(ExitCode::from(1));
                }
                if matches!(status, WaitStatus::Exited(_, c) if c == EXIT_SANDBOX as i32) {
                    tracing::error!("the {} could not sandbox itself; stopping the daemon", role.name());
                    self.stop_all();
                    return Ok(ExitCode::from(1));
                }
                let crashes = self.crashes.entry(role).or_default();
                crashes.push_back(Instant::now());
                while crashes.front().is_some_and(|t| t.elapsed() > CRASH_WINDOW) {
                    crashes.pop_front();
                }
                let delay = backoff(crashes.len());
                tracing::warn!(
                    "the {} {}; restarting in {} ms ({} crashes in the last minute)",
                    role.name(),
                    describe(&status),
                    delay.as_millis(),
                    crashes.len()
                );
                self.restart_at.insert(role, Instant::now() + delay);
                if let Some(b) = &self.broker_ctl {
                    let how = format!("{}; restarted after {} ms", describe(&status), delay.as_millis());
                    let signal = match status {
                        WaitStatus::Signaled(_, sig, _) => Some(sig.as_str()),
                        _ => None,
                    };
                    let cause = crate::proto::metrics::restart_cause(signal);
                    let _ = b.send(0, &Control::Restarted { role, how, cause }, &[]);
                }
            }
            if let Some(since) = stopping {
                let others_alive = self.running.values().any(|r| r.role != Role::Broker);
                if !others_alive && !broker_signalled {
                    // Last the broker, so that nothing is left talking to it. It closes its
                    // database on SIGTERM.
                    broker_signalled = true;
                    self.signal_roles(|r| r == Role::Broker, Signal::SIGTERM);
                }
                if self.running.is_empty() {
                    tracing::info!("stopped");
                    return Ok(ExitCode::SUCCESS);
                }
                if since.elapsed() > STOP_GRACE {
                    tracing::warn!("roles did not stop within {} s; killing them", STOP_GRACE.as_secs());
                    self.signal_roles(|_| true, Signal::SIGKILL);
                }
                continue;
            }
            let due: Vec<Role> =
                self.restart_at.iter().filter(|(_, t)| **t <= Instant::now()).map(|(r, _)| *r).collect();
            for role in due {
                self.restart_at.remove(&role);
                self.start(role)?;
            }
        }
    }

    fn notify(&self, msg: &str) {
        if let Some(n) = &self.notify {
            n.send(msg);
        }
    }

    /// Reads what the broker tells us (roles up, scan status, liveness answers).
    fn read_broker(&mut self) {
        let Some(b) = self.broker_ctl.as_mut() else { return };
        let msg = match b.recv::<Control>() {
            Ok(m) => m.body,
            Err(e) => {
                // The broker is gone or broke the protocol; the reaper ends the daemon.
                tracing::debug!("broker control channel: {e}");
                self.broker_ctl_open = false;
                return;
            }
        };
        match msg {
            Control::Up(role) => {
                let pid = self.running.iter().find(|(_, r)| r.role == role).map(|(p, _)| *p).unwrap_or(0);
                let first = self.up.insert(role);
                if self.ready || !first {
                    tracing::debug!("the {} (pid {pid}) is up again", role.name());
                } else {
                    tracing::info!("the {} (pid {pid}) is sandboxed and answers", role.name());
                }
                if role == Role::Broker && self.next_watchdog.is_none() {
                    if let Some(wd) = self.notify.as_ref().and_then(|n| n.watchdog) {
                        self.send_probe();
                        self.next_watchdog = Some(Instant::now() + wd / 2);
                    }
                }
                if !self.ready && Role::ALL.iter().all(|r| self.up.contains(r)) {
                    self.ready = true;
                    tracing::info!("ready: all four roles are sandboxed and answer");
                    let status = format!("STATUS=serving on {}", self.listener.describe);
                    self.notify(&format!("READY=1\n{status}"));
                }
            }
            Control::Status(line) => {
                // One line: systemd reads the datagram as newline-separated assignments.
                self.notify(&format!("STATUS={}", line.replace('\n', " ")))
            }
            Control::TlsKeyHeld(leaf) => self.send_pending_chain(leaf),
            Control::Alive(n) if n == self.probe => self.probe_answered = true,
            Control::Alive(_) => {}
            other => tracing::warn!("unexpected message from the broker: {other:?}"),
        }
    }

    /// SIGHUP: TLSCert and TLSKey again. A good new pair goes to the broker (the key), then,
    /// once the broker holds it, to the front (the chain); a bad one is refused and the old
    /// pair stays. Other options are read only at start.
    fn reload_tls(&mut self) {
        let Some(files) = self.cfg.tls.clone() else {
            tracing::info!("SIGHUP ignored: HTTPS is off, and other changes need a restart of the service");
            return;
        };
        let pair = match tls::load(&files) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("SIGHUP: {e}; the current certificate stays");
                return;
            }
        };
        if self.tls_chain.as_ref() == Some(&pair.chain) {
            tracing::info!("SIGHUP: TLSCert and TLSKey are unchanged (SHA-256 {})", pair.fingerprint());
            return;
        }
        tracing::info!("SIGHUP: new certificate SHA-256 {}; handing its key to the broker", pair.fingerprint());
        let Some(b) = &self.broker_ctl else { return };
        if let Err(e) = b.send(0, &Control::TlsKey(Box::new(pair.key)), &[]) {
            tracing::error!("SIGHUP: cannot send the broker the new key: {e}; the current certificate stays");
            return;
        }
        self.tls_pending = Some(pair.chain);
    }

    /// The broker holds the key of `leaf`: the front may serve its chain now.
    fn send_pending_chain(&mut self, leaf: crate::proto::tls::LeafId) {
        let Some(chain) = self.tls_pending.take_if(|c| c.leaf() == leaf) else { return };
        if let Some(f) = &self.front_ctl {
            if let Err(e) = f.send(0, &Control::TlsChain(chain.clone()), &[]) {
                // A front that does not read its control channel: its restart gets the chain.
                tracing::warn!("the front did not take the new certificate chain: {e}");
            }
        }
        tracing::info!("serving the new certificate");
        self.tls_chain = Some(chain);
    }

    fn send_probe(&mut self) {
        self.probe += 1;
        self.probe_answered = false;
        if let Some(b) = &self.broker_ctl {
            let _ = b.send(0, &Control::Probe(self.probe), &[]);
        }
    }

    /// Half a watchdog interval has passed: WATCHDOG=1 if the broker answered the last probe
    /// (a round trip over its control channel), then the next probe.
    fn watchdog_tick(&mut self) {
        let Some(wd) = self.notify.as_ref().and_then(|n| n.watchdog) else {
            self.next_watchdog = None;
            return;
        };
        if self.probe_answered {
            self.notify("WATCHDOG=1");
        } else {
            tracing::warn!(
                "the broker has not answered its liveness check within {} ms; withholding WATCHDOG=1",
                (wd / 2).as_millis()
            );
        }
        // A probe still unanswered stays the one that counts: a late answer to it resumes
        // the pings at the next tick.
        if self.probe_answered {
            self.send_probe();
        }
        self.next_watchdog = Some(Instant::now() + wd / 2);
    }

    fn signal_roles(&self, which: impl Fn(Role) -> bool, sig: Signal) {
        for (pid, r) in &self.running {
            if which(r.role) {
                let _ = kill(Pid::from_raw(*pid), sig);
            }
        }
    }

    /// Kills every role and reaps them (error paths; no grace).
    fn stop_all(&mut self) {
        self.signal_roles(|_| true, Signal::SIGKILL);
        for (_, mut r) in self.running.drain() {
            let _ = r.child.wait();
        }
    }

    fn init_for(&self, role: Role, generation: u32) -> RoleInit {
        #[cfg(feature = "test-hooks")]
        let probes = if generation == 0 { crate::hooks::probes_for(role.name(), self.broker_pid) } else { Vec::new() };
        #[cfg(not(feature = "test-hooks"))]
        let probes = {
            let _ = generation;
            Vec::new()
        };
        RoleInit {
            role,
            music_folders: self.cfg.music_folders.clone(),
            data_folder: self.cfg.data_folder.clone(),
            cache_folder: self.cfg.cache_folder.clone(),
            base_url: self.cfg.base_url.clone(),
            log_level: self.cfg.log_level.clone(),
            sandbox_require: self.cfg.sandbox_require,
            listener_is_unix: self.listener.is_unix,
            probes,
            broker: (role == Role::Broker).then(|| self.broker_init()),
            scanner: crate::proto::ScannerInit {
                genre_separators: self.cfg.genre_separators.clone(),
                artist_separators: self.cfg.artist_separators.clone(),
                file_timeout_ms: self.cfg.file_timeout.as_millis() as u64,
                watcher_wait_ms: self.cfg.watcher_wait.as_millis() as u64,
            },
            front: crate::proto::FrontInit {
                trusted_sources: self.cfg.trusted_sources.clone(),
                user_header: self.cfg.user_header.clone(),
                logout_url: self.cfg.logout_url.clone(),
                max_connections: self.cfg.max_connections,
                max_connections_per_client: self.cfg.max_connections_per_client,
                max_connections_per_proxy: self.cfg.max_connections_per_proxy,
                request_timeout_ms: self.cfg.request_timeout.as_millis() as u64,
                idle_timeout_ms: self.cfg.idle_timeout.as_millis() as u64,
                tls: if role == Role::Front { self.tls_chain.clone() } else { None },
                metrics: self.cfg.metrics.clone().filter(|_| role == Role::Front),
                enable_sharing: self.cfg.enable_sharing,
                share_url: self.cfg.share_url.clone(),
                default_share_expiration_secs: self.cfg.default_share_expiration.as_secs(),
                default_downloadable_share: self.cfg.default_downloadable_share,
            },
            transcoder: crate::proto::TranscoderInit { ffmpeg: self.ffmpeg.clone(), checks: Vec::new() },
        }
    }

    fn broker_init(&self) -> crate::proto::BrokerInit {
        use crate::proto::Secret;
        // PasswordEncryptionKey, else the systemd credential (the broker cannot read
        // /run/credentials itself: its landlock domain holds only the data folders).
        let passphrase = self.cfg.password_encryption_key.clone().or_else(|| self.credential.clone());
        crate::proto::BrokerInit {
            ext_auth: !self.cfg.trusted_sources.is_empty(),
            key_passphrase: passphrase.map(Secret),
            key_previous: self.cfg.previous_password_encryption_key.clone().map(Secret),
            auth_request_limit: self.cfg.auth_request_limit,
            auth_window_ms: self.cfg.auth_window.as_millis() as u64,
            session_timeout_secs: self.cfg.session_timeout.as_secs(),
            session_max_age_secs: self.cfg.session_max_age.as_secs(),
            subsonic_passwords: self.cfg.subsonic_passwords,
            scan_on_startup: self.cfg.scan_on_startup,
            scan_schedule: self.cfg.scan_schedule.clone(),
            ignored_articles: self.cfg.ignored_articles.clone(),
            backup_path: self.cfg.backup_path.clone(),
            backup_schedule: self.cfg.backup_schedule.clone(),
            backup_count: self.cfg.backup_count,
            tls: self.tls_key.clone(),
            library: self.cfg.library.clone(),
            shares: crate::proto::ShareSettings {
                enabled: self.cfg.enable_sharing,
                default_expiration_secs: self.cfg.default_share_expiration.as_secs(),
                default_downloadable: self.cfg.default_downloadable_share,
            },
            media: crate::proto::MediaSettings {
                enable_downloads: self.cfg.enable_downloads,
                enable_transcoding_config: self.cfg.enable_transcoding_config,
                ffmpeg: self.ffmpeg.clone(),
                default_downsampling_format: self.cfg.default_downsampling_format.clone(),
                max_transcodes: self.cfg.max_transcodes,
                max_transcodes_per_user: self.cfg.max_transcodes_per_user,
                cover_art_priority: self.cfg.cover_art_priority.clone(),
                lyrics_priority: self.cfg.lyrics_priority.clone(),
            },
        }
    }

    fn start(&mut self, role: Role) -> Result<(), String> {
        let generation = *self.generation.entry(role).and_modify(|g| *g += 1).or_insert(0);
        let (sup_end, role_ctl) = channel::pair().map_err(|e| format!("socketpair: {e}"))?;
        let peer =
            if role == Role::Broker { None } else { Some(channel::pair().map_err(|e| format!("socketpair: {e}"))?) };
        let mut layout = vec![(role_ctl.as_fd(), fds::CONTROL)];
        if let Some((role_end, _)) = &peer {
            layout.push((role_end.as_fd(), fds::BROKER));
        }
        if role == Role::Front {
            layout.push((self.listener.fd.as_fd(), fds::LISTENER));
        }
        let child = spawn(Spawn {
            exe: Path::new("/proc/self/exe"),
            arg0: "redoubt",
            args: vec![OsStr::new("role"), OsStr::new(role.name())],
            env: role_environment(role),
            fds: layout,
            capture_stdout: false,
        })
        .map_err(|e| format!("starting the {}: {e}", role.name()))?;
        drop(role_ctl);
        // A restarted role reports itself up again.
        self.up.remove(&role);
        let pid = child.id();
        self.running.insert(pid as i32, Running { role, child });
        let ctl = Channel::new(sup_end);
        // A failed send means the child is already dead; the reaper deals with it.
        let _ = ctl.send(0, &Control::Init(Box::new(self.init_for(role, generation))), &[]);
        match peer {
            None => {
                self.broker_ctl = Some(ctl);
                self.broker_ctl_open = true;
                self.broker_pid = Some(pid);
                // The broker has the key material now, and a broker is never restarted (its
                // death ends the daemon): the supervisor keeps no copy.
                for s in [
                    &mut self.cfg.password_encryption_key,
                    &mut self.cfg.previous_password_encryption_key,
                    &mut self.credential,
                ] {
                    if let Some(v) = s.as_mut() {
                        zeroize::Zeroize::zeroize(v);
                    }
                    *s = None;
                }
                // SecretBytes zeroes itself; SIGHUP reads TLSKey afresh.
                self.tls_key = None;
            }
            Some((role_end, broker_end)) => {
                drop(role_end);
                if role == Role::Front {
                    // Sends only, never waiting on a front that does not read.
                    let _ = nix::fcntl::fcntl(
                        std::os::fd::AsRawFd::as_raw_fd(&ctl.as_fd()),
                        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                    );
                    self.front_ctl = Some(ctl);
                }
                if let Some(b) = &self.broker_ctl {
                    let _ = b.send(0, &Control::Attach(role), &[broker_end.as_fd()]);
                }
            }
        }
        tracing::debug!("started the {} (pid {pid}, generation {generation})", role.name());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_immediate_once_then_doubles_to_a_cap() {
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), Duration::from_millis(250));
        assert_eq!(backoff(3), Duration::from_millis(500));
        assert_eq!(backoff(4), Duration::from_secs(1));
        assert_eq!(backoff(100), MAX_BACKOFF);
    }
}
