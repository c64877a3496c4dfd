//! Test-only: makes a running, sandboxed role attempt forbidden operations and report the
//! result on stderr. Compiled only with the `test-hooks` feature, which release builds never
//! enable (tests/release_binary.rs checks the release binary for MARKER).
#![forbid(unsafe_code)]

use crate::proto::RoleInit;

pub const MARKER: &str = "redoubt-test-hook-probe";
/// The supervisor's environment variable: `role:probe;role:probe;…`.
pub const ENV: &str = "REDOUBT_TEST_PROBES";

pub fn run_probes(init: &RoleInit) {
    for p in &init.probes {
        let result = match privsep::probe::Probe::parse(p) {
            Some(probe) => probe.run(),
            None => "unknown-probe".into(),
        };
        eprintln!("{MARKER} {} {p} => {result}", init.role.name());
    }
}

/// Probes for `role` from the supervisor's environment, with `{broker}` and `{supervisor}`
/// replaced by pids.
pub fn probes_for(role: &str, broker_pid: Option<u32>) -> Vec<String> {
    let Ok(spec) = std::env::var(ENV) else {
        return Vec::new();
    };
    spec.split(';')
        .filter_map(|e| e.split_once(':'))
        .filter(|(r, _)| *r == role)
        .map(|(_, p)| {
            p.replace("{broker}", &broker_pid.map(|p| p.to_string()).unwrap_or_default())
                .replace("{supervisor}", &std::process::id().to_string())
        })
        .collect()
}
