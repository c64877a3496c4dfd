//! Smart playlists against the running daemon: Navidrome `.nsp` files in a generated library
//! with known tags, imported by the scanner and evaluated by the broker. Each playlist must
//! hold exactly the songs its rules name, in their order; rule text that looks like SQL is a
//! value (or an unknown field, reported as a scan problem), never SQL (T40); a rescan and a
//! change of the owner's stars and ratings change what the rules choose; clients see them
//! read-only. XML answers are checked against the XSD.

mod common;

use common::media::{self, Tags};
use common::*;
use serde_json::Value;

fn song(title: &str, artist: &str, genres: &[&str], year: i32) -> Tags {
    Tags {
        title: Some(title.into()),
        artist: Some(artist.into()),
        album: Some(format!("{title} album")),
        album_artist: Some(artist.into()),
        genres: genres.iter().map(|g| g.to_string()).collect(),
        year: Some(year),
        track: Some(1),
        ..Tags::default()
    }
}

const INJECTED: &str = "Foxtrot x' OR 1=1 -- live";

fn library(fx: &Fixture) {
    let a = fx.music.join("Songs");
    std::fs::create_dir_all(&a).unwrap();
    for (file, fmt, tags) in [
        ("alpha.mp3", "mp3", song("Alpha", "Band A", &["Rock"], 1985)),
        ("bravo.mp3", "mp3", song("Bravo", "Band A", &["Rock"], 1992)),
        ("charlie.flac", "flac", song("Charlie", "Band B", &["Jazz"], 1987)),
        ("delta.mp3", "mp3", song("Delta", "Band C", &["Jazz", "Rock"], 1983)),
        ("echo.flac", "flac", song("Echo", "Band B", &["Pop"], 1999)),
        ("foxtrot.mp3", "mp3", song(INJECTED, "Band B", &["Pop"], 2001)),
        ("golf.mp3", "mp3", song("Golf", "Band C", &["Rock"], 1980)),
        ("solo.mp3", "mp3", song("Solo", "Nobody", &["Rock"], 1986)),
    ] {
        media::write_track(&a.join(file), fmt, &tags);
    }
    let lists = fx.music.join("Lists");
    std::fs::create_dir_all(&lists).unwrap();
    let nsp = [
        (
            "eighties.nsp",
            r#"{"name": "Eighties", "comment": "rock or jazz, no flac", "all": [
                {"inTheRange": {"year": [1980, 1989]}},
                {"any": [{"is": {"genre": "rock"}}, {"contains": {"genre": "JAZ"}}]},
                {"isNot": {"filetype": "flac"}},
                {"startsWith": {"artist": "Band"}}
              ], "sort": "year", "order": "desc"}"#,
        ),
        ("loved.nsp", r#"{"name": "Loved", "all": [{"is": {"loved": true}}, {"gt": {"rating": 2}}], "sort": "title"}"#),
        (
            "inject.nsp",
            r#"{"name": "Inject", "any": [{"contains": {"title": "x' OR 1=1 --"}},
                {"is": {"title; DROP TABLE tracks": "Alpha"}}, {"endsWith": {"title": "%"}}]}"#,
        ),
        (
            "limited.nsp",
            r#"{"name": "Limited", "all": [{"startsWith": {"artist": "band"}}], "sort": "-title", "limit": 2}"#,
        ),
    ];
    for (name, text) in nsp {
        std::fs::write(lists.join(name), text).unwrap();
    }
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
}

fn start() -> Daemon {
    let fx = Fixture::new();
    library(&fx);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    d
}

fn playlist_id(d: &Daemon, name: &str) -> String {
    let lists = d.rest("getPlaylists", "");
    let all = lists["playlists"]["playlist"].as_array().cloned().unwrap_or_default();
    let p = all.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no playlist {name}: {lists}"));
    p["id"].as_str().unwrap().to_string()
}

fn titles(d: &Daemon, name: &str) -> Vec<String> {
    let p = d.rest("getPlaylist", &format!("id={}", playlist_id(d, name)));
    assert_eq!(p["status"], "ok", "{p}");
    let entries = p["playlist"]["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(p["playlist"]["songCount"].as_u64().unwrap() as usize, entries.len(), "{p}");
    entries.iter().map(|e| e["title"].as_str().unwrap().to_string()).collect()
}

fn xml(d: &Daemon, method: &str, query: &str) -> String {
    let r = d.get(&format!("/rest/{method}?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&{query}")).unwrap();
    r.text()
}

#[test]
fn nsp_rules_choose_exactly_the_expected_songs_and_follow_the_library_and_the_owner() {
    let d = start();
    assert_eq!(titles(&d, "Eighties"), ["Alpha", "Delta", "Golf"], "1980s, rock or jazz, not flac, by year down");
    assert_eq!(titles(&d, "Limited"), ["Golf", INJECTED]);
    // The owner's data: nothing loved yet, then a star and a rating, each re-chosen at once.
    assert!(titles(&d, "Loved").is_empty());
    let id = |title: &str| -> String {
        let r = d.rest("search3", &format!("query={title}&songCount=5&artistCount=0&albumCount=0"));
        r["searchResult3"]["song"][0]["id"].as_str().unwrap().to_string()
    };
    let (bravo, echo) = (id("Bravo"), id("Echo"));
    for q in [format!("id={bravo}"), format!("id={echo}")] {
        assert_eq!(d.rest("star", &q)["status"], "ok");
    }
    assert_eq!(d.rest("setRating", &format!("id={bravo}&rating=4"))["status"], "ok");
    assert_eq!(d.rest("setRating", &format!("id={echo}&rating=1"))["status"], "ok");
    assert_eq!(titles(&d, "Loved"), ["Bravo"]);
    // A new file that matches, after a rescan.
    media::write_track(&d.fx.music.join("Songs/hotel.mp3"), "mp3", &song("Hotel", "Band D", &["Rock"], 1988));
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&d.fx.music).status();
    assert_eq!(d.rest("startScan", "")["status"], "ok");
    d.wait_scans(2);
    assert_eq!(titles(&d, "Eighties"), ["Hotel", "Alpha", "Delta", "Golf"]);
    // The answers, in XML, against the XSD.
    assert_valid_xml(&xml(&d, "getPlaylists", ""));
    let eighties = playlist_id(&d, "Eighties");
    let one = xml(&d, "getPlaylist", &format!("id={eighties}"));
    assert_valid_xml(&one);
    assert!(one.contains("comment=\"rock or jazz, no flac\"") && one.contains("readonly=\"true\""), "{one}");
}

/// T40: rule text is data. A value full of SQL is matched as text; a field named like SQL is an
/// unknown field, reported, and its rule matches nothing; the library is intact.
#[test]
fn sql_looking_rules_are_values_or_unknown_fields() {
    let d = start();
    assert_eq!(titles(&d, "Inject"), [INJECTED], "only the title containing the text; `%` is no wildcard");
    let conn = db(&d);
    let reason: String = conn
        .query_row("SELECT reason FROM scan_problems WHERE path = CAST('Lists/inject.nsp' AS BLOB)", [], |r| r.get(0))
        .unwrap();
    assert!(reason.contains("unknown field \"title; DROP TABLE tracks\""), "{reason}");
    let tracks: i64 = conn.query_row("SELECT count(*) FROM tracks", [], |r| r.get(0)).unwrap();
    assert_eq!(tracks, 8);
}

#[test]
fn clients_see_smart_playlists_read_only() {
    let d = start();
    let id = playlist_id(&d, "Limited");
    let lists = d.rest("getPlaylists", "");
    let p = lists["playlists"]["playlist"].as_array().unwrap().iter().find(|p| p["id"] == id.as_str()).unwrap().clone();
    assert_eq!((p["readonly"].clone(), p["songCount"].clone()), (Value::Bool(true), Value::from(2)), "{p}");
    for (method, query) in [
        ("updatePlaylist", format!("playlistId={id}&name=renamed")),
        ("deletePlaylist", format!("id={id}")),
        ("createPlaylist", format!("playlistId={id}")),
    ] {
        let r = d.rest(method, &query);
        assert_eq!(r["error"]["code"], 50, "{method}: {r}");
    }
    assert_eq!(titles(&d, "Limited"), ["Golf", INJECTED], "unchanged");
}
