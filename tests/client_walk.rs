//! A real Subsonic client walking a generated library the way an app does: py-opensonic
//! (PyPI; import name libopensonic), driven by tests/clients/walk.py with token auth over its
//! default form POST. It browses artists → albums → songs, album lists and random songs,
//! pages through search3, stars, rates and scrobbles, edits a playlist and saves the play
//! queue, checking the content at each step; the library raises on any status="failed"
//! answer, which makes the script exit non-zero.

mod common;

use std::process::Command;

use common::media::{self, Tags};
use common::*;

/// Three album artists, two albums each (album 0 Rock, album 1 Jazz, years 2001..2006), three
/// songs per album; one title has a word no other title has. walk.py knows this layout.
fn library() -> Daemon {
    let fx = Fixture::new();
    let artists = ["The Alphas", "Bravo Band", "Charlie"];
    let mut year = 2001;
    for (a, artist) in artists.iter().enumerate() {
        for album in 0..2 {
            let name = format!("Album {a}{album}");
            let dir = fx.music.join(artist).join(&name);
            std::fs::create_dir_all(&dir).unwrap();
            for t in 1..=3u32 {
                let title = if a == 2 && album == 1 && t == 2 {
                    "Midnight Lantern".to_string()
                } else {
                    format!("Song {a}{album}{t}")
                };
                media::write_track(
                    &dir.join(format!("{t:02}.mp3")),
                    "mp3",
                    &Tags {
                        title: Some(title),
                        artist: Some(artist.to_string()),
                        album: Some(name.clone()),
                        track: Some(t),
                        disc: Some(1),
                        year: Some(year),
                        genres: vec![if album == 0 { "Rock".into() } else { "Jazz".into() }],
                        ..Tags::default()
                    },
                );
            }
            year += 1;
        }
    }
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/walk.py");
    let port = d.port.to_string();
    let out = Command::new("python3")
        .args([script, "--port", &port, "--user", ADMIN, "--password", ADMIN_PASSWORD])
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "py-opensonic walk failed ({}):\n{stdout}\n{stderr}\ndaemon:\n{}",
        out.status,
        d.log()
    );
    assert!(stdout.contains("all 6 steps passed"), "{stdout}\n{stderr}");
}
