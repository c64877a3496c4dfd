//! `redoubt doctor`: starts each role's sandbox in a throwaway child, makes it attempt what
//! its policy forbids, and prints what this kernel actually enforces.
#![forbid(unsafe_code)]

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
    let cfg = match Config::load(&over) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redoubt: {e}");
            return ExitCode::from(2);
        }
    };
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
            None => "MISSING (not built in, not enabled with lsm=, or blocked by a seccomp filter)".into(),
        }
    );
    println!("seccomp         {}", if seccomp { "available" } else { "MISSING" });
    println!("Sandbox.Require {}", cfg.sandbox_require);
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
    let _ = std::fs::remove_dir_all(&tmp);
    println!();
    if failures == 0 {
        println!("every role is sandboxed as its policy says");
        ExitCode::SUCCESS
    } else {
        println!("{failures} checks failed: this kernel does not enforce redoubt's sandbox; `serve` will refuse to start unless Sandbox.Require = false");
        ExitCode::from(1)
    }
}

fn run_child(role: Role, cfg: &Config, music: &Path, data: &Path, list: &[Check]) -> Vec<String> {
    let fail = |why: String| vec![why; list.len()];
    let (ours, theirs) = match privsep::channel::pair() {
        Ok(p) => p,
        Err(e) => return fail(format!("socketpair: {e}")),
    };
    let child = spawn(Spawn {
        exe: Path::new("/proc/self/exe"),
        arg0: "redoubt",
        args: vec![OsStr::new("doctor-role"), OsStr::new(role.name())],
        env: vec![],
        fds: vec![(theirs.as_fd(), fds::CONTROL)],
        capture_stdout: true,
    });
    drop(theirs);
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail(format!("spawn: {e}")),
    };
    let init = RoleInit {
        role,
        music_folders: vec![music.to_path_buf()],
        data_folder: data.to_path_buf(),
        cache_folder: data.to_path_buf(),
        base_url: String::new(),
        log_level: "error".into(),
        sandbox_require: cfg.sandbox_require,
        listener_is_unix: false,
        probes: list.iter().map(|c| c.probe.clone()).collect(),
        broker: None,
        front: Default::default(),
        scanner: Default::default(),
        transcoder: Default::default(),
    };
    let _ = Channel::new(ours).send(0, &Control::Init(Box::new(init)), &[]);
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
