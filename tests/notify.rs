//! Type=notify: READY=1 only once all four roles are sandboxed and answer, STATUS= lines for
//! scans, WATCHDOG=1 driven by a round trip to the broker, STOPPING=1 on SIGTERM.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Every datagram that arrives within `window`.
fn collect(sock: &UnixDatagram, window: Duration) -> Vec<String> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    out
}

fn pings(msgs: &[String]) -> usize {
    msgs.iter().filter(|m| m.lines().any(|l| l == "WATCHDOG=1")).count()
}

#[test]
fn ready_watchdog_and_stopping_on_a_real_notify_socket() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let path = fx.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    // The daemon runs as another uid when the tests run as root.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let env = vec![
        ("NOTIFY_SOCKET".to_string(), path.display().to_string()),
        // A 1 s watchdog: WATCHDOG=1 every 500 ms while the broker answers.
        ("WATCHDOG_USEC".to_string(), "1000000".to_string()),
    ];
    let mut d = Daemon::spawn(fx, Options { env, ..Default::default() });

    // READY=1, and at that moment every role is running, sandboxed, and reported up.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut before = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(Instant::now() < deadline, "no READY=1; got {before:?}\n{}", d.log());
        sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let Ok(n) = sock.recv(&mut buf) else { continue };
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        if msg.lines().any(|l| l == "READY=1") {
            assert!(msg.contains("STATUS=serving on http://127.0.0.1:"), "{msg}");
            break;
        }
        before.push(msg);
    }
    let roles = d.roles();
    assert_eq!(roles.len(), 4, "READY=1 with roles {roles:?}");
    for (role, pid) in &roles {
        let st = proc_status(*pid);
        assert_eq!(status_field(&st, "Seccomp"), "2", "{role} (pid {pid}) not under seccomp at READY=1");
        assert_eq!(status_field(&st, "NoNewPrivs"), "1", "{role}");
    }
    let log = d.log();
    for role in ["broker", "front", "scanner", "transcoder"] {
        let pid = roles.iter().find(|(r, _)| r == role).unwrap().1;
        let line = format!("the {role} (pid {pid}) is sandboxed and answers");
        assert!(log.contains(&line), "READY=1 before {line:?}:\n{log}");
    }
    assert!(log.contains("ready: all four roles"), "{log}");
    assert!(!before.iter().any(|m| m.contains("READY=1")));

    // Regular pings while the broker answers; the startup scan's STATUS= lines.
    let msgs = collect(&sock, Duration::from_millis(2600));
    assert!(pings(&msgs) >= 4, "expected a ping every 500 ms: {msgs:?}");
    let all: Vec<&String> = before.iter().chain(&msgs).collect();
    assert!(all.iter().any(|m| m.starts_with("STATUS=scan ") && m.contains(" running")), "{all:?}");
    assert!(all.iter().any(|m| m.starts_with("STATUS=scan ") && m.contains(" finished: ")), "{all:?}");

    // A stuck broker: the probe goes unanswered and the pings stop. (A ping already earned
    // may still arrive in the first tick.)
    let broker = Pid::from_raw(d.role_pid("broker"));
    kill(broker, Signal::SIGSTOP).unwrap();
    let _ = collect(&sock, Duration::from_millis(1200));
    let stalled = collect(&sock, Duration::from_millis(2500));
    assert_eq!(pings(&stalled), 0, "pings while the broker is stopped: {stalled:?}");
    d.wait_log("has not answered its liveness check", Duration::from_secs(5));

    // Continued, it answers the probe it was sent, and the pings resume (outside systemd
    // nothing kills the daemon in between; under systemd, WatchdogSec= would have).
    kill(broker, Signal::SIGCONT).unwrap();
    let resumed = collect(&sock, Duration::from_millis(2500));
    assert!(pings(&resumed) >= 2, "pings did not resume: {resumed:?}\n{}", d.log());

    d.signal(Signal::SIGTERM);
    let end = collect(&sock, Duration::from_secs(3));
    assert!(end.iter().any(|m| m.lines().any(|l| l == "STOPPING=1")), "{end:?}");
    assert!(d.wait_exit(Duration::from_secs(10)).success(), "{}", d.log());
}
