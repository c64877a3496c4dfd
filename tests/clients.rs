//! Real Subsonic clients against the running daemon.

mod common;

use common::*;

/// py-opensonic (PyPI; import name libopensonic), driven by tests/clients/ping.py: token auth
/// and API-key auth over its default POST form to `<method>.view` with v=1.16.1, a GET
/// without `.view`, getLicense, getUser, getOpenSubsonicExtensions and tokenInfo, and a wrong
/// password that must fail. The library raises on any status="failed" answer, which makes the
/// script exit non-zero.
#[test]
fn py_opensonic_pings_with_a_token_and_an_api_key() {
    if !python_module("libopensonic", "py-opensonic (pip install py-opensonic)") {
        return;
    }

    let d = Daemon::start();
    let out = d.fx.cli(&["apikey", "add", ADMIN, "laptop"], "");
    assert!(out.status.success(), "apikey add: {}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(!key.is_empty());

    let stdout = run_client_script(&d, "ping.py", &["--api-key", &key]);
    assert!(stdout.contains("all ") && stdout.contains(" checks passed"), "{stdout}");
}
