//! Navidrome's config as it is written: `redoubt config check`, and a full-URL BaseUrl served
//! below its path.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

const NAVIDROME_TOML: &str = r#"
MusicFolder = "/srv/music"
LogLevel = "fatal"
BaseUrl = "https://music.example.org/music"
ReverseProxyWhitelist = "10.0.0.0/8"
ReverseProxyUserHeader = "X-Authenticated-User"
PasswordEncryptionKey = "a secret nobody may print"
EnableDownloads = "F"
[Scanner]
Schedule = "@every 2h"
"#;

fn check(fx: &Fixture, toml: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let path = fx.dir.join("navidrome.toml");
    std::fs::write(&path, toml).unwrap();
    let p = path.display().to_string();
    let mut cmd = fx.command(&["config", "check", "--config", &p, "--port", "4600"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_prints_values_with_their_origin_and_never_a_secret() {
    let fx = Fixture::new();
    let (ok, out, err) = check(&fx, NAVIDROME_TOML, &[("ND_SCANER_WATCHERWAIT", "10s"), ("ND_SESSIONTIMEOUT", "24h")]);
    assert!(ok, "{out}\n{err}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in\n{out}"))
            .to_string()
    };
    assert!(line("Port").contains("\"4600\"") && line("Port").ends_with("# flag --port"), "{}", line("Port"));
    assert!(line("SessionTimeout").ends_with("# env ND_SESSIONTIMEOUT"), "{}", line("SessionTimeout"));
    assert!(line("Scanner.WatcherWait").ends_with("# default"), "{}", line("Scanner.WatcherWait"));
    assert!(line("MusicFolder").contains("# file "), "{}", line("MusicFolder"));
    assert!(line("ExtAuth.TrustedSources").contains("10.0.0.0/8"), "{}", line("ExtAuth.TrustedSources"));
    assert!(line("ExtAuth.TrustedSources").ends_with("(as ReverseProxyWhitelist)"));
    assert!(line("ExtAuth.UserHeader").contains("X-Authenticated-User"));
    assert!(line("PasswordEncryptionKey").contains("(set, not shown)"));
    assert!(!out.contains("nobody may print") && !err.contains("nobody may print"), "a secret was printed");
    assert!(out.contains("the public URL is https://music.example.org/music"), "{out}");
    assert!(err.contains("ReverseProxyWhitelist is Navidrome's old name for ExtAuth.TrustedSources"), "{err}");
    assert!(err.contains("LogLevel = \"fatal\""), "{err}");
    assert!(
        err.contains("ND_SCANER_WATCHERWAIT is not a redoubt option (did you mean ND_SCANNER_WATCHERWAIT"),
        "{err}"
    );

    // An error: exit status 2 and a sentence that says what to write.
    let bad = NAVIDROME_TOML.replace("@every 2h", "@every 30s");
    let (ok, _, err) = check(&fx, &bad, &[]);
    assert!(!ok);
    assert!(err.contains("option Scanner.Schedule") && err.contains("write \"@every 1m\" or longer"), "{err}");
}

/// `BaseUrl = "https://host/music"` serves below /music (it used to become a prefix that
/// matched no request).
#[test]
fn a_full_url_base_url_serves_below_its_path() {
    let opts = Options { config: Some("BaseUrl = 'https://music.example.org/music/'\n".into()), ..Default::default() };
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, opts);
    d.wait_ready_at("/music/rest/ping");
    let r = d.get(&format!("/music/rest/ping?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&f=json")).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"status\":\"ok\""), "{}", r.text());
    d.wait_log("ready: all four roles", Duration::from_secs(10));
}
