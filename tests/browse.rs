//! The read side of the Subsonic API against the running daemon on a generated library:
//! content, paging and errors, with every XML answer validated against the XSD and every JSON
//! answer against the OpenAPI spec.

mod common;

use common::media::{self, Tags};
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const Q: &str = "v=1.16.1&c=test";

struct Lib {
    d: Daemon,
}

impl Lib {
    /// Calls a method in JSON and XML; validates both; returns the JSON subsonic-response.
    fn call(&self, method: &str, query: &str) -> Value {
        let sep = if query.is_empty() { "" } else { "&" };
        let auth = format!("u={ADMIN}&p={ADMIN_PASSWORD}&{Q}");
        let xml = self.d.get(&format!("/rest/{method}?{auth}{sep}{query}")).unwrap().text();
        assert_valid_xml(&xml);
        let json = self.d.get(&format!("/rest/{method}?{auth}&f=json{sep}{query}")).unwrap().text();
        assert_valid_json(method, &json);
        serde_json::from_str::<Value>(&json).unwrap()["subsonic-response"].clone()
    }

    fn ok(&self, method: &str, query: &str) -> Value {
        let v = self.call(method, query);
        assert_eq!(v["status"], "ok", "{method}?{query}: {v}");
        v
    }

    fn err(&self, method: &str, query: &str) -> i64 {
        let v = self.call(method, query);
        assert_eq!(v["status"], "failed", "{method}?{query}: {v}");
        v["error"]["code"].as_i64().unwrap()
    }
}

fn arr(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Three album artists (one with an article), two albums each, three songs per album, years
/// 2001..2006, two genres; one compilation; a diacritic in a title.
fn library() -> Lib {
    let fx = Fixture::new();
    media::small_library(&fx.music, ((1, 0, 1), "Café Song"));
    let comp = fx.music.join("Various/Hits");
    std::fs::create_dir_all(&comp).unwrap();
    for (i, a) in ["Delta", "Echo"].iter().enumerate() {
        media::write_track(
            &comp.join(format!("{i}.mp3")),
            "mp3",
            &Tags {
                title: Some(format!("Hit {i}")),
                artist: Some(a.to_string()),
                album: Some("Hits".into()),
                compilation: Some(true),
                year: Some(1999),
                ..Tags::default()
            },
        );
    }
    serve(fx)
}

/// Starts the daemon on a fixture's library (readable by its uid) and waits for the scan.
fn serve(fx: Fixture) -> Lib {
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    Lib { d }
}

#[test]
fn folders_indexes_and_directories() {
    let l = library();
    let mf = l.ok("getMusicFolders", "");
    let folders = arr(&mf["musicFolders"]["musicFolder"]);
    assert_eq!(folders.len(), 1);
    let idx = l.ok("getIndexes", "");
    let index = arr(&idx["indexes"]["index"]);
    let letters: Vec<&str> = index.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(letters, ["A", "B", "C", "V"], "\"The Alphas\" is filed under A: {idx}");
    // ifModifiedSince at or after lastModified: nothing new.
    let lm = idx["indexes"]["lastModified"].as_i64().unwrap();
    let again = l.ok("getIndexes", &format!("ifModifiedSince={lm}"));
    assert!(arr(&again["indexes"]["index"]).is_empty());
    // Folder browsing down to songs.
    let bravo = index[1]["artist"][0]["id"].as_str().unwrap().to_string();
    let dir = l.ok("getMusicDirectory", &format!("id={bravo}"));
    let albums = arr(&dir["directory"]["child"]);
    assert_eq!(albums.len(), 2);
    assert!(albums.iter().all(|c| c["isDir"] == true));
    let album_dir = l.ok("getMusicDirectory", &format!("id={}", albums[0]["id"].as_str().unwrap()));
    let songs = arr(&album_dir["directory"]["child"]);
    assert_eq!(songs.len(), 3);
    assert_eq!(songs[0]["title"], "Café Song");
    assert_eq!(songs[0]["parent"], albums[0]["id"]);
    assert_eq!(l.err("getMusicDirectory", "id=fd999999"), 70);
    assert_eq!(l.err("getMusicDirectory", ""), 10);
    assert_eq!(l.err("getIndexes", "musicFolderId=42"), 70);
}

#[test]
fn artists_albums_songs_and_genres() {
    let l = library();
    let a = l.ok("getArtists", "");
    let index = arr(&a["artists"]["index"]);
    let names: Vec<String> =
        index.iter().flat_map(|i| arr(&i["artist"])).map(|x| x["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["The Alphas", "Bravo Band", "Charlie", "Various Artists"]);
    assert_eq!(a["artists"]["ignoredArticles"], "The El La Los Las Le Les Os As O A");
    let alphas = arr(&index[0]["artist"])[0].clone();
    assert_eq!(alphas["albumCount"], 2);
    let artist = l.ok("getArtist", &format!("id={}", alphas["id"].as_str().unwrap()));
    let albums = arr(&artist["artist"]["album"]);
    assert_eq!(albums.len(), 2);
    assert_eq!((albums[0]["year"].as_i64(), albums[1]["year"].as_i64()), (Some(2001), Some(2002)));
    let album = l.ok("getAlbum", &format!("id={}", albums[0]["id"].as_str().unwrap()));
    let songs = arr(&album["album"]["song"]);
    assert_eq!(songs.len(), 3);
    let tracks: Vec<i64> = songs.iter().map(|s| s["track"].as_i64().unwrap()).collect();
    assert_eq!(tracks, [1, 2, 3]);
    assert_eq!(album["album"]["songCount"], 3);
    assert!(album["album"]["originalReleaseDate"].is_null(), "none tagged");
    assert_eq!(songs[0]["genres"][0]["name"], "Rock");
    assert_eq!(songs[0]["contentType"], "audio/mpeg");
    assert!(songs[0]["path"].as_str().unwrap().ends_with("/01.mp3"));
    let song = l.ok("getSong", &format!("id={}", songs[1]["id"].as_str().unwrap()));
    assert_eq!(song["song"]["title"], songs[1]["title"]);
    // An album's songs take their album name from the album row, getSong from its join.
    assert_eq!(song["song"]["album"], album["album"]["name"]);
    for s in &songs {
        assert_eq!(s["album"], album["album"]["name"], "{s}");
    }
    assert_eq!(l.err("getSong", "id=nope"), 70);
    assert_eq!(l.err("getAlbum", "id=nope"), 70);
    assert_eq!(l.err("getArtist", "id=nope"), 70);
    let genres = l.ok("getGenres", "");
    let g: Vec<(String, i64, i64)> = arr(&genres["genres"]["genre"])
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_string(),
                g["songCount"].as_i64().unwrap(),
                g["albumCount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(g, [("Jazz".to_string(), 9, 3), ("Rock".to_string(), 9, 3)]);
    // Info calls answer valid, empty info from local data.
    let id = alphas["id"].as_str().unwrap();
    l.ok("getArtistInfo", &format!("id={id}"));
    l.ok("getArtistInfo2", &format!("id={id}"));
    l.ok("getAlbumInfo", &format!("id={}", albums[0]["id"].as_str().unwrap()));
    l.ok("getAlbumInfo2", &format!("id={}", albums[0]["id"].as_str().unwrap()));
    let similar = l.ok("getSimilarSongs2", &format!("id={}&count=4", songs[0]["id"].as_str().unwrap()));
    let sim = arr(&similar["similarSongs2"]["song"]);
    assert!(!sim.is_empty() && sim.len() <= 4 && sim.iter().all(|s| s["id"] != songs[0]["id"]));
    l.ok("getSimilarSongs", &format!("id={id}"));
    let top = l.ok("getTopSongs", "artist=charlie&count=2");
    assert_eq!(arr(&top["topSongs"]["song"]).len(), 2);
}

#[test]
fn every_album_list_type_with_paging() {
    let l = library();
    let names = |v: &Value, key: &str| -> Vec<String> {
        arr(&v[key]["album"]).iter().map(|a| a["name"].as_str().or(a["title"].as_str()).unwrap().to_string()).collect()
    };
    for method in ["getAlbumList", "getAlbumList2"] {
        let key = if method.ends_with('2') { "albumList2" } else { "albumList" };
        let all = names(&l.ok(method, "type=alphabeticalByName&size=500"), key);
        assert_eq!(all, ["Album 00", "Album 01", "Album 10", "Album 11", "Album 20", "Album 21", "Hits"]);
        let page = names(&l.ok(method, "type=alphabeticalByName&size=2&offset=2"), key);
        assert_eq!(page, ["Album 10", "Album 11"]);
        let by_artist = names(&l.ok(method, "type=alphabeticalByArtist&size=3"), key);
        assert_eq!(by_artist, ["Album 10", "Album 11", "Album 20"], "Bravo Band, Charlie, The Alphas…");
        let newest = names(&l.ok(method, "type=newest&size=500"), key);
        assert_eq!(newest.len(), 7);
        let random = names(&l.ok(method, "type=random&size=3"), key);
        assert_eq!(random.len(), 3);
        let up = names(&l.ok(method, "type=byYear&fromYear=2002&toYear=2004"), key);
        assert_eq!(up, ["Album 01", "Album 10", "Album 11"]);
        let down = names(&l.ok(method, "type=byYear&fromYear=2004&toYear=2002"), key);
        assert_eq!(down, ["Album 11", "Album 10", "Album 01"]);
        let jazz = names(&l.ok(method, "type=byGenre&genre=jazz&size=500"), key);
        assert_eq!(jazz, ["Album 01", "Album 11", "Album 21"]);
        for empty in ["highest", "frequent", "recent", "starred"] {
            assert!(
                names(&l.ok(method, &format!("type={empty}")), key).is_empty(),
                "{empty}: nothing rated, played or starred yet"
            );
        }
        assert_eq!(l.err(method, ""), 10);
        assert_eq!(l.err(method, "type=byYear&fromYear=2000"), 10);
        assert_eq!(l.err(method, "type=byGenre"), 10);
        assert_eq!(l.err(method, "type=sideways"), 0);
        assert_eq!(l.err(method, "type=newest&size=many"), 0);
    }
}

#[test]
fn random_songs_songs_by_genre_and_starred() {
    let l = library();
    let r = l.ok("getRandomSongs", "size=5");
    assert_eq!(arr(&r["randomSongs"]["song"]).len(), 5);
    let r = l.ok("getRandomSongs", "size=50&genre=Rock&fromYear=2001&toYear=2003");
    let songs = arr(&r["randomSongs"]["song"]);
    assert_eq!(songs.len(), 6, "Rock albums of 2001 and 2003");
    assert!(songs.iter().all(|s| s["genre"] == "Rock"));
    let g = l.ok("getSongsByGenre", "genre=Jazz&count=4&offset=0");
    let first = arr(&g["songsByGenre"]["song"]);
    let g2 = l.ok("getSongsByGenre", "genre=Jazz&count=10&offset=4");
    let rest = arr(&g2["songsByGenre"]["song"]);
    assert_eq!((first.len(), rest.len()), (4, 5));
    assert!(first.iter().all(|a| rest.iter().all(|b| a["id"] != b["id"])));
    assert_eq!(l.err("getSongsByGenre", ""), 10);
    let s = l.ok("getStarred", "");
    assert!(s["starred"].is_object());
    let s2 = l.ok("getStarred2", "");
    assert!(s2["starred2"].is_object());
}

#[test]
fn search_by_word_prefix_ignoring_case_and_diacritics_and_the_empty_query_pages_everything() {
    let l = library();
    let r = l.ok("search3", "query=cafe");
    let songs = arr(&r["searchResult3"]["song"]);
    assert_eq!(songs.len(), 1);
    assert_eq!(songs[0]["title"], "Café Song");
    let r = l.ok("search3", "query=BRAV");
    assert_eq!(arr(&r["searchResult3"]["artist"]).len(), 1, "word prefix, any case: {r}");
    assert_eq!(arr(&r["searchResult3"]["song"]).len(), 6, "songs of Bravo Band");
    let r = l.ok("search3", "query=album%2011");
    assert_eq!(arr(&r["searchResult3"]["album"]).len(), 1);
    let r = l.ok("search2", "query=charlie");
    assert_eq!(arr(&r["searchResult2"]["artist"]).len(), 1);
    // The empty query: everything, paged to the end.
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let r = l.ok("search3", &format!("query=&songCount=4&songOffset={offset}&artistCount=0&albumCount=0"));
        let page = arr(&r["searchResult3"]["song"]);
        if page.is_empty() {
            break;
        }
        for s in &page {
            assert!(seen.insert(s["id"].as_str().unwrap().to_string()), "a song came twice");
        }
        offset += 4;
    }
    assert_eq!(seen.len(), 20);
    let r = l.ok("search3", "query=%22%22&albumCount=100&artistCount=100&songCount=0");
    assert_eq!(arr(&r["searchResult3"]["album"]).len(), 7, "clients that send \"\" get everything too");
    assert_eq!(arr(&r["searchResult3"]["artist"]).len(), 6, "every artist with a song");
    assert!(arr(&l.ok("search3", "query=zzzz")["searchResult3"]["song"]).is_empty());
}

#[test]
fn t16_sql_and_fts_injection_through_string_parameters_fails_safely() {
    let l = library();
    for evil in ["' OR '1'='1", "\" OR \"\"=\"", "x'); DROP TABLE tracks; --", "*", "NEAR(a b)", "a OR b", "%", "\\"] {
        let e: String = evil
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        assert_eq!(l.err("getSong", &format!("id={e}")), 70, "{evil}");
        assert_eq!(l.err("getAlbum", &format!("id={e}")), 70, "{evil}");
        assert_eq!(l.err("getArtist", &format!("id={e}")), 70, "{evil}");
        assert_eq!(l.err("getMusicDirectory", &format!("id={e}")), 70, "{evil}");
        assert!(arr(&l.ok("getSongsByGenre", &format!("genre={e}"))["songsByGenre"]["song"]).is_empty(), "{evil}");
        assert!(arr(&l.ok("getTopSongs", &format!("artist={e}"))["topSongs"]["song"]).is_empty(), "{evil}");
        assert!(
            arr(&l.ok("getAlbumList2", &format!("type=byGenre&genre={e}"))["albumList2"]["album"]).is_empty(),
            "{evil}"
        );
        let r = l.ok("search3", &format!("query={e}"));
        assert!(arr(&r["searchResult3"]["song"]).len() <= 20, "{evil}");
    }
    // Still all there.
    let r = l.ok("search3", "query=&songCount=500&artistCount=0&albumCount=0");
    assert_eq!(arr(&r["searchResult3"]["song"]).len(), 20);
}

#[test]
fn a_non_admin_reads_the_library_too() {
    let l = library();
    l.d.fx.add_user("reader", "reader-pass", false);
    let r: Value =
        serde_json::from_slice(&l.d.get(&format!("/rest/getArtists?u=reader&p=reader-pass&{Q}&f=json")).unwrap().body)
            .unwrap();
    assert_eq!(r["subsonic-response"]["status"], "ok");
    let r: Value =
        serde_json::from_slice(&l.d.get(&format!("/rest/getArtists?u=reader&p=wrong&{Q}&f=json")).unwrap().body)
            .unwrap();
    assert_eq!(r["subsonic-response"]["error"]["code"], 40);
}

#[test]
fn albums_carry_disc_titles_and_the_original_release_date() {
    let fx = Fixture::new();
    let dir = fx.music.join("Box/Set");
    std::fs::create_dir_all(&dir).unwrap();
    for (disc, sub) in [(1, "The Early Years"), (2, "The Late Years")] {
        media::write_track(
            &dir.join(format!("{disc}.flac")),
            "flac",
            &Tags {
                title: Some(format!("Disc {disc} opener")),
                artist: Some("Boxer".into()),
                album: Some("Set".into()),
                disc: Some(disc),
                disc_subtitle: Some(sub.into()),
                original_date: Some("1971-03-09".into()),
                ..Tags::default()
            },
        );
    }
    let l = serve(fx);
    let list = l.ok("getAlbumList2", "type=newest");
    let id = list["albumList2"]["album"][0]["id"].as_str().unwrap().to_string();
    let a = l.ok("getAlbum", &format!("id={id}"));
    let titles: Vec<(i64, String)> = arr(&a["album"]["discTitles"])
        .iter()
        .map(|t| (t["disc"].as_i64().unwrap(), t["title"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(titles, [(1, "The Early Years".to_string()), (2, "The Late Years".to_string())]);
    let o = &a["album"]["originalReleaseDate"];
    assert_eq!((o["year"].as_i64(), o["month"].as_i64(), o["day"].as_i64()), (Some(1971), Some(3), Some(9)));
}

/// getAlbum lists an album's songs by disc, then track number (songs without one first),
/// then title with ASCII letters compared without case, whatever order the files were stored in.
#[test]
fn album_songs_come_by_disc_track_and_title() {
    let fx = Fixture::new();
    let dir = fx.music.join("Order/Album");
    std::fs::create_dir_all(&dir).unwrap();
    // File names in an order unlike the expected one (the scanner stores them by name).
    let songs: [(&str, Option<u32>, Option<u32>, &str); 7] = [
        ("a", Some(2), Some(1), "Second disc"),
        ("b", Some(1), Some(2), "Two"),
        ("c", Some(1), Some(1), "one"),
        ("d", Some(1), None, "B untracked"),
        ("e", Some(1), None, "a untracked"),
        ("f", None, None, "no disc"),
        ("g", Some(1), Some(2), "three"),
    ];
    for (file, disc, track, title) in songs {
        media::write_track(
            &dir.join(format!("{file}.mp3")),
            "mp3",
            &Tags {
                title: Some(title.into()),
                artist: Some("Orderly".into()),
                album: Some("Album".into()),
                disc,
                track,
                ..Tags::default()
            },
        );
    }
    let l = serve(fx);
    let list = l.ok("getAlbumList2", "type=newest");
    let id = list["albumList2"]["album"][0]["id"].as_str().unwrap().to_string();
    let a = l.ok("getAlbum", &format!("id={id}"));
    let titles: Vec<String> =
        arr(&a["album"]["song"]).iter().map(|s| s["title"].as_str().unwrap().to_string()).collect();
    // Byte order would put "B" before "a" and "Two" before "three".
    assert_eq!(titles, ["no disc", "a untracked", "B untracked", "one", "three", "Two", "Second disc"]);
}

/// search3 with the empty query, how clients sync a whole library, pages through the songs
/// present: a file gone since the last scan leaves no hole in a page and no song comes twice.
/// (For a user who sees every folder the page comes from the `tracks_present_in_order` index;
/// browse::tests checks the plans.)
#[test]
fn the_empty_query_pages_through_the_present_songs() {
    let fx = Fixture::new();
    media::small_library(&fx.music, ((1, 0, 1), "Café Song"));
    let l = serve(fx);
    let pages = |l: &Lib| {
        let (mut ids, mut sizes, mut offset) = (Vec::new(), Vec::new(), 0);
        loop {
            let r = l.ok("search3", &format!("query=&songCount=4&songOffset={offset}&artistCount=0&albumCount=0"));
            let page = arr(&r["searchResult3"]["song"]);
            if page.is_empty() {
                return (ids, sizes);
            }
            sizes.push(page.len());
            ids.extend(page.iter().map(|s| s["id"].as_str().unwrap().to_string()));
            offset += 4;
        }
    };
    let (before, _) = pages(&l);
    assert_eq!(before.len(), 18);
    // A song in the middle of the library (small_library's layout).
    std::fs::remove_file(l.d.fx.music.join("Bravo Band/Album 10/02.mp3")).unwrap();
    assert_eq!(l.ok("startScan", "")["scanStatus"]["scanning"], true);
    l.d.wait_scans(2);
    let (after, sizes) = pages(&l);
    assert_eq!(sizes, [4, 4, 4, 4, 1], "every page but the last is full");
    assert_eq!(after.len(), 17);
    assert!(after.iter().all(|id| before.contains(id)));
    assert_eq!(after.iter().collect::<std::collections::HashSet<_>>().len(), 17, "no song twice");
}

/// A library as people have them: tagged albums, a compilation with per-track artists, a
/// guest on someone else's album, untagged rips in two folders, files with only an artist or
/// only a title, an album without an artist, a compilation without an album name, a file at
/// the top of the music folder, and formats without a tag reader. Returns the number of songs.
fn mixed_library(music: &std::path::Path) -> usize {
    let mut n = 0;
    let mut put = |rel: &str, format: &str, tags: Tags| {
        let p = music.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        media::write_track(&p, format, &tags);
        n += 1;
    };
    let t = |title: &str| Tags { title: Some(title.into()), ..Tags::default() };
    for (i, a) in ["Delta", "Echo"].iter().enumerate() {
        put(
            &format!("Various/Hits/{i}.mp3"),
            "mp3",
            Tags {
                artist: Some(a.to_string()),
                album: Some("Hits".into()),
                compilation: Some(true),
                ..t(&format!("Hit {i}"))
            },
        );
    }
    for i in 0..2 {
        put(
            &format!("Host/Live/{i}.flac"),
            "flac",
            Tags {
                artist: Some(if i == 0 { "Host".into() } else { "Host feat. Guest".into() }),
                album_artist: Some("Host".into()),
                album: Some("Live".into()),
                track: Some(i + 1),
                ..t(&format!("Live {i}"))
            },
        );
    }
    for f in ["mp3", "flac", "ogg", "m4a"] {
        put(&format!("Untagged/Rips/track-{f}.{}", media::suffix(f)), f, Tags::default());
    }
    for f in ["mp3", "wav"] {
        put(&format!("Untagged/More/other-{f}.{}", media::suffix(f)), f, Tags::default());
    }
    for i in 0..2 {
        put(&format!("Only Artist/{i}.mp3"), "mp3", Tags { artist: Some("Solo Person".into()), ..Tags::default() });
    }
    put("Only Title/a.opus", "opus", t("Just A Title"));
    for i in 0..2 {
        put(&format!("Nameless/{i}.mp3"), "mp3", Tags { album: Some("Nameless Album".into()), ..t(&format!("N{i}")) });
    }
    for (i, a) in ["Foxtrot", "Golf"].iter().enumerate() {
        put(
            &format!("Mixtape/{i}.ogg"),
            "ogg",
            Tags { artist: Some(a.to_string()), compilation: Some(true), ..t(&format!("Mix {i}")) },
        );
    }
    put("loose.mp3", "mp3", Tags::default());
    put("Odd/a.wma", "wma", t("ignored: not read"));
    put("Odd/b.mka", "mka", Tags::default());
    for f in ["dsf", "dff", "tak"] {
        media::unwritable_stub(&music.join(format!("Odd/c.{f}")), f);
        n += 1;
    }
    n
}

/// Every song id reachable by ID3 browsing (getArtists -> getArtist -> getAlbum), with the
/// album of each; and every artist id named on those songs.
fn id3_walk(l: &Lib) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut songs = BTreeMap::new();
    let mut song_artists = BTreeSet::new();
    let artists = l.ok("getArtists", "");
    for index in arr(&artists["artists"]["index"]) {
        for a in arr(&index["artist"]) {
            let artist = l.ok("getArtist", &format!("id={}", a["id"].as_str().unwrap()));
            let albums = arr(&artist["artist"]["album"]);
            assert_eq!(a["albumCount"].as_u64(), Some(albums.len() as u64), "{a} vs {artist}");
            for al in albums {
                let album = l.ok("getAlbum", &format!("id={}", al["id"].as_str().unwrap()));
                let list = arr(&album["album"]["song"]);
                assert_eq!(album["album"]["songCount"].as_u64(), Some(list.len() as u64), "{album}");
                for s in list {
                    assert_eq!(s["albumId"], al["id"], "{s}");
                    for x in arr(&s["artists"]) {
                        song_artists.insert(x["id"].as_str().unwrap().to_string());
                    }
                    songs.insert(s["id"].as_str().unwrap().to_string(), al["id"].as_str().unwrap().to_string());
                }
            }
        }
    }
    (songs, song_artists)
}

/// Every song id reachable by folder browsing (getIndexes -> getMusicDirectory, recursively).
fn folder_walk(l: &Lib) -> BTreeSet<String> {
    let mut songs = BTreeSet::new();
    let idx = l.ok("getIndexes", "");
    let mut todo: Vec<String> = Vec::new();
    for index in arr(&idx["indexes"]["index"]) {
        todo.extend(arr(&index["artist"]).iter().map(|a| a["id"].as_str().unwrap().to_string()));
    }
    for c in arr(&idx["indexes"]["child"]) {
        assert_eq!(c["isDir"], false, "{c}");
        songs.insert(c["id"].as_str().unwrap().to_string());
    }
    while let Some(id) = todo.pop() {
        let dir = l.ok("getMusicDirectory", &format!("id={id}"));
        for c in arr(&dir["directory"]["child"]) {
            let cid = c["id"].as_str().unwrap().to_string();
            if c["isDir"] == true {
                todo.push(cid);
            } else {
                songs.insert(cid);
            }
        }
    }
    songs
}

/// Issue 11, item 5: getArtists -> getArtist -> getAlbum and getIndexes -> getMusicDirectory
/// each reach every song of a mixed library, and the "[Unknown Album]" ids survive rescans.
#[test]
fn every_song_of_a_mixed_library_is_reachable_by_id3_and_by_folders() {
    let fx = Fixture::new();
    media::small_library(&fx.music, ((0, 0, 1), "Song 001"));
    let files = 18 + mixed_library(&fx.music);
    let l = serve(fx);
    // Every song the server has (the empty search pages everything).
    let all = l.ok("search3", "query=&songCount=500&albumCount=0&artistCount=0");
    let every: BTreeSet<String> =
        arr(&all["searchResult3"]["song"]).iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(every.len(), files, "every file is a song: {all}");

    let (by_id3, song_artists) = id3_walk(&l);
    let id3: BTreeSet<String> = by_id3.keys().cloned().collect();
    assert_eq!(id3, every, "ID3 browsing misses {:?}", every.difference(&id3).collect::<Vec<_>>());
    let folders = folder_walk(&l);
    assert_eq!(folders, every, "folder browsing misses {:?}", every.difference(&folders).collect::<Vec<_>>());

    // Songs without an album tag: an "[Unknown Album]" per album artist and folder.
    let song = |title: &str| -> Value {
        let s = arr(&all["searchResult3"]["song"]).into_iter().find(|s| s["title"] == title);
        s.unwrap_or_else(|| panic!("no song {title:?}: {all}"))
    };
    let rips = song("track-mp3");
    assert_eq!((rips["album"].as_str(), rips["artist"].as_str()), (Some("[Unknown Album]"), Some("[Unknown Artist]")));
    assert_eq!(song("track-flac")["albumId"], rips["albumId"], "one album per folder");
    assert_ne!(song("other-mp3")["albumId"], rips["albumId"], "another folder, another album");
    assert_ne!(song("loose")["albumId"], rips["albumId"]);
    assert_eq!(song("0")["album"], "[Unknown Album]", "only an artist: {}", song("0"));
    assert_eq!(song("0")["displayAlbumArtist"], "Solo Person");
    assert_eq!(song("Mix 0")["albumId"], song("Mix 1")["albumId"], "a compilation without an album name");
    assert_eq!(song("Mix 0")["displayAlbumArtist"], "Various Artists");
    assert_eq!(song("N0")["album"], "Nameless Album");
    assert_eq!(song("c")["album"], "[Unknown Album]", "{}", song("c"));
    let unknown = l.ok("getAlbum", &format!("id={}", rips["albumId"].as_str().unwrap()));
    assert_eq!(unknown["album"]["songCount"], 4, "{unknown}");
    assert_eq!(unknown["album"]["name"], "[Unknown Album]");

    // Track-only artists (a compilation's, a guest's) have the albums they appear on.
    let artist_name = |id: &str| l.ok("getArtist", &format!("id={id}"))["artist"].clone();
    let mut track_only = 0;
    for id in &song_artists {
        let a = artist_name(id);
        let albums = arr(&a["album"]);
        assert!(!albums.is_empty() && a["albumCount"].as_u64() == Some(albums.len() as u64), "{a}");
        if ["Delta", "Echo", "Guest", "Foxtrot", "Golf"].contains(&a["name"].as_str().unwrap()) {
            track_only += 1;
        }
    }
    assert_eq!(track_only, 5, "{song_artists:?}");
    let guest = l.ok("search3", "query=Guest&songCount=0&albumCount=0")["searchResult3"]["artist"][0].clone();
    assert_eq!(guest["albumCount"], 1, "{guest}");
    let guest = artist_name(guest["id"].as_str().unwrap());
    assert_eq!(guest["album"][0]["name"], "Live", "{guest}");

    // A full rescan keeps every id, the unknown albums' too.
    let before = by_id3;
    assert_eq!(l.ok("startScan", "fullScan=true")["scanStatus"]["scanning"], true);
    l.d.wait_scans(2);
    let (after, _) = id3_walk(&l);
    assert_eq!(after, before, "song and album ids after a full rescan");
}

/// Release types and the explicit flag under the names lofty's generic tag has no key for,
/// read from each format's own tag: ID3v2 `TXXX:RELEASETYPE`, MP4
/// `----:com.apple.iTunes:RELEASETYPE`, and the Vorbis comment `ITUNESADVISORY` in FLAC, Ogg
/// Vorbis and Opus. Each album carries only the other-named item, so a miss shows as empty.
#[test]
fn release_types_and_advisories_under_their_other_names() {
    let fx = Fixture::new();
    let cases = [
        ("mp3", "RELEASETYPE", "ep"),
        ("m4a", "RELEASETYPE", "single; live"),
        ("flac", "ITUNESADVISORY", "1"),
        ("ogg", "ITUNESADVISORY", "2"),
        ("opus", "ITUNESADVISORY", "1"),
    ];
    for (f, key, value) in cases {
        let dir = fx.music.join(format!("Other/{f}"));
        std::fs::create_dir_all(&dir).unwrap();
        let tags = Tags {
            title: Some(format!("Other song {f}")),
            artist: Some("Othername".into()),
            album: Some(format!("Othername {f}")),
            native: vec![(key.into(), value.into())],
            ..Tags::default()
        };
        media::write_track(&dir.join(format!("1.{}", media::suffix(f))), f, &tags);
    }
    let lib = serve(fx);
    let found = lib.ok("search3", "query=Othername&albumCount=20");
    let albums = arr(&found["searchResult3"]["album"]);
    assert_eq!(albums.len(), cases.len(), "{found}");
    for (f, _, _) in cases {
        let id = albums.iter().find(|a| a["name"] == format!("Othername {f}")).unwrap()["id"].clone();
        let album = lib.ok("getAlbum", &format!("id={}", id.as_str().unwrap()))["album"].clone();
        let (types, explicit) = match f {
            "mp3" => (serde_json::json!(["ep"]), ""),
            "m4a" => (serde_json::json!(["single", "live"]), ""),
            "ogg" => (serde_json::json!([]), "clean"),
            _ => (serde_json::json!([]), "explicit"),
        };
        assert_eq!(album["releaseTypes"], types, "{f}: {album}");
        assert_eq!(album["explicitStatus"], explicit, "{f}: {album}");
        assert_eq!(album["song"][0]["explicitStatus"], explicit, "{f}: {album}");
    }
}

/// Album fields clients show, read from each tag format's own tags (ID3v2, Vorbis comments in
/// FLAC and Opus, MP4 ilst, APE), in every answer albums appear in, valid XML and JSON.
#[test]
fn album_fields_come_from_each_tag_format() {
    let fx = Fixture::new();
    let formats = ["mp3", "flac", "opus", "m4a", "wv"];
    for f in formats {
        let dir = fx.music.join(format!("Fields/{f}"));
        std::fs::create_dir_all(&dir).unwrap();
        media::write_track(
            &dir.join(format!("1.{}", media::suffix(f))),
            f,
            &Tags {
                title: Some(format!("Field song {f}")),
                artist: Some("Fielder".into()),
                album: Some(format!("Fields {f}")),
                sort_album: Some(format!("Fields, The {f}")),
                date: Some("2004-05-06".into()),
                release_date: Some("2005-07-08".into()),
                original_date: Some("1999-01-02".into()),
                compilation: Some(true),
                release_types: vec!["album".into(), "live".into()],
                record_labels: vec![format!("Label {f}")],
                moods: vec!["calm".into(), "dark".into()],
                // ITUNESADVISORY (ID3 TXXX) and rtng (MP4) are what lofty maps.
                advisory: matches!(f, "mp3" | "m4a").then(|| if f == "mp3" { "1" } else { "2" }.into()),
                ..Tags::default()
            },
        );
    }
    let lib = serve(fx);
    let found = lib.ok("search3", "query=Fields&albumCount=20");
    let albums = arr(&found["searchResult3"]["album"]);
    assert_eq!(albums.len(), formats.len(), "{found}");
    let by_name = |list: &[Value], f: &str| -> Value {
        list.iter().find(|a| a["name"] == format!("Fields {f}")).cloned().unwrap_or_else(|| panic!("{f}: {list:?}"))
    };
    let check = |a: &Value, f: &str, rated: bool| {
        assert_eq!(a["sortName"], format!("Fields, The {f}"), "{f}: {a}");
        assert_eq!(a["isCompilation"], true, "{f}: {a}");
        assert_eq!(a["releaseTypes"], serde_json::json!(["album", "live"]), "{f}: {a}");
        assert_eq!(a["moods"], serde_json::json!(["calm", "dark"]), "{f}: {a}");
        assert_eq!(a["recordLabels"], serde_json::json!([{ "name": format!("Label {f}") }]), "{f}: {a}");
        assert_eq!(a["releaseDate"], serde_json::json!({"year": 2005, "month": 7, "day": 8}), "{f}: {a}");
        assert_eq!(a["originalReleaseDate"], serde_json::json!({"year": 1999, "month": 1, "day": 2}), "{f}: {a}");
        let explicit = match f {
            "mp3" => "explicit",
            "m4a" => "clean",
            _ => "",
        };
        assert_eq!(a["explicitStatus"], explicit, "{f}: {a}");
        if rated {
            assert_eq!(a["userRating"], 4, "{f}: {a}");
        }
    };
    for f in formats {
        check(&by_name(&albums, f), f, false);
    }
    let ids: Vec<String> = formats.iter().map(|f| by_name(&albums, f)["id"].as_str().unwrap().to_string()).collect();
    for id in &ids {
        lib.ok("setRating", &format!("id={id}&rating=4"));
        lib.ok("star", &format!("albumId={id}"));
    }
    for (f, id) in formats.iter().zip(&ids) {
        let album = lib.ok("getAlbum", &format!("id={id}"));
        check(&album["album"], f, true);
    }
    let list = lib.ok("getAlbumList2", "type=alphabeticalByName&size=50");
    let starred = lib.ok("getStarred2", "");
    let artist_id = by_name(&albums, "mp3")["artistId"].as_str().unwrap().to_string();
    let artist = lib.ok("getArtist", &format!("id={artist_id}"));
    for f in formats {
        check(&by_name(&arr(&list["albumList2"]["album"]), f), f, true);
        check(&by_name(&arr(&starred["starred2"]["album"]), f), f, true);
        check(&by_name(&arr(&artist["artist"]["album"]), f), f, true);
    }
    // The XML carries them as attributes and child elements.
    let xml = lib.d.get(&format!("/rest/getAlbum?u={ADMIN}&p={ADMIN_PASSWORD}&{Q}&id={}", ids[0])).unwrap().text();
    for part in [
        "explicitStatus=\"explicit\"",
        "<releaseTypes>album</releaseTypes><releaseTypes>live</releaseTypes>",
        "<moods>calm</moods>",
        "<recordLabels name=\"Label mp3\"/>",
        "<releaseDate year=\"2005\" month=\"7\" day=\"8\"/>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }
}
