//! docs/security.md claims T1, T4, T5, T8, T9, T10, T11, T12, T13: each proved against the real,
//! running daemon. Probes run inside the sandboxed roles through the test-only hook
//! (feature `test-hooks`) and report the exact errno, or die by the exact signal.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;

const MARKER: &str = "redoubt-test-hook-probe";

fn daemon_with_probes(probes: &[(&str, String)]) -> Daemon {
    let spec: Vec<String> = probes.iter().map(|(r, p)| format!("{r}:{p}")).collect();
    Daemon::start_with(Options { env: vec![("REDOUBT_TEST_PROBES".into(), spec.join(";"))], ..Default::default() })
}

/// The result a role reported for a probe.
fn result(d: &Daemon, role: &str, probe: &str) -> String {
    let line = d.wait_log(&format!("{MARKER} {role} {probe} =>"), Duration::from_secs(10));
    line.rsplit("=> ").next().unwrap().trim().to_string()
}

#[test]
fn five_processes_each_filtered_no_new_privs_no_caps_non_dumpable() {
    let d = Daemon::start();
    // The front answers before the scanner and transcoder have finished sandboxing
    // themselves: wait (boundedly) until every role is up, then check all of them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let problems = loop {
        let roles = d.roles();
        let mut names: Vec<&str> = roles.iter().map(|(r, _)| r.as_str()).collect();
        names.sort();
        let mut problems = Vec::new();
        if names != ["broker", "front", "scanner", "transcoder"] {
            problems.push(format!("roles running: {names:?}"));
        }
        for (name, pid) in roles.iter().map(|(n, p)| (n.as_str(), *p)).chain([("supervisor", d.pid())]) {
            let st = proc_status(pid);
            for (field, want) in [
                ("Seccomp", "2"),
                ("NoNewPrivs", "1"),
                ("CapEff", "0000000000000000"),
                ("CapPrm", "0000000000000000"),
                ("CapAmb", "0000000000000000"),
            ] {
                if status_field(&st, field) != want {
                    problems.push(format!("{name}: {field} is {:?}, not {want}", status_field(&st, field)));
                }
            }
            // Not dumpable: the kernel shows /proc/<pid>/{mem,environ,fd} as owned by root.
            if is_root() && proc_owner(pid) != 0 {
                problems.push(format!("{name} is dumpable"));
            }
        }
        if problems.is_empty() || Instant::now() > deadline {
            break problems;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(problems.is_empty(), "{problems:?}\n{}", d.log());
}

/// A role inherits nothing from the supervisor's environment (where an admin's secrets, such
/// as REDOUBT_PASSWORDENCRYPTIONKEY, may be): the front and the broker get only glibc's malloc
/// setting, the scanner and the transcoder nothing at all.
#[test]
fn roles_inherit_no_environment_but_the_malloc_setting() {
    if !require_root("reading the roles' /proc/<pid>/environ (root-owned: they are not dumpable)") {
        return;
    }
    let d = Daemon::start_with(Options {
        env: vec![("REDOUBT_TEST_ENV_SECRET".into(), "must-not-reach-a-role".into())],
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let roles = loop {
        let roles = d.roles();
        if roles.len() == 4 || Instant::now() > deadline {
            break roles;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut seen: Vec<(String, String)> = roles
        .iter()
        .map(|(name, pid)| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
            (name.clone(), String::from_utf8_lossy(&environ).replace('\0', "\n"))
        })
        .collect();
    seen.sort();
    let malloc = format!("GLIBC_TUNABLES={}\n", redoubt::supervisor::MALLOC_TUNABLES);
    let want: Vec<(String, String)> =
        [("broker", malloc.as_str()), ("front", &malloc), ("scanner", ""), ("transcoder", "")]
            .iter()
            .map(|(r, e)| (r.to_string(), e.to_string()))
            .collect();
    assert_eq!(seen, want, "{}", d.log());
    let supervisor = std::fs::read(format!("/proc/{}/environ", d.pid())).unwrap();
    assert!(String::from_utf8_lossy(&supervisor).contains("REDOUBT_TEST_ENV_SECRET"), "the test's variable was set");
}

#[test]
fn t12_root_is_refused_with_an_explanation() {
    if !require_root("starting as root") {
        return;
    }
    let fx = Fixture::new();
    let out = std::process::Command::new(&fx.bin).args(fx.serve_args(free_port())).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refuses to run as root"), "{err}");
    assert!(err.contains("setpriv --reuid=redoubt"), "says how to run it: {err}");
}

#[test]
fn t12_an_ambient_capability_is_refused() {
    if !require_root("granting an ambient capability") {
        return;
    }
    let fx = Fixture::new();
    let out = std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={UNPRIVILEGED}"),
            &format!("--regid={UNPRIVILEGED}"),
            "--clear-groups",
            "--inh-caps=+net_bind_service",
            "--ambient-caps=+net_bind_service",
        ])
        .arg(&fx.bin)
        .args(fx.serve_args(free_port()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refuses to run with capabilities"), "{err}");
    assert!(err.contains("CAP_NET_BIND_SERVICE"), "names the capability: {err}");
}

#[test]
fn t1_front_cannot_open_any_file() {
    let fx_secret = "secret.key";
    let fx = Fixture::new();
    std::fs::write(fx.data.join(fx_secret), b"k").unwrap();
    if is_root() {
        chown_tree(&fx.data, UNPRIVILEGED);
    }
    let data = fx.data.display().to_string();
    let music = fx.music.display().to_string();
    let probes = format!("front:open_read:/etc/passwd;front:open_read:{data}/{fx_secret};front:open_read:{music}/song.txt;broker:open_read:{data}/{fx_secret}");
    let mut d = Daemon::spawn(fx, Options { env: vec![("REDOUBT_TEST_PROBES".into(), probes)], ..Default::default() });
    d.wait_ready();
    assert_eq!(result(&d, "front", "open_read:/etc/passwd"), "EACCES");
    assert_eq!(result(&d, "front", &format!("open_read:{data}/{fx_secret}")), "EACCES");
    assert_eq!(result(&d, "front", &format!("open_read:{music}/song.txt")), "EACCES");
    // The same file is readable where the policy allows it: the denial is the sandbox's.
    assert_eq!(result(&d, "broker", &format!("open_read:{data}/{fx_secret}")), "ok");
    // And the front holds no descriptor into the data folder.
    let front = d.role_pid("front");
    for fd in std::fs::read_dir(format!("/proc/{front}/fd")).unwrap().flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        assert!(!target.starts_with(&d.fx.data), "front holds {}", target.display());
    }
}

#[test]
fn t4_front_cannot_make_sockets_or_run_programs() {
    let d = daemon_with_probes(&[
        ("front", "socket_inet".into()),
        ("front", "exec:/bin/sh".into()),
        ("front", "fork".into()),
    ]);
    assert_eq!(result(&d, "front", "socket_inet"), "EPERM");
    assert_eq!(result(&d, "front", "exec:/bin/sh"), "EPERM");
    assert_eq!(result(&d, "front", "fork"), "EPERM");
    // The probes changed nothing: the front still serves.
    assert_eq!(d.get("/rest/ping").unwrap().status, 200);
}

#[test]
fn t4_a_syscall_outside_the_allowlist_kills_with_sigsys() {
    let d = daemon_with_probes(&[("front", "forbidden_syscall".into())]);
    let line = d.wait_log("the front killed by SIGSYS", Duration::from_secs(10));
    assert!(line.contains("restarting"), "{line}");
    // The restarted front (generation 1 runs no probes) serves again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.get("/rest/ping").map(|r| r.status).ok() != Some(200) {
        assert!(Instant::now() < deadline, "front not back:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn t5_scanner_reads_music_only_and_cannot_write_or_connect() {
    let fx = Fixture::new();
    let music = fx.music.display().to_string();
    let data = fx.data.display().to_string();
    let probes = [
        format!("scanner:open_read:{music}/song.txt"),
        format!("scanner:open_write:{music}/new.mp3"),
        format!("scanner:open_write:{music}/song.txt"),
        "scanner:open_read:/etc/passwd".to_string(),
        format!("scanner:open_read:{data}"),
        "scanner:socket_inet".to_string(),
        "scanner:exec:/bin/sh".to_string(),
    ];
    let mut d = Daemon::spawn(
        fx,
        Options { env: vec![("REDOUBT_TEST_PROBES".into(), probes.join(";"))], ..Default::default() },
    );
    d.wait_ready();
    assert_eq!(result(&d, "scanner", &format!("open_read:{music}/song.txt")), "ok");
    assert_eq!(result(&d, "scanner", &format!("open_write:{music}/new.mp3")), "EACCES");
    assert_eq!(result(&d, "scanner", &format!("open_write:{music}/song.txt")), "EACCES");
    assert_eq!(result(&d, "scanner", "open_read:/etc/passwd"), "EACCES");
    assert_eq!(result(&d, "scanner", &format!("open_read:{data}")), "EACCES");
    assert_eq!(result(&d, "scanner", "socket_inet"), "EPERM");
    assert_eq!(result(&d, "scanner", "exec:/bin/sh"), "EPERM");
    assert!(!d.fx.music.join("new.mp3").exists());
}

#[test]
fn t8_roles_cannot_trace_or_read_each_other() {
    let d = daemon_with_probes(&[
        ("front", "ptrace_attach:{broker}".into()),
        ("front", "open_read:/proc/{broker}/environ".into()),
        ("front", "open_read:/proc/{broker}/mem".into()),
        ("scanner", "ptrace_attach:{broker}".into()),
    ]);
    let broker = d.role_pid("broker");
    assert_eq!(result(&d, "front", &format!("ptrace_attach:{broker}")), "EPERM");
    assert_eq!(result(&d, "front", &format!("open_read:/proc/{broker}/environ")), "EACCES");
    assert_eq!(result(&d, "front", &format!("open_read:/proc/{broker}/mem")), "EACCES");
    assert_eq!(result(&d, "scanner", &format!("ptrace_attach:{broker}")), "EPERM");
    // Any other process of the same uid, outside every sandbox, is refused too (no Yama
    // here: this is PR_SET_DUMPABLE=0 at work).
    if is_root() {
        for file in ["environ", "mem"] {
            let out = std::process::Command::new("setpriv")
                .args([&format!("--reuid={UNPRIVILEGED}"), &format!("--regid={UNPRIVILEGED}"), "--clear-groups", "cat"])
                .arg(format!("/proc/{broker}/{file}"))
                .output()
                .unwrap();
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{file}: {out:?}");
        }
    }
}

#[test]
fn t9_roles_cannot_signal_each_other_or_the_supervisor() {
    let d = daemon_with_probes(&[
        ("front", "kill:{broker}:0".into()),
        ("front", "kill:{supervisor}:15".into()),
        ("scanner", "kill:{supervisor}:15".into()),
        ("transcoder", "kill:{broker}:9".into()),
    ]);
    let broker = d.role_pid("broker");
    let sup = d.pid();
    assert_eq!(result(&d, "front", &format!("kill:{broker}:0")), "EPERM");
    assert_eq!(result(&d, "front", &format!("kill:{sup}:15")), "EPERM");
    assert_eq!(result(&d, "scanner", &format!("kill:{sup}:15")), "EPERM");
    assert_eq!(result(&d, "transcoder", &format!("kill:{broker}:9")), "EPERM");
    assert_eq!(d.get("/rest/ping").unwrap().status, 200, "everyone is still alive");
}

#[test]
fn t10_roles_cannot_reach_abstract_unix_sockets() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("redoubt-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    let d = daemon_with_probes(&[
        ("front", format!("connect_abstract:{name}")),
        ("broker", format!("connect_abstract:{name}")),
        ("transcoder", format!("connect_abstract:{name}")),
    ]);
    for role in ["front", "broker", "transcoder"] {
        assert_eq!(result(&d, role, &format!("connect_abstract:{name}")), "EPERM", "{role}");
    }
    assert!(listener.accept().is_err(), "nobody connected");
}

#[test]
fn t11_a_kernel_without_landlock_stops_the_daemon_with_a_message() {
    let fx = Fixture::new();
    let bin = fx.bin.display().to_string();
    let mut d = Daemon::spawn(
        fx,
        Options { wrapper: vec!["test-deny-landlock".into(), "--".into(), bin], ..Default::default() },
    );
    let st = d.wait_exit(Duration::from_secs(20));
    assert!(!st.success(), "exit {st}");
    let log = d.log();
    assert!(log.contains("landlock is not available"), "{log}");
    assert!(log.contains("cannot sandbox the supervisor"), "{log}");
    assert!(!log.contains("started the"), "no role was started unsandboxed: {log}");
}

#[test]
fn t11_the_degraded_opt_out_is_explicit_and_loud() {
    let fx = Fixture::new();
    let bin = fx.bin.display().to_string();
    let mut d = Daemon::spawn(
        fx,
        Options {
            wrapper: vec!["test-deny-landlock".into(), "--".into(), bin],
            config: Some("[Sandbox]\nRequire = false\n".into()),
            ..Default::default()
        },
    );
    d.wait_ready();
    d.wait_log("RUNNING DEGRADED", Duration::from_secs(10));
    // seccomp still holds.
    let st = proc_status(d.role_pid("front"));
    assert_eq!(status_field(&st, "Seccomp"), "2");
}

#[test]
fn t13_a_killed_front_is_back_within_a_second_under_load() {
    front_comes_back_after(Signal::SIGKILL);
}

/// A crash (SIGABRT: what a failed assertion or a detected heap corruption raises). Note that
/// a SIGSEGV sent with kill(2) would not do: Rust's stack-overflow handler swallows the first
/// one that is not a real fault.
#[test]
fn t13_a_crashed_front_is_back_within_a_second_under_load() {
    front_comes_back_after(Signal::SIGABRT);
}

fn front_comes_back_after(sig: Signal) {
    let d = Daemon::start();
    let port = d.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = http(port, "GET", "/rest/ping", &[], b"");
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let front = d.role_pid("front");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(front), sig).unwrap();
    let killed = Instant::now();
    loop {
        if d.roles().iter().any(|(r, p)| r == "front" && *p != front)
            && d.get("/rest/ping").map(|r| r.status).ok() == Some(200)
        {
            break;
        }
        assert!(killed.elapsed() < Duration::from_secs(1), "front not back within a second:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(load.join().unwrap() > 0);
    d.wait_log(&format!("the front killed by {sig:?}"), Duration::from_secs(5));
}

#[test]
fn t13_a_dead_broker_ends_the_daemon_with_failure() {
    let mut d = Daemon::start();
    let broker = d.role_pid("broker");
    let roles: Vec<i32> = d.roles().into_iter().map(|(_, p)| p).collect();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(broker), Signal::SIGKILL).unwrap();
    let st = d.wait_exit(Duration::from_secs(10));
    assert!(!st.success());
    assert!(d.log().contains("fail closed"), "{}", d.log());
    std::thread::sleep(Duration::from_millis(100));
    for pid in roles {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "role {pid} outlived the daemon");
    }
}

#[test]
fn sigterm_stops_all_five_processes_cleanly() {
    let mut d = Daemon::start();
    let pids: Vec<i32> = d.roles().into_iter().map(|(_, p)| p).collect();
    assert_eq!(pids.len(), 4);
    d.signal(Signal::SIGTERM);
    let st = d.wait_exit(Duration::from_secs(10));
    assert!(st.success(), "exit {st}:\n{}", d.log());
    for pid in pids {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "role {pid} left behind");
    }
}

#[test]
fn sigkill_of_the_supervisor_leaves_no_orphan() {
    let mut d = Daemon::start();
    let pids: Vec<i32> = d.roles().into_iter().map(|(_, p)| p).collect();
    d.signal(Signal::SIGKILL);
    d.wait_exit(Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(5);
    for pid in pids {
        while std::path::Path::new(&format!("/proc/{pid}/status")).exists()
            && !status_field(&proc_status(pid), "State").starts_with('Z')
        {
            assert!(Instant::now() < deadline, "role {pid} survived its supervisor");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn doctor_reports_every_role_sandboxed() {
    let fx = Fixture::new();
    let out = fx.command(&["doctor"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("every role is sandboxed as its policy says"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    for role in ["broker", "front", "scanner", "transcoder"] {
        assert!(text.contains(&format!("{role:<11} make a syscall outside the allowlist"),), "{text}");
    }
    // Before there is a database, the profiles a new one is seeded with are run.
    assert!(text.contains("profiles the defaults"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" audio ") && l.contains(" ok (")).count(), 4, "{text}");
}

#[test]
fn doctor_fails_when_landlock_is_blocked() {
    let fx = Fixture::new();
    let bin = fx.bin.display().to_string();
    let out = fx.command(&["test-deny-landlock", "--", &bin, "doctor"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("landlock        MISSING"), "{text}");
}

#[test]
fn the_data_folder_is_private() {
    let d = Daemon::start();
    assert_eq!(std::fs::metadata(&d.fx.data).unwrap().mode() & 0o777, 0o700);
}
