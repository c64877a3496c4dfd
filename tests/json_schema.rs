//! The JSON answers against the OpenSubsonic OpenAPI document (tests/validate_json.py), and
//! the XML of the same calls against the XSD where it has the element.

mod common;

use common::*;

/// GET /rest/<method> with `auth` and `query`, in `f` (None: XML, the default); asserts a 200
/// and returns the body.
fn call(d: &Daemon, method: &str, auth: &str, query: &str, f: Option<&str>) -> String {
    let mut path = format!("/rest/{method}?{auth}&v=1.16.1&c=test");
    if let Some(f) = f {
        path.push_str(&format!("&f={f}"));
    }
    if !query.is_empty() {
        path.push('&');
        path.push_str(query);
    }
    let r = d.get(&path).unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.text()
}

fn status(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    v["subsonic-response"]["status"].as_str().unwrap_or_default().to_string()
}

fn password() -> String {
    format!("u={ADMIN}&p={ADMIN_PASSWORD}")
}

/// A successful call: its JSON validates against the spec and, when `xml`, so does its XML
/// against the XSD.
fn check_ok(d: &Daemon, method: &str, auth: &str, query: &str, xml: bool) {
    let json = call(d, method, auth, query, Some("json"));
    assert_eq!(status(&json), "ok", "{method}: {json}");
    assert_valid_json(method, &json);
    if xml {
        let body = call(d, method, auth, query, None);
        assert!(body.contains(r#"status="ok""#), "{method}: {body}");
        assert_valid_xml(&body);
    }
}

#[test]
fn ping_validates() {
    let d = Daemon::start();
    check_ok(&d, "ping", &password(), "", true);
}

#[test]
fn get_license_validates() {
    let d = Daemon::start();
    check_ok(&d, "getLicense", &password(), "", true);
}

#[test]
fn get_open_subsonic_extensions_validates() {
    let d = Daemon::start();
    check_ok(&d, "getOpenSubsonicExtensions", &password(), "", true);
    // Public by the spec: the same without any credentials.
    let r = d.get("/rest/getOpenSubsonicExtensions?f=json").unwrap();
    assert_valid_json("getOpenSubsonicExtensions", &r.text());
}

#[test]
fn get_user_and_get_users_validate() {
    let d = Daemon::start();
    check_ok(&d, "getUser", &password(), &format!("username={ADMIN}"), true);
    check_ok(&d, "getUsers", &password(), "", true);
}

#[test]
fn token_info_with_an_api_key_validates() {
    let d = Daemon::start();
    let out = d.fx.cli(&["apikey", "add", ADMIN, "laptop"], "");
    assert!(out.status.success(), "apikey add: {}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // tokenInfo is OpenSubsonic only: the XSD has no element for it, so JSON alone.
    check_ok(&d, "tokenInfo", &format!("apiKey={key}"), "", false);
    let v: serde_json::Value =
        serde_json::from_str(&call(&d, "tokenInfo", &format!("apiKey={key}"), "", Some("json"))).unwrap();
    assert_eq!(v["subsonic-response"]["tokenInfo"]["username"], ADMIN);
}

#[test]
fn error_answers_validate() {
    let d = Daemon::start();
    // A wrong password (40), a missing parameter (10), an unknown API key (44).
    for (method, auth, query, code) in [
        ("ping", format!("u={ADMIN}&p=wrong"), "", 40),
        ("getUser", password(), "", 10),
        ("tokenInfo", "apiKey=no-such-key".to_string(), "", 44),
    ] {
        let json = call(&d, method, &auth, query, Some("json"));
        assert_eq!(status(&json), "failed", "{method}: {json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["subsonic-response"]["error"]["code"], code, "{method}: {json}");
        assert_valid_json(method, &json);
        let xml = call(&d, method, &auth, query, None);
        assert!(xml.contains(r#"status="failed""#), "{method}: {xml}");
        assert_valid_xml(&xml);
    }
}

/// The validator itself refuses what the spec forbids, so a pass above means something.
#[test]
fn the_validator_refuses_wrong_types() {
    let good = r#"{"subsonic-response":{"status":"ok","version":"1.16.1","type":"redoubt","serverVersion":"1","openSubsonic":true}}"#;
    assert_valid_json("ping", good);
    for bad in [
        good.replace(r#""openSubsonic":true"#, r#""openSubsonic":"yes""#),
        good.replace(r#""status":"ok""#, r#""status":"maybe""#),
        good.replace(r#","serverVersion":"1""#, ""),
        "{}".to_string(),
    ] {
        let r = std::panic::catch_unwind(|| assert_valid_json("ping", &bad));
        assert!(r.is_err(), "accepted: {bad}");
    }
    let r = std::panic::catch_unwind(|| assert_valid_json("getLicense", good));
    assert!(r.is_err(), "getLicense without a license accepted");
}
