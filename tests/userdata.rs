//! The write side of the Subsonic API against the running daemon on a generated library:
//! stars and ratings, scrobbles and now-playing (and OpenSubsonic reportPlayback), playlists
//! with their owner checks, the play queue (by id and by index), bookmarks, internet radio,
//! and the methods answered as not implemented. Three users (an admin, alice, bob) check that
//! what one does is not another's; every XML answer is validated against the XSD, every JSON
//! answer against the OpenAPI spec; string parameters carry SQL-injection-style text, which
//! must come back verbatim or be refused, never break anything.

mod common;

use std::time::{Duration, Instant};

use common::media::{self, Tags};
use common::*;
use serde_json::Value;

const ALICE: &str = "alice";
const BOB: &str = "bob";

/// Text that would break a query built by pasting parameters into SQL (or markup).
const NASTY: &[&str] = &[
    "'; DROP TABLE playlists; --",
    "\" OR 1=1 --",
    "x') UNION SELECT id, name, password FROM users --",
    "100% _wild_ \\ 'card' <b>&amp;</b>",
    "Robert'); DELETE FROM annotations WHERE ('1'='1",
];

fn password(user: &str) -> String {
    if user == ADMIN {
        ADMIN_PASSWORD.to_string()
    } else {
        format!("{user}-pass")
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn arr(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Validates an XML answer against the Subsonic 1.16.1 XSD. That XSD predates OpenSubsonic's
/// `playQueueByIndex` (whose content is a `PlayQueue` with `currentIndex`), and types
/// playQueue's `current` as an int where OpenSubsonic (and this server's opaque song ids) has a
/// string: those two are checked by the tests themselves, the rest of the document by the XSD.
fn validate_xml(xml: &str) {
    let mut x = xml.replace("<playQueueByIndex", "<playQueue").replace("</playQueueByIndex>", "</playQueue>");
    if let Some(start) = x.find("<playQueue ") {
        let end = start + x[start..].find('>').unwrap();
        if let Some(at) = x[start..end].find(" current=\"") {
            let from = start + at;
            let close = from + " current=\"".len() + x[from + " current=\"".len()..].find('"').unwrap();
            x.replace_range(from..=close, "");
        }
    }
    assert_valid_xml(&x);
}

struct Srv {
    d: Daemon,
}

impl Srv {
    fn raw(&self, user: &str, client: &str, method: &str, query: &str, json: bool) -> String {
        let f = if json { "&f=json" } else { "" };
        let sep = if query.is_empty() { "" } else { "&" };
        let path =
            format!("/rest/{method}?u={user}&p={}&v=1.16.1&c={}{f}{sep}{query}", enc(&password(user)), enc(client));
        self.d.get(&path).unwrap().text()
    }

    fn json_of(method: &str, text: &str) -> Value {
        // hls and getCaptions answer with files, so the OpenAPI document has no JSON schema for
        // them: their errors are checked against the common answer.
        assert_valid_json(if matches!(method, "hls" | "getCaptions") { "ping" } else { method }, text);
        serde_json::from_str::<Value>(text).unwrap_or_else(|e| panic!("{e}: {text}"))["subsonic-response"].clone()
    }

    /// A read, or a write that may happen twice: in XML and in JSON, both validated.
    fn call(&self, user: &str, method: &str, query: &str) -> Value {
        validate_xml(&self.raw(user, "test", method, query, false));
        Self::json_of(method, &self.raw(user, "test", method, query, true))
    }

    /// A write that must happen once, as client `client`, in JSON (validated).
    fn once_as(&self, user: &str, client: &str, method: &str, query: &str) -> Value {
        Self::json_of(method, &self.raw(user, client, method, query, true))
    }

    fn once(&self, user: &str, method: &str, query: &str) -> Value {
        self.once_as(user, "test", method, query)
    }

    /// A write that must happen once, in XML (validated): whether it succeeded.
    fn once_xml(&self, user: &str, method: &str, query: &str) -> bool {
        let xml = self.raw(user, "test", method, query, false);
        validate_xml(&xml);
        xml.contains(r#"status="ok""#)
    }

    fn ok(&self, user: &str, method: &str, query: &str) -> Value {
        let v = self.call(user, method, query);
        assert_eq!(v["status"], "ok", "{user}: {method}?{query}: {v}");
        v
    }

    fn ok_once(&self, user: &str, method: &str, query: &str) -> Value {
        let v = self.once(user, method, query);
        assert_eq!(v["status"], "ok", "{user}: {method}?{query}: {v}");
        v
    }

    /// The error code of a call that must fail (in XML and JSON, so it must fail twice).
    fn err(&self, user: &str, method: &str, query: &str) -> i64 {
        let v = self.call(user, method, query);
        assert_eq!(v["status"], "failed", "{user}: {method}?{query} should fail: {v}");
        v["error"]["code"].as_i64().unwrap()
    }

    /// Song ids by title (search3 with the empty query lists everything).
    fn song(&self, title: &str) -> String {
        let v = self.ok(ADMIN, "search3", "query=&songCount=500&artistCount=0&albumCount=0");
        arr(&v["searchResult3"]["song"])
            .iter()
            .find(|s| s["title"] == title)
            .unwrap_or_else(|| panic!("no song {title:?}: {v}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn get_song(&self, user: &str, id: &str) -> Value {
        self.ok(user, "getSong", &format!("id={id}"))["song"].clone()
    }

    /// The daemon's database, read-only (after the broker has made its WAL files, so that they
    /// are the daemon's and not the test's).
    fn db(&self) -> rusqlite::Connection {
        let shm = self.d.fx.data.join("redoubt.db-shm");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !shm.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        rusqlite::Connection::open_with_flags(
            self.d.fx.data.join("redoubt.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }
}

/// Two artists: "Alpha" with album "First" (songs A1..A3), "Bravo" with "Second" (B1, B2);
/// an .m3u playlist "Mixed" of A1 and B2. Users: the admin, alice and bob.
fn server() -> Srv {
    let fx = Fixture::new();
    for (artist, album, titles) in [("Alpha", "First", &["A1", "A2", "A3"][..]), ("Bravo", "Second", &["B1", "B2"][..])]
    {
        let dir = fx.music.join(artist).join(album);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, t) in titles.iter().enumerate() {
            media::write_track(
                &dir.join(format!("{t}.mp3")),
                "mp3",
                &Tags {
                    title: Some(t.to_string()),
                    artist: Some(artist.into()),
                    album: Some(album.into()),
                    track: Some(i as u32 + 1),
                    year: Some(2020),
                    genres: vec!["Rock".into()],
                    ..Tags::default()
                },
            );
        }
    }
    let lists = fx.music.join("Lists");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(
        lists.join("mixed.m3u"),
        "#EXTM3U\n#PLAYLIST:Mixed\n../Alpha/First/A1.mp3\n../Bravo/Second/B2.mp3\n",
    )
    .unwrap();
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    fx.add_user(ALICE, &password(ALICE), false);
    fx.add_user(BOB, &password(BOB), false);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    Srv { d }
}

#[test]
fn stars_and_ratings_are_per_user_and_refuse_unknown_ids() {
    let s = server();
    let a1 = s.song("A1");
    let song = s.get_song(ADMIN, &a1);
    let album = song["albumId"].as_str().unwrap().to_string();
    let artist = song["artistId"].as_str().unwrap().to_string();
    let b1 = s.song("B1");
    let second = s.get_song(ADMIN, &b1)["albumId"].as_str().unwrap().to_string();

    // A song, an album by albumId, an artist by artistId, and an album by plain id; twice
    // (XML and JSON), which changes nothing the second time.
    s.ok(ADMIN, "star", &format!("id={a1}&albumId={album}&artistId={artist}&id={second}"));
    let starred = s.ok(ADMIN, "getStarred2", "")["starred2"].clone();
    assert_eq!(arr(&starred["song"]).iter().map(|x| x["id"].clone()).collect::<Vec<_>>(), [a1.as_str()]);
    let mut albums: Vec<String> = arr(&starred["album"]).iter().map(|x| x["id"].as_str().unwrap().into()).collect();
    albums.sort();
    let mut want = vec![album.clone(), second.clone()];
    want.sort();
    assert_eq!(albums, want);
    assert_eq!(arr(&starred["artist"]).len(), 1);
    assert!(s.get_song(ADMIN, &a1)["starred"].is_string());
    // Per user: alice sees no stars, and her own star is hers only.
    assert!(arr(&s.ok(ALICE, "getStarred2", "")["starred2"]["song"]).is_empty());
    assert!(s.get_song(ALICE, &a1).get("starred").is_none());
    s.ok(ALICE, "star", &format!("id={b1}"));
    assert_eq!(arr(&s.ok(ALICE, "getStarred2", "")["starred2"]["song"]).len(), 1);
    assert!(s.get_song(ADMIN, &b1).get("starred").is_none());

    // An unknown id fails the whole request (70): nothing of it is starred.
    for bad in NASTY.iter().chain(&["no-such-id"]) {
        assert_eq!(s.err(BOB, "star", &format!("id={b1}&id={}", enc(bad))), 70, "{bad}");
        assert_eq!(s.err(BOB, "star", &format!("albumId={}", enc(bad))), 70, "{bad}");
        assert_eq!(s.err(BOB, "unstar", &format!("artistId={}", enc(bad))), 70, "{bad}");
    }
    // A song id is not an album id.
    assert_eq!(s.err(BOB, "star", &format!("albumId={a1}")), 70);
    assert!(s.get_song(BOB, &b1).get("starred").is_none());
    assert_eq!(s.err(BOB, "star", ""), 10);

    s.ok(ADMIN, "unstar", &format!("id={a1}&albumId={album}&artistId={artist}&id={second}"));
    let starred = s.ok(ADMIN, "getStarred2", "")["starred2"].clone();
    assert!(
        arr(&starred["song"]).is_empty() && arr(&starred["album"]).is_empty() && arr(&starred["artist"]).is_empty()
    );
    assert_eq!(arr(&s.ok(ALICE, "getStarred2", "")["starred2"]["song"]).len(), 1, "alice's star stays");

    // Ratings: song, album, artist; 0 clears; out of range is refused (0); per user.
    s.ok(ADMIN, "setRating", &format!("id={a1}&rating=5"));
    s.ok(ADMIN, "setRating", &format!("id={album}&rating=3"));
    s.ok(ADMIN, "setRating", &format!("id={artist}&rating=4"));
    assert_eq!(s.get_song(ADMIN, &a1)["userRating"], 5);
    assert!(s.get_song(ALICE, &a1).get("userRating").is_none());
    assert_eq!(s.ok(ADMIN, "getAlbum", &format!("id={album}"))["album"]["userRating"], 3);
    assert_eq!(s.ok(ADMIN, "getArtist", &format!("id={artist}"))["artist"]["userRating"], 4);
    let highest = s.ok(ADMIN, "getAlbumList2", "type=highest")["albumList2"]["album"].clone();
    assert_eq!(arr(&highest).len(), 1);
    assert!(arr(&s.ok(ALICE, "getAlbumList2", "type=highest")["albumList2"]["album"]).is_empty());
    for bad in ["6", "-1", "five", "2.5"] {
        assert_eq!(s.err(ADMIN, "setRating", &format!("id={a1}&rating={bad}")), 0, "{bad}");
    }
    assert_eq!(s.err(ADMIN, "setRating", &format!("id={a1}")), 10);
    for bad in NASTY {
        assert_eq!(s.err(ADMIN, "setRating", &format!("id={}&rating=1", enc(bad))), 70, "{bad}");
    }
    s.ok(ADMIN, "setRating", &format!("id={a1}&rating=0"));
    assert!(s.get_song(ADMIN, &a1).get("userRating").is_none());
    assert_eq!(s.get_song(ADMIN, &a1)["id"], a1.as_str());
}

#[test]
fn scrobbles_count_plays_per_user_and_now_playing_names_the_player() {
    let s = server();
    let a1 = s.song("A1");
    let a2 = s.song("A2");
    let b1 = s.song("B1");
    let song = s.get_song(ADMIN, &a1);
    let album = song["albumId"].as_str().unwrap().to_string();
    let artist = song["artistId"].as_str().unwrap().to_string();

    // Two plays with their times (ms): counted once each, for song, album and artist.
    let t1 = 1_700_000_000_000i64;
    let t2 = t1 + 3_600_000;
    s.ok_once(ADMIN, "scrobble", &format!("id={a1}&time={t1}&id={a2}&time={t2}"));
    assert!(s.once_xml(ADMIN, "scrobble", &format!("id={a1}&time={t2}&submission=true")));
    let song = s.get_song(ADMIN, &a1);
    assert_eq!(song["playCount"], 2);
    assert_eq!(song["played"], "2023-11-14T23:13:20Z", "the latest play: {song}");
    assert_eq!(s.get_song(ADMIN, &a2)["playCount"], 1);
    assert_eq!(s.get_song(ADMIN, &b1)["playCount"], 0);
    assert_eq!(s.ok(ADMIN, "getAlbum", &format!("id={album}"))["album"]["playCount"], 3);
    let frequent = s.ok(ADMIN, "getAlbumList2", "type=frequent")["albumList2"]["album"].clone();
    assert_eq!(arr(&frequent).iter().map(|a| a["id"].clone()).collect::<Vec<_>>(), [album.as_str()]);
    assert_eq!(arr(&s.ok(ADMIN, "getAlbumList2", "type=recent")["albumList2"]["album"]).len(), 1);
    let plays: i64 = s
        .db()
        .query_row(
            "SELECT a.play_count FROM annotations a JOIN users u ON u.id = a.user_id \
             WHERE u.name = 'admin' AND a.kind = 'artist' AND a.item_id = ?1",
            [&artist],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(plays, 3, "the artist's plays");
    // Per user.
    assert_eq!(s.get_song(ALICE, &a1)["playCount"], 0);
    assert!(arr(&s.ok(ALICE, "getAlbumList2", "type=frequent")["albumList2"]["album"]).is_empty());
    // Unknown ids: 70, and nothing counted.
    for bad in NASTY {
        assert_eq!(s.err(ADMIN, "scrobble", &format!("id={a1}&id={}", enc(bad))), 70, "{bad}");
    }
    assert_eq!(s.err(ADMIN, "scrobble", &format!("id={a1}&time=yesterday")), 0);
    assert_eq!(s.err(ADMIN, "scrobble", ""), 10);
    assert_eq!(s.get_song(ADMIN, &a1)["playCount"], 2);

    // Now playing: submission=false, named by the client (`c`), as every user sees it.
    let nothing = s.ok(BOB, "getNowPlaying", "");
    assert!(arr(&nothing["nowPlaying"]["entry"]).is_empty(), "{nothing}");
    let player = NASTY[0];
    s.ok_once(ADMIN, "scrobble", &format!("id={b1}&submission=false"));
    assert_eq!(s.once_as(ALICE, player, "scrobble", &format!("id={a2}&submission=false"))["status"], "ok");
    let np = s.ok(BOB, "getNowPlaying", "");
    let entries = arr(&np["nowPlaying"]["entry"]);
    assert_eq!(entries.len(), 2, "{np}");
    let alice = entries.iter().find(|e| e["username"] == ALICE).unwrap();
    assert_eq!(alice["id"], a2.as_str());
    assert_eq!(alice["playerName"], player, "the client name, verbatim");
    assert_eq!(alice["minutesAgo"], 0);
    assert!(alice["playerId"].is_i64());
    let admin = entries.iter().find(|e| e["username"] == ADMIN).unwrap();
    assert_eq!((admin["id"].as_str(), admin["playerName"].as_str()), (Some(b1.as_str()), Some("test")));
    assert_ne!(admin["playerId"], alice["playerId"]);
    assert_eq!(s.get_song(ADMIN, &b1)["playCount"], 0, "now playing is not a play");
    // The same player moving on replaces its entry.
    s.ok_once(ADMIN, "scrobble", &format!("id={a1}&submission=false"));
    let entries = arr(&s.ok(BOB, "getNowPlaying", "")["nowPlaying"]["entry"]);
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().any(|e| e["username"] == ADMIN && e["id"] == a1.as_str()));
}

#[test]
fn report_playback_shows_the_timeline_and_counts_a_play_when_stopped_late_enough() {
    let s = server();
    let b1 = s.song("B1");
    let b2 = s.song("B2");
    let ext = s.ok(ADMIN, "getOpenSubsonicExtensions", "");
    let names: Vec<String> =
        arr(&ext["openSubsonicExtensions"]).iter().map(|e| e["name"].as_str().unwrap().into()).collect();
    assert!(names.iter().any(|n| n == "playbackReport") && names.iter().any(|n| n == "indexBasedQueue"), "{ext}");

    let report = |user: &str, query: &str| s.ok(user, "reportPlayback", &format!("mediaType=song&{query}"));
    report(ALICE, &format!("mediaId={b1}&positionMs=0&state=starting"));
    report(ALICE, &format!("mediaId={b1}&positionMs=200&state=playing&playbackRate=1.5"));
    let np = s.ok(BOB, "getNowPlaying", "");
    let e = &arr(&np["nowPlaying"]["entry"])[0];
    assert_eq!(
        (e["id"].as_str(), e["username"].as_str(), e["state"].as_str()),
        (Some(b1.as_str()), Some(ALICE), Some("playing"))
    );
    assert!(e["positionMs"].as_i64().unwrap() >= 200, "{e}");
    assert_eq!(e["playbackRate"], 1.5);
    report(ALICE, &format!("mediaId={b1}&positionMs=300&state=paused"));
    let np = s.ok(BOB, "getNowPlaying", "");
    assert_eq!(arr(&np["nowPlaying"]["entry"])[0]["positionMs"], 300, "paused: the position stays");
    // Stopped far enough in (the songs last about a second): one play, and only one.
    assert!(s.once_xml(ALICE, "reportPlayback", &format!("mediaType=song&mediaId={b1}&positionMs=1000&state=stopped")));
    assert!(s.once_xml(ALICE, "reportPlayback", &format!("mediaType=song&mediaId={b1}&positionMs=1000&state=stopped")));
    assert_eq!(s.get_song(ALICE, &b1)["playCount"], 1);
    assert_eq!(s.get_song(BOB, &b1)["playCount"], 0);
    assert!(arr(&s.ok(BOB, "getNowPlaying", "")["nowPlaying"]["entry"]).is_empty());
    // Stopped early, or with ignoreScrobble: no play.
    report(ALICE, &format!("mediaId={b2}&positionMs=0&state=starting"));
    assert!(s.once_xml(ALICE, "reportPlayback", &format!("mediaType=song&mediaId={b2}&positionMs=10&state=stopped")));
    report(ALICE, &format!("mediaId={b2}&positionMs=0&state=starting"));
    assert!(s.once_xml(
        ALICE,
        "reportPlayback",
        &format!("mediaType=song&mediaId={b2}&positionMs=1000&state=stopped&ignoreScrobble=true")
    ));
    assert_eq!(s.get_song(ALICE, &b2)["playCount"], 0);
    // Refused: podcasts (not implemented here), unknown states, songs and rates; missing values.
    assert_eq!(
        s.err(ALICE, "reportPlayback", &format!("mediaId={b2}&mediaType=podcast&positionMs=0&state=playing")),
        0
    );
    assert_eq!(s.err(ALICE, "reportPlayback", &format!("mediaId={b2}&mediaType=song&positionMs=0&state=rewinding")), 0);
    assert_eq!(s.err(ALICE, "reportPlayback", &format!("mediaId={b2}&mediaType=song&positionMs=-5&state=playing")), 0);
    assert_eq!(
        s.err(
            ALICE,
            "reportPlayback",
            &format!("mediaId={b2}&mediaType=song&positionMs=0&state=playing&playbackRate=NaN")
        ),
        0
    );
    assert_eq!(s.err(ALICE, "reportPlayback", &format!("mediaId={b2}&mediaType=song&state=playing")), 10);
    for bad in NASTY {
        assert_eq!(
            s.err(ALICE, "reportPlayback", &format!("mediaId={}&mediaType=song&positionMs=0&state=playing", enc(bad))),
            70
        );
    }
}

fn playlist_by_name(v: &Value, name: &str) -> Option<Value> {
    arr(&v["playlists"]["playlist"]).into_iter().find(|p| p["name"] == name)
}

fn entry_ids(v: &Value) -> Vec<String> {
    arr(&v["playlist"]["entry"]).iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn playlists_belong_to_their_owner_whatever_the_parameters_say() {
    let s = server();
    let (a1, a2, a3, b1, b2) = (s.song("A1"), s.song("A2"), s.song("A3"), s.song("B1"), s.song("B2"));

    // The imported .m3u: the first admin's, read-only through the API, private.
    let mixed = playlist_by_name(&s.ok(ADMIN, "getPlaylists", ""), "Mixed").expect("the imported playlist");
    let mixed_id = mixed["id"].as_str().unwrap().to_string();
    assert_eq!(
        (mixed["owner"].as_str(), mixed["songCount"].as_i64(), mixed["readonly"].as_bool()),
        (Some(ADMIN), Some(2), Some(true))
    );
    let got = s.ok(ADMIN, "getPlaylist", &format!("id={mixed_id}"));
    assert_eq!(entry_ids(&got), [a1.clone(), b2.clone()]);
    assert!(playlist_by_name(&s.ok(ALICE, "getPlaylists", ""), "Mixed").is_none());
    assert_eq!(s.err(ALICE, "getPlaylist", &format!("id={mixed_id}")), 70);
    assert_eq!(s.err(ADMIN, "updatePlaylist", &format!("playlistId={mixed_id}&songIdToAdd={a3}")), 50);
    assert_eq!(s.err(ADMIN, "createPlaylist", &format!("playlistId={mixed_id}&songId={a3}")), 50);
    s.ok(ADMIN, "updatePlaylist", &format!("playlistId={mixed_id}&public=true&comment=shared"));
    let mixed = playlist_by_name(&s.ok(ALICE, "getPlaylists", ""), "Mixed").expect("public now");
    assert_eq!((mixed["comment"].as_str(), mixed["readonly"].as_bool()), (Some("shared"), Some(true)));

    // alice's playlist, named with text that must come back verbatim; a song twice.
    let name = NASTY[0];
    let created =
        s.ok_once(ALICE, "createPlaylist", &format!("name={}&songId={a1}&songId={b1}&songId={a1}", enc(name)));
    let pl = created["playlist"].clone();
    let id = pl["id"].as_str().unwrap().to_string();
    assert_eq!(
        (pl["name"].as_str(), pl["owner"].as_str(), pl["public"].as_bool()),
        (Some(name), Some(ALICE), Some(false))
    );
    assert_eq!((pl["songCount"].as_i64(), pl["readonly"].as_bool()), (Some(3), Some(false)));
    assert_eq!(entry_ids(&created), [a1.clone(), b1.clone(), a1.clone()]);
    assert!(s.once_xml(ALICE, "createPlaylist", &format!("name={}", enc(NASTY[1]))), "an empty playlist, in XML");
    let mine = s.ok(ALICE, "getPlaylists", "");
    assert!(playlist_by_name(&mine, name).is_some() && playlist_by_name(&mine, NASTY[1]).is_some());
    let got = s.ok(ALICE, "getPlaylist", &format!("id={id}"));
    assert_eq!(entry_ids(&got), [a1.clone(), b1.clone(), a1.clone()]);

    // bob: cannot see it while private, cannot touch it ever; the owner comes from the
    // credentials, never from a parameter.
    assert!(playlist_by_name(&s.ok(BOB, "getPlaylists", ""), name).is_none());
    assert_eq!(s.err(BOB, "getPlaylist", &format!("id={id}")), 70);
    assert_eq!(s.err(BOB, "updatePlaylist", &format!("playlistId={id}&name=mine")), 70);
    assert_eq!(s.err(BOB, "getPlaylists", &format!("username={ALICE}")), 50);
    assert!(playlist_by_name(&s.ok(BOB, "getPlaylists", &format!("username={BOB}")), name).is_none());
    s.ok(ALICE, "updatePlaylist", &format!("playlistId={id}&public=true"));
    let seen = s.ok(BOB, "getPlaylist", &format!("id={id}"));
    assert_eq!((seen["playlist"]["owner"].as_str(), seen["playlist"]["readonly"].as_bool()), (Some(ALICE), Some(true)));
    assert!(playlist_by_name(&s.ok(BOB, "getPlaylists", ""), name).is_some());
    for q in [
        format!("playlistId={id}&name=mine"),
        format!("playlistId={id}&public=false"),
        format!("playlistId={id}&songIndexToRemove=0"),
        format!("playlistId={id}&songIdToAdd={b2}"),
        format!("playlistId={id}&username={BOB}&owner={BOB}&songIdToAdd={b2}"),
    ] {
        assert_eq!(s.err(BOB, "updatePlaylist", &q), 50, "{q}");
    }
    assert_eq!(s.err(BOB, "createPlaylist", &format!("playlistId={id}&songId={b2}")), 50);
    assert_eq!(s.err(BOB, "deletePlaylist", &format!("id={id}")), 50);
    assert_eq!(s.err(BOB, "deletePlaylist", &format!("id={id}&username={ALICE}")), 50);
    let got = s.ok(ALICE, "getPlaylist", &format!("id={id}"));
    assert_eq!(entry_ids(&got), [a1.clone(), b1.clone(), a1.clone()], "unchanged by bob");
    assert_eq!(got["playlist"]["name"], name);

    // The owner edits: indexes are those of the list before the update; removals, then adds.
    let comment = NASTY[3];
    assert!(s.once_xml(
        ALICE,
        "updatePlaylist",
        &format!(
            "playlistId={id}&name={}&comment={}&songIndexToRemove=0&songIndexToRemove=2&songIdToAdd={a3}&songIdToAdd={a2}",
            enc(NASTY[2]),
            enc(comment)
        )
    ));
    let got = s.ok(ALICE, "getPlaylist", &format!("id={id}"));
    assert_eq!(entry_ids(&got), [b1.clone(), a3.clone(), a2.clone()]);
    assert_eq!(
        (got["playlist"]["name"].as_str(), got["playlist"]["comment"].as_str()),
        (Some(NASTY[2]), Some(comment))
    );
    assert_eq!(got["playlist"]["songCount"], 3);
    assert_eq!(s.err(ALICE, "updatePlaylist", &format!("playlistId={id}&songIndexToRemove=3")), 0);
    assert_eq!(s.err(ALICE, "updatePlaylist", &format!("playlistId={id}&songIndexToRemove=x")), 0);
    assert_eq!(s.err(ALICE, "updatePlaylist", &format!("playlistId={id}&songIdToAdd={}", enc(NASTY[4]))), 70);
    assert_eq!(s.err(ALICE, "updatePlaylist", &format!("playlistId={id}&name=%20")), 0, "a blank name");
    assert_eq!(s.err(ALICE, "updatePlaylist", &format!("playlistId={id}&public=maybe")), 0);
    assert_eq!(s.err(ALICE, "updatePlaylist", ""), 10);
    // Replacing the songs through createPlaylist.
    let replaced = s.ok(ALICE, "createPlaylist", &format!("playlistId={id}&songId={b2}"));
    assert_eq!(entry_ids(&replaced), [b2.as_str()]);
    assert_eq!(replaced["playlist"]["id"], id.as_str());
    assert_eq!(s.err(ALICE, "createPlaylist", &format!("name=x&songId={}", enc(NASTY[1]))), 70);
    assert_eq!(s.err(ALICE, "createPlaylist", ""), 10);
    for bad in NASTY {
        assert_eq!(s.err(ALICE, "getPlaylist", &format!("id={}", enc(bad))), 70, "{bad}");
        assert_eq!(s.err(ALICE, "deletePlaylist", &format!("id={}", enc(bad))), 70, "{bad}");
        assert_eq!(s.err(ADMIN, "getPlaylists", &format!("username={}", enc(bad))), 70, "{bad}");
    }

    // Admins: another user's view (private lists included), and may change anyone's.
    let alices = s.ok(ADMIN, "getPlaylists", &format!("username={ALICE}"));
    assert!(playlist_by_name(&alices, NASTY[1]).is_some(), "alice's private playlist: {alices}");
    assert!(playlist_by_name(&alices, "Mixed").is_some(), "and the public ones");
    let private_id = playlist_by_name(&alices, NASTY[1]).unwrap()["id"].as_str().unwrap().to_string();
    assert!(playlist_by_name(&s.ok(ADMIN, "getPlaylists", ""), NASTY[1]).is_none(), "not in the admin's own list");
    s.ok(ADMIN, "updatePlaylist", &format!("playlistId={private_id}&comment=seen"));
    assert_eq!(s.ok(ALICE, "getPlaylist", &format!("id={private_id}"))["playlist"]["comment"], "seen");

    // Deleting: the owner (once), then gone for everyone.
    assert_eq!(s.once(ALICE, "deletePlaylist", &format!("id={id}"))["status"], "ok");
    assert_eq!(s.err(ALICE, "getPlaylist", &format!("id={id}")), 70);
    assert_eq!(s.err(ALICE, "deletePlaylist", &format!("id={id}")), 70);
    assert!(s.once_xml(ADMIN, "deletePlaylist", &format!("id={private_id}")));
    assert!(playlist_by_name(&s.ok(ALICE, "getPlaylists", ""), NASTY[1]).is_none());
    // Nothing else was hurt.
    assert_eq!(entry_ids(&s.ok(ADMIN, "getPlaylist", &format!("id={mixed_id}"))), [a1, b2]);
    let users: i64 = s.db().query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(users, 3);
}

#[test]
fn play_queue_by_id_and_by_index_per_user() {
    let s = server();
    let (a1, a2, b1) = (s.song("A1"), s.song("A2"), s.song("B1"));

    // Nothing saved yet: an empty queue, the user's.
    let q = s.ok(ALICE, "getPlayQueue", "")["playQueue"].clone();
    assert_eq!(q["username"], ALICE);
    assert!(arr(&q["entry"]).is_empty() && q.get("current").is_none(), "{q}");

    // By id: duplicates kept, `current` is the first occurrence; changedBy is the client.
    let client = NASTY[2];
    let saved =
        s.once_as(ALICE, client, "savePlayQueue", &format!("id={a1}&id={b1}&id={a1}&current={b1}&position=1234"));
    assert_eq!(saved["status"], "ok", "{saved}");
    let q = s.ok(ALICE, "getPlayQueue", "")["playQueue"].clone();
    let ids: Vec<String> = arr(&q["entry"]).iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, [a1.clone(), b1.clone(), a1.clone()]);
    assert_eq!((q["current"].as_str(), q["position"].as_i64()), (Some(b1.as_str()), Some(1234)));
    assert_eq!((q["username"].as_str(), q["changedBy"].as_str()), (Some(ALICE), Some(client)));
    assert!(q["changed"].as_str().unwrap().ends_with('Z'));
    let raw = s.raw(ALICE, "test", "getPlayQueue", "", false);
    assert!(raw.contains(&format!(r#"current="{b1}""#)), "{raw}");
    let qi = s.ok(ALICE, "getPlayQueueByIndex", "")["playQueueByIndex"].clone();
    assert_eq!((qi["currentIndex"].as_i64(), qi["position"].as_i64()), (Some(1), Some(1234)));
    assert_eq!(arr(&qi["entry"]).len(), 3);

    // By index: the second copy of a1 is current.
    s.ok(ALICE, "savePlayQueueByIndex", &format!("id={a1}&id={b1}&id={a1}&currentIndex=2&position=5"));
    let qi = s.ok(ALICE, "getPlayQueueByIndex", "")["playQueueByIndex"].clone();
    assert_eq!(
        (qi["currentIndex"].as_i64(), qi["position"].as_i64(), qi["changedBy"].as_str()),
        (Some(2), Some(5), Some("test"))
    );
    assert_eq!(s.ok(ALICE, "getPlayQueue", "")["playQueue"]["current"], a1.as_str());

    // bob's queue is his own.
    assert!(arr(&s.ok(BOB, "getPlayQueue", "")["playQueue"]["entry"]).is_empty());
    s.ok(BOB, "savePlayQueue", &format!("id={a2}"));
    let bq = s.ok(BOB, "getPlayQueue", "")["playQueue"].clone();
    assert_eq!((bq["current"].as_str(), bq["position"].as_i64()), (Some(a2.as_str()), Some(0)));
    assert_eq!(arr(&s.ok(ALICE, "getPlayQueue", "")["playQueue"]["entry"]).len(), 3);

    // Refused, and the saved queue untouched.
    assert_eq!(s.err(ALICE, "savePlayQueueByIndex", &format!("id={a1}&currentIndex=1")), 10);
    assert_eq!(s.err(ALICE, "savePlayQueueByIndex", &format!("id={a1}")), 10);
    assert_eq!(s.err(ALICE, "savePlayQueueByIndex", "currentIndex=0"), 10);
    assert_eq!(s.err(ALICE, "savePlayQueueByIndex", &format!("id={a1}&currentIndex=-1")), 0);
    assert_eq!(s.err(ALICE, "savePlayQueue", &format!("id={a1}&current={b1}")), 0);
    assert_eq!(s.err(ALICE, "savePlayQueue", &format!("id={a1}&position=-3")), 0);
    for bad in NASTY {
        assert_eq!(s.err(ALICE, "savePlayQueue", &format!("id={a1}&id={}", enc(bad))), 70, "{bad}");
        assert_eq!(s.err(ALICE, "savePlayQueue", &format!("id={a1}&current={}", enc(bad))), 0, "{bad}");
    }
    assert_eq!(arr(&s.ok(ALICE, "getPlayQueue", "")["playQueue"]["entry"]).len(), 3);

    // No ids: cleared.
    s.ok(ALICE, "savePlayQueueByIndex", "");
    let q = s.ok(ALICE, "getPlayQueueByIndex", "")["playQueueByIndex"].clone();
    assert!(arr(&q["entry"]).is_empty() && q.get("currentIndex").is_none(), "{q}");
    s.ok(BOB, "savePlayQueue", "");
    assert!(arr(&s.ok(BOB, "getPlayQueue", "")["playQueue"]["entry"]).is_empty());
}

#[test]
fn bookmarks_are_per_user() {
    let s = server();
    let (a1, b1) = (s.song("A1"), s.song("B1"));
    assert!(arr(&s.ok(ALICE, "getBookmarks", "")["bookmarks"]["bookmark"]).is_empty());
    let comment = NASTY[4];
    s.ok(ALICE, "createBookmark", &format!("id={a1}&position=4000&comment={}", enc(comment)));
    s.ok(ALICE, "createBookmark", &format!("id={b1}&position=10"));
    // The same song again: updated in place.
    s.ok(ALICE, "createBookmark", &format!("id={a1}&position=5000&comment={}", enc(comment)));
    let list = arr(&s.ok(ALICE, "getBookmarks", "")["bookmarks"]["bookmark"]);
    assert_eq!(list.len(), 2);
    let bm = list.iter().find(|b| b["entry"]["id"] == a1.as_str()).unwrap();
    assert_eq!(
        (bm["position"].as_i64(), bm["comment"].as_str(), bm["username"].as_str()),
        (Some(5000), Some(comment), Some(ALICE))
    );
    assert_eq!(bm["entry"]["title"], "A1");
    assert!(arr(&s.ok(BOB, "getBookmarks", "")["bookmarks"]["bookmark"]).is_empty(), "alice's are hers");
    assert_eq!(s.err(BOB, "deleteBookmark", &format!("id={a1}")), 70, "bob has none to delete");
    // Refused.
    assert_eq!(s.err(ALICE, "createBookmark", &format!("id={a1}")), 10);
    assert_eq!(s.err(ALICE, "createBookmark", &format!("id={a1}&position=-1")), 0);
    assert_eq!(s.err(ALICE, "createBookmark", &format!("id={a1}&position=1&comment=bell%07")), 0);
    for bad in NASTY {
        assert_eq!(s.err(ALICE, "createBookmark", &format!("id={}&position=1", enc(bad))), 70, "{bad}");
        assert_eq!(s.err(ALICE, "deleteBookmark", &format!("id={}", enc(bad))), 70, "{bad}");
    }
    // Deleted once; a second time there is nothing to delete.
    assert_eq!(s.once(ALICE, "deleteBookmark", &format!("id={a1}"))["status"], "ok");
    assert!(!s.once_xml(ALICE, "deleteBookmark", &format!("id={a1}")));
    let list = arr(&s.ok(ALICE, "getBookmarks", "")["bookmarks"]["bookmark"]);
    assert_eq!(list.iter().map(|b| b["entry"]["id"].as_str().unwrap()).collect::<Vec<_>>(), [b1.as_str()]);
}

#[test]
fn internet_radio_stations_are_read_by_all_and_managed_by_admins() {
    let s = server();
    assert!(
        arr(&s.ok(ALICE, "getInternetRadioStations", "")["internetRadioStations"]["internetRadioStation"]).is_empty()
    );
    let name = NASTY[0];
    assert!(s.once_xml(
        ADMIN,
        "createInternetRadioStation",
        &format!(
            "name={}&streamUrl={}&homepageUrl={}",
            enc(name),
            enc("http://radio.example/live?q='1'"),
            enc("https://radio.example/")
        )
    ));
    let list = arr(&s.ok(ALICE, "getInternetRadioStations", "")["internetRadioStations"]["internetRadioStation"]);
    assert_eq!(list.len(), 1);
    let st = &list[0];
    assert_eq!(
        (st["name"].as_str(), st["streamUrl"].as_str(), st["homePageUrl"].as_str()),
        (Some(name), Some("http://radio.example/live?q='1'"), Some("https://radio.example/"))
    );
    let id = st["id"].as_str().unwrap().to_string();
    // Not an admin: 50 for every change, whatever else is wrong.
    for (m, q) in [
        ("createInternetRadioStation", "name=x&streamUrl=http://x/".to_string()),
        ("createInternetRadioStation", "name=x&streamUrl=javascript:alert(1)".to_string()),
        ("updateInternetRadioStation", format!("id={id}&name=x&streamUrl=http://x/")),
        ("deleteInternetRadioStation", format!("id={id}")),
        ("deleteInternetRadioStation", format!("id={}", enc(NASTY[1]))),
    ] {
        assert_eq!(s.err(BOB, m, &q), 50, "{m}?{q}");
    }
    // Only http(s) URLs.
    for bad in
        ["javascript:alert(1)", "ftp://radio.example/", "file:///etc/passwd", "http://", "radio.example", "http://a b/"]
    {
        assert_eq!(s.err(ADMIN, "createInternetRadioStation", &format!("name=x&streamUrl={}", enc(bad))), 0, "{bad}");
        assert_eq!(
            s.err(
                ADMIN,
                "createInternetRadioStation",
                &format!("name=x&streamUrl=http://ok/&homepageUrl={}", enc(bad))
            ),
            0,
            "{bad}"
        );
        assert_eq!(
            s.err(ADMIN, "updateInternetRadioStation", &format!("id={id}&name=x&streamUrl={}", enc(bad))),
            0,
            "{bad}"
        );
    }
    assert_eq!(s.err(ADMIN, "createInternetRadioStation", "name=x"), 10);
    assert_eq!(s.err(ADMIN, "createInternetRadioStation", "streamUrl=http://x/"), 10);
    // Updated, then deleted.
    s.ok(
        ADMIN,
        "updateInternetRadioStation",
        &format!("id={id}&name={}&streamUrl=https://other.example/s", enc(NASTY[3])),
    );
    let list = arr(&s.ok(BOB, "getInternetRadioStations", "")["internetRadioStations"]["internetRadioStation"]);
    assert_eq!(
        (list[0]["name"].as_str(), list[0]["streamUrl"].as_str()),
        (Some(NASTY[3]), Some("https://other.example/s"))
    );
    assert!(list[0].get("homePageUrl").is_none(), "cleared");
    for bad in NASTY {
        assert_eq!(
            s.err(ADMIN, "updateInternetRadioStation", &format!("id={}&name=x&streamUrl=http://x/", enc(bad))),
            70
        );
        assert_eq!(s.err(ADMIN, "deleteInternetRadioStation", &format!("id={}", enc(bad))), 70);
    }
    assert_eq!(s.once(ADMIN, "deleteInternetRadioStation", &format!("id={id}"))["status"], "ok");
    assert!(
        arr(&s.ok(ALICE, "getInternetRadioStations", "")["internetRadioStations"]["internetRadioStation"]).is_empty()
    );
    assert_eq!(s.err(ADMIN, "deleteInternetRadioStation", &format!("id={id}")), 70);
}

#[test]
fn podcasts_jukebox_chat_video_and_hls_are_answered_as_not_implemented() {
    let s = server();
    for m in [
        "getPodcasts",
        "getNewestPodcasts",
        "refreshPodcasts",
        "createPodcastChannel",
        "deletePodcastChannel",
        "deletePodcastEpisode",
        "downloadPodcastEpisode",
        "getPodcastEpisode",
        "jukeboxControl",
        "getChatMessages",
        "addChatMessage",
        "getVideos",
        "getVideoInfo",
        "getCaptions",
        "hls",
    ] {
        let v = s.call(ALICE, m, "id=1&action=status&message=hi&url=http://x/");
        assert_eq!(v["status"], "failed", "{m}: {v}");
        assert_eq!(v["error"]["code"], 0, "{m}");
        let msg = v["error"]["message"].as_str().unwrap_or("");
        assert!(
            msg.starts_with(&format!("{m} is not implemented by this server: ")),
            "{m}: the reason is given: {msg}"
        );
    }
    // Unknown methods stay "not found".
    let xml = s.raw(ALICE, "test", "getShares2", "", false);
    validate_xml(&xml);
    assert!(xml.contains(r#"code="70""#), "{xml}");
}

/// The front keeps rendered answers to deterministic reads, revalidated with the broker on
/// every request: a write of any kind (stars, ratings, plays, a rescan) must show at once,
/// and one user's view never reaches another.
#[test]
fn cached_answers_follow_every_write_and_stay_per_user() {
    let s = server();
    let a1 = s.song("A1");
    let album_id = s.get_song(ALICE, &a1)["albumId"].as_str().unwrap().to_string();
    let album = |user: &str| s.ok(user, "getAlbum", &format!("id={album_id}"))["album"].clone();
    let song_in = |v: &Value, title: &str| arr(&v["song"]).into_iter().find(|x| x["title"] == title).unwrap();
    // Asked twice: the second answer may come from the cache, and is the same.
    assert_eq!(album(ALICE), album(ALICE));
    assert!(album(ALICE)["starred"].is_null());

    s.ok_once(ALICE, "star", &format!("albumId={album_id}"));
    assert!(album(ALICE)["starred"].is_string(), "a star shows at once");
    assert!(album(BOB)["starred"].is_null(), "and only to its user");
    let starred = s.ok(ALICE, "getAlbumList2", "type=starred");
    assert_eq!(arr(&starred["albumList2"]["album"]).len(), 1);

    s.ok_once(ALICE, "setRating", &format!("id={a1}&rating=4"));
    assert_eq!(song_in(&album(ALICE), "A1")["userRating"], 4);
    assert!(song_in(&album(BOB), "A1")["userRating"].is_null());

    s.ok_once(ALICE, "scrobble", &format!("id={a1}&submission=true"));
    assert_eq!(song_in(&album(ALICE), "A1")["playCount"], 1);

    // A rescan that changes a title shows in cached reads and searches.
    let found = s.ok(ALICE, "search3", "query=A1&artistCount=0&albumCount=0");
    assert_eq!(arr(&found["searchResult3"]["song"]).len(), 1);
    let path = s.d.fx.music.join("Alpha/First/A1.mp3");
    media::write_track(
        &path,
        "mp3",
        &Tags {
            title: Some("Renamed".into()),
            artist: Some("Alpha".into()),
            album: Some("First".into()),
            track: Some(1),
            year: Some(2020),
            genres: vec!["Rock".into()],
            ..Tags::default()
        },
    );
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&s.d.fx.music).status();
    s.ok_once(ADMIN, "startScan", "");
    s.d.wait_scans(2);
    assert!(arr(&album(ALICE)["song"]).iter().any(|x| x["title"] == "Renamed"), "{}", album(ALICE));
    let found = s.ok(ALICE, "search3", "query=renamed&artistCount=0&albumCount=0");
    assert_eq!(arr(&found["searchResult3"]["song"]).len(), 1, "{found}");
    // The star, rating and plays are still Alice's.
    assert_eq!(song_in(&album(ALICE), "Renamed")["playCount"], 1);
}
