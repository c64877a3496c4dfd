//! getCoverArt against the running daemon: folder images by CoverArtPriority, embedded
//! pictures, scaling, the cache, the placeholder, unknown ids, and decompression bombs that
//! fail cleanly while the daemon (and its transcoder) keep answering.

mod common;

use common::media::{self, Tags};
use common::*;
use serde_json::Value;

const Q: &str = "v=1.16.1&c=test";

fn cover_path(id: &str, extra: &str) -> String {
    format!("/rest/getCoverArt?u={ADMIN}&p={ADMIN_PASSWORD}&{Q}&f=json&id={id}{extra}")
}

fn cover(d: &Daemon, id: &str, extra: &str) -> HttpResponse {
    let r = d.get(&cover_path(id, extra)).unwrap();
    assert_eq!(r.status, 200, "{id}{extra}: {}", r.text());
    r
}

/// Decodes an answer: (content type, width, height).
fn decoded(r: &HttpResponse) -> (String, u32, u32) {
    let ct = r.header("content-type").unwrap_or_default().to_string();
    let img = image::load_from_memory(&r.body).unwrap_or_else(|e| panic!("{ct}: {e}"));
    (ct, img.width(), img.height())
}

/// A real JPEG whose frame header claims 60000×60000 pixels.
fn jpeg_bomb() -> Vec<u8> {
    let mut j = media::jpeg(16, 16);
    let sof = j.windows(2).position(|w| w == [0xff, 0xc0]).expect("a baseline SOF0 marker");
    j[sof + 5..sof + 9].copy_from_slice(&[0xea, 0x60, 0xea, 0x60]);
    j
}

fn track(dir: &std::path::Path, name: &str, artist: &str, album: &str, year: i32, picture: Option<Vec<u8>>) {
    std::fs::create_dir_all(dir).unwrap();
    let tags = Tags {
        title: Some(name.into()),
        artist: Some(artist.into()),
        album: Some(album.into()),
        year: Some(year),
        track: Some(1),
        picture,
        ..Tags::default()
    };
    media::write_track(&dir.join(format!("{name}.mp3")), "mp3", &tags);
}

struct Lib {
    d: Daemon,
    /// Album name -> id.
    albums: Vec<(String, String)>,
}

impl Lib {
    fn album(&self, name: &str) -> &str {
        &self.albums.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no album {name}")).1
    }
}

fn library() -> Lib {
    let fx = Fixture::new();
    let m = &fx.music;
    // Folder images: cover.* comes first by the default priority, then folder.*, then the
    // embedded picture; the artist has an artist.jpg beside the album.
    let folder = m.join("Alpha/Folder Art");
    track(&folder, "f1", "Alpha", "Folder Art", 2001, Some(media::jpeg(32, 32)));
    std::fs::write(folder.join("cover.jpg"), media::jpeg(300, 200)).unwrap();
    std::fs::write(folder.join("folder.png"), media::png(50, 50)).unwrap();
    std::fs::write(folder.join("back.jpg"), media::jpeg(40, 40)).unwrap();
    std::fs::write(m.join("Alpha/artist.jpg"), media::jpeg(80, 80)).unwrap();
    // Bravo: an album with nothing (first by year), then one with only an embedded picture.
    track(&m.join("Bravo/Bare"), "b1", "Bravo", "Bare", 2000, None);
    track(&m.join("Bravo/Embedded"), "e1", "Bravo", "Embedded", 2002, Some(media::jpeg(120, 90)));
    // Bombs: both images claim billions of pixels; nothing else.
    let bomb = m.join("Charlie/Bomb");
    track(&bomb, "x1", "Charlie", "Bomb", 2003, None);
    std::fs::write(bomb.join("cover.png"), redoubt::transcoder::art::fixtures::png_bomb(100_000, 100_000)).unwrap();
    std::fs::write(bomb.join("folder.jpg"), jpeg_bomb()).unwrap();
    // A bomb first, a good embedded picture behind it.
    let behind = m.join("Charlie/Behind");
    track(&behind, "y1", "Charlie", "Behind", 2004, Some(media::jpeg(64, 64)));
    std::fs::write(behind.join("cover.png"), redoubt::transcoder::art::fixtures::png_bomb(70_000, 70_000)).unwrap();
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(m).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    let list = d.rest("getAlbumList2", "type=alphabeticalByName&size=50");
    let albums = list["albumList2"]["album"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap().to_string(), a["id"].as_str().unwrap().to_string()))
        .collect();
    Lib { d, albums }
}

#[test]
fn folder_images_embedded_pictures_sizes_and_the_cache() {
    let l = library();
    let d = &l.d;
    let cover_jpg = std::fs::read(d.fx.music.join("Alpha/Folder Art/cover.jpg")).unwrap();

    // Folder image by priority, served as it is when no size is asked.
    let folder_art = l.album("Folder Art");
    let r = cover(d, folder_art, "");
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert_eq!(r.body, cover_jpg, "cover.jpg, untouched");
    assert_eq!(r.header("cache-control"), Some("public, max-age=31536000"));

    // Resized: fits the asked square, keeps the aspect, never grows.
    for (size, want) in [(100, (100, 67)), (150, (150, 100)), (30, (30, 20))] {
        let (ct, w, h) = decoded(&cover(d, folder_art, &format!("&size={size}")));
        assert_eq!(ct, "image/jpeg");
        assert_eq!((w, h), want, "size={size}");
    }
    assert_eq!(cover(d, folder_art, "&size=4000").body, cover_jpg, "a size past the image: the original");

    // Embedded picture (the only art of its album).
    let r = cover(d, l.album("Embedded"), "");
    assert_eq!(decoded(&r), ("image/jpeg".into(), 120, 90));
    assert_eq!(decoded(&cover(d, l.album("Embedded"), "&size=60")), ("image/jpeg".into(), 60, 45));

    // A song's art is its album's; a folder id's is that folder's; a playlist's its first song's.
    let album = d.rest("getAlbum", &format!("id={folder_art}"));
    let song = album["album"]["song"][0]["id"].as_str().unwrap().to_string();
    let by_album = cover(d, folder_art, "&size=100");
    let by_song = cover(d, &song, "&size=100");
    assert_eq!(by_song.header("etag"), by_album.header("etag"));
    let pl = d.rest("createPlaylist", &format!("name=Mix&songId={song}"));
    let pl_id = pl["playlist"]["id"].as_str().unwrap().to_string();
    assert_eq!(cover(d, &pl_id, "&size=100").header("etag"), by_album.header("etag"));
    let album_dir = album["album"]["song"][0]["parent"].as_str().unwrap().to_string();
    assert!(album_dir.starts_with("fd"), "{album_dir}");
    assert_eq!(cover(d, &album_dir, "").body, cover_jpg);

    // Artists: an artist.* image in their folder, else their albums' art.
    let artists = d.rest("getArtists", "");
    let artist_id = |name: &str| -> String {
        artists["artists"]["index"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["artist"].as_array().unwrap().clone())
            .find(|a| a["name"] == name)
            .map(|a| a["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(decoded(&cover(d, &artist_id("Alpha"), "")), ("image/jpeg".into(), 80, 80));
    assert_eq!(decoded(&cover(d, &artist_id("Bravo"), "")), ("image/jpeg".into(), 120, 90));

    // Cache: the etag names a file in CacheFolder/art holding exactly the answer; a second
    // request is served from it (a changed cache file shows), and If-None-Match gets 304.
    let etag = by_album.header("etag").unwrap().to_string();
    let key = etag.trim_matches('"');
    let cached = d.fx.data.join("cache/art").join(key);
    assert_eq!(std::fs::read(&cached).unwrap(), by_album.body, "{}", cached.display());
    let marker = media::png(7, 7);
    std::fs::write(&cached, &marker).unwrap();
    let again = cover(d, folder_art, "&size=100");
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(again.body, marker, "served from the cache, not rendered again");
    assert_eq!(again.header("content-type"), Some("image/png"));
    let r = http(d.port, "GET", &cover_path(folder_art, "&size=100"), &[("If-None-Match", &etag)], b"").unwrap();
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
}

#[test]
fn placeholders_unknown_ids_and_bombs_fail_cleanly() {
    let l = library();
    let d = &l.d;
    let transcoder = d.role_pid("transcoder");

    // A known album without art: the placeholder, at the asked size.
    let r = cover(d, l.album("Bare"), "&size=64");
    assert_eq!(decoded(&r), ("image/png".into(), 64, 64));
    assert_eq!(r.header("etag"), Some("\"placeholder-1-64\""));
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"), "art may appear later");
    assert_eq!(decoded(&cover(d, l.album("Bare"), "")), ("image/png".into(), 600, 600));

    // An unknown id: error 70.
    for id in ["nope", "fd999999", "al-0000"] {
        let r = d.get(&cover_path(id, "")).unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()));
        assert_eq!(v["subsonic-response"]["status"], "failed", "{id}");
        assert_eq!(v["subsonic-response"]["error"]["code"], 70, "{id}");
    }

    // Decompression bombs (a PNG and a JPEG claiming billions of pixels): refused by the
    // decoder's bounds, so the album gets the placeholder, and a bomb in front of a good
    // picture falls through to it. Asked repeatedly, at several sizes.
    for _ in 0..3 {
        for size in ["", "&size=100", "&size=300"] {
            let r = cover(d, l.album("Bomb"), size);
            assert!(r.header("etag").unwrap().contains("placeholder"), "{size}: {:?}", r.headers);
            let r = cover(d, l.album("Behind"), size);
            assert_eq!(decoded(&r), ("image/jpeg".into(), 64, 64), "{size}");
        }
    }
    let log = d.log();
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains("not used")).collect();
    eprintln!("{}", refusals.join("\n"));
    for bomb in ["Bomb/cover.png", "Bomb/folder.jpg", "Behind/cover.png"] {
        assert!(
            refusals.iter().any(|l| l.contains(bomb) && l.to_lowercase().contains("limit")),
            "{bomb} refused by the decoder's bounds:\n{log}"
        );
    }
    // The daemon and its transcoder are still the same, and still answer.
    assert_eq!(d.role_pid("transcoder"), transcoder, "the transcoder did not crash:\n{log}");
    assert!(!log.contains("killed by"), "{log}");
    assert_eq!(d.rest("ping", "")["status"], "ok");
    assert_eq!(decoded(&cover(d, l.album("Embedded"), "&size=40")), ("image/jpeg".into(), 40, 30));
}
