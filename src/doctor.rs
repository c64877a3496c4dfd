//! `redoubt doctor`: starts each role's sandbox in a throwaway child, makes it attempt what
//! its policy forbids, and prints what this kernel actually enforces. Then it runs every
//! stored transcoding profile on a generated second of audio in a throwaway transcoder
//! (the supervisor's filter, then the transcoder's landlock and seccomp policy, as in the
//! daemon), so that a library on this host that the policy does not expect shows up here,
//! naming the profile, rather than as failed streams.

use std::ffi::OsStr;
use std::io::{BufRead, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitCode;

use privsep::channel::Channel;
use privsep::probe::Probe;
use privsep::spawn::{spawn, take_layout_fd, Spawn};

use crate::config::{Config, Overrides};
use crate::proto::media::ProfileCheck;
use crate::proto::{fds, Control, Role, RoleInit};

struct Check {
    what: String,
    probe: String,
    expect: &'static str,
}

fn check(what: impl Into<String>, probe: impl Into<String>, expect: &'static str) -> Check {
    Check { what: what.into(), probe: probe.into(), expect }
}

/// What each role must be refused (or allowed), as probes and the result the policy promises.
fn checks(role: Role, music: &Path, data: &Path, abstract_name: &str) -> Vec<Check> {
    let me = std::process::id();
    let m = music.display();
    let d = data.display();
    let mut v = vec![
        check("read /etc/passwd", "open_read:/etc/passwd", "EACCES"),
        check("create an AF_INET socket", "socket_inet", "EPERM"),
        check("connect to an outside abstract socket", format!("connect_abstract:{abstract_name}"), "EPERM"),
        check("signal a process outside the sandbox", format!("kill:{me}:0"), "EPERM"),
        check("ptrace another process", format!("ptrace_attach:{me}"), "EPERM"),
    ];
    let transcoder = role == Role::Transcoder;
    v.push(check("execute /bin/sh", "exec:/bin/sh", if transcoder { "EACCES" } else { "EPERM" }));
    v.push(check("fork a process", "fork", if transcoder { "ok" } else { "EPERM" }));
    match role {
        Role::Front => {
            v.push(check("read the data folder", format!("open_read:{d}/probe"), "EACCES"));
            v.push(check("read the music folder", format!("open_read:{m}/probe"), "EACCES"));
        }
        Role::Broker => {
            v.push(check("write the data folder", format!("open_write:{d}/created"), "ok"));
            v.push(check("read the music folder", format!("open_read:{m}/probe"), "EACCES"));
        }
        Role::Scanner | Role::Transcoder => {
            v.push(check("read the music folder", format!("open_read:{m}/probe"), "ok"));
            v.push(check("write the music folder", format!("open_write:{m}/created"), "EACCES"));
            v.push(check("read the data folder", format!("open_read:{d}/probe"), "EACCES"));
        }
    }
    // Last: it kills the child.
    v.push(check("make a syscall outside the allowlist", "forbidden_syscall", "SIGSYS"));
    v
}

pub fn run(over: Overrides) -> ExitCode {
    if let Err(e) = privsep::identity::refuse_privilege() {
        eprintln!("redoubt doctor runs as the user the service runs as.\n{e}");
        return ExitCode::from(1);
    }
    let mut cfg = match Config::load(&over) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redoubt: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = cfg.absolutize() {
        eprintln!("redoubt: {e}");
        return ExitCode::from(2);
    }
    let uname = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let abi = privsep::sandbox::landlock_abi();
    let seccomp = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.contains("\nSeccomp:"));
    println!("kernel          {uname} ({})", std::env::consts::ARCH);
    println!(
        "landlock        {}",
        match abi {
            Some(v) if v >= privsep::sandbox::REQUIRED_ABI =>
                format!("ABI {v} (ok; {} needed)", privsep::sandbox::REQUIRED_ABI),
            Some(v) => format!(
                "ABI {v} (TOO OLD: ABI {} needed for signal and abstract-socket scoping)",
                privsep::sandbox::REQUIRED_ABI
            ),
            None => "MISSING (not built in, not enabled with lsm=, or blocked by a seccomp filter: systemd's \
                     SystemCallFilter=, or a container engine's seccomp profile)"
                .into(),
        }
    );
    println!("seccomp         {}", if seccomp { "available" } else { "MISSING" });
    println!("Sandbox.Require {}", cfg.sandbox_require);
    if cfg.trusted_sources.is_empty() {
        println!("ExtAuth         off: the broker accepts no identity on the front's word");
    } else {
        println!(
            "ExtAuth         ON (trusted: {}): the front vouches for the user these proxies name, so a compromised \
             front could act as any user, admins included (docs/security.md, \"ExtAuth means the front vouches\")",
            cfg.trusted_sources.join(", ")
        );
    }
    println!();

    let tmp = std::env::temp_dir().join(format!("redoubt-doctor-{}", std::process::id()));
    let (music, data) = (tmp.join("music"), tmp.join("data"));
    let setup = std::fs::create_dir_all(&music)
        .and_then(|_| std::fs::create_dir_all(&data))
        .and_then(|_| std::fs::write(music.join("probe"), b"x"))
        .and_then(|_| std::fs::write(data.join("probe"), b"x"));
    if let Err(e) = setup {
        eprintln!("redoubt doctor: cannot prepare {}: {e}", tmp.display());
        return ExitCode::from(2);
    }
    let abstract_name = format!("redoubt-doctor-{}", std::process::id());
    use std::os::linux::net::SocketAddrExt;
    let outside = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
        .and_then(|a| std::os::unix::net::UnixListener::bind_addr(&a));

    let mut failures = 0;
    println!("{:<11} {:<40} {:<8} {:<8}", "role", "attempt", "expected", "result");
    for role in Role::ALL {
        let list = checks(role, &music, &data, &abstract_name);
        let results = run_child(role, &cfg, &music, &data, &list);
        for (c, got) in list.iter().zip(results.iter()) {
            let ok = got == c.expect;
            failures += !ok as usize;
            println!(
                "{:<11} {:<40} {:<8} {:<8} {}",
                role.name(),
                c.what,
                c.expect,
                got,
                if ok { "ok" } else { "FAIL" }
            );
        }
    }
    drop(outside);
    println!();
    let profile_failures = check_profiles(&cfg, &music, &data);
    let _ = std::fs::remove_dir_all(&tmp);
    println!();
    if failures == 0 {
        println!("every role is sandboxed as its policy says");
    } else {
        println!("{failures} checks failed: this kernel does not enforce redoubt's sandbox; `serve` will refuse to start unless Sandbox.Require = false");
    }
    if profile_failures > 0 {
        println!(
            "{profile_failures} transcoding profiles failed in the transcoder's sandbox: clients asking for them get an error (the reasons are above)"
        );
    }
    if failures == 0 && profile_failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The profiles to check: those stored in the database, or, before there is one, those a
/// new database is seeded with (the migrations, run in memory). Opened read-only.
fn stored_profiles(cfg: &Config) -> Result<(Vec<ProfileCheck>, String), String> {
    let path = crate::broker::db::path(&cfg.data_folder);
    let (conn, source) = if path.exists() {
        let conn = crate::broker::db::open_reader(&path).map_err(|e| e.to_string())?;
        (conn, format!("stored in {}", path.display()))
    } else {
        let conn = crate::broker::db::open(Path::new(":memory:")).map_err(|e| e.to_string())?;
        (conn, format!("the defaults ({} does not exist yet)", path.display()))
    };
    let profiles = crate::broker::media::profiles(&conn).map_err(|e| format!("{}: {e}", path.display()))?;
    let checks = profiles
        .into_iter()
        .map(|p| ProfileCheck {
            name: p.name,
            target_format: p.target_format,
            command: p.command,
            bit_rate: p.default_bit_rate,
        })
        .collect();
    Ok((checks, source))
}

/// Runs every profile in a throwaway transcoder and prints one row each; the number that
/// failed.
fn check_profiles(cfg: &Config, music: &Path, data: &Path) -> usize {
    let ffmpeg = match cfg.resolve_ffmpeg() {
        Ok(Some(f)) => f,
        Ok(None) => {
            println!("transcoding     no ffmpeg (FFmpegPath is empty and there is none on PATH): streams are served raw, no profile to check");
            return 0;
        }
        Err(e) => {
            println!("transcoding     FAIL: {e}");
            return 1;
        }
    };
    let (checks, source) = match stored_profiles(cfg) {
        Ok(p) => p,
        Err(e) => {
            println!("transcoding     FAIL: cannot read the transcoding profiles: {e}");
            return 1;
        }
    };
    println!(
        "transcoding     {}: profiles {source}, each run on a second of audio in the transcoder's sandbox",
        ffmpeg.display()
    );
    println!("{:<20} {:<8} result", "profile", "format");
    let results = run_transcoder_child(cfg, music, data, &ffmpeg, &checks);
    let mut failed = 0;
    for (c, r) in checks.iter().zip(results) {
        let shown = match r {
            Ok(bytes) => format!("ok ({bytes} bytes)"),
            Err(why) => {
                failed += 1;
                format!("FAIL: {why}")
            }
        };
        println!("{:<20} {:<8} {shown}", c.name, c.target_format);
    }
    failed
}

fn run_transcoder_child(
    cfg: &Config,
    music: &Path,
    data: &Path,
    ffmpeg: &Path,
    checks: &[ProfileCheck],
) -> Vec<Result<u64, String>> {
    let fail = |why: String| vec![Err(why); checks.len()];
    let mut init = throwaway_init(Role::Transcoder, cfg, music, data);
    init.transcoder = crate::proto::TranscoderInit { ffmpeg: Some(ffmpeg.to_path_buf()), checks: checks.to_vec() };
    let mut child = match start_child(&[OsStr::new("doctor-transcode")], init) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut results: Vec<Option<Result<u64, String>>> = vec![None; checks.len()];
    let mut sandbox_error = None;
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let mut parts = line.splitn(3, '\t');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("sandbox"), Some(e), _) => sandbox_error = Some(e.to_string()),
                (Some(i), Some(verdict), detail) => {
                    let Some(slot) = i.parse::<usize>().ok().and_then(|i| results.get_mut(i)) else { continue };
                    let detail = detail.unwrap_or("").to_string();
                    *slot = Some(if verdict == "ok" { detail.parse().map_err(|_| detail) } else { Err(detail) });
                }
                _ => {}
            }
        }
    }
    let status = child.wait();
    if let Some(e) = sandbox_error {
        return fail(format!("no sandbox: {e}"));
    }
    let end = match status {
        Ok(s) if s.signal() == Some(libc_sigsys()) => {
            "the throwaway transcoder itself was killed by SIGSYS".to_string()
        }
        Ok(s) => format!("the throwaway transcoder ended ({s}) before this profile"),
        Err(e) => e.to_string(),
    };
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(end.clone()))).collect()
}

/// The throwaway transcoder: the supervisor's filter (which every role inherits), then the
/// transcoder's own sandbox, exactly as the daemon's; then each profile, one line each.
pub fn transcode_child() -> ExitCode {
    let Some(fd) = take_layout_fd(fds::CONTROL) else {
        return ExitCode::from(2);
    };
    let init = match Channel::new(fd).recv::<Control>() {
        Ok(r) => match r.body {
            Control::Init(i) if i.role == Role::Transcoder => *i,
            _ => return ExitCode::from(2),
        },
        Err(_) => return ExitCode::from(2),
    };
    let mut out = std::io::stdout();
    let entered = privsep::sandbox::stack_seccomp(crate::policy::SUPERVISOR_SECCOMP).and_then(|_| {
        crate::policy::for_role(&init).and_then(|p| privsep::sandbox::enter(&p).map_err(|e| e.to_string()))
    });
    if let Err(e) = entered {
        let _ = writeln!(out, "sandbox\t{}", one_line(&e));
        return ExitCode::from(crate::role::EXIT_SANDBOX);
    }
    let Some(ffmpeg) = init.transcoder.ffmpeg.as_deref() else {
        return ExitCode::from(2);
    };
    for (i, check) in init.transcoder.checks.iter().enumerate() {
        let line = match crate::transcoder::check_profile(ffmpeg, check) {
            Ok(bytes) => format!("{i}\tok\t{bytes}"),
            Err(why) => format!("{i}\tfailed\t{}", one_line(&why)),
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run_child(role: Role, cfg: &Config, music: &Path, data: &Path, list: &[Check]) -> Vec<String> {
    let fail = |why: String| vec![why; list.len()];
    let mut init = throwaway_init(role, cfg, music, data);
    init.probes = list.iter().map(|c| c.probe.clone()).collect();
    let mut child = match start_child(&[OsStr::new("doctor-role"), OsStr::new(role.name())], init) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut lines: Vec<String> = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            lines.push(line);
        }
    }
    let status = child.wait();
    let mut results: Vec<String> =
        lines.iter().filter_map(|l| l.split_once('\t').map(|(_, r)| r.to_string())).collect();
    if let Some(first) = lines.first().filter(|l| l.starts_with("sandbox\t")) {
        return fail(format!("no sandbox: {}", &first[8..]));
    }
    if results.len() < list.len() {
        let end = match status {
            Ok(s) if s.signal() == Some(libc_sigsys()) => "SIGSYS".to_string(),
            Ok(s) => format!("{s}"),
            Err(e) => e.to_string(),
        };
        results.push(end);
    }
    results.resize(list.len(), "missing".into());
    results
}

/// What a throwaway child of `role` is told: the doctor's own folders, nothing secret.
fn throwaway_init(role: Role, cfg: &Config, music: &Path, data: &Path) -> RoleInit {
    RoleInit {
        role,
        music_folders: vec![music.to_path_buf()],
        data_folder: data.to_path_buf(),
        cache_folder: data.to_path_buf(),
        base_url: String::new(),
        log_level: "error".into(),
        sandbox_require: cfg.sandbox_require,
        listener_is_unix: false,
        probes: Vec::new(),
        broker: None,
        front: Default::default(),
        scanner: Default::default(),
        transcoder: Default::default(),
    }
}

/// Starts `redoubt <args>` with a control channel at fd 3 and sends it `init`; its stdout is
/// captured for the results.
fn start_child(args: &[&OsStr], init: RoleInit) -> Result<std::process::Child, String> {
    let (ours, theirs) = privsep::channel::pair().map_err(|e| format!("socketpair: {e}"))?;
    let child = spawn(Spawn {
        exe: Path::new("/proc/self/exe"),
        arg0: "redoubt",
        args: args.to_vec(),
        env: vec![],
        fds: vec![(theirs.as_fd(), fds::CONTROL)],
        capture_stdout: true,
    })
    .map_err(|e| format!("spawn: {e}"))?;
    drop(theirs);
    // A failed send means the child is already gone; its missing answers say so.
    let _ = Channel::new(ours).send(0, &Control::Init(Box::new(init)), &[]);
    Ok(child)
}

fn libc_sigsys() -> i32 {
    nix::sys::signal::Signal::SIGSYS as i32
}

/// The throwaway child: sandbox exactly as the role would, run the probes, print results.
pub fn child(role: Role) -> ExitCode {
    let Some(fd) = take_layout_fd(fds::CONTROL) else {
        return ExitCode::from(2);
    };
    let init = match Channel::new(fd).recv::<Control>() {
        Ok(r) => match r.body {
            Control::Init(i) if i.role == role => *i,
            _ => return ExitCode::from(2),
        },
        Err(_) => return ExitCode::from(2),
    };
    let mut out = std::io::stdout();
    let entered = crate::policy::for_role(&init).and_then(|p| privsep::sandbox::enter(&p).map_err(|e| e.to_string()));
    if let Err(e) = entered {
        let _ = writeln!(out, "sandbox\t{e}");
        return ExitCode::from(crate::role::EXIT_SANDBOX);
    }
    for p in &init.probes {
        // Flush before each probe: the last one kills us.
        let _ = out.flush();
        let result = Probe::parse(p).map(|p| p.run()).unwrap_or_else(|| "unknown-probe".into());
        let _ = writeln!(out, "{p}\t{result}");
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}
