//! Test-only: makes a running, sandboxed role attempt forbidden operations and report the
//! result on stderr. Compiled only with the `test-hooks` feature, which release builds never
//! enable (tests/release_binary.rs checks the release binary for MARKER).

use crate::proto::RoleInit;

pub const MARKER: &str = "redoubt-test-hook-probe";
/// The supervisor's environment variable: `role:probe;role:probe;…`.
pub const ENV: &str = "REDOUBT_TEST_PROBES";

/// One write(2) per line: several roles share the log, and eprintln! may write a line in
/// pieces that interleave with another process's.
fn line(s: String) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(s.as_bytes());
}

pub fn run_probes(init: &RoleInit) {
    for p in init.probes.iter().filter(|p| !p.starts_with(SCAN_PREFIX) && !p.starts_with(VOUCH_PREFIX)) {
        let result = match privsep::probe::Probe::parse(p) {
            Some(probe) => probe.run(),
            None => "unknown-probe".into(),
        };
        line(format!("{MARKER} {} {p} => {result}\n", init.role.name()));
    }
}

/// Probes for `role` from the supervisor's environment, with `{broker}` and `{supervisor}`
/// replaced by pids.
pub fn probes_for(role: &str, broker_pid: Option<u32>) -> Vec<String> {
    let Ok(spec) = std::env::var(ENV) else {
        return Vec::new();
    };
    let scan_role = format!("{role}@scan");
    spec.split(';')
        .filter_map(|e| e.split_once(':'))
        .filter_map(|(r, p)| {
            if r == role {
                Some(p.to_string())
            } else if r == scan_role {
                Some(format!("{SCAN_PREFIX}{p}"))
            } else {
                None
            }
        })
        .map(|p| {
            p.replace("{broker}", &broker_pid.map(|p| p.to_string()).unwrap_or_default())
                .replace("{supervisor}", &std::process::id().to_string())
        })
        .collect()
}

/// Test-only: a file whose name contains `redoubt-test-crash` aborts the scanner, one with
/// `redoubt-test-hang` hangs it, as a malicious file could.
pub fn scanner_file(name: &[u8]) {
    let has = |needle: &[u8]| name.windows(needle.len()).any(|w| w == needle);
    if has(b"redoubt-test-crash") {
        line(format!("{MARKER} scanner crashing on purpose\n"));
        std::process::abort();
    }
    if has(b"redoubt-test-hang") {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// Probes a scanner runs when a scan starts (given as `scanner@scan:probe`).
pub const SCAN_PREFIX: &str = "@scan:";

/// Test-only: the scanner's probes for "a running scan".
pub fn scan_probes(init: &RoleInit) {
    for p in init.probes.iter().filter_map(|p| p.strip_prefix(SCAN_PREFIX)) {
        let result = privsep::probe::Probe::parse(p).map(|x| x.run()).unwrap_or_else(|| "unknown-probe".into());
        line(format!("{MARKER} scanner@scan {p} => {result}\n"));
    }
}

/// Probes the front runs once it can talk to the broker (given as `front:vouch=NAME`): it
/// sends the broker proxy-vouched credentials for NAME, as a compromised front could.
pub const VOUCH_PREFIX: &str = "vouch=";

/// Test-only: the front asks the broker to accept NAME on its word alone, and reports the answer
/// (`ok admin=…`, `refused CODE`, or `channel-closed` when the broker ends the channel).
pub async fn front_vouches(init: &RoleInit, broker: &privsep::rpc::Client<crate::proto::Request, crate::proto::Reply>) {
    use crate::proto::{Answer, Call, Client, Credentials, Reply, Request};
    for name in init.probes.iter().filter_map(|p| p.strip_prefix(VOUCH_PREFIX)) {
        let req = Request::Api {
            client: Client { addr: "127.0.0.1".into(), name: "hook".into() },
            creds: Credentials::External { user: name.to_string() },
            call: Call::GetUser { username: name.to_string() },
        };
        let result = match broker.call(&req, &[]).await.map(|r| r.body) {
            Ok(Reply::Api(Ok(Answer::User(u)))) => format!("ok admin={}", u.admin),
            Ok(Reply::Api(Err(e))) => format!("refused {}", e.code),
            Ok(other) => format!("unexpected {other:?}"),
            Err(_) => "channel-closed".into(),
        };
        line(format!("{MARKER} front {VOUCH_PREFIX}{name} => {result}\n"));
    }
}

/// Test-only: while DataFolder holds a file of this name, the broker holds every TLS handshake
/// signature back (as a loaded key holder would be slow), so that a test can see the front go
/// on serving other connections meanwhile.
pub const HOLD_SIGNATURES: &str = "redoubt-test-hold-signatures";

pub async fn hold_signature(data_folder: &std::path::Path) {
    let hold = data_folder.join(HOLD_SIGNATURES);
    if hold.exists() {
        line(format!("{MARKER} broker holding a signature\n"));
        while hold.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
