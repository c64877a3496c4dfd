//! A real Subsonic client walking a generated library the way an app does: py-opensonic
//! (PyPI; import name libopensonic), driven by tests/clients/walk.py with token auth over its
//! default form POST. It browses artists → albums → songs, album lists and random songs,
//! pages through search3, stars, rates and scrobbles, edits a playlist and saves the play
//! queue, checking the content at each step; the library raises on any status="failed"
//! answer, which makes the script exit non-zero.

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
