//! The broker trusts no one (docs/security.md T2, T3, T16, T17): user names in one normal
//! form, proxy-vouched identities only with ExtAuth, ids compared for "is this me", limits
//! that neither padding nor other people's failures get around, key transitions only with the
//! data folder's lock, private files whatever the umask.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

use common::*;
use md5::{Digest, Md5};

const BASE: &str = "v=1.16.1&c=test&f=json";

fn json(r: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice::<serde_json::Value>(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
        ["subsonic-response"]
        .clone()
}

fn get_h(d: &Daemon, path: &str, headers: &[(&str, &str)]) -> serde_json::Value {
    json(&http(d.port, "GET", path, headers, b"").unwrap())
}

fn get(d: &Daemon, path: &str) -> serde_json::Value {
    get_h(d, path, &[])
}

fn code(v: &serde_json::Value) -> i64 {
    assert_eq!(v["status"], "failed", "{v}");
    v["error"]["code"].as_i64().unwrap()
}

fn ok(v: &serde_json::Value) {
    assert_eq!(v["status"], "ok", "{v}");
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn token(password: &str, salt: &str) -> String {
    hex::encode(Md5::digest(format!("{password}{salt}").as_bytes()))
}

fn login(d: &Daemon, user: &str, pw: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    let body = serde_json::json!({ "username": user, "password": pw }).to_string();
    http(d.port, "POST", "/auth/login", &h, body.as_bytes()).unwrap()
}

/// Issue 10.1: `" admin"`, `"admin\u{3000}"`, `"\tadmin"`, full-width and upper-case spellings
/// are one account and one limiter key, on `p`, `t`+`s` and `/auth/login` alike.
#[test]
fn t3_padded_and_unicode_spellings_of_one_name_share_one_limit() {
    let d = Daemon::start();
    let variants = [" admin", "admin\u{3000}", "\tadmin", "ADMIN", "\u{FF41}dmin", "admin ", "Admin\u{2003}"];
    let mut allowed = 0;
    for i in 0..50 {
        let user = variants[i % variants.len()];
        let failed_normally = match i % 3 {
            0 => code(&get(&d, &format!("/rest/ping?{BASE}&u={}&p=guess{i}", enc(user)))) == 40,
            1 => {
                let t = token(&format!("guess{i}"), "s4lt99");
                code(&get(&d, &format!("/rest/ping?{BASE}&u={}&t={t}&s=s4lt99", enc(user)))) == 40
            }
            _ => login(&d, user, &format!("guess{i}"), &[]).status == 401,
        };
        if failed_normally {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "AuthRequestLimit guesses, whatever the spelling");
    // Limited for every spelling and mechanism, right password or not.
    for user in variants {
        assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={}&p={ADMIN_PASSWORD}", enc(user)))), 0, "{user:?}");
        let t = token(ADMIN_PASSWORD, "abc123");
        assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={}&t={t}&s=abc123", enc(user)))), 0);
        assert_eq!(login(&d, user, ADMIN_PASSWORD, &[]).status, 429);
    }
}

/// Issue 10.2 (T2): a front that vouches for a user while ExtAuth is off is a compromised
/// front: the broker closes its channel, creates no user (no first admin), and the front is
/// restarted. With ExtAuth configured, the same request is accepted.
#[test]
fn t2_a_front_vouching_for_users_without_ext_auth_is_cut_off() {
    let fx = Fixture::new();
    let env = vec![("REDOUBT_TEST_PROBES".to_string(), "front:vouch=mallory".to_string())];
    let mut d = Daemon::spawn(fx, Options { env: env.clone(), ..Default::default() });
    d.wait_log("one-time setup code", Duration::from_secs(20));
    // The broker closes the channel (the front may die before its probe reports).
    d.wait_log(
        "closing the front channel: request kind \"front may not send Api (ExtAuth is off)\"",
        Duration::from_secs(20),
    );
    d.wait_log("the front exited with status 1; restarting", Duration::from_secs(10));
    if let Some(line) = d.log().lines().find(|l| l.contains("redoubt-test-hook-probe front vouch=mallory =>")) {
        assert!(line.ends_with("channel-closed"), "{line}");
    }
    d.wait_ready();
    let users = d.fx.cli(&["user", "list"], "");
    assert!(String::from_utf8_lossy(&users.stdout).trim().is_empty(), "no user was created: {users:?}");
    // The setup code still works: nobody became the first admin.
    assert!(d.log().contains("no user exists yet"));
    drop(d);

    let fx = Fixture::new();
    let mut d = Daemon::spawn(
        fx,
        Options { env, config: Some("[ExtAuth]\nTrustedSources = \"127.0.0.1\"\n".into()), ..Default::default() },
    );
    let line = d.wait_log("redoubt-test-hook-probe front vouch=mallory =>", Duration::from_secs(20));
    assert!(line.ends_with("ok admin=true"), "with ExtAuth the proxy's first user is admin: {line}");
    d.wait_ready();
}

/// Issue 10.3: a Kelvin-sign "Kevin" cannot exist beside "kevin"; permission checks resolve
/// the named user and compare ids, so no spelling reaches another account.
#[test]
fn t16_names_that_fold_together_are_one_user_and_never_reach_another() {
    let d = Daemon::start();
    let admin = format!("{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}");
    ok(&get(&d, &format!("/rest/createUser?{admin}&username=kevin&password=kevin-pass&email=k@x")));
    ok(&get(&d, &format!("/rest/createUser?{admin}&username=dave&password=dave-pass")));
    for twin in ["\u{212A}evin", "KEVIN", " kevin", "\u{FF4B}evin"] {
        let v = get(&d, &format!("/rest/createUser?{admin}&username={}&password=x", enc(twin)));
        assert_eq!(code(&v), 0, "{twin:?}");
    }
    let out = d.fx.cli(&["user", "add", "\u{212A}evin"], "pw\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("same user as \"kevin\""), "{out:?}");
    for bad in ["ad\u{200B}min2", "x\u{202E}y"] {
        assert_eq!(code(&get(&d, &format!("/rest/createUser?{admin}&username={}&password=x", enc(bad)))), 0);
    }
    let dave = format!("{BASE}&u=dave&p=dave-pass");
    for other in ["kevin", "\u{212A}evin", " KEVIN\u{3000}", ADMIN] {
        assert_eq!(code(&get(&d, &format!("/rest/getUser?{dave}&username={}", enc(other)))), 50, "{other:?}");
        let v = get(&d, &format!("/rest/changePassword?{dave}&username={}&password=owned", enc(other)));
        assert_eq!(code(&v), 50, "{other:?}");
        assert_eq!(code(&get(&d, &format!("/rest/getPlaylists?{dave}&username={}", enc(other)))), 50);
    }
    ok(&get(&d, &format!("/rest/ping?{BASE}&u=kevin&p=kevin-pass")));
    // Your own account, in any spelling, is yours.
    assert_eq!(get(&d, &format!("/rest/getUser?{dave}&username={}", enc(" DAVE")))["user"]["username"], "dave");
    ok(&get(&d, &format!("/rest/changePassword?{dave}&username={}&password=dave-new", enc("Dave\u{3000}"))));
    ok(&get(&d, &format!("/rest/ping?{BASE}&u=dave&p=dave-new")));
    // An admin reaches kevin by any spelling, and the Kelvin sign is kevin.
    assert_eq!(get(&d, &format!("/rest/getUser?{admin}&username={}", enc("\u{212A}EVIN")))["user"]["email"], "k@x");
}

/// Migration 0006: names that already collide (made before names were normalised) stop the
/// start with both named, and `redoubt user rename` is the way out.
#[test]
fn existing_colliding_names_stop_the_start_until_one_is_renamed() {
    if !require_root("reading and writing the daemon user's database directly") {
        return;
    }
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    fx.add_user("kevin", "kevin-pass", false);
    {
        let db = rusqlite::Connection::open(fx.data.join("redoubt.db")).unwrap();
        // A row as an older redoubt could have made it: no name key, a twin spelling.
        db.execute(
            "INSERT INTO users (id, name, name_key, password, created_at, updated_at) VALUES ('legacy-id', ?1, NULL, NULL, 0, 0)",
            ["\u{212A}evin"],
        )
        .unwrap();
    }
    let mut d = Daemon::spawn(fx, Options::default());
    assert!(!d.wait_exit(Duration::from_secs(20)).success());
    let log = d.log();
    assert!(log.contains("id legacy-id") && log.contains("\"kevin\"") && log.contains("redoubt user rename"), "{log}");
    let fx = d.into_fixture();
    let out = fx.cli(&["user", "list", "--ids"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("legacy-id\t\u{212A}evin"), "{out:?}");
    let out = fx.cli(&["user", "rename", "legacy-id", "kelvin"], "");
    assert!(out.status.success(), "{out:?}");
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    ok(&get(&d, &format!("/rest/ping?{BASE}&u=kevin&p=kevin-pass")));
}

/// Issue 10.4 and 11.4: bad API keys count against their own address only; a user locked out
/// of passwords keeps their API keys and web sessions, and `redoubt user unlock` lifts it.
#[test]
fn t3_api_keys_and_sessions_outlive_a_lockout_and_unlock_lifts_it() {
    let d = Daemon::start_with(Options {
        config: Some("AuthWindowLength = \"600s\"\n[ExtAuth]\nTrustedSources = \"127.0.0.1\"\n".into()),
        ..Default::default()
    });
    let key = String::from_utf8(d.fx.cli(&["apikey", "add", ADMIN, "phone"], "").stdout).unwrap().trim().to_string();
    assert!(key.starts_with("rdt_"), "{key}");
    // Twenty bad keys, each from another address behind the trusted proxy.
    for i in 0..20 {
        let xff = format!("198.51.100.{i}");
        let v = get_h(&d, &format!("/rest/ping?{BASE}&apiKey=rdt_{i:064}"), &[("X-Forwarded-For", &xff)]);
        assert_eq!(code(&v), 44);
    }
    ok(&get_h(&d, &format!("/rest/ping?{BASE}&apiKey={key}"), &[("X-Forwarded-For", "203.0.113.1")]));
    ok(&get(&d, &format!("/rest/ping?{BASE}&apiKey={key}")));
    // One address sending bad keys is refused after 4 x AuthRequestLimit.
    for _ in 0..20 {
        get_h(&d, &format!("/rest/ping?{BASE}&apiKey=rdt_bad"), &[("X-Forwarded-For", "192.0.2.66")]);
    }
    let v = get_h(&d, &format!("/rest/ping?{BASE}&apiKey={key}"), &[("X-Forwarded-For", "192.0.2.66")]);
    assert_eq!(code(&v), 0, "that address is limited");

    // A web session first, then the lockout: 20 wrong passwords from 20 addresses.
    let r = login(&d, ADMIN, ADMIN_PASSWORD, &[]);
    assert_eq!(r.status, 200);
    let session = r.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    for i in 0..20 {
        let xff = format!("10.0.0.{i}");
        get_h(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=wrong"), &[("X-Forwarded-For", &xff)]);
    }
    d.wait_log("user \"admin\" is locked out of password and token logins", Duration::from_secs(5));
    let v = get_h(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}"), &[("X-Forwarded-For", "10.9.9.9")]);
    assert_eq!(code(&v), 0, "locked out everywhere");
    // Keys and sessions carry on.
    ok(&get_h(&d, &format!("/rest/ping?{BASE}&apiKey={key}"), &[("X-Forwarded-For", "10.9.9.9")]));
    let me = http(d.port, "GET", "/auth/me", &[("Cookie", &session)], b"").unwrap();
    assert_eq!(me.status, 200, "{}", me.text());
    // The admin lifts it.
    let out = d.fx.cli(&["user", "unlock", "ADMIN"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked"), "{out:?}");
    d.wait_log("unlocked by an admin", Duration::from_secs(5));
    ok(&get_h(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}"), &[("X-Forwarded-For", "10.9.9.9")]));
    let out = d.fx.cli(&["user", "unlock", "nobody"], "");
    assert!(!out.status.success());
}

/// Issue 11.3: a repeated or comma-joined user header from the trusted proxy is refused and
/// logged, on /rest (error 43) and /auth (401): never "first wins".
#[test]
fn t17_a_repeated_ext_auth_header_is_refused() {
    let d = Daemon::start_with(Options {
        config: Some("[ExtAuth]\nTrustedSources = \"127.0.0.1\"\n".into()),
        ..Default::default()
    });
    ok(&get_h(&d, &format!("/rest/ping?{BASE}"), &[("Remote-User", "mallory")]));
    let twice = [("Remote-User", "mallory"), ("Remote-User", ADMIN)];
    assert_eq!(code(&get_h(&d, &format!("/rest/getUser?{BASE}&username={ADMIN}"), &twice)), 43);
    assert_eq!(code(&get_h(&d, &format!("/rest/ping?{BASE}"), &[("Remote-User", "mallory, admin")])), 43);
    let me = http(d.port, "GET", "/auth/me", &twice, b"").unwrap();
    assert_eq!(me.status, 401, "{}", me.text());
    let me = http(d.port, "GET", "/auth/me", &[("Remote-User", "mallory")], b"").unwrap();
    assert_eq!(me.status, 200);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&me.body).unwrap()["username"], "mallory");
    d.wait_log("refused a request from 127.0.0.1: the proxy's remote-user header is repeated", Duration::from_secs(5));
    d.wait_log("header holds a list", Duration::from_secs(5));
}

/// Issue 10.6: a CLI command under a running daemon may add users, but never change the key
/// the daemon holds.
#[test]
fn cli_commands_under_a_running_daemon_make_no_key_transition() {
    let d = Daemon::start();
    let key_before = std::fs::read(d.fx.data.join("redoubt.key")).unwrap();
    let cfg = d.fx.dir.join("new-key.toml");
    std::fs::write(&cfg, "PasswordEncryptionKey = \"a brand new passphrase\"\n").unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = cfg.display().to_string();
    for args in [
        vec!["user", "add", "nina", "--config", &cfg],
        vec!["apikey", "add", ADMIN, "x", "--config", &cfg],
        vec!["user", "passwd", ADMIN, "--config", &cfg],
    ] {
        let out = d.fx.cli(&args, "nina-pass\n");
        assert!(!out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("stop it first"), "{out:?}");
    }
    assert_eq!(std::fs::read(d.fx.data.join("redoubt.key")).unwrap(), key_before, "the key file stays");
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}")));
    // With the key in use, adding a user works beside the daemon.
    d.fx.add_user("nina", "nina-pass", false);
    ok(&get(&d, &format!("/rest/ping?{BASE}&u=nina&p=nina-pass")));
}

/// Issue 10.7: sessions have an absolute age; an admin's reset ends the user's sessions; the
/// logout cookie keeps Secure; cross-site login forms are refused.
#[test]
fn sessions_end_at_their_absolute_age_and_on_a_reset_and_logins_are_same_site() {
    let d = Daemon::start_with(Options {
        config: Some("[Auth]\nSessionMaxAge = \"3s\"\n[ExtAuth]\nTrustedSources = \"127.0.0.1\"\n".into()),
        ..Default::default()
    });
    let admin = format!("{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}");
    ok(&get(&d, &format!("/rest/createUser?{admin}&username=olga&password=olga-pass")));
    let cookie = |r: &HttpResponse| r.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    let me = |c: &str| http(d.port, "GET", "/auth/me", &[("Cookie", c)], b"").unwrap().status;

    let started = Instant::now();
    let session = cookie(&login(&d, "olga", "olga-pass", &[]));
    while started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(me(&session), 200, "in use, within its age");
        std::thread::sleep(Duration::from_millis(300));
    }
    while started.elapsed() < Duration::from_millis(3200) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(me(&session), 401, "past SessionMaxAge, however active");

    let session = cookie(&login(&d, "olga", "olga-pass", &[]));
    assert_eq!(me(&session), 200);
    ok(&get(&d, &format!("/rest/updateUser?{admin}&username=olga&password=reset-pass")));
    assert_eq!(me(&session), 401, "an admin's reset ends the sessions");

    let r = login(&d, "olga", "reset-pass", &[("X-Forwarded-Proto", "https")]);
    let session = cookie(&r);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let csrf = body["csrfToken"].as_str().unwrap().to_string();
    let out = http(
        d.port,
        "POST",
        "/auth/logout",
        &[("Cookie", &session), ("X-CSRF-Token", &csrf), ("X-Forwarded-Proto", "https")],
        b"",
    )
    .unwrap();
    assert_eq!(out.status, 200);
    let expire = out.header("set-cookie").unwrap();
    assert!(expire.contains("Max-Age=0") && expire.contains("Secure"), "{expire}");

    for h in [("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Site", "same-site"), ("Origin", "http://evil.example")] {
        let r = login(&d, "olga", "reset-pass", &[h]);
        assert_eq!(r.status, 403, "{h:?}: {}", r.text());
    }
    let host = format!("127.0.0.1:{}", d.port);
    // The test client sends `Host: localhost`.
    let origin = "http://localhost".to_string();
    let _ = host;
    assert_eq!(login(&d, "olga", "reset-pass", &[("Sec-Fetch-Site", "same-origin")]).status, 200);
    assert_eq!(login(&d, "olga", "reset-pass", &[("Origin", &origin)]).status, 200);
    d.wait_log("refused a cross-site POST /auth/login", Duration::from_secs(5));
}

/// Issue 10.7: attempted names are cut in the log; a tampered ciphertext is reported as an
/// integrity failure, not as a wrong password alone.
#[test]
fn logs_cut_attempted_names_and_name_integrity_failures() {
    let d = Daemon::start();
    let long = "z".repeat(5000);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={long}&p=x"))), 40);
    let line = d.wait_log("failed authentication for \"zzzz", Duration::from_secs(5));
    assert!(line.len() < 300, "{} characters: {line}", line.len());
    assert!(line.contains('…'));
    if !require_root("altering the daemon user's database directly") {
        return;
    }
    d.fx.add_user("olga", "olga-pass", false);
    let fx = d.into_fixture();
    {
        let db = rusqlite::Connection::open(fx.data.join("redoubt.db")).unwrap();
        let mut blob: Vec<u8> =
            db.query_row("SELECT password FROM users WHERE name = 'olga'", [], |r| r.get(0)).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        db.execute("UPDATE users SET password = ?1 WHERE name = 'olga'", [blob]).unwrap();
    }
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u=olga&p=olga-pass"))), 40);
    d.wait_log("the stored password of user \"olga\" failed its integrity check", Duration::from_secs(5));
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}")));
}

/// Issue 10.7: a new key needs a passphrase of at least 12 characters; the start stops with
/// the reason and changes nothing.
#[test]
fn a_short_passphrase_makes_no_key() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let key_before = std::fs::read(fx.data.join("redoubt.key")).unwrap();
    let mut d = Daemon::spawn(
        fx,
        Options { config: Some("PasswordEncryptionKey = \"hunter2\"\n".into()), ..Default::default() },
    );
    assert!(!d.wait_exit(Duration::from_secs(20)).success());
    assert!(d.log().contains("a new key needs a passphrase of at least 12"), "{}", d.log());
    let fx = d.into_fixture();
    assert_eq!(std::fs::read(fx.data.join("redoubt.key")).unwrap(), key_before);
}

/// Issue 10.7: once the vault is open, no role holds the passphrase in memory (read as root
/// through /proc/<pid>/mem, which the roles' non-dumpable flag keeps from everyone else).
#[test]
fn no_role_keeps_the_passphrase_in_memory() {
    if !require_root("reading the roles' memory") {
        return;
    }
    let passphrase = "distinctive passphrase 7f3a9c51e";
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(
        fx,
        Options { config: Some(format!("PasswordEncryptionKey = \"{passphrase}\"\n")), ..Default::default() },
    );
    d.wait_ready();
    d.wait_log("re-encrypted 1 passwords", Duration::from_secs(10));
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}")));
    for role in ["broker", "front", "scanner", "transcoder"] {
        let pid = d.role_pid(role);
        let found = memory_contains(pid, passphrase.as_bytes());
        assert!(!found, "the {role} (pid {pid}) holds the passphrase in memory");
    }
    // The search itself works: the broker does hold its data folder's path.
    let data = d.fx.data.display().to_string();
    assert!(memory_contains(d.role_pid("broker"), data.as_bytes()), "the memory search finds nothing at all");
}

fn memory_contains(pid: i32, needle: &[u8]) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else { continue };
        if !perms.starts_with('r') || line.contains("[vvar") || line.contains("[vsyscall]") {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (u64::from_str_radix(a, 16).unwrap(), u64::from_str_radix(b, 16).unwrap());
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.seek(SeekFrom::Start(a)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue;
        }
        if buf.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
    }
    false
}

/// Issue 11.2: every command makes the data folder 0700 and its files 0600 under umask 022,
/// and `serve` tightens what an older version left open; a second uid can read nothing.
#[test]
fn data_files_are_private_whatever_the_umask() {
    if !require_root("a second uid to read the files as") {
        return;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let fx = Fixture::new();
    // A data folder the commands create themselves.
    std::fs::remove_dir_all(&fx.data).unwrap();
    std::fs::set_permissions(&fx.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    assert!(fx.cli(&["apikey", "add", ADMIN, "k"], "").status.success());
    let out = fx.cli(&["key", "rotate", "--stdin"], "\na rotated passphrase\n");
    assert!(out.status.success(), "{out:?}");
    let check = |what: &str| {
        let mut files = vec![fx.data.clone()];
        for e in std::fs::read_dir(&fx.data).unwrap().flatten() {
            files.push(e.path());
        }
        for f in &files {
            let mode = std::fs::metadata(f).unwrap().mode() & 0o777;
            let want = if f.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode & 0o077, 0, "{what}: {} is {mode:o}, want {want:o}", f.display());
        }
        for f in files.iter().filter(|f| f.is_file()) {
            let out = std::process::Command::new("setpriv")
                .args(["--reuid=65533", "--regid=65533", "--clear-groups", "cat"])
                .arg(f)
                .output()
                .unwrap();
            assert!(!out.status.success(), "{what}: uid 65533 read {}", f.display());
            assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{out:?}");
        }
        files.len()
    };
    assert!(check("after user add, apikey add, key rotate") >= 2);
    // An older install's loose modes: serve tightens them and says so.
    let db = fx.data.join("redoubt.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&fx.data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut d = Daemon::spawn(
        fx,
        Options { config: Some("PasswordEncryptionKey = \"a rotated passphrase\"\n".into()), ..Default::default() },
    );
    d.wait_ready();
    d.wait_log("redoubt.db was mode 0644, open to others; now 0600", Duration::from_secs(5));
    let n = {
        let fx = &d.fx;
        let mut files = vec![fx.data.clone()];
        files.extend(std::fs::read_dir(&fx.data).unwrap().flatten().map(|e| e.path()));
        for f in &files {
            let mode = std::fs::metadata(f).unwrap().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "while serving: {} is {mode:o}", f.display());
        }
        files.len()
    };
    assert!(n >= 5, "database, WAL, shared memory, lock, pid: {n}");
}

/// Issue 10.2: with ExtAuth on, `redoubt doctor` says plainly that the front vouches.
#[test]
fn doctor_says_when_the_front_vouches_for_users() {
    let fx = Fixture::new();
    let out = fx.command(&["doctor"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ExtAuth         off"), "{text}");
    let cfg = fx.dir.join("extauth.toml");
    std::fs::write(&cfg, "[ExtAuth]\nTrustedSources = \"127.0.0.1\"\n").unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = fx.command(&["doctor", "--config", &cfg.display().to_string()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ExtAuth         ON (trusted: 127.0.0.1)"), "{text}");
    assert!(text.contains("a compromised front could act as any user"), "{text}");
}

/// A command holding the data folder's lock for a moment (as `redoubt user add` does when no
/// daemon runs) delays a starting daemon instead of stopping it; a second daemon on the same
/// data folder is refused.
#[test]
fn a_briefly_held_lock_delays_the_start_and_a_second_daemon_is_refused() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let lock_path = fx.data.join("redoubt.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e).unwrap();
    let mut d = Daemon::spawn(fx, Options::default());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(d.child.try_wait().unwrap().is_none(), "the daemon waits for the lock:\n{}", d.log());
    drop(held);
    d.wait_ready();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}"))["status"] == "ok" {
            break;
        }
        assert!(Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second daemon on the same folders.
    let second = d.fx.command(&d.fx.serve_args(free_port()).iter().map(|s| s.as_str()).collect::<Vec<_>>()).output();
    let out = second.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a redoubt daemon is using this data folder"), "{out:?}");
}
