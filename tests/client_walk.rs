//! Real Subsonic clients walking a generated library the way an app does. py-opensonic
//! (PyPI; import name libopensonic), driven by tests/clients/walk.py with token auth over its
//! default form POST. It browses artists → albums → songs, album lists and random songs,
//! pages through search3, stars, rates and scrobbles, edits a playlist and saves the play
//! queue, checking the content at each step; the library raises on any status="failed"
//! answer, which makes the script exit non-zero. And the npm `subsonic-api` package
//! (tests/browser/subsonic-api-walk.mjs) over the OpenSubsonic methods, by GET and by POST.

mod common;

use std::process::Command;

use common::media;
use common::*;

/// Three album artists, two albums each (album 0 Rock, album 1 Jazz, years 2001..2006), three
/// songs per album; one title has a word no other title has. walk.py knows this layout.
fn library() -> Daemon {
    let fx = Fixture::new();
    media::small_library(&fx.music, ((2, 1, 2), "Midnight Lantern"));
    let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    d
}

#[test]
fn py_opensonic_walks_the_library_like_an_app() {
    if !python_module("libopensonic", "py-opensonic walk (pip install py-opensonic)") {
        return;
    }

    let d = library();
    let stdout = run_client_script(&d, "walk.py", &[]);
    assert!(stdout.contains("all 6 steps passed"), "{stdout}");
}

/// The npm `subsonic-api` client (tests/browser/subsonic-api-walk.mjs, installed with the
/// browser tests' packages by `npm ci`) over what issue 16 added: the extensions it
/// advertises, album fields, top songs by artist id, lyrics, a transcode decision, shares,
/// playlists, an avatar, and the refusals (search 410, sonic similarity not implemented); by
/// GET and by its form POST.
#[test]
fn npm_subsonic_api_walks_the_opensubsonic_methods() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/subsonic-api-walk.mjs");
    let installed = script.with_file_name("node_modules/subsonic-api/package.json").exists();
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !(installed && node) {
        let why = "subsonic-api walk: needs node and `npm ci` in tests/browser (`bash .ci/run` does both)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("SKIPPED {why}");
        return;
    }
    let d = library();
    let out = Command::new("node")
        .arg(&script)
        .args([&format!("http://127.0.0.1:{}", d.port), ADMIN, ADMIN_PASSWORD])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the client failed:\n{stdout}\n{stderr}\ndaemon:\n{}", d.log());
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    let steps = result["steps"].as_array().unwrap();
    let failed: Vec<_> = steps.iter().filter(|s| s["ok"] != true).collect();
    assert!(failed.is_empty(), "failed steps: {failed:#?}\n{stderr}");
    // Every step of both walks ran (10 by GET, 11 by POST with the transcode decision).
    assert_eq!(steps.len(), 21, "{result}");
}
