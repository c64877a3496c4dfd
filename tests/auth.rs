//! Every way in (docs/security.md T3, T16, T17, T18), against the running daemon.

mod common;

use std::time::{Duration, Instant};

use common::*;
use md5::{Digest, Md5};

fn json(r: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice::<serde_json::Value>(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
        ["subsonic-response"]
        .clone()
}

fn get(d: &Daemon, path: &str) -> serde_json::Value {
    json(&d.get(path).unwrap())
}

fn get_h(d: &Daemon, path: &str, headers: &[(&str, &str)]) -> serde_json::Value {
    json(&http(d.port, "GET", path, headers, b"").unwrap())
}

fn code(v: &serde_json::Value) -> i64 {
    assert_eq!(v["status"], "failed", "{v}");
    v["error"]["code"].as_i64().unwrap()
}

fn ok(v: &serde_json::Value) {
    assert_eq!(v["status"], "ok", "{v}");
}

fn token(password: &str, salt: &str) -> String {
    hex::encode(Md5::digest(format!("{password}{salt}").as_bytes()))
}

const BASE: &str = "v=1.16.1&c=test&f=json";

#[test]
fn password_auth_plain_and_enc_hex_in_either_case() {
    let d = Daemon::start();
    let hex_pw = hex::encode(ADMIN_PASSWORD);
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}")));
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=enc:{hex_pw}")));
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=enc:{}", hex_pw.to_uppercase())));
    // User names match case-insensitively.
    ok(&get(&d, &format!("/rest/ping?{BASE}&u=ADMIN&p={ADMIN_PASSWORD}")));
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=wrong"))), 40);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=enc:zz"))), 40);
}

#[test]
fn token_auth_md5_of_password_and_salt() {
    let d = Daemon::start();
    let t = token(ADMIN_PASSWORD, "c19b2d");
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&t={t}&s=c19b2d")));
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&t={}&s=c19b2d", t.to_uppercase())));
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&t={t}&s=other1"))), 40);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&t={t}"))), 10, "t without s");
}

#[test]
fn form_post_view_suffix_and_jsonp_authenticate_too() {
    let d = Daemon::start();
    let body = format!("u={ADMIN}&p={ADMIN_PASSWORD}&v=1.8.0&c=client&f=json");
    let r = http(
        d.port,
        "POST",
        "/rest/ping.view",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .unwrap();
    ok(&json(&r));
    let r = d.get(&format!("/rest/ping.view?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=t&f=jsonp&callback=cb")).unwrap();
    let t = r.text();
    assert!(t.starts_with("cb(") && t.contains(r#""status":"ok""#), "{t}");
}

#[test]
fn every_error_code_in_its_place() {
    let d = Daemon::start();
    let auth = format!("u={ADMIN}&p={ADMIN_PASSWORD}");
    assert_eq!(code(&get(&d, "/rest/ping?v=1.16.1&c=t&f=json")), 10, "no credentials");
    assert_eq!(code(&get(&d, &format!("/rest/ping?c=t&f=json&{auth}"))), 10, "no v");
    assert_eq!(code(&get(&d, &format!("/rest/ping?v=1.16.1&f=json&{auth}"))), 10, "no c");
    assert_eq!(code(&get(&d, &format!("/rest/ping?v=1.16.1&c=t&f=json&u={ADMIN}"))), 10, "u alone");
    assert_eq!(code(&get(&d, &format!("/rest/ping?v=0.9.0&c=t&f=json&{auth}"))), 20);
    assert_eq!(code(&get(&d, &format!("/rest/ping?v=2.0.0&c=t&f=json&{auth}"))), 30);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=nope"))), 40);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey=abc&u={ADMIN}"))), 43);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey=abc"))), 44);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=x&t=y&s=z"))), 43);
    assert_eq!(code(&get(&d, &format!("/rest/noSuchMethod?{BASE}&{auth}"))), 70);
    // 50: a non-admin asking for the user list.
    d.fx.add_user("carol", "carol-pass", false);
    assert_eq!(code(&get(&d, &format!("/rest/getUsers?{BASE}&u=carol&p=carol-pass"))), 50);
    // getLicense and getOpenSubsonicExtensions (the latter without any parameter at all).
    let lic = get(&d, &format!("/rest/getLicense?{BASE}&{auth}"));
    assert_eq!(lic["license"]["valid"], true);
    let ext = get(&d, "/rest/getOpenSubsonicExtensions?f=json");
    let names: Vec<&str> =
        ext["openSubsonicExtensions"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"apiKeyAuthentication") && names.contains(&"formPost"), "{ext}");
    let xml = d.get("/rest/getOpenSubsonicExtensions").unwrap().text();
    assert_valid_xml(&xml);
}

#[test]
fn api_keys_create_use_list_revoke_and_only_the_hash_is_stored() {
    let d = Daemon::start();
    let out = d.fx.cli(&["apikey", "add", ADMIN, "phone"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.len() >= 40, "{key}");
    ok(&get(&d, &format!("/rest/ping?{BASE}&apiKey={key}")));
    let info = get(&d, &format!("/rest/tokenInfo?{BASE}&apiKey={key}"));
    assert_eq!(info["tokenInfo"]["username"], ADMIN);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey={key}&u={ADMIN}"))), 43);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey={key}x"))), 44);
    // Listed by id and name, never the key.
    let list = String::from_utf8(d.fx.cli(&["apikey", "list"], "").stdout).unwrap();
    assert!(list.contains("phone") && !list.contains(&key), "{list}");
    let id = list.split('\t').next().unwrap().to_string();
    // The database holds no copy of the key.
    for f in std::fs::read_dir(&d.fx.data).unwrap().flatten() {
        let bytes = std::fs::read(f.path()).unwrap_or_default();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "{} holds the key", f.path().display());
    }
    let out = d.fx.cli(&["apikey", "revoke", &id], "");
    assert!(out.status.success());
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey={key}"))), 44);
}

#[test]
fn user_management_is_admin_gated_and_owned_by_the_session() {
    let d = Daemon::start();
    let admin = format!("{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}");
    ok(&get(
        &d,
        &format!("/rest/createUser?{admin}&username=dave&password=enc:{}&email=d@x", hex::encode("dave-pass")),
    ));
    let dave = format!("{BASE}&u=dave&p=dave-pass");
    ok(&get(&d, &format!("/rest/ping?{dave}")));
    // A non-admin: own record yes, others' no, no user list, no creating or deleting.
    assert_eq!(get(&d, &format!("/rest/getUser?{dave}&username=DAVE"))["user"]["username"], "dave");
    assert_eq!(code(&get(&d, &format!("/rest/getUser?{dave}&username={ADMIN}"))), 50);
    assert_eq!(code(&get(&d, &format!("/rest/getUsers?{dave}"))), 50);
    assert_eq!(code(&get(&d, &format!("/rest/createUser?{dave}&username=eve&password=x"))), 50);
    assert_eq!(code(&get(&d, &format!("/rest/deleteUser?{dave}&username={ADMIN}"))), 50);
    assert_eq!(code(&get(&d, &format!("/rest/updateUser?{dave}&username=dave&adminRole=true"))), 50);
    // CVE-2024-32963's lesson: whose password changes comes from the session, not a parameter.
    assert_eq!(code(&get(&d, &format!("/rest/changePassword?{dave}&username={ADMIN}&password=owned"))), 50);
    ok(&get(&d, &format!("/rest/ping?{admin}")));
    ok(&get(&d, &format!("/rest/changePassword?{dave}&username=dave&password=dave-new")));
    assert_eq!(code(&get(&d, &format!("/rest/ping?{dave}"))), 40);
    let dave = format!("{BASE}&u=dave&p=dave-new");
    ok(&get(&d, &format!("/rest/ping?{dave}")));
    // The admin: list, promote, delete; the last admin is protected.
    let users = get(&d, &format!("/rest/getUsers?{admin}"));
    assert_eq!(users["users"]["user"].as_array().unwrap().len(), 2);
    ok(&get(&d, &format!("/rest/updateUser?{admin}&username=dave&adminRole=true")));
    assert_eq!(get(&d, &format!("/rest/getUser?{dave}&username={ADMIN}"))["user"]["adminRole"], true);
    ok(&get(&d, &format!("/rest/updateUser?{admin}&username=dave&adminRole=false")));
    assert_eq!(code(&get(&d, &format!("/rest/updateUser?{admin}&username={ADMIN}&adminRole=false"))), 0);
    assert_eq!(
        code(&get(&d, &format!("/rest/createUser?{admin}&username=Dave&password=x"))),
        0,
        "names are case-insensitive"
    );
    ok(&get(&d, &format!("/rest/deleteUser?{admin}&username=dave")));
    assert_eq!(code(&get(&d, &format!("/rest/ping?{dave}"))), 40);
    assert_eq!(code(&get(&d, &format!("/rest/getUser?{admin}&username=dave"))), 70);
    // XML answers validate.
    assert_valid_xml(&d.get(&format!("/rest/getUsers?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=t")).unwrap().text());
    assert_valid_xml(
        &d.get(&format!("/rest/getUser?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=t&username=admin")).unwrap().text(),
    );
}

#[test]
fn t3_the_sixth_failure_is_refused_even_with_the_right_password_until_the_window_passes() {
    let d = Daemon::start_with(Options { config: Some("AuthWindowLength = \"3s\"\n".into()), ..Default::default() });
    let start = Instant::now();
    for _ in 0..5 {
        assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=guess"))), 40);
    }
    let r = d.get(&format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}")).unwrap();
    let v = json(&r);
    assert_eq!(code(&v), 0);
    assert!(v["error"]["message"].as_str().unwrap().contains("Too many failed"), "{v}");
    assert!(r.header("retry-after").is_some());
    // Another user from the same address is not affected...
    d.fx.add_user("erin", "erin-pass", false);
    ok(&get(&d, &format!("/rest/ping?{BASE}&u=erin&p=erin-pass")));
    // ...and a success does not consume the budget.
    for _ in 0..10 {
        ok(&get(&d, &format!("/rest/ping?{BASE}&u=erin&p=erin-pass")));
    }
    // After the window the right password works again.
    while start.elapsed() < Duration::from_millis(3100) {
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}")));
    d.wait_log("authentication refused for \"admin\" from 127.0.0.1: too many failures", Duration::from_secs(2));
}

#[test]
fn t3_t18_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_reset_the_count() {
    let d = Daemon::start_with(Options {
        config: Some("[ExtAuth]\nTrustedSources = \"10.9.9.9\"\n".into()),
        ..Default::default()
    });
    for i in 0..5 {
        let xff = format!("203.0.113.{i}");
        assert_eq!(code(&get_h(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=guess"), &[("X-Forwarded-For", &xff)])), 40);
    }
    let v =
        get_h(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}"), &[("X-Forwarded-For", "198.51.100.7")]);
    assert_eq!(code(&v), 0, "still limited: the untrusted peer's own address counts");
    let log = d.log();
    assert!(log.contains("failed authentication for \"admin\" from 127.0.0.1"), "{log}");
    assert!(!log.contains("203.0.113."), "a forged address reached the log: {log}");
}

#[test]
fn t18_a_trusted_proxy_forwards_the_client_address() {
    let d = Daemon::start_with(Options {
        config: Some("[ExtAuth]\nTrustedSources = \"127.0.0.1/32\"\n".into()),
        ..Default::default()
    });
    let v =
        get_h(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=guess"), &[("X-Forwarded-For", "198.51.100.23, 127.0.0.1")]);
    assert_eq!(code(&v), 40);
    d.wait_log("failed authentication for \"admin\" from 198.51.100.23", Duration::from_secs(5));
    // Limits follow the forwarded client: another client behind the proxy is unaffected.
    for _ in 0..5 {
        get_h(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=guess"), &[("X-Forwarded-For", "198.51.100.23")]);
    }
    assert_eq!(
        code(&get_h(
            &d,
            &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}"),
            &[("X-Forwarded-For", "198.51.100.23")]
        )),
        0
    );
    ok(&get_h(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}"), &[("X-Forwarded-For", "198.51.100.24")]));
}

#[test]
fn t16_cve_2025_27112_unknown_users_and_empty_passwords_never_match() {
    let d = Daemon::start_with(Options {
        config: Some("[ExtAuth]\nTrustedSources = \"127.0.0.1\"\n".into()),
        ..Default::default()
    });
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u=nobody-here&p="))), 40);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u=nobody-here&p=x"))), 40);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p="))), 40);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p=enc:"))), 40);
    let t = token("", "salt12");
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u=nobody-here&t={t}&s=salt12"))), 40);
    // A user created through ExtAuth has no password: an empty one must not match either.
    ok(&get_h(&d, &format!("/rest/ping?{BASE}"), &[("Remote-User", "frank")]));
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u=frank&p="))), 40);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u=frank&t={t}&s=salt12"))), 40);
}

#[test]
fn t16_sql_injection_through_every_string_parameter_fails_safely() {
    let d = Daemon::start();
    let admin = format!("{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}");
    for (i, evil) in ["admin'--", "' OR '1'='1", "admin\" OR \"1\"=\"1", "%", "_dmin", "admin'; DROP TABLE users; --"]
        .iter()
        .enumerate()
    {
        let e = urlencode(evil);
        assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={e}&p=x"))), 40, "{evil}");
        assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={e}&p={ADMIN_PASSWORD}"))), 40, "{evil}");
        assert_eq!(code(&get(&d, &format!("/rest/getUser?{admin}&username={e}"))), 70, "{evil}");
        assert_eq!(code(&get(&d, &format!("/rest/deleteUser?{admin}&username={e}"))), 70, "{evil}");
        // Invalid keys count as failures too (against this address: see the end).
        assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey={e}"))), 44, "{evil} ({i})");
    }
    // Stored verbatim, returned verbatim, and the table is still there.
    ok(&get(&d, &format!("/rest/createUser?{admin}&username={}&password=pw", urlencode("o'brien\"; --"))));
    assert_eq!(
        get(&d, &format!("/rest/getUser?{admin}&username={}", urlencode("o'brien\"; --")))["user"]["username"],
        "o'brien\"; --"
    );
    assert_eq!(get(&d, &format!("/rest/getUsers?{admin}"))["users"]["user"].as_array().unwrap().len(), 2);
    // 18 failures from this address so far; it may fail 4 x AuthRequestLimit times in all.
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey=bad19"))), 44);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey=bad20"))), 44);
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&apiKey=bad21"))), 0, "the address is rate limited");
}

#[test]
fn t16_cve_2023_51442_no_built_in_secret_each_install_gets_its_own_key() {
    let a = Daemon::start();
    let b = Daemon::start();
    let key_a = std::fs::read_to_string(a.fx.data.join("redoubt.key")).unwrap();
    let key_b = std::fs::read_to_string(b.fx.data.join("redoubt.key")).unwrap();
    assert_eq!(key_a.trim().len(), 64);
    assert_ne!(key_a, key_b);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(a.fx.data.join("redoubt.key")).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn t17_ext_auth_from_a_trusted_peer_creates_users_the_first_as_admin() {
    let fx = Fixture::new();
    let mut d = Daemon::spawn(
        fx,
        Options { config: Some("[ExtAuth]\nTrustedSources = \"127.0.0.1\"\n".into()), ..Default::default() },
    );
    d.wait_log("one-time setup code", Duration::from_secs(10));
    let v = get_h(&d, &format!("/rest/getUser?{BASE}&username=grace"), &[("Remote-User", "grace")]);
    assert_eq!(v["user"]["adminRole"], true, "the first user ever is admin: {v}");
    d.wait_log("created \"grace\" as the first user, and made it admin", Duration::from_secs(5));
    let v = get_h(&d, &format!("/rest/getUser?{BASE}&username=heidi"), &[("Remote-User", "heidi")]);
    assert_eq!(v["user"]["adminRole"], false, "{v}");
    // Header and u must agree; u alone with the header's name is fine.
    ok(&get_h(&d, &format!("/rest/ping?{BASE}&u=HEIDI"), &[("Remote-User", "heidi")]));
    assert_eq!(code(&get_h(&d, &format!("/rest/ping?{BASE}&u=grace"), &[("Remote-User", "heidi")])), 43);
    assert_eq!(code(&get_h(&d, &format!("/rest/ping?{BASE}&apiKey=x"), &[("Remote-User", "heidi")])), 43);
    let _ = &mut d;
}

#[test]
fn t17_repeated_auth_parameters_are_refused_never_first_wins() {
    let d = Daemon::start();
    d.fx.add_user("ivan", "ivan-pass", false);
    for q in [
        format!("u=ivan&u={ADMIN}&p=ivan-pass"),
        format!("u={ADMIN}&p={ADMIN_PASSWORD}&p=x"),
        format!("u={ADMIN}&t=a&t=b&s=c"),
        format!("u={ADMIN}&t=a&s=b&s=c"),
        "apiKey=a&apiKey=b".to_string(),
    ] {
        assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&{q}"))), 43, "{q}");
    }
    // Also when split between the query and a form body.
    let r = http(
        d.port,
        "POST",
        &format!("/rest/ping?{BASE}&u=ivan&p=ivan-pass"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("u={ADMIN}").as_bytes(),
    )
    .unwrap();
    assert_eq!(code(&json(&r)), 43);
}

#[test]
fn t18_the_user_header_is_ignored_from_untrusted_peers() {
    let d = Daemon::start_with(Options {
        config: Some("[ExtAuth]\nTrustedSources = \"10.0.0.1\"\n".into()),
        ..Default::default()
    });
    assert_eq!(code(&get_h(&d, &format!("/rest/ping?{BASE}"), &[("Remote-User", ADMIN)])), 10);
    let d = Daemon::start();
    assert_eq!(
        code(&get_h(&d, &format!("/rest/ping?{BASE}"), &[("Remote-User", ADMIN)])),
        10,
        "no TrustedSources: no ExtAuth"
    );
}

#[test]
fn t17_ext_auth_over_a_unix_socket_with_at() {
    let fx = Fixture::new();
    let sockdir = fx.dir.join("sock");
    std::fs::create_dir(&sockdir).unwrap();
    if is_root() {
        chown_tree(&sockdir, UNPRIVILEGED);
    }
    let sock = sockdir.join("r.sock");
    let cfg = format!(
        "Address = \"unix:{}\"\n[ExtAuth]\nTrustedSources = \"@\"\nUserHeader = \"X-Auth-User\"\n",
        sock.display()
    );
    let d = Daemon::spawn(fx, Options { config: Some(cfg), ..Default::default() });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let ask = |headers: &[(&str, &str)]| {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        json(&http_on(&mut s, "GET", &format!("/rest/getUser?{BASE}&username=judy"), headers, b"").unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let v = loop {
        let v = ask(&[("X-Auth-User", "judy")]);
        if v["status"] == "ok" || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(v["user"]["username"], "judy", "{v}");
    assert_eq!(code(&ask(&[("Remote-User", "judy")])), 10, "only the configured header counts");
}

#[test]
fn subsonic_password_auth_can_be_switched_off_for_api_keys_only() {
    let d = Daemon::start_with(Options {
        config: Some("[Auth]\nSubsonicPasswords = false\n".into()),
        ..Default::default()
    });
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&p={ADMIN_PASSWORD}"))), 42);
    let t = token(ADMIN_PASSWORD, "abcdef");
    assert_eq!(code(&get(&d, &format!("/rest/ping?{BASE}&u={ADMIN}&t={t}&s=abcdef"))), 41);
    let key = String::from_utf8(d.fx.cli(&["apikey", "add", ADMIN, "only"], "").stdout).unwrap().trim().to_string();
    ok(&get(&d, &format!("/rest/ping?{BASE}&apiKey={key}")));
}

#[test]
fn secrets_never_reach_the_log() {
    let d =
        Daemon::start_with(Options { extra_args: vec!["--log-level".into(), "trace".into()], ..Default::default() });
    let key = String::from_utf8(d.fx.cli(&["apikey", "add", ADMIN, "k"], "").stdout).unwrap().trim().to_string();
    let t = token(ADMIN_PASSWORD, "saltsalt");
    for q in [
        format!("u={ADMIN}&p={ADMIN_PASSWORD}"),
        format!("u={ADMIN}&p=wrong-secret-value"),
        format!("u={ADMIN}&t={t}&s=saltsalt"),
        format!("apiKey={key}"),
    ] {
        get(&d, &format!("/rest/ping?{BASE}&{q}"));
    }
    let r = http(
        d.port,
        "POST",
        "/auth/login",
        &[("Content-Type", "application/json")],
        format!(r#"{{"username":"{ADMIN}","password":"{ADMIN_PASSWORD}"}}"#).as_bytes(),
    )
    .unwrap();
    let cookie = r.header("set-cookie").unwrap().to_string();
    let session = cookie.split(';').next().unwrap().split('=').nth(1).unwrap().to_string();
    std::thread::sleep(Duration::from_millis(300));
    let log = d.log();
    let keyfile = std::fs::read_to_string(d.fx.data.join("redoubt.key")).unwrap();
    for secret in [ADMIN_PASSWORD, "wrong-secret-value", &t, &key, &session, keyfile.trim()] {
        assert!(!log.contains(secret), "the log holds a secret ({secret}):\n{log}");
    }
}

#[test]
fn web_login_sets_a_strict_http_only_cookie_with_csrf_for_logout() {
    let d = Daemon::start_with(Options {
        config: Some("[ExtAuth]\nTrustedSources = \"127.0.0.1\"\n".into()),
        ..Default::default()
    });
    let login = |headers: &[(&str, &str)], pw: &str| {
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        http(d.port, "POST", "/auth/login", &h, format!(r#"{{"username":"{ADMIN}","password":"{pw}"}}"#).as_bytes())
            .unwrap()
    };
    let r = login(&[], ADMIN_PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = r.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.starts_with("redoubt_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let csrf = body["csrfToken"].as_str().unwrap().to_string();
    assert_eq!(body["isAdmin"], true);
    let session = cookie.split(';').next().unwrap().to_string();
    let me = http(d.port, "GET", "/auth/me", &[("Cookie", &session)], b"").unwrap();
    assert_eq!(me.status, 200);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&me.body).unwrap()["username"], ADMIN);
    // Logout needs the CSRF token.
    assert_eq!(http(d.port, "POST", "/auth/logout", &[("Cookie", &session)], b"").unwrap().status, 403);
    assert_eq!(
        http(d.port, "POST", "/auth/logout", &[("Cookie", &session), ("X-CSRF-Token", "forged")], b"").unwrap().status,
        403
    );
    assert_eq!(
        http(d.port, "POST", "/auth/logout", &[("Cookie", &session), ("X-CSRF-Token", &csrf)], b"").unwrap().status,
        200
    );
    assert_eq!(http(d.port, "GET", "/auth/me", &[("Cookie", &session)], b"").unwrap().status, 401);
    // Behind a trusted proxy that says HTTPS, the cookie is Secure.
    let r = login(&[("X-Forwarded-Proto", "https")], ADMIN_PASSWORD);
    assert!(r.header("set-cookie").unwrap().contains("Secure"));
    // Wrong passwords: 401, then 429 with Retry-After once limited.
    for _ in 0..5 {
        assert_eq!(login(&[], "wrong").status, 401);
    }
    let r = login(&[], ADMIN_PASSWORD);
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
}

#[test]
fn web_sessions_expire_after_the_timeout() {
    let d = Daemon::start_with(Options { config: Some("SessionTimeout = \"1s\"\n".into()), ..Default::default() });
    let r = http(
        d.port,
        "POST",
        "/auth/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("username={ADMIN}&password={ADMIN_PASSWORD}").as_bytes(),
    )
    .unwrap();
    let session = r.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    assert_eq!(http(d.port, "GET", "/auth/me", &[("Cookie", &session)], b"").unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(http(d.port, "GET", "/auth/me", &[("Cookie", &session)], b"").unwrap().status, 401);
}

fn setup_code(d: &Daemon) -> String {
    let line = d.wait_log("one-time setup code: ", Duration::from_secs(10));
    line.rsplit("one-time setup code: ").next().unwrap().trim().to_string()
}

#[test]
fn first_admin_needs_the_logged_setup_code_and_only_one_can_win() {
    let mut d = Daemon::spawn(Fixture::new(), Options::default());
    d.wait_ready();
    let code_ = setup_code(&d);
    let setup = |code: &str, user: &str| {
        http(
            d.port,
            "POST",
            "/auth/setup",
            &[("Content-Type", "application/json")],
            format!(r#"{{"code":"{code}","username":"{user}","password":"pw-{user}"}}"#).as_bytes(),
        )
        .unwrap()
    };
    assert_eq!(setup("0000-0000-0000-0000-0000", "mallory").status, 401, "whoever reaches the port first does not win");
    // Two at once with the right code: exactly one admin.
    let port = d.port;
    let handles: Vec<_> = ["kim", "lee"]
        .into_iter()
        .map(|u| {
            let c = code_.clone();
            std::thread::spawn(move || {
                http(
                    port,
                    "POST",
                    "/auth/setup",
                    &[("Content-Type", "application/json")],
                    format!(r#"{{"code":"{c}","username":"{u}","password":"pw-{u}"}}"#).as_bytes(),
                )
                .unwrap()
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    let users = String::from_utf8(d.fx.cli(&["user", "list"], "").stdout).unwrap();
    assert_eq!(users.lines().count(), 1, "{users}");
    assert!(users.contains("admin"));
    // The code is spent.
    assert_eq!(setup(&code_, "again").status, 401);
}

#[test]
fn the_cli_manages_users_with_passwords_from_stdin() {
    let fx = Fixture::new();
    fx.add_user("Nina", "nina-pass", false);
    let out = fx.cli(&["user", "add", "nina"], "x\n");
    assert!(!out.status.success(), "case-insensitive duplicate");
    assert!(fx.cli(&["user", "set-admin", "nina"], "").status.success());
    assert!(fx.cli(&["user", "passwd", "NINA"], "nina-new\n").status.success());
    let list = String::from_utf8(fx.cli(&["user", "list"], "").stdout).unwrap();
    assert_eq!(list.trim(), "Nina\tadmin");
    let d = Daemon::spawn(fx, Options::default());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = d.get(&format!("/rest/ping?{BASE}&u=nina&p=nina-new")) {
            ok(&json(&r));
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!d.fx.cli(&["user", "del", "nina"], "").status.success(), "the last admin stays");
    // Root is refused here too.
    if is_root() {
        let out = std::process::Command::new(&d.fx.bin).args(["user", "list"]).output().unwrap();
        assert!(!out.status.success());
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
