//! The library scanner against the running daemon, on fixtures made here with ffmpeg and
//! lofty (tests/common/media.rs). The library is checked in the database the broker writes.
#![allow(clippy::type_complexity)]

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::library;
use common::media::{self, Tags};
use common::*;

fn chown_music(fx: &Fixture) {
    // The music folder stays root's, readable by all (the daemon needs no more).
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
}

fn start(fx: Fixture, config: &str) -> Daemon {
    start_with(fx, config, None)
}

fn start_with(fx: Fixture, config: &str, music: Option<String>) -> Daemon {
    chown_music(&fx);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options { config: Some(config.into()), music, ..Default::default() });
    d.wait_ready();
    d
}

fn dir(fx: &Fixture, rel: &str) -> PathBuf {
    let p = fx.music.join(rel);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn full_tags(title: &str) -> Tags {
    Tags {
        title: Some(title.into()),
        artist: Some("The Artist".into()),
        album: Some("The Album".into()),
        album_artist: Some("The Album Artist".into()),
        track: Some(3),
        track_total: Some(12),
        disc: Some(1),
        disc_total: Some(2),
        disc_subtitle: Some("Side A".into()),
        year: Some(2004),
        date: Some("2004-05-06".into()),
        original_date: Some("1999-01-02".into()),
        release_date: Some("2004-05-07".into()),
        genres: vec!["Rock".into(), "Jazz".into()],
        compilation: Some(false),
        comment: Some("<b>not html</b> & more".into()),
        lyrics: Some("la la la".into()),
        bpm: Some(120),
        sort_artist: Some("Artist, The".into()),
        sort_album: Some("Album, The".into()),
        sort_album_artist: Some("Album Artist, The".into()),
        mbz_recording_id: Some("8f3471b5-7e6a-48da-86a9-c1c07a0f47ae".into()),
        mbz_track_id: Some("dd4a4b1e-4ef0-4d5f-8a4a-1d8f5d7c6e01".into()),
        mbz_album_id: Some(format!("a1a1a1a1-0000-4000-8000-{:012}", title.len())),
        mbz_artist_id: Some("b1b1b1b1-0000-4000-8000-000000000002".into()),
        mbz_album_artist_id: Some("c1c1c1c1-0000-4000-8000-000000000003".into()),
        mbz_release_group_id: Some("d1d1d1d1-0000-4000-8000-000000000004".into()),
        replaygain_track_gain: Some("-6.50 dB".into()),
        replaygain_track_peak: Some("0.988547".into()),
        replaygain_album_gain: Some("-7.25 dB".into()),
        replaygain_album_peak: Some("0.999000".into()),
        picture: Some(media::jpeg(32, 32)),
        ..Tags::default()
    }
}

type Row = (
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    String,
    i64,
    i64,
    String,
);

fn track(conn: &rusqlite::Connection, file_name: &[u8]) -> Row {
    conn.query_row(
        "SELECT title, artist, album_artist, track, track_total, disc, disc_total, disc_subtitle, year, codec, duration_ms, \
         sample_rate, pictures FROM tracks WHERE file_name = ?1",
        [file_name],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?)),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(file_name)))
}

#[test]
fn every_format_ffmpeg_writes_is_read_with_its_tags() {
    let fx = Fixture::new();
    let d1 = dir(&fx, "Formats");
    let formats = ["mp3", "flac", "ogg", "oga", "opus", "m4a", "alac", "aac", "wav", "aiff", "wv", "m4b"];
    // ffmpeg writes these too, but lofty has no reader for them: indexed without tags.
    for f in ["wma", "mka"] {
        media::write_track(&d1.join(format!("{f}-track.{}", media::suffix(f))), f, &full_tags(&format!("Title {f}")));
    }
    for f in formats {
        media::write_track(&d1.join(format!("{f}-track.{}", media::suffix(f))), f, &full_tags(&format!("Title {f}")));
    }
    media::write_track_id3v23(&d1.join("v23.mp3"), &full_tags("Title v23"));
    media::write_track_id3v1(
        &d1.join("v1.mp3"),
        &Tags {
            title: Some("Title v1".into()),
            artist: Some("V1 Artist".into()),
            album: Some("V1 Album".into()),
            ..Tags::default()
        },
    );
    media::write_track_ape_mp3(
        &d1.join("ape.mp3"),
        &Tags { title: Some("Title ape".into()), artist: Some("Ape Artist".into()), ..Tags::default() },
    );
    let d = start(fx, "");
    d.wait_scans(1);
    let conn = db(&d);
    for f in formats {
        let name = format!("{f}-track.{}", media::suffix(f));
        let t = track(&conn, name.as_bytes());
        assert_eq!(t.0, format!("Title {f}"), "{f}");
        assert_eq!(t.1, "The Artist", "{f}");
        assert_eq!(t.2, "The Album Artist", "{f}");
        assert_eq!((t.3, t.5), (Some(3), Some(1)), "{f}: track and disc");
        assert_eq!(t.8, Some(2004), "{f}: year");
        assert!(t.10 >= 900 && t.10 <= 1300, "{f}: duration {} ms", t.10);
        assert!(t.11 > 0, "{f}: sample rate");
        let genres: Vec<String> = conn
            .prepare("SELECT g.name FROM track_genres tg JOIN genres g ON g.id = tg.genre_id JOIN tracks t ON t.id = tg.track_id WHERE t.file_name = ?1 ORDER BY tg.position")
            .unwrap()
            .query_map([name.as_bytes()], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(genres, ["Rock", "Jazz"], "{f}");
    }
    // The formats with complete tag support: every field.
    for f in ["mp3", "flac", "ogg", "m4a"] {
        let name = format!("{f}-track.{}", media::suffix(f));
        let t = track(&conn, name.as_bytes());
        assert_eq!((t.4, t.6), (Some(12), Some(2)), "{f}: totals");
        assert_eq!(t.7.as_deref(), Some("Side A"), "{f}: disc subtitle");
        assert!(t.12.contains("image/jpeg"), "{f}: embedded picture: {:?}", t.12);
        let row: (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<i64>, Option<String>, Option<String>, Option<f64>, Option<f64>, Option<String>) = conn
            .query_row(
                "SELECT comment, lyrics, mbz_recording_id, mbz_album_id, mbz_release_group_id, bpm, sort_artist, original_date, \
                 rg_track_gain, rg_album_peak, date FROM tracks WHERE file_name = ?1",
                [name.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?)),
            )
            .unwrap();
        assert_eq!(row.0.as_deref(), Some("<b>not html</b> & more"), "{f}: comment stored as given");
        assert_eq!(row.1.as_deref(), Some("la la la"), "{f}: lyrics");
        assert_eq!(row.2.as_deref(), Some("8f3471b5-7e6a-48da-86a9-c1c07a0f47ae"), "{f}: recording id");
        assert!(row.3.is_some() && row.4.is_some(), "{f}: release ids");
        assert_eq!(row.5, Some(120), "{f}: bpm");
        assert_eq!(row.6.as_deref(), Some("Artist, The"), "{f}: sort artist");
        assert!(row.7.as_deref().is_some_and(|d| d.starts_with("1999")), "{f}: original date {:?}", row.7);
        assert!((row.8.unwrap() + 6.5).abs() < 0.01, "{f}: track gain {:?}", row.8);
        assert!((row.9.unwrap() - 0.999).abs() < 0.001, "{f}: album peak");
        assert!(row.10.as_deref().is_some_and(|d| d.starts_with("2004")), "{f}: date");
    }
    for f in ["wma", "mka"] {
        let name = format!("{f}-track.{}", media::suffix(f));
        let t = track(&conn, name.as_bytes());
        assert_eq!(
            (t.0.as_str(), t.9.as_str()),
            (format!("{f}-track").as_str(), f.to_uppercase().as_str()),
            "{f}: indexed by name"
        );
    }
    let problems = String::from_utf8(d.fx.cli(&["scan", "--problems"], "").stdout).unwrap();
    assert!(
        problems.contains("tags of .wma files are not read") && problems.contains("tags of .mka files are not read"),
        "{problems}"
    );
    assert_eq!(track(&conn, b"v23.mp3").0, "Title v23");
    assert_eq!(track(&conn, b"v1.mp3").1, "V1 Artist");
    assert_eq!(track(&conn, b"ape.mp3").0, "Title ape");
}

#[test]
fn multi_valued_artists_win_single_values_split_compilations_and_discs() {
    let fx = Fixture::new();
    let a = dir(&fx, "Multi");
    media::write_track(
        &a.join("1.flac"),
        "flac",
        &Tags {
            title: Some("Multi".into()),
            artists: vec!["Alpha".into(), "Beta".into()],
            artist: Some("Alpha feat. Beta".into()),
            album: Some("M".into()),
            ..Tags::default()
        },
    );
    media::write_track(
        &a.join("2.mp3"),
        "mp3",
        &Tags {
            title: Some("Split".into()),
            artist: Some("Gamma feat. Delta".into()),
            album: Some("M".into()),
            genres: vec!["Rock; Pop/Jazz".into()],
            ..Tags::default()
        },
    );
    media::write_track(
        &a.join("3.mp3"),
        "mp3",
        &Tags { title: Some("AC".into()), artist: Some("AC/DC".into()), album: Some("M".into()), ..Tags::default() },
    );
    let c = dir(&fx, "Comp");
    for (i, artist) in ["One", "Two"].iter().enumerate() {
        media::write_track(
            &c.join(format!("{i}.mp3")),
            "mp3",
            &Tags {
                title: Some(format!("C{i}")),
                artist: Some(artist.to_string()),
                album: Some("Hits".into()),
                compilation: Some(true),
                ..Tags::default()
            },
        );
    }
    let m = dir(&fx, "Double");
    for disc in 1..=2 {
        for t in 1..=2 {
            media::write_track(
                &m.join(format!("{disc}-{t}.mp3")),
                "mp3",
                &Tags {
                    title: Some(format!("D{disc}T{t}")),
                    artist: Some("Band".into()),
                    album: Some("Double".into()),
                    disc: Some(disc),
                    disc_total: Some(2),
                    track: Some(t),
                    ..Tags::default()
                },
            );
        }
    }
    let d = start(fx, "");
    d.wait_scans(1);
    let conn = db(&d);
    let artists = |title: &str| -> Vec<String> {
        conn.prepare("SELECT a.name FROM track_artists ta JOIN artists a ON a.id = ta.artist_id JOIN tracks t ON t.id = ta.track_id WHERE t.title = ?1 AND ta.role = 'artist' ORDER BY ta.position")
            .unwrap()
            .query_map([title], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(artists("Multi"), ["Alpha", "Beta"]);
    assert_eq!(artists("Split"), ["Gamma", "Delta"]);
    assert_eq!(artists("AC"), ["AC/DC"]);
    let genres: i64 = conn
        .query_row(
            "SELECT count(*) FROM track_genres tg JOIN tracks t ON t.id = tg.track_id WHERE t.title = 'Split'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(genres, 3);
    let (comp_albums, comp_artist): (i64, String) = conn
        .query_row(
            "SELECT count(DISTINCT album_id), max(album_artist) FROM tracks WHERE title IN ('C0', 'C1')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((comp_albums, comp_artist.as_str()), (1, "Various Artists"));
    let (albums, songs): (i64, i64) = conn
        .query_row("SELECT count(DISTINCT album_id), (SELECT song_count FROM albums WHERE name = 'Double') FROM tracks WHERE album_artist = 'Band'", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((albums, songs), (1, 4), "a two-disc album is one album");
}

#[test]
fn odd_file_names_art_lyrics_playlists_symlinks_and_hidden_folders() {
    let fx = Fixture::new();
    let a = dir(&fx, "Ärtist/Albüm \"quoted\"");
    let plain = Tags { artist: Some("A".into()), album: Some("Odd".into()), ..Tags::default() };
    let names: Vec<Vec<u8>> = vec![
        b"01 - spaces and 'quotes'.mp3".to_vec(),
        "02 - \u{65e5}\u{672c}.mp3".as_bytes().to_vec(),
        b"03 - new\nline.mp3".to_vec(),
        b"04 - bad \xff byte.mp3".to_vec(),
    ];
    for n in &names {
        media::write_track(&a.join(std::ffi::OsStr::from_bytes(n)), "mp3", &plain);
    }
    std::fs::write(a.join("cover.jpg"), media::jpeg(64, 64)).unwrap();
    std::fs::write(a.join("01 - spaces and 'quotes'.lrc"), "[00:00.50]first line\n[00:01.00]second\n").unwrap();
    let lists = dir(&fx, "Lists");
    std::fs::write(
        lists.join("mix.m3u8"),
        "#EXTM3U\n#PLAYLIST:My Mix\n../Ärtist/Albüm \"quoted\"/02 - 日本.mp3\n../../../etc/passwd\n",
    )
    .unwrap();
    // Hidden and ignored folders, and a symlink out of the library.
    media::write_track(&dir(&fx, ".hidden").join("x.mp3"), "mp3", &plain);
    let ignored = dir(&fx, "Ignored");
    std::fs::write(ignored.join(".ndignore"), "").unwrap();
    media::write_track(&ignored.join("y.mp3"), "mp3", &plain);
    let outside = fx.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    media::write_track(&outside.join("escaped.mp3"), "mp3", &plain);
    std::os::unix::fs::symlink(&outside, fx.music.join("link-out")).unwrap();
    std::os::unix::fs::symlink(fx.music.join("Lists"), fx.music.join("link-in")).unwrap();
    let d = start(fx, "");
    d.wait_scans(1);
    let conn = db(&d);
    for n in &names {
        let title: String = conn
            .query_row("SELECT title FROM tracks WHERE file_name = ?1", [n], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(n)));
        assert!(!title.is_empty());
    }
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM tracks"), 4, "hidden, ignored and escaped files are not indexed");
    assert_eq!(count("SELECT count(*) FROM folder_images WHERE name = CAST('cover.jpg' AS BLOB)"), 1);
    let lrc: String =
        conn.query_row(
            "SELECT l.text FROM track_lyrics l JOIN tracks t ON t.id = l.track_id WHERE t.file_name = ?1 AND l.source = 'lrc'",
            [&names[0]],
            |r| r.get(0),
        )
        .unwrap();
    assert!(lrc.contains("[00:00.50]first line"));
    let (name, entries): (String, i64) = conn
        .query_row(
            "SELECT p.name, (SELECT count(*) FROM playlist_tracks pt WHERE pt.playlist_id = p.id) FROM playlists p",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((name.as_str(), entries), ("My Mix", 1), "the entry outside the library is dropped");
}

#[test]
fn bad_files_are_reported_and_never_stop_the_scan() {
    let fx = Fixture::new();
    let a = dir(&fx, "Bad");
    media::write_track(&a.join("good.mp3"), "mp3", &Tags { title: Some("Good".into()), ..Tags::default() });
    media::write_track(&a.join("trunc.flac"), "flac", &Tags::default());
    media::truncated(&a.join("trunc.flac"), "flac");
    media::zero_length(&a.join("empty.mp3"));
    media::random_bytes(&a.join("noise.ogg"), 10_000, 7);
    media::write_track(&a.join("header.m4a"), "m4a", &Tags::default());
    media::header_corrupted(&a.join("header.m4a"), "m4a");
    media::mislabelled(&a.join("flac-in-disguise.mp3"));
    let d = start(fx, "");
    d.wait_scans(1);
    let conn = db(&d);
    let titles: Vec<String> = conn
        .prepare("SELECT title FROM tracks")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(titles.contains(&"Good".to_string()), "{titles:?}");
    let problems = String::from_utf8(d.fx.cli(&["scan", "--problems"], "").stdout).unwrap();
    for bad in ["empty.mp3", "noise.ogg", "header.m4a", "flac-in-disguise.mp3"] {
        assert!(problems.contains(bad), "{bad} not reported:\n{problems}");
    }
    assert!(problems.contains("the content is FLAC but the name says .mp3"), "{problems}");
    assert_eq!(d.get("/rest/ping").unwrap().status, 200, "the daemon is up");
    assert_eq!(d.roles().len(), 4);
}

fn many_tracks(fx: &Fixture, albums: usize, per_album: usize) {
    let template = std::fs::read(media::template("mp3")).unwrap();
    for a in 0..albums {
        let p = dir(fx, &format!("Artist {}/Album {a}", a % 7));
        for t in 0..per_album {
            let bytes = media::tagged_bytes(
                "mp3",
                &template,
                &Tags {
                    title: Some(format!("T{a}-{t}")),
                    artist: Some(format!("Artist {}", a % 7)),
                    album: Some(format!("Album {a}")),
                    track: Some(t as u32 + 1),
                    ..Tags::default()
                },
                Default::default(),
            );
            std::fs::write(p.join(format!("{t:02}.mp3")), bytes).unwrap();
        }
    }
}

#[test]
fn a_scanner_killed_mid_scan_is_restarted_and_indexes_every_file_once() {
    let fx = Fixture::new();
    many_tracks(&fx, 150, 12);
    let d = start(fx, "");
    // Kill it as soon as it has stored something, before it is done.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored: i64 = db(&d).query_row("SELECT count(*) FROM tracks", [], |r| r.get(0)).unwrap_or(0);
        if stored > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    let scanner = d.role_pid("scanner");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(scanner), nix::sys::signal::Signal::SIGKILL).unwrap();
    let line = d.wait_scans(1);
    assert!(line.contains("1800 tracks"), "{line}\n{}", d.log());
    assert!(d.log().contains("the scanner killed by SIGKILL"), "{}", d.log());
    let conn = db(&d);
    let (n, distinct): (i64, i64) = conn
        .query_row("SELECT count(*), count(DISTINCT id) FROM tracks WHERE missing = 0", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, distinct), (1800, 1800));
}

#[test]
fn a_file_that_crashes_the_scanner_twice_is_recorded_and_skipped() {
    let fx = Fixture::new();
    let a = dir(&fx, "Evil");
    media::write_track(&a.join("fine.mp3"), "mp3", &Tags { title: Some("Fine".into()), ..Tags::default() });
    media::write_track(&a.join("redoubt-test-crash.mp3"), "mp3", &Tags::default());
    let b = dir(&fx, "Slow");
    media::write_track(&b.join("redoubt-test-hang.mp3"), "mp3", &Tags::default());
    media::write_track(&b.join("ok.mp3"), "mp3", &Tags { title: Some("Ok".into()), ..Tags::default() });
    let d = start(fx, "[Scanner]\nFileTimeout = \"2s\"\n");
    let line = d.wait_scans(1);
    assert!(line.contains("2 tracks"), "{line}\n{}", d.log());
    let log = d.log();
    assert!(
        log.contains("the scanner died reading \"Evil/redoubt-test-crash.mp3\" again (2 times): skipping it"),
        "{log}"
    );
    assert!(log.contains("took longer than 2 s"), "{log}");
    let problems = String::from_utf8(d.fx.cli(&["scan", "--problems"], "").stdout).unwrap();
    assert!(
        problems.contains("Evil/redoubt-test-crash.mp3") && problems.contains("crashed the scanner 2×, skipped"),
        "{problems}"
    );
    assert!(problems.contains("Slow/redoubt-test-hang.mp3"), "{problems}");
    assert_eq!(d.get("/rest/ping").unwrap().status, 200);
}

fn id_of(conn: &rusqlite::Connection, title: &str) -> (String, i64) {
    conn.query_row("SELECT id, missing FROM tracks WHERE title = ?1", [title], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
}

#[test]
fn incremental_rescans_add_modify_rename_move_and_delete() {
    let fx = Fixture::new();
    let a = dir(&fx, "A");
    let b = dir(&fx, "B");
    media::write_track(&a.join("keep.mp3"), "mp3", &Tags { title: Some("Keep".into()), ..Tags::default() });
    media::write_track(&a.join("change.mp3"), "mp3", &Tags { title: Some("Before".into()), ..Tags::default() });
    media::write_track(&a.join("rename.mp3"), "mp3", &Tags { title: Some("Renamed".into()), ..Tags::default() });
    media::write_track(
        &a.join("move.mp3"),
        "mp3",
        &Tags {
            title: Some("Moved".into()),
            mbz_track_id: Some("11111111-2222-4333-8444-555555555555".into()),
            ..Tags::default()
        },
    );
    media::write_track(&a.join("gone.mp3"), "mp3", &Tags { title: Some("Gone".into()), ..Tags::default() });
    let d = start(fx, "[Scanner]\nWatcherWait = \"0\"\n");
    d.wait_scans(1);
    let conn = db(&d);
    let before: Vec<(String, String)> =
        ["Keep", "Renamed", "Moved", "Before"].iter().map(|t| (t.to_string(), id_of(&conn, t).0)).collect();
    // Star and play the track that will move: both must follow it.
    let moved_id = before[2].1.clone();
    assert_eq!(d.rest("star", &format!("id={moved_id}"))["status"], "ok");
    assert_eq!(d.rest("scrobble", &format!("id={moved_id}&submission=true"))["status"], "ok");
    // Nothing changed: nothing is read.
    assert!(d.fx.cli(&["scan"], "").status.success());
    d.wait_scans(2);
    // The scanner logs its walk just after the broker logs the scan's end.
    d.wait_log("(0 files read)", Duration::from_secs(5));
    // Now change everything.
    std::thread::sleep(Duration::from_millis(1100));
    media::write_track(&a.join("change.mp3"), "mp3", &Tags { title: Some("After".into()), ..Tags::default() });
    std::fs::rename(a.join("rename.mp3"), a.join("renamed-now.mp3")).unwrap();
    std::fs::rename(a.join("move.mp3"), b.join("moved-here.mp3")).unwrap();
    std::fs::remove_file(a.join("gone.mp3")).unwrap();
    media::write_track(&b.join("new.mp3"), "mp3", &Tags { title: Some("New".into()), ..Tags::default() });
    chown_music(&d.fx);
    assert!(d.fx.cli(&["scan"], "").status.success());
    let line = d.wait_scans(3);
    assert!(line.contains("1 newly missing") || line.contains("moved"), "{line}");
    let conn = db(&d);
    assert_eq!(id_of(&conn, "Keep").0, before[0].1);
    assert_eq!(id_of(&conn, "Renamed"), (before[1].1.clone(), 0), "a rename keeps the id (same size, mtime, title)");
    assert_eq!(id_of(&conn, "Moved"), (before[2].1.clone(), 0), "a move keeps the id (MusicBrainz track id)");
    let starred = d.rest("getStarred2", "");
    assert_eq!(starred["starred2"]["song"][0]["id"], moved_id.as_str(), "the star followed the move: {starred}");
    assert_eq!(starred["starred2"]["song"][0]["playCount"], 1, "so did the play count");
    assert!(starred["starred2"]["song"][0]["path"].as_str().unwrap().starts_with("B/"), "{starred}");
    assert_eq!(id_of(&conn, "After").0, before[3].1, "a retag keeps the id (same path)");
    assert_eq!(id_of(&conn, "Gone").1, 1, "a deleted file is marked missing, not deleted");
    // ...and leaves the search index (search pages straight from it).
    let found = d.rest("search3", "query=gone");
    assert!(found["searchResult3"]["song"].as_array().is_none_or(|a| a.is_empty()), "{found}");
    let found = d.rest("search3", "query=renamed");
    assert_eq!(found["searchResult3"]["song"][0]["id"], before[1].1.as_str(), "{found}");
    assert_eq!(id_of(&conn, "New").1, 0);
    let live: i64 = conn.query_row("SELECT count(*) FROM tracks WHERE missing = 0", [], |r| r.get(0)).unwrap();
    assert_eq!(live, 5);
}

#[test]
fn the_watcher_indexes_a_new_album_once_changes_settle() {
    let fx = Fixture::new();
    media::write_track(&dir(&fx, "Old").join("a.mp3"), "mp3", &Tags { title: Some("Old".into()), ..Tags::default() });
    let d = start(fx, "[Scanner]\nWatcherWait = \"1s\"\n");
    d.wait_scans(1);
    let staging = d.fx.dir.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    for i in 0..3 {
        media::write_track(
            &staging.join(format!("{i}.mp3")),
            "mp3",
            &Tags { title: Some(format!("Fresh {i}")), album: Some("Fresh".into()), ..Tags::default() },
        );
    }
    // Copy the album in slowly: the debounce must wait for the end of the copy.
    let target = dir(&d.fx, "Fresh");
    chown_music(&d.fx);
    for i in 0..3 {
        std::fs::copy(staging.join(format!("{i}.mp3")), target.join(format!("{i}.mp3"))).unwrap();
        std::thread::sleep(Duration::from_millis(400));
    }
    chown_music(&d.fx);
    let line = d.wait_scans(2);
    assert!(d.log().contains("incremental scan requested (files changed)"), "{}", d.log());
    let conn = db(&d);
    let fresh: i64 =
        conn.query_row("SELECT count(*) FROM tracks WHERE title LIKE 'Fresh %'", [], |r| r.get(0)).unwrap();
    assert_eq!(fresh, 3, "{line}");
    assert_eq!(d.log().matches("(files changed)").count(), 1, "one scan for the whole copy");
}

#[test]
fn t5_during_a_running_scan_the_scanner_cannot_write_read_outside_or_connect() {
    let fx = Fixture::new();
    many_tracks(&fx, 5, 3);
    let music = fx.music.display().to_string();
    let probes = [
        format!("scanner@scan:open_write:{music}/Artist 0/planted.mp3"),
        "scanner@scan:open_read:/etc/passwd".to_string(),
        "scanner@scan:socket_inet".to_string(),
        format!("scanner@scan:open_read:{music}/Artist 0/Album 0/00.mp3"),
    ];
    chown_music(&fx);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(
        fx,
        Options { env: vec![("REDOUBT_TEST_PROBES".into(), probes.join(";"))], ..Default::default() },
    );
    d.wait_ready();
    let result = |p: &str| {
        let line = d.wait_log(&format!("redoubt-test-hook-probe scanner@scan {p} =>"), Duration::from_secs(20));
        line.rsplit("=> ").next().unwrap().to_string()
    };
    assert_eq!(result(&format!("open_write:{music}/Artist 0/planted.mp3")), "EACCES");
    assert_eq!(result("open_read:/etc/passwd"), "EACCES");
    assert_eq!(result("socket_inet"), "EPERM");
    assert_eq!(result(&format!("open_read:{music}/Artist 0/Album 0/00.mp3")), "ok");
    assert!(!Path::new(&format!("{music}/Artist 0/planted.mp3")).exists());
}

#[test]
fn scan_status_and_start_scan_over_the_api() {
    let fx = Fixture::new();
    media::write_track(&dir(&fx, "X").join("x.mp3"), "mp3", &Tags { title: Some("X".into()), ..Tags::default() });
    let d = start(fx, "[Scanner]\nScanOnStartup = false\n");
    let st = d.rest("getScanStatus", "");
    assert_eq!(st["scanStatus"]["scanning"], false);
    assert_eq!(st["scanStatus"]["count"], 0);
    d.fx.add_user("user", "user-pass", false);
    let r: serde_json::Value =
        serde_json::from_slice(&d.get("/rest/startScan?u=user&p=user-pass&v=1.16.1&c=t&f=json").unwrap().body).unwrap();
    assert_eq!(r["subsonic-response"]["error"]["code"], 50, "only admins start scans");
    let st = d.rest("startScan", "fullScan=true");
    assert_eq!(st["scanStatus"]["scanning"], true);
    d.wait_scans(1);
    let st = d.rest("getScanStatus", "");
    assert_eq!(st["scanStatus"]["count"], 1);
    assert!(st["scanStatus"]["lastScan"].as_str().is_some());
    assert!(d.log().contains("full scan requested (startScan by admin)"));
    assert_valid_xml(&d.get(&format!("/rest/getScanStatus?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=t")).unwrap().text());
}

#[test]
fn several_music_folders_are_scanned() {
    let fx = Fixture::new();
    let second = fx.dir.join("music2");
    std::fs::create_dir_all(&second).unwrap();
    media::write_track(
        &dir(&fx, "One").join("1.mp3"),
        "mp3",
        &Tags { title: Some("In one".into()), ..Tags::default() },
    );
    media::write_track(&second.join("2.mp3"), "mp3", &Tags { title: Some("In two".into()), ..Tags::default() });
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&second).status();
    let list = format!("{}:{}", fx.music.display(), second.display());
    let d = start_with(fx, "", Some(list));
    d.wait_scans(1);
    let n: i64 = db(&d)
        .query_row(
            "SELECT count(DISTINCT f.music_folder_id) FROM tracks t JOIN folders f ON f.id = t.folder_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn fuzzed_files_never_take_the_scan_or_the_daemon_down() {
    let fx = Fixture::new();
    let a = dir(&fx, "Fuzz");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (i, f) in ["mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff", "wv"].iter().cycle().take(48).enumerate() {
        let mut bytes = std::fs::read(media::template(f)).unwrap();
        // Flip a handful of bytes, mostly in the headers where parsers look.
        for _ in 0..(1 + next() % 16) {
            let span = if next() % 4 == 0 { bytes.len() } else { bytes.len().min(4096) };
            let at = (next() as usize) % span;
            bytes[at] = next() as u8;
        }
        if next() % 5 == 0 {
            bytes.truncate((next() as usize) % bytes.len());
        }
        std::fs::write(a.join(format!("fuzz{i:02}.{}", media::suffix(f))), bytes).unwrap();
    }
    media::write_track(&a.join("zz-good.mp3"), "mp3", &Tags { title: Some("Still here".into()), ..Tags::default() });
    let d = start(fx, "");
    let line = d.wait_scans(1);
    let conn = db(&d);
    let good: i64 = conn.query_row("SELECT count(*) FROM tracks WHERE title = 'Still here'", [], |r| r.get(0)).unwrap();
    assert_eq!(good, 1, "{line}");
    assert_eq!(d.get("/rest/ping").unwrap().status, 200);
    assert_eq!(d.roles().len(), 4, "{}", d.log());
}

/// A small tmpfs mounted over a folder (root only), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        let opts = format!("size={size},uid={UNPRIVILEGED},gid={UNPRIVILEGED},mode=0700");
        let st =
            std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &opts, "tmpfs"]).arg(at).status().unwrap();
        assert!(st.success(), "mount -t tmpfs at {}", at.display());
        Tmpfs(at.to_path_buf())
    }

    /// Takes every free byte (as root: tmpfs keeps nothing in reserve for root).
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let p = self.0.join("filler");
        let mut f = std::fs::File::create(&p).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(n) if n > 0 => continue,
                Ok(_) => break,
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", self.0.display()),
            }
        }
        let free = nix::sys::statvfs::statvfs(&self.0).unwrap();
        assert_eq!(free.blocks_available(), 0, "the tmpfs is full");
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn scan_status(d: &Daemon) -> serde_json::Value {
    let st = d.rest("getScanStatus", "");
    assert_eq!(st["status"], "ok", "{st}");
    st["scanStatus"].clone()
}

/// Issue 11, item 6: the data folder fills up during a scan.
#[test]
fn a_scan_on_a_full_disk_fails_plainly_keeps_the_library_and_the_database() {
    if !require_root("a disk-full scan (mounts a tmpfs as the data folder)") {
        return;
    }
    let fx = Fixture::new();
    let mnt = Tmpfs::mount(&fx.data, "6m");
    many_tracks(&fx, 3, 4);
    let d = start(fx, "[Scanner]\nWatcherWait = \"0\"\n");
    let line = d.wait_scans(1);
    assert!(line.contains("12 tracks"), "{line}");
    let before = scan_status(&d);
    assert_eq!((before["count"].as_i64(), before["scanning"].as_bool()), (Some(12), Some(false)), "{before}");
    assert!(before["error"].is_null(), "{before}");

    // More music arrives, and the disk is full.
    let template = std::fs::read(media::template("mp3")).unwrap();
    for a in 0..3 {
        let p = dir(&d.fx, &format!("New Artist/New Album {a}"));
        for t in 0..10 {
            let tags = Tags {
                title: Some(format!("New {a}-{t} {}", "long title words ".repeat(20))),
                artist: Some("New Artist".into()),
                album: Some(format!("New Album {a}")),
                comment: Some("a comment that takes room ".repeat(30)),
                ..Tags::default()
            };
            std::fs::write(
                p.join(format!("{t:02}.mp3")),
                media::tagged_bytes("mp3", &template, &tags, Default::default()),
            )
            .unwrap();
        }
    }
    chown_music(&d.fx);
    let filler = mnt.fill();
    assert!(d.fx.cli(&["scan"], "").status.success());
    let failed = d.wait_log("failed: ", Duration::from_secs(60));
    d.wait_log("stopped without changing the library", Duration::from_secs(60));
    let log = d.log();
    assert!(failed.contains("ERROR") && failed.contains("disk full"), "{failed}\n{log}");
    for debug in ["SqliteFailure", "Ok(Err", "Err(", "Some(", "ErrorCode"] {
        assert!(!log.contains(debug), "Rust debug text ({debug}) in the log:\n{log}");
    }
    assert_eq!(log.matches(" finished: ").count(), 1, "the failed scan did not finish:\n{log}");

    // getScanStatus: not scanning, the previous counts and time, and why.
    let after = scan_status(&d);
    assert_eq!(after["scanning"], false, "{after}");
    assert_eq!(after["count"], before["count"], "the previous count is kept: {after}");
    assert_eq!(after["folderCount"], before["folderCount"], "{after}");
    assert_eq!(after["lastScan"], before["lastScan"], "a failed scan is not the last scan: {after}");
    let error = after["error"].as_str().unwrap_or_default();
    assert!(error.contains("disk full") && !error.contains("Err("), "{after}");
    let xml = d.get(&format!("/rest/getScanStatus?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=t")).unwrap().text();
    assert_valid_xml(&xml);
    assert!(xml.contains("error=\"") && xml.contains("disk full"), "{xml}");

    // redoubt scan --problems lists it, from the disk that is still full.
    let problems = d.fx.cli(&["scan", "--problems"], "");
    let out = String::from_utf8_lossy(&problems.stdout);
    assert!(
        out.contains("failed") && out.contains("disk full"),
        "{out}\n{}",
        String::from_utf8_lossy(&problems.stderr)
    );

    // The daemon is up, every role too.
    assert_eq!(d.get("/rest/ping").unwrap().status, 200);
    assert_eq!(d.roles().len(), 4, "{}", d.log());

    // The database is intact and holds the library as the last complete scan left it.
    std::fs::remove_file(&filler).unwrap();
    let conn = db(&d);
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let live: i64 = conn.query_row("SELECT count(*) FROM tracks WHERE missing = 0", [], |r| r.get(0)).unwrap();
    assert_eq!(live, 12, "nothing was marked missing by the failed scan");
    drop(conn);

    // With room again, the next scan completes and the failure is gone.
    assert!(d.fx.cli(&["scan"], "").status.success());
    let line = d.wait_scans(2);
    assert!(line.contains("42 tracks"), "{line}\n{}", d.log());
    let st = scan_status(&d);
    assert!(st["error"].is_null() && st["count"] == 42, "{st}");
    let out = String::from_utf8_lossy(&d.fx.cli(&["scan", "--problems"], "").stdout).into_owned();
    assert!(!out.contains("disk full"), "{out}");
    drop(d);
}

/// Issue 11, item 6: a daemon started on a full disk says so in words.
#[test]
fn a_full_disk_at_start_says_disk_full() {
    if !require_root("a full data folder at start (mounts a tmpfs)") {
        return;
    }
    let fx = Fixture::new();
    let mnt = Tmpfs::mount(&fx.data, "2m");
    chown_music(&fx);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    mnt.fill();
    let mut d = Daemon::spawn(fx, Options::default());
    let st = d.wait_exit(Duration::from_secs(20));
    assert!(!st.success());
    let log = d.log();
    assert!(log.contains("disk full"), "{log}");
    assert!(!log.contains("disk I/O error") && !log.contains("(os error 28)"), "{log}");
    drop(d);
}

/// Issue 11, item 7: wma, mka, dsf, dff and tak files (no tag reader) are indexed without
/// tags, as Navidrome indexes them: a song named after the file, in its folder's
/// "[Unknown Album]", playable; `redoubt scan --problems` notes that their tags are not read.
#[test]
fn formats_without_a_tag_reader_are_indexed_by_name_and_noted() {
    let fx = Fixture::new();
    let d1 = dir(&fx, "Untaggable");
    for f in ["wma", "mka"] {
        media::write_track(&d1.join(format!("{f}-file.{f}")), f, &full_tags("not read"));
    }
    for f in ["dsf", "dff", "tak"] {
        media::unwritable_stub(&d1.join(format!("{f}-file.{f}")), f);
    }
    let d = start(fx, "");
    let line = d.wait_scans(1);
    assert!(line.contains("5 tracks"), "{line}");
    let problems = String::from_utf8(d.fx.cli(&["scan", "--problems"], "").stdout).unwrap();
    let found = d.rest("search3", "query=&songCount=50");
    let songs = found["searchResult3"]["song"].as_array().cloned().unwrap_or_default();
    for f in ["wma", "mka", "dsf", "dff", "tak"] {
        let s = songs.iter().find(|s| s["suffix"] == f).unwrap_or_else(|| panic!("no .{f} song: {found}"));
        assert_eq!(s["title"], format!("{f}-file"), "{s}");
        assert_eq!(s["album"], "[Unknown Album]", "{s}");
        let album = d.rest("getAlbum", &format!("id={}", s["albumId"].as_str().unwrap()));
        assert_eq!(album["album"]["songCount"], 5, "{album}");
        assert!(problems.contains(&format!("Untaggable/{f}-file.{f}\ttags of .{f} files are not read")), "{problems}");
        let r = d.get(&format!(
            "/rest/stream?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=t&format=raw&id={}",
            s["id"].as_str().unwrap()
        ));
        assert_eq!(r.unwrap().status, 200, "a .{f} file streams");
    }
}

/// The benchmark library (tests/common/library.rs, which examples/gen_library.rs writes at any
/// size) is indexed tag for tag in each of its five formats: every album's name, album artist,
/// year, genres, compilation flag, MusicBrainz id and cover, and every song's title, artist,
/// track, disc, year, genre and format. So a benchmark measures a scanner that read it all.
#[test]
fn the_generated_library_is_indexed_tag_for_tag() {
    let fx = Fixture::new();
    let formats: Vec<String> = library::COMMON_FORMATS.iter().map(|f| f.to_string()).collect();
    // 17 albums: each kind the shape has (two genres, two discs, a compilation, an embedded
    // picture, a non-ASCII title and artist).
    let g = library::generate(&fx.music, 170, 3, &formats);
    assert_eq!(g.tracks, 170);
    let d = start(fx, "");
    d.wait_scans(1);
    let list = d.rest("getAlbumList2", "type=alphabeticalByName&size=500");
    let listed = list["albumList2"]["album"].as_array().unwrap();
    assert_eq!(listed.len(), g.albums.len(), "{list}");
    let (mut two_discs, mut two_genres, mut compilations, mut non_ascii) = (0, 0, 0, 0);
    for (n, album) in g.albums.iter().enumerate() {
        let artist = library::album_artist(&g.artists, album);
        let found = listed
            .iter()
            .find(|a| a["name"] == album.title.as_str() && a["artist"] == artist && a["year"] == album.year)
            .unwrap_or_else(|| panic!("album {n} {:?} by {artist:?} not listed: {list}", album.title));
        let a = &d.rest("getAlbum", &format!("id={}", found["id"].as_str().unwrap()))["album"];
        let what = format!("album {n} ({}): {a}", album.format);
        assert_eq!(a["songCount"], album.tracks, "{what}");
        assert_eq!(a["isCompilation"], album.artist.is_none(), "{what}");
        let genres: Vec<&str> = a["genres"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        let mut want: Vec<&str> = album.genres.iter().map(String::as_str).collect();
        let mut have = genres;
        want.sort();
        have.sort();
        assert_eq!(have, want, "{what}");
        assert_eq!(a["musicBrainzId"].as_str(), album.mbz.as_ref().map(|(id, _)| id.as_str()), "{what}");
        assert!(a["coverArt"].is_string(), "{what}");
        let songs = a["song"].as_array().unwrap();
        assert_eq!(songs.len(), album.tracks as usize, "{what}");
        let per_disc = album.tracks.div_ceil(album.discs);
        for (i, song) in songs.iter().enumerate() {
            let (disc, track) = (i as u32 / per_disc + 1, i as u32 % per_disc + 1);
            assert_eq!(song["title"], album.titles[i].as_str(), "{what}");
            assert_eq!(song["artist"], g.artists[album.track_artists[i]].name.as_str(), "{what}");
            assert_eq!((song["discNumber"].as_u64(), song["track"].as_u64()), (Some(disc.into()), Some(track.into())));
            assert_eq!(song["year"], album.year, "{what}");
            assert_eq!(song["suffix"], media::suffix(&album.format), "{what}");
            assert!(album.genres.iter().any(|g| song["genre"] == g.as_str()), "{what}");
        }
        two_discs += usize::from(album.discs == 2);
        two_genres += usize::from(album.genres.len() == 2);
        compilations += usize::from(album.artist.is_none());
        non_ascii += usize::from(!album.title.is_ascii());
    }
    // The shape, as the plan says it is (so the loop above saw each kind).
    assert_eq!((two_discs, two_genres, compilations, non_ascii), (2, 5, 1, 1));
    assert_eq!(g.artists.iter().filter(|a| !a.name.is_ascii()).count(), 1, "the fourth artist");
}

/// Migration 0011 leaves the rows of a library indexed before it at tags version 0: the next
/// (incremental) scan reads those files again, changed or not, and their album fields and every
/// sidecar lyrics file arrive.
#[test]
fn files_indexed_before_the_album_fields_are_read_again_once() {
    let fx = Fixture::new();
    let a = dir(&fx, "Old/Album");
    let tags = Tags {
        title: Some("Old song".into()),
        artist: Some("Old Artist".into()),
        album: Some("Old Album".into()),
        release_types: vec!["ep".into()],
        moods: vec!["warm".into()],
        ..Tags::default()
    };
    media::write_track(&a.join("1.flac"), "flac", &tags);
    std::fs::write(a.join("1.srt"), "1\n00:00:01,000 --> 00:00:02,000\nLine\n").unwrap();
    let mut d = start(fx, "");
    d.wait_scans(1);
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit(Duration::from_secs(15)).success());
    let fx = d.into_fixture();
    {
        // As a library of an earlier version is after migration 0011.
        let conn = rusqlite::Connection::open(fx.data.join("redoubt.db")).unwrap();
        conn.execute_batch(
            "UPDATE tracks SET tags_version = 0, release_types = '', moods = ''; \
             UPDATE albums SET release_types = '', moods = ''; DELETE FROM track_lyrics;",
        )
        .unwrap();
    }
    let mut d = Daemon::spawn(fx, Options { config: Some(String::new()), ..Default::default() });
    d.wait_ready();
    d.wait_scans(1);
    let conn = db(&d);
    let (types, moods, version): (String, String, i64) = conn
        .query_row("SELECT release_types, moods, tags_version FROM tracks WHERE title = 'Old song'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((types.as_str(), moods.as_str(), version), ("ep", "warm", 2), "version: ingest::TAGS_VERSION");
    let album: String =
        conn.query_row("SELECT release_types FROM albums WHERE name = 'Old Album'", [], |r| r.get(0)).unwrap();
    assert_eq!(album, "ep");
    let sources: Vec<String> = conn
        .prepare("SELECT source FROM track_lyrics")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(sources, ["srt"]);
    // The one stale file was read (the scanner logs this as the scan ends).
    d.wait_log("(1 files read)", Duration::from_secs(10));
}

fn tagged(title: &str, album: &str, artist: &str, mbz_track: Option<&str>) -> Tags {
    Tags {
        title: Some(title.into()),
        album: Some(album.into()),
        artist: Some(artist.into()),
        mbz_track_id: mbz_track.map(str::to_string),
        ..Tags::default()
    }
}

/// Scanner.PurgeMissing = "always": a deleted file's song, its album and its artist are gone
/// after the next scan (with its star and playlist entry), while a file moved in the same
/// scan keeps its id, star, play count, playlist entry and bookmark.
#[test]
fn purge_missing_always_deletes_what_stayed_missing_and_keeps_moved_files() {
    let fx = Fixture::new();
    let a = dir(&fx, "A");
    let b = dir(&fx, "B");
    media::write_track(&a.join("keep.mp3"), "mp3", &tagged("Keep", "Kept Album", "Kept Artist", None));
    media::write_track(
        &a.join("move.mp3"),
        "mp3",
        &tagged("Moving", "Kept Album", "Kept Artist", Some("21111111-2222-4333-8444-555555555555")),
    );
    media::write_track(&dir(&fx, "C").join("gone.mp3"), "mp3", &tagged("Gone", "Lost Album", "Lost Artist", None));
    let d = start(fx, "[Scanner]\nWatcherWait = \"0\"\nPurgeMissing = \"always\"\n");
    d.wait_scans(1);
    let conn = db(&d);
    let (moving, gone) = (id_of(&conn, "Moving").0, id_of(&conn, "Gone").0);
    let lost_album: String =
        conn.query_row("SELECT album_id FROM tracks WHERE id = ?1", [&gone], |r| r.get(0)).unwrap();
    for id in [&moving, &gone] {
        assert_eq!(d.rest("star", &format!("id={id}"))["status"], "ok");
        assert_eq!(d.rest("scrobble", &format!("id={id}&submission=true"))["status"], "ok");
    }
    assert_eq!(d.rest("star", &format!("albumId={lost_album}"))["status"], "ok");
    let list = d.rest("createPlaylist", &format!("name=Mine&songId={moving}&songId={gone}"));
    let playlist = list["playlist"]["id"].as_str().unwrap().to_string();
    assert_eq!(d.rest("createBookmark", &format!("id={moving}&position=1000"))["status"], "ok");

    std::fs::rename(a.join("move.mp3"), b.join("moved.mp3")).unwrap();
    std::fs::remove_file(d.fx.music.join("C/gone.mp3")).unwrap();
    chown_music(&d.fx);
    assert!(d.fx.cli(&["scan"], "").status.success());
    let line = d.wait_scans(2);
    assert!(line.contains("1 moved, 1 missing purged"), "{line}");

    let count = |sql: &str, id: &str| -> i64 { conn.query_row(sql, [id], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM tracks WHERE id = ?1", &gone), 0, "the missing song is deleted");
    assert_eq!(count("SELECT count(*) FROM albums WHERE id = ?1", &lost_album), 0, "its album went with it");
    assert_eq!(count("SELECT count(*) FROM artists WHERE name = ?1", "Lost Artist"), 0, "so did its artist");
    assert_eq!(count("SELECT count(*) FROM annotations WHERE item_id = ?1", &gone), 0, "and its star and plays");
    assert_eq!(count("SELECT count(*) FROM artists WHERE name = ?1", "Kept Artist"), 1);
    assert_eq!(count("SELECT count(*) FROM tracks WHERE missing = 1 AND id <> ?1", ""), 0);
    let r = d.rest("getSong", &format!("id={gone}"));
    assert_eq!(r["error"]["code"], 70, "{r}");

    let song = &d.rest("getSong", &format!("id={moving}"))["song"];
    assert!(song["path"].as_str().unwrap().starts_with("B/"), "the moved song kept its id: {song}");
    assert!(song["starred"].is_string(), "and its star: {song}");
    assert_eq!(song["playCount"], 1, "and its play count: {song}");
    let entries = &d.rest("getPlaylist", &format!("id={playlist}"))["playlist"];
    assert_eq!(entries["songCount"], 1, "{entries}");
    assert_eq!(entries["entry"][0]["id"], moving.as_str(), "and its playlist entry: {entries}");
    let marks = d.rest("getBookmarks", "");
    assert_eq!(marks["bookmarks"]["bookmark"][0]["entry"]["id"], moving.as_str(), "and its bookmark: {marks}");
    let starred = d.rest("getStarred2", "");
    assert_eq!(starred["starred2"]["song"].as_array().unwrap().len(), 1, "{starred}");
    assert!(starred["starred2"]["album"].as_array().is_none_or(|a| a.is_empty()), "{starred}");
}

/// Scanner.PurgeMissing = "full" keeps missing songs through incremental scans and deletes
/// them on a full one; `redoubt scan --purge-missing` purges on an incremental scan too.
#[test]
fn purge_missing_full_waits_for_a_full_scan_and_the_command_purges_at_once() {
    let fx = Fixture::new();
    let a = dir(&fx, "A");
    for t in ["One", "Two", "Three"] {
        media::write_track(&a.join(format!("{t}.mp3")), "mp3", &tagged(t, "Album", "Artist", None));
    }
    let d = start(fx, "[Scanner]\nWatcherWait = \"0\"\nPurgeMissing = \"full\"\n");
    d.wait_scans(1);
    let conn = db(&d);
    let exists = |title: &str| -> i64 {
        conn.query_row("SELECT count(*) FROM tracks WHERE title = ?1", [title], |r| r.get(0)).unwrap()
    };
    std::fs::remove_file(a.join("One.mp3")).unwrap();
    assert!(d.fx.cli(&["scan"], "").status.success());
    d.wait_scans(2);
    assert_eq!(id_of(&conn, "One").1, 1, "an incremental scan only marks it missing");
    assert!(d.fx.cli(&["scan", "--full"], "").status.success());
    assert!(d.wait_scans(3).contains("1 missing purged"));
    assert_eq!(exists("One"), 0, "a full scan purges");

    std::fs::remove_file(a.join("Two.mp3")).unwrap();
    let out = d.fx.cli(&["scan", "--purge-missing"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("to purge the songs still missing"));
    assert!(d.wait_scans(4).contains("1 missing purged"));
    assert_eq!(exists("Two"), 0, "--purge-missing purges on an incremental scan");
    assert_eq!(exists("Three"), 1);
    let albums: i64 = conn.query_row("SELECT song_count FROM albums WHERE name = 'Album'", [], |r| r.get(0)).unwrap();
    assert_eq!(albums, 1);
}

fn playlist_names(conn: &rusqlite::Connection) -> Vec<String> {
    let mut st = conn.prepare("SELECT name FROM playlists ORDER BY name").unwrap();
    st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn playlist_fixture() -> Fixture {
    let fx = Fixture::new();
    media::write_track(&dir(&fx, "A").join("song.mp3"), "mp3", &tagged("Song", "Album", "Artist", None));
    for (folder, name) in [("", "Top"), ("Lists", "Listed"), ("Lists/Old", "Older"), ("A", "Beside")] {
        let at = if folder.is_empty() { fx.music.clone() } else { dir(&fx, folder) };
        let up = "../".repeat(folder.split('/').filter(|s| !s.is_empty()).count());
        std::fs::write(at.join(format!("{name}.m3u")), format!("#EXTM3U\n#PLAYLIST:{name}\n{up}A/song.mp3\n")).unwrap();
    }
    fx
}

/// PlaylistsPath names the folders (relative to each music folder) playlists are imported
/// from; the default takes them from everywhere.
#[test]
fn playlists_path_chooses_the_folders_playlists_are_imported_from() {
    let d = start(playlist_fixture(), "PlaylistsPath = \".:Lists\"\n");
    d.wait_scans(1);
    let conn = db(&d);
    assert_eq!(playlist_names(&conn), ["Listed", "Top"], "only the music folder itself and Lists/");
    let songs: i64 = conn.query_row("SELECT count(*) FROM playlist_tracks", [], |r| r.get(0)).unwrap();
    assert_eq!(songs, 2, "each imported playlist found its song");
}

/// AutoImportPlaylists = false imports none; the default imports every folder's.
#[test]
fn auto_import_playlists_false_imports_none() {
    let d = start(playlist_fixture(), "AutoImportPlaylists = false\n");
    d.wait_scans(1);
    assert!(playlist_names(&db(&d)).is_empty());
    let d = start(playlist_fixture(), "");
    d.wait_scans(1);
    assert_eq!(playlist_names(&db(&d)), ["Beside", "Listed", "Older", "Top"]);
}
