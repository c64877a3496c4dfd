//! Per-user library access (docs/security.md T39) against the running daemon: two music
//! folders, alice granted the first, bob the second, the admin both. For every method family
//! the other folder's songs, albums and artists are invisible, and their ids answer 70 (not
//! found, never "forbidden"): browsing, lists, search, streams, downloads, cover art, lyrics,
//! stars, the play queue, bookmarks, playlists and shares of someone who sees more, and the
//! front's answer cache (the same request by both users in turn, and after an offline change).

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::media::ffmpeg;
use common::*;
use serde_json::Value;

/// A short tagged tone, as FLAC.
fn tone(path: &Path, tags: &[(&str, &str)]) {
    let mut args: Vec<String> =
        ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=2", "-ac", "1"].map(String::from).to_vec();
    for (k, v) in tags {
        args.push("-metadata".into());
        args.push(format!("{k}={v}"));
    }
    args.push(path.to_str().unwrap().into());
    ffmpeg(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
}

struct Lib {
    d: Daemon,
    /// Song, album and artist ids by title or name.
    ids: HashMap<String, String>,
    /// Music folder ids: the first (alice's) and the second (bob's).
    folder_a: i64,
    folder_b: i64,
}

/// Folder A: "Alpha Band" / "Alpha Album" (two songs), and "Both Band" / "Both in A".
/// Folder B: "Beta Band" / "Beta Album" (two songs, lyrics, a cover), "Both Band" / "Both in B".
/// Every song's genre is Rock.
fn library(config: &str) -> Lib {
    let fx = Fixture::new();
    let a = fx.music.join("Alpha");
    let both_a = fx.music.join("BothA");
    let second = fx.dir.join("music2");
    let b = second.join("Beta");
    let both_b = second.join("BothB");
    for dir in [&a, &both_a, &b, &both_b] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let song = |title: &'static str, artist: &'static str, album: &'static str, n: &'static str| {
        [
            ("title", title),
            ("artist", artist),
            ("album_artist", artist),
            ("album", album),
            ("track", n),
            ("genre", "Rock"),
        ]
    };
    tone(&a.join("01.flac"), &song("Alpha One", "Alpha Band", "Alpha Album", "1"));
    tone(&a.join("02.flac"), &song("Alpha Two", "Alpha Band", "Alpha Album", "2"));
    tone(&both_a.join("01.flac"), &song("Both A Song", "Both Band", "Both in A", "1"));
    tone(&b.join("01.flac"), &song("Beta One", "Beta Band", "Beta Album", "1"));
    tone(&b.join("02.flac"), &song("Beta Two", "Beta Band", "Beta Album", "2"));
    tone(&both_b.join("01.flac"), &song("Both B Song", "Both Band", "Both in B", "1"));
    std::fs::write(b.join("01.lrc"), "[00:00.50]secret beta words\n").unwrap();
    std::fs::write(b.join("cover.jpg"), media::jpeg(64, 64)).unwrap();
    for root in [&fx.music, &second] {
        let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(root).status();
    }
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let music = format!("{}:{}", fx.music.display(), second.display());
    let opts = Options { config: Some(config.into()), music: Some(music), ..Default::default() };
    let mut d = Daemon::spawn(fx, opts);
    d.wait_ready();
    d.wait_scans(1);
    let mut lib = Lib { d, ids: HashMap::new(), folder_a: 0, folder_b: 0 };
    let all = lib.ok(ADMIN, "search3", "query=&songCount=50&albumCount=50&artistCount=50");
    for (kind, key) in [("song", "title"), ("album", "name"), ("artist", "name")] {
        for x in all["searchResult3"][kind].as_array().unwrap() {
            lib.ids.insert(x[key].as_str().unwrap().into(), x["id"].as_str().unwrap().into());
        }
    }
    assert_eq!(lib.ids.len(), 6 + 4 + 3, "{all}");
    let folders = lib.ok(ADMIN, "getMusicFolders", "");
    let folders = folders["musicFolders"]["musicFolder"].as_array().unwrap().clone();
    let id_of = |name: &str| folders.iter().find(|f| f["name"] == name).unwrap()["id"].as_i64().unwrap();
    lib.folder_a = id_of("music");
    lib.folder_b = id_of("music2");
    let (fa, fb) = (lib.folder_a, lib.folder_b);
    lib.ok(ADMIN, "createUser", &format!("username=alice&password=alice-pass&email=a@example.com&musicFolderId={fa}"));
    lib.ok(ADMIN, "createUser", &format!("username=bob&password=bob-pass&email=b@example.com&musicFolderId={fb}"));
    lib
}

fn auth_for(user: &str) -> String {
    if user == ADMIN {
        format!("u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test")
    } else {
        format!("u={user}&p={user}-pass&v=1.16.1&c=test")
    }
}

impl Lib {
    fn raw(&self, user: &str, method: &str, query: &str) -> HttpResponse {
        http(self.d.port, "GET", &format!("/rest/{method}?{}&{query}", auth_for(user)), &[], b"").unwrap()
    }

    fn json(&self, user: &str, method: &str, query: &str) -> Value {
        let r = self.raw(user, method, &format!("f=json&{query}"));
        let v: Value = serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("{method}: {e}: {}", r.text()));
        v["subsonic-response"].clone()
    }

    fn ok(&self, user: &str, method: &str, query: &str) -> Value {
        let v = self.json(user, method, query);
        assert_eq!(v["status"], "ok", "{user}: {method}?{query}: {v}");
        v
    }

    /// The Subsonic error code of a call that must fail.
    fn err(&self, user: &str, method: &str, query: &str) -> i64 {
        let v = self.json(user, method, query);
        assert_eq!(v["status"], "failed", "{user}: {method}?{query} should fail: {v}");
        v["error"]["code"].as_i64().unwrap()
    }

    fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }

    /// Every id and name anywhere in an answer.
    fn names_in(v: &Value) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, x) in m {
                        if let (true, Some(s)) =
                            (["id", "title", "name", "album", "artist"].contains(&k.as_str()), x.as_str())
                        {
                            out.push(s.to_string());
                        }
                        walk(x, out);
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        walk(v, &mut out);
        out
    }

    /// Nothing of folder B (ids or names) in the answer.
    fn assert_nothing_of_b(&self, what: &str, v: &Value) {
        let seen = Self::names_in(v);
        for hidden in ["Beta One", "Beta Two", "Beta Album", "Beta Band", "Both B Song", "Both in B"] {
            assert!(!seen.iter().any(|s| s == hidden || s == self.id(hidden)), "{what} shows {hidden}: {v}");
        }
    }
}

const B_SONGS: [&str; 3] = ["Beta One", "Beta Two", "Both B Song"];

#[test]
fn a_user_sees_only_their_folders_in_browsing_lists_search_and_media() {
    let lib = library("");
    let (fa, fb) = (lib.folder_a, lib.folder_b);

    // getUser and getUsers name each user's folders (XML against the XSD, JSON against the spec).
    let me = lib.ok("alice", "getUser", "username=alice");
    assert_eq!(me["user"]["folder"], serde_json::json!([fa]), "{me}");
    let users = lib.ok(ADMIN, "getUsers", "");
    let folders_of = |name: &str| {
        users["users"]["user"].as_array().unwrap().iter().find(|u| u["username"] == name).unwrap()["folder"].clone()
    };
    assert_eq!(folders_of(ADMIN), serde_json::json!([fa, fb]), "an admin sees every folder");
    assert_eq!(folders_of("bob"), serde_json::json!([fb]));
    for (method, q) in [("getUser", "username=alice"), ("getUsers", ""), ("getMusicFolders", "")] {
        let user = if method == "getUsers" { ADMIN } else { "alice" };
        assert_valid_xml(&lib.raw(user, method, q).text());
        assert_valid_json(method, &lib.raw(user, method, &format!("f=json&{q}")).text());
    }

    // Browsing.
    let mf = lib.ok("alice", "getMusicFolders", "");
    assert_eq!(mf["musicFolders"]["musicFolder"].as_array().unwrap().len(), 1, "{mf}");
    assert_eq!(mf["musicFolders"]["musicFolder"][0]["id"], fa);
    assert_eq!(lib.err("alice", "getIndexes", &format!("musicFolderId={fb}")), 70, "another's folder is not found");
    assert_eq!(lib.err("alice", "getArtists", &format!("musicFolderId={fb}")), 70);
    assert_eq!(lib.err("alice", "getAlbumList2", &format!("type=newest&musicFolderId={fb}")), 70);
    let indexes = lib.ok("alice", "getIndexes", "");
    lib.assert_nothing_of_b("getIndexes", &indexes);
    let dirs: Vec<String> = Lib::names_in(&indexes["indexes"]);
    assert!(dirs.iter().any(|n| n == "Alpha") && !dirs.iter().any(|n| n == "Beta"), "{indexes}");
    let bob_dirs = lib.ok("bob", "getIndexes", "");
    let beta_dir = bob_dirs["indexes"]["index"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["artist"].as_array().unwrap().clone())
        .find(|a| a["name"] == "Beta")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    lib.ok("bob", "getMusicDirectory", &format!("id={beta_dir}"));
    assert_eq!(lib.err("alice", "getMusicDirectory", &format!("id={beta_dir}")), 70, "a folder of B");
    let artists = lib.ok("alice", "getArtists", "");
    lib.assert_nothing_of_b("getArtists", &artists);
    // One folder asked for, by someone who sees both: that folder's album artists only.
    let names = |q: String| {
        let a = lib.ok(ADMIN, "getArtists", &q);
        let mut n: Vec<String> = a["artists"]["index"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["artist"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()))
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(format!("musicFolderId={fa}")), ["Alpha Band", "Both Band"]);
    assert_eq!(names(format!("musicFolderId={fb}")), ["Beta Band", "Both Band"]);
    assert_eq!(names(String::new()), ["Alpha Band", "Beta Band", "Both Band"]);
    assert!(Lib::names_in(&artists).contains(&"Both Band".to_string()), "an artist with a song in A: {artists}");
    // An artist with albums in both folders shows alice only the one in A.
    let both = lib.ok("alice", "getArtist", &format!("id={}", lib.id("Both Band")));
    lib.assert_nothing_of_b("getArtist", &both);
    assert_eq!(both["artist"]["album"].as_array().unwrap().len(), 1, "{both}");
    assert_eq!(both["artist"]["albumCount"], 1, "the count is of what alice sees: {both}");
    let both = lib.ok(ADMIN, "getArtist", &format!("id={}", lib.id("Both Band")));
    assert_eq!(both["artist"]["albumCount"], 2, "{both}");
    for (method, id) in [
        ("getArtist", "Beta Band"),
        ("getAlbum", "Beta Album"),
        ("getSong", "Beta One"),
        ("getMusicDirectory", "Beta Album"),
        ("getMusicDirectory", "Beta Band"),
        ("getArtistInfo2", "Beta Band"),
        ("getAlbumInfo2", "Beta Album"),
        ("getSimilarSongs2", "Beta One"),
        ("getLyricsBySongId", "Beta One"),
    ] {
        let q = format!("id={}", lib.id(id));
        assert_eq!(lib.err("alice", method, &q), 70, "{method} {id}");
        lib.ok("bob", method, &q);
    }
    let album = lib.ok("bob", "getAlbum", &format!("id={}", lib.id("Beta Album")));
    assert_eq!(album["album"]["song"].as_array().unwrap().len(), 2);
    let genres = lib.ok("alice", "getGenres", "");
    assert_eq!(genres["genres"]["genre"][0]["songCount"], 3, "Rock counts alice's songs only: {genres}");
    assert_eq!(genres["genres"]["genre"][0]["albumCount"], 2, "{genres}");

    // Lists.
    for (method, q) in [
        ("getAlbumList2", "type=alphabeticalByName&size=50"),
        ("getAlbumList", "type=newest&size=50"),
        ("getAlbumList2", "type=random&size=50"),
        ("getAlbumList2", "type=byGenre&genre=Rock&size=50"),
        ("getRandomSongs", "size=50"),
        ("getSongsByGenre", "genre=Rock&count=50"),
        ("getTopSongs", "artist=Beta%20Band"),
        ("getTopSongs", "artist=Both%20Band"),
        ("getSimilarSongs", &format!("id={}", lib.id("Alpha One"))),
    ] {
        let v = lib.ok("alice", method, q);
        lib.assert_nothing_of_b(method, &v);
    }
    let random = lib.ok("alice", "getRandomSongs", "size=50");
    assert_eq!(random["randomSongs"]["song"].as_array().unwrap().len(), 3, "alice's three songs: {random}");
    let list = lib.ok("bob", "getAlbumList2", "type=alphabeticalByName&size=50");
    assert_eq!(list["albumList2"]["album"].as_array().unwrap().len(), 2, "{list}");

    // Search: neither by name nor in the empty query's full listing, and pages stay full.
    let hit = lib.ok("alice", "search3", "query=beta&songCount=50&albumCount=50&artistCount=50");
    lib.assert_nothing_of_b("search3", &hit);
    assert!(
        hit["searchResult3"].as_object().unwrap().values().all(|v| v.as_array().is_none_or(|a| a.is_empty())),
        "{hit}"
    );
    let hit = lib.ok("alice", "search2", "query=both&songCount=50&albumCount=50&artistCount=50");
    lib.assert_nothing_of_b("search2", &hit);
    let everything = lib.ok("alice", "search3", "query=&songCount=50&albumCount=50&artistCount=50");
    lib.assert_nothing_of_b("search3 (empty query)", &everything);
    assert_eq!(everything["searchResult3"]["song"].as_array().unwrap().len(), 3);
    let page = lib.ok("bob", "search3", "query=&songCount=2&songOffset=0&albumCount=0&artistCount=0");
    assert_eq!(page["searchResult3"]["song"].as_array().unwrap().len(), 2, "a full page of bob's songs: {page}");

    // Streams, downloads, cover art, lyrics.
    for song in B_SONGS {
        let q = format!("id={}", lib.id(song));
        assert_eq!(lib.err("alice", "stream", &q), 70, "stream {song}");
        assert_eq!(lib.err("alice", "download", &q), 70, "download {song}");
        assert_eq!(lib.err("alice", "getCoverArt", &q), 70, "getCoverArt {song}");
    }
    let r = lib.raw("bob", "stream", &format!("id={}", lib.id("Beta One")));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("audio/flac"));
    let r = lib.raw("bob", "getCoverArt", &format!("id={}", lib.id("Beta Album")));
    assert!(r.header("content-type").unwrap_or("").starts_with("image/"), "bob sees the cover");
    for id in ["Beta Album", "Beta Band"] {
        assert_eq!(lib.err("alice", "download", &format!("id={}", lib.id(id))), 70, "zip of {id}");
        assert_eq!(lib.err("alice", "getCoverArt", &format!("id={}", lib.id(id))), 70, "cover of {id}");
    }
    assert_eq!(lib.err("alice", "getCoverArt", &format!("id={beta_dir}")), 70, "cover of a folder of B");
    let lyrics = lib.ok("alice", "getLyrics", "artist=Beta%20Band&title=Beta%20One");
    assert!(!lyrics.to_string().contains("secret beta words"), "{lyrics}");
    let lyrics = lib.ok("bob", "getLyrics", "artist=Beta%20Band&title=Beta%20One");
    assert!(lyrics.to_string().contains("secret beta words"), "bob has the lyrics: {lyrics}");

    // Stars, ratings, plays, the play queue, bookmarks, now playing.
    let b1 = lib.id("Beta One").to_string();
    assert_eq!(lib.err("alice", "star", &format!("id={b1}")), 70);
    assert_eq!(lib.err("alice", "star", &format!("albumId={}", lib.id("Beta Album"))), 70);
    assert_eq!(lib.err("alice", "star", &format!("artistId={}", lib.id("Beta Band"))), 70);
    assert_eq!(lib.err("alice", "setRating", &format!("id={b1}&rating=5")), 70);
    assert_eq!(lib.err("alice", "scrobble", &format!("id={b1}")), 70);
    assert_eq!(lib.err("alice", "savePlayQueue", &format!("id={}&id={b1}", lib.id("Alpha One"))), 70);
    assert_eq!(lib.err("alice", "createBookmark", &format!("id={b1}&position=1000")), 70);
    // What the admin starred shows alice only her part of it.
    lib.ok(ADMIN, "star", &format!("id={b1}&id={}&albumId={}", lib.id("Alpha One"), lib.id("Beta Album")));
    lib.ok("alice", "star", &format!("id={}", lib.id("Alpha Two")));
    let starred = lib.ok("alice", "getStarred2", "");
    lib.assert_nothing_of_b("getStarred2", &starred);
    lib.ok("bob", "scrobble", &format!("id={b1}&submission=false"));
    let playing = lib.ok(ADMIN, "getNowPlaying", "");
    assert!(Lib::names_in(&playing).contains(&b1), "the admin sees bob playing: {playing}");
    let playing = lib.ok("alice", "getNowPlaying", "");
    lib.assert_nothing_of_b("getNowPlaying", &playing);
}

#[test]
fn playlists_and_shares_of_someone_who_sees_more_show_only_the_callers_folders() {
    let lib = library("EnableSharing = true\nEnableDownloads = true\n");
    let (a1, a2, b1, b2) = (lib.id("Alpha One"), lib.id("Alpha Two"), lib.id("Beta One"), lib.id("Beta Two"));
    // The admin's public playlist mixes both folders.
    let made = lib.ok(ADMIN, "createPlaylist", &format!("name=Mixed&songId={a1}&songId={b1}&songId={a2}&songId={b2}"));
    let pl = made["playlist"]["id"].as_str().unwrap().to_string();
    lib.ok(ADMIN, "updatePlaylist", &format!("playlistId={pl}&public=true"));
    let seen = |user: &str| -> Vec<String> {
        let v = lib.ok(user, "getPlaylist", &format!("id={pl}"));
        let titles: Vec<String> = v["playlist"]["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["title"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(v["playlist"]["songCount"], titles.len(), "{user}: the count is of what they see: {v}");
        titles
    };
    assert_eq!(seen("alice"), ["Alpha One", "Alpha Two"]);
    assert_eq!(seen("bob"), ["Beta One", "Beta Two"]);
    assert_eq!(seen(ADMIN).len(), 4);
    let list = lib.ok("alice", "getPlaylists", "");
    assert_eq!(list["playlists"]["playlist"][0]["songCount"], 2, "{list}");
    assert_valid_xml(&lib.raw("alice", "getPlaylist", &format!("id={pl}")).text());
    // Its zip holds alice's songs only; its cover is of a song she sees.
    let zip = lib.raw("alice", "download", &format!("id={pl}"));
    assert_eq!(zip.status, 200, "{}", zip.text());
    let names = zip_entries(&zip.body);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.contains("Alpha")), "{names:?}");
    // Indexes bob removes count the songs bob was shown (the admin's songs in A stay).
    assert_eq!(lib.err("bob", "updatePlaylist", &format!("playlistId={pl}&songIndexToRemove=0")), 50, "not bob's");

    // Shares: nothing outside one's folders can be shared, through a song, album or playlist.
    assert_eq!(lib.err("alice", "createShare", &format!("id={b1}")), 70);
    assert_eq!(lib.err("alice", "createShare", &format!("id={}", lib.id("Beta Album"))), 70);
    let share = lib.ok("alice", "createShare", &format!("id={pl}"));
    let entries = share["shares"]["share"][0]["entry"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "a share of the playlist holds what alice sees: {share}");
    // A share's page shows what its owner may see now.
    let bobs = lib.ok("bob", "createShare", &format!("id={b1}&id={b2}"));
    let share_id = bobs["shares"]["share"][0]["id"].as_str().unwrap().to_string();
    let page = http(lib.d.port, "GET", &format!("/share/{share_id}"), &[], b"").unwrap().text();
    assert!(page.contains("Beta One") && page.contains("Beta Two"), "{page}");
    // The page's stream links carry a token each (data-id).
    let token = page.split(" data-id=\"").nth(1).and_then(|s| s.split('"').next()).expect("a stream link").to_string();
    let path = format!("/share/{share_id}/stream/{token}");
    assert_eq!(http(lib.d.port, "GET", &path, &[], b"").unwrap().status, 200, "the link plays");
    lib.ok(ADMIN, "updateUser", &format!("username=bob&musicFolderId={}", lib.folder_a));
    let page = http(lib.d.port, "GET", &format!("/share/{share_id}"), &[], b"").unwrap().text();
    assert!(!page.contains("Beta One") && !page.contains("Beta Two"), "bob no longer sees folder B: {page}");
    assert_ne!(http(lib.d.port, "GET", &path, &[], b"").unwrap().status, 200, "nor does his share's link play");
    assert_eq!(lib.err(ADMIN, "updateUser", "username=bob&musicFolderId=987654"), 70, "an unknown folder");
    assert_eq!(lib.err(ADMIN, "updateUser", "username=bob&musicFolderId=x"), 0, "not a number");
}

/// The names of a zip's entries (the central directory read by hand: no zip crate here).
fn zip_entries(zip: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 46 <= zip.len() {
        if zip[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] {
            let n = u16::from_le_bytes([zip[i + 28], zip[i + 29]]) as usize;
            let extra = u16::from_le_bytes([zip[i + 30], zip[i + 31]]) as usize;
            let comment = u16::from_le_bytes([zip[i + 32], zip[i + 33]]) as usize;
            out.push(String::from_utf8_lossy(&zip[i + 46..i + 46 + n]).into_owned());
            i += 46 + n + extra + comment;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn the_answer_cache_never_serves_one_users_answer_to_another_nor_after_their_access_changed() {
    let lib = library("");
    let q = "type=alphabeticalByName&size=50";
    let albums = |user: &str| -> Vec<String> {
        let v = lib.ok(user, "getAlbumList2", q);
        let mut names: Vec<String> = v["albumList2"]["album"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    // In turn, twice each: the second of each is the one a cache would answer.
    for _ in 0..2 {
        assert_eq!(albums("alice"), ["Alpha Album", "Both in A"]);
        assert_eq!(albums("bob"), ["Beta Album", "Both in B"]);
        assert_eq!(albums(ADMIN).len(), 4);
    }
    // Changed offline beside the running daemon (no write of the daemon's own moves its
    // generation): the next answer is made for the new access.
    let out = lib.d.fx.cli(&["user", "folders", "alice", "--all"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("every music folder"), "{out:?}");
    assert_eq!(albums("alice").len(), 4);
    let out = lib.d.fx.cli(&["user", "folders", "alice", "music2"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("music2"), "{out:?}");
    assert_eq!(albums("alice"), ["Beta Album", "Both in B"]);
    let out = lib.d.fx.cli(&["user", "folders", "alice", "nowhere"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no music folder \"nowhere\""), "{out:?}");
    assert_eq!(albums("alice"), ["Beta Album", "Both in B"], "a refused change changes nothing");
    // Through Subsonic too.
    lib.ok(ADMIN, "updateUser", &format!("username=alice&musicFolderId={}", lib.folder_a));
    assert_eq!(albums("alice"), ["Alpha Album", "Both in A"]);
    // `user add --folders` restricts a new user from the start.
    let out = lib.d.fx.cli(&["user", "add", "carol", "--folders", "music2"], "carol-pass\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(albums("carol"), ["Beta Album", "Both in B"]);
}

/// getAlbumList2's alphabetical and newest lists come from orders the broker keeps for users
/// who see every folder (broker/album_order.rs); a user granted folders one by one is listed
/// by SQL instead, album by album. Both give the same albums in the same order on every page,
/// and a rescan that adds one album and empties another changes both at once.
#[test]
fn kept_album_orders_page_like_the_per_user_query_through_a_rescan() {
    let lib = library("");
    let (fa, fb) = (lib.folder_a, lib.folder_b);
    lib.ok(
        ADMIN,
        "createUser",
        &format!("username=carol&password=carol-pass&email=c@example.com&musicFolderId={fa}&musicFolderId={fb}"),
    );
    let page = |user: &str, kind: &str, size: usize, offset: usize| -> Vec<String> {
        let v = lib.ok(user, "getAlbumList2", &format!("type={kind}&size={size}&offset={offset}"));
        let list = v["albumList2"]["album"].as_array().cloned().unwrap_or_default();
        list.iter().map(|a| a["name"].as_str().unwrap().to_string()).collect()
    };
    let every_page_agrees = |names: &[&str]| {
        for kind in ["alphabeticalByName", "alphabeticalByArtist", "newest"] {
            let whole = page(ADMIN, kind, 500, 0);
            let mut sorted = whole.clone();
            sorted.sort();
            assert_eq!(sorted, names, "{kind}");
            assert_eq!(page("carol", kind, 500, 0), whole, "{kind}");
            for size in 1..=3 {
                for offset in 0..=names.len() + 1 {
                    let kept = page(ADMIN, kind, size, offset);
                    let slice = &whole[offset.min(whole.len())..(offset + size).min(whole.len())];
                    assert_eq!(kept, slice, "{kind} size {size} offset {offset}");
                    assert_eq!(page("carol", kind, size, offset), kept, "{kind} size {size} offset {offset}");
                }
            }
        }
    };
    every_page_agrees(&["Alpha Album", "Beta Album", "Both in A", "Both in B"]);
    assert_eq!(page(ADMIN, "alphabeticalByName", 500, 0), ["Alpha Album", "Beta Album", "Both in A", "Both in B"]);
    assert_eq!(page(ADMIN, "alphabeticalByArtist", 500, 0), ["Alpha Album", "Beta Album", "Both in A", "Both in B"]);

    // A new album that sorts first by name and by artist, and one whose songs are gone.
    let new = lib.d.fx.music.join("Aardvark");
    std::fs::create_dir_all(&new).unwrap();
    tone(
        &new.join("01.flac"),
        &[("title", "Aa One"), ("artist", "Aa Band"), ("album_artist", "Aa Band"), ("album", "Aardvark")],
    );
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&new).status();
    for song in ["01.flac", "02.flac"] {
        std::fs::remove_file(lib.d.fx.dir.join("music2/Beta").join(song)).unwrap();
    }
    lib.ok(ADMIN, "startScan", "");
    lib.d.wait_scans(2);
    every_page_agrees(&["Aardvark", "Alpha Album", "Both in A", "Both in B"]);
    assert_eq!(page(ADMIN, "alphabeticalByName", 1, 0), ["Aardvark"]);
    assert_eq!(page(ADMIN, "alphabeticalByArtist", 1, 0), ["Aardvark"]);
    assert_eq!(page(ADMIN, "newest", 1, 0), ["Aardvark"], "the newest album is the one just scanned");
}
