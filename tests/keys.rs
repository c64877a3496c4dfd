//! The password-encryption key: first-time set, rotations, a wrong key, and where it lives.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

const BASE: &str = "v=1.16.1&c=test&f=json";

fn status(d: &Daemon, user: &str, pw: &str) -> String {
    let r = d.get(&format!("/rest/ping?{BASE}&u={user}&p={pw}")).unwrap();
    serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["subsonic-response"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Starts on `fx` with `config`, checks that both users log in, stops cleanly.
fn run_and_check(fx: Fixture, config: &str, expect_log: Option<&str>) -> Fixture {
    let mut d = Daemon::spawn(fx, Options { config: Some(config.into()), ..Default::default() });
    d.wait_ready();
    if let Some(line) = expect_log {
        d.wait_log(line, Duration::from_secs(5));
    }
    assert_eq!(status(&d, ADMIN, ADMIN_PASSWORD), "ok", "{}", d.log());
    assert_eq!(status(&d, "olga", "olga-pass"), "ok");
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit(Duration::from_secs(10)).success());
    take_fixture(d)
}

fn take_fixture(d: Daemon) -> Fixture {
    d.into_fixture()
}

fn snapshot(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

#[test]
fn first_time_set_then_two_rotations_keep_every_login() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    fx.add_user("olga", "olga-pass", false);
    assert!(fx.data.join("redoubt.key").exists(), "first start makes a key file");
    let fx = run_and_check(fx, "", Some("password-encryption key fingerprint"));
    // Setting PasswordEncryptionKey for the first time re-encrypts once and retires the file.
    let fx = run_and_check(
        fx,
        "PasswordEncryptionKey = \"correct horse\"\n",
        Some("PasswordEncryptionKey set for the first time: re-encrypted 2 passwords in one transaction"),
    );
    assert!(!fx.data.join("redoubt.key").exists());
    // Starting again with the same key changes nothing.
    let fx = run_and_check(fx, "PasswordEncryptionKey = \"correct horse\"\n", None);
    // Two rotations in a row.
    let fx = run_and_check(
        fx,
        "PasswordEncryptionKey = \"battery staple\"\nPreviousPasswordEncryptionKey = \"correct horse\"\n",
        Some("rotated from PreviousPasswordEncryptionKey: re-encrypted 2 passwords"),
    );
    let fx = run_and_check(
        fx,
        "PasswordEncryptionKey = \"the third key phrase\"\nPreviousPasswordEncryptionKey = \"battery staple\"\n",
        Some("rotated from PreviousPasswordEncryptionKey: re-encrypted 2 passwords"),
    );
    // And the offline command, twice more.
    for (old, new) in
        [("the third key phrase", "the fourth key phrase"), ("the fourth key phrase", "the fifth key phrase")]
    {
        let out = fx.cli(&["key", "rotate", "--stdin"], &format!("{old}\n{new}\n"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("re-encrypted 2 passwords"));
    }
    run_and_check(fx, "PasswordEncryptionKey = \"the fifth key phrase\"\n", None);
}

#[test]
fn a_wrong_key_stops_the_daemon_with_an_explanation_and_changes_nothing() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    fx.add_user("olga", "olga-pass", false);
    let fx = run_and_check(fx, "PasswordEncryptionKey = \"the right passphrase\"\n", None);
    let before = snapshot(&fx.data);
    let mut d = Daemon::spawn(
        fx,
        Options { config: Some("PasswordEncryptionKey = \"a wrong passphrase\"\n".into()), ..Default::default() },
    );
    let st = d.wait_exit(Duration::from_secs(20));
    assert!(!st.success());
    let log = d.log();
    assert!(log.contains("does not match the key this database was encrypted with"), "{log}");
    assert!(log.contains("PreviousPasswordEncryptionKey"), "says how to fix it: {log}");
    assert!(log.contains("Nothing was changed"), "{log}");
    let fx = take_fixture(d);
    let mut after = snapshot(&fx.data);
    // Runtime files, not data: the supervisor's pid (rewritten at every start).
    after.remove("daemon.log");
    after.remove("redoubt.pid");
    let mut before = before;
    before.remove("daemon.log");
    before.remove("redoubt.pid");
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    assert!(before == after, "a refused start modified the data folder");
    // An unset key where one was used is refused the same way (and no ./redoubt.toml from
    // the runs before may set it).
    std::fs::remove_file(fx.dir.join("redoubt.toml")).unwrap();
    let mut d = Daemon::spawn(fx, Options::default());
    assert!(!d.wait_exit(Duration::from_secs(20)).success());
    assert!(d.log().contains("which is not set now"), "{}", d.log());
    // The right key still works: nobody was locked out.
    run_and_check(take_fixture(d), "PasswordEncryptionKey = \"the right passphrase\"\n", None);
}

#[test]
fn rotation_refuses_to_run_under_a_live_daemon() {
    let d = Daemon::start_with(Options {
        config: Some("PasswordEncryptionKey = \"the first key phrase\"\n".into()),
        ..Default::default()
    });
    let out = d.fx.cli(&["key", "rotate", "--stdin"], "the first key phrase\nthe second key phrase\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it first"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(status(&d, ADMIN, ADMIN_PASSWORD), "ok");
}

#[test]
fn the_key_file_is_private_and_only_the_broker_can_read_it() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let key = fx.data.join("redoubt.key").display().to_string();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let probes = ["front", "scanner", "transcoder", "broker"].map(|r| format!("{r}:open_read:{key}")).join(";");
    let mut d = Daemon::spawn(fx, Options { env: vec![("REDOUBT_TEST_PROBES".into(), probes)], ..Default::default() });
    d.wait_ready();
    for (role, expect) in [("front", "EACCES"), ("scanner", "EACCES"), ("transcoder", "EACCES"), ("broker", "ok")] {
        let line = d.wait_log(&format!("redoubt-test-hook-probe {role} open_read:{key} =>"), Duration::from_secs(10));
        assert!(line.ends_with(expect), "{role}: {line}");
    }
}
