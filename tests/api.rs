//! The Subsonic envelope and the listener, against the running daemon.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;

fn json(r: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

#[test]
fn ping_answers_xml_that_validates_against_the_xsd() {
    let d = Daemon::start();
    let r = d.get(&format!("/rest/ping?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test")).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    let xml = r.text();
    assert!(xml.contains(r#"xmlns="http://subsonic.org/restapi""#), "{xml}");
    assert!(xml.contains(r#"status="ok""#) && xml.contains(r#"version="1.16.1""#), "{xml}");
    assert!(xml.contains(r#"type="redoubt""#) && xml.contains(r#"openSubsonic="true""#), "{xml}");
    assert!(xml.contains(&format!(r#"serverVersion="{}""#, env!("CARGO_PKG_VERSION"))), "{xml}");
    assert_valid_xml(&xml);
}

#[test]
fn ping_answers_json_and_the_view_suffix() {
    let d = Daemon::start();
    for method in ["ping", "ping.view"] {
        let r = d.get(&format!("/rest/{method}?f=json&u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test")).unwrap();
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = json(&r);
        let s = &v["subsonic-response"];
        assert_eq!(s["status"], "ok");
        assert_eq!(s["version"], "1.16.1");
        assert_eq!(s["type"], "redoubt");
        assert_eq!(s["openSubsonic"], true);
    }
}

#[test]
fn jsonp_wraps_the_answer_and_refuses_a_bad_callback() {
    let d = Daemon::start();
    let r = d.get(&format!("/rest/ping?f=jsonp&callback=cb_1&u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test")).unwrap();
    assert_eq!(r.header("content-type"), Some("text/javascript; charset=utf-8"));
    let t = r.text();
    assert!(t.starts_with("cb_1(") && t.ends_with(");"), "{t}");
    let inner: serde_json::Value = serde_json::from_str(&t[5..t.len() - 2]).unwrap();
    assert_eq!(inner["subsonic-response"]["status"], "ok");

    let r = d.get("/rest/ping?f=jsonp&callback=alert(1)").unwrap();
    assert!(!r.text().contains("alert(1)("), "never echoes an unvalidated callback");
    assert_eq!(json(&r)["subsonic-response"]["status"], "failed");
    let r = d.get("/rest/ping?f=jsonp").unwrap();
    assert_eq!(json(&r)["subsonic-response"]["error"]["code"], 10);
}

#[test]
fn form_post_is_accepted_and_its_size_capped() {
    let d = Daemon::start();
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let body = format!("f=json&c=test&v=1.8.0&u={ADMIN}&p={ADMIN_PASSWORD}");
    let r = http(d.port, "POST", "/rest/ping", &ct, body.as_bytes()).unwrap();
    assert_eq!(json(&r)["subsonic-response"]["status"], "ok");
    let big = vec![b'a'; 100 * 1024];
    let r = http(d.port, "POST", "/rest/ping", &ct, &big).unwrap();
    assert_eq!(r.status, 413);
}

#[test]
fn errors_are_subsonic_errors_that_validate() {
    let d = Daemon::start();
    let r = d.get("/rest/noSuchMethod?u=admin&p=x&v=1.16.1&c=t").unwrap();
    assert_eq!(r.status, 200);
    let xml = r.text();
    assert!(xml.contains(r#"status="failed""#) && xml.contains(r#"code="70""#), "{xml}");
    assert_valid_xml(&xml);
    assert_eq!(d.get("/nothing-here").unwrap().status, 404);
}

#[test]
fn unix_socket_listener_with_its_permissions() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let sockdir = fx.dir.join("sock");
    std::fs::create_dir(&sockdir).unwrap();
    if is_root() {
        chown_tree(&sockdir, UNPRIVILEGED);
    }
    let sock = sockdir.join("redoubt.sock");
    let cfg = format!("Address = \"unix:{}\"\nUnixSocketPerm = \"0640\"\n", sock.display());
    let d = Daemon::spawn(fx, Options { config: Some(cfg), ..Default::default() });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(std::time::Instant::now() < deadline, "no socket:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o640);
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r =
        http_on(&mut s, "GET", &format!("/rest/ping?f=json&u={ADMIN}&p={ADMIN_PASSWORD}&v=1&c=t"), &[], b"").unwrap();
    assert_eq!(json(&r)["subsonic-response"]["status"], "ok");
    let _ = (s.flush(), s.read(&mut [0u8; 1]));
}

#[test]
fn base_url_prefixes_every_route() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options { config: Some("BaseUrl = \"/music\"\n".into()), ..Default::default() });
    d.wait_ready_at("/music/rest/ping");
    assert_eq!(d.get("/rest/ping").unwrap().status, 404);
    let r = d.get(&format!("/music/rest/ping?f=json&u={ADMIN}&p={ADMIN_PASSWORD}&v=1&c=t")).unwrap();
    assert_eq!(json(&r)["subsonic-response"]["status"], "ok");
}

#[test]
fn environment_names_and_the_navidrome_alias_configure_the_port() {
    for var in ["REDOUBT_PORT", "ND_PORT"] {
        let d = Daemon::start_with(Options { port_env: Some(var), ..Default::default() });
        assert_eq!(d.get("/rest/ping").unwrap().status, 200, "{var}");
    }
}

#[test]
fn config_mistakes_are_reported_by_name() {
    let d = Daemon::start_with(Options {
        config: Some("MusicFoldr = \"/x\"\nLastFM.Enabled = true\n".into()),
        ..Default::default()
    });
    d.wait_log("unknown option MusicFoldr (did you mean MusicFolder?)", Duration::from_secs(5));
    d.wait_log("LastFM.Enabled is understood but not supported", Duration::from_secs(5));
}

#[test]
fn an_unreadable_music_folder_stops_the_start_with_a_message() {
    let fx = Fixture::new();
    std::fs::remove_dir_all(&fx.music).unwrap();
    let mut d = Daemon::spawn(fx, Options::default());
    let st = d.wait_exit(Duration::from_secs(10));
    assert!(!st.success());
    assert!(d.log().contains("MusicFolder") && d.log().contains("is not readable"), "{}", d.log());
}

#[test]
fn systemd_socket_activation_is_used_when_offered() {
    if !std::path::Path::new("/usr/bin/systemd-socket-activate").exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("systemd-socket-activate missing (Debian package systemd)");
        }
        eprintln!("SKIPPED: no systemd-socket-activate");
        return;
    }
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let port = free_port();
    // systemd-socket-activate binds, then execs the command with LISTEN_FDS=1 and LISTEN_PID
    // set; setpriv execs in turn, so the pid still matches. --port names a port nobody uses:
    // the daemon must not bind it.
    let decoy = free_port();
    let mut cmd = std::process::Command::new("systemd-socket-activate");
    cmd.arg("-l").arg(format!("127.0.0.1:{port}"));
    if is_root() {
        cmd.args([
            "setpriv",
            &format!("--reuid={UNPRIVILEGED}"),
            &format!("--regid={UNPRIVILEGED}"),
            "--clear-groups",
            "--inh-caps=-all",
        ]);
    }
    cmd.arg(&fx.bin).args(fx.serve_args(decoy));
    let log = std::fs::File::create(fx.dir.join("daemon.log")).unwrap();
    let mut child = cmd.stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let answered = loop {
        if let Ok(r) = http(port, "GET", &format!("/rest/ping?f=json&u={ADMIN}&p={ADMIN_PASSWORD}&v=1&c=t"), &[], b"") {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(fx.dir.join("daemon.log")).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(json(&answered)["subsonic-response"]["status"], "ok");
    assert!(std::net::TcpStream::connect(("127.0.0.1", decoy)).is_err(), "bound its own port too");
    let log = std::fs::read_to_string(fx.dir.join("daemon.log")).unwrap();
    assert!(log.contains("the socket systemd passed"), "{log}");
    let _ = child.kill();
    let _ = child.wait();
}
