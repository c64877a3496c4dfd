//! Public shares and zip downloads against the running daemon (docs/security.md T28-T30):
//! the share methods against the XSD and the OpenAPI spec and their permissions, the public
//! page and its signed links (refused outside the share, after expiry, after delete, with one
//! byte changed), passwords and their rate limit, stored XSS, zips byte for byte, and
//! EnableSharing / EnableDownloads off.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::media::ffmpeg;
use common::*;
use serde_json::Value;

fn auth(user: &str) -> String {
    format!("u={user}&p={user}-pass&v=1.16.1&c=test")
}

struct Lib {
    d: Daemon,
    /// Song ids by title.
    songs: HashMap<String, String>,
    /// Album ids by name.
    albums: HashMap<String, String>,
}

/// A short tone with tags, as FLAC (real media the scanner indexes).
fn tone(path: &Path, secs: u32, tags: &[(&str, &str)]) {
    let src = format!("sine=frequency=330:sample_rate=22050:duration={secs}");
    let mut args: Vec<String> = ["-f", "lavfi", "-i", &src, "-ac", "1"].map(String::from).to_vec();
    for (k, v) in tags {
        args.push("-metadata".into());
        args.push(format!("{k}={v}"));
    }
    args.push(path.to_str().unwrap().into());
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    ffmpeg(&a);
}

/// Two albums: "Album" (two discs: three songs, one with markup in its title) and "Other".
fn library(config: &str) -> Lib {
    let fx = Fixture::new();
    let a = fx.music.join("Artist/Album");
    let b = fx.music.join("Artist/Other");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let t = |title: &'static str, album: &'static str, track: &'static str, disc: &'static str| {
        [
            ("title", title),
            ("artist", "Tester"),
            ("album_artist", "Tester"),
            ("album", album),
            ("track", track),
            ("disc", disc),
        ]
    };
    tone(&a.join("1-01.flac"), 2, &t("First", "Album", "1", "1"));
    tone(&a.join("1-02.flac"), 3, &t("<img src=x onerror=alert(1)>Second", "Album", "2", "1"));
    tone(&a.join("2-01.flac"), 2, &t("Third", "Album", "1", "2"));
    tone(&b.join("01.flac"), 2, &t("Elsewhere", "Other", "1", "1"));
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let opts = Options { config: Some(config.into()), ..Default::default() };
    let mut d = Daemon::spawn(fx, opts);
    d.wait_ready();
    d.wait_scans(1);
    let mut lib = Lib { d, songs: HashMap::new(), albums: HashMap::new() };
    let found = lib.ok(ADMIN, "search3", "query=&songCount=50&albumCount=50");
    for s in found["searchResult3"]["song"].as_array().unwrap() {
        lib.songs.insert(s["title"].as_str().unwrap().into(), s["id"].as_str().unwrap().into());
    }
    for s in found["searchResult3"]["album"].as_array().unwrap() {
        lib.albums.insert(s["name"].as_str().unwrap().into(), s["id"].as_str().unwrap().into());
    }
    lib
}

impl Lib {
    fn get(&self, path: &str) -> HttpResponse {
        http(self.d.port, "GET", path, &[], b"").unwrap()
    }

    fn raw(&self, user: &str, method: &str, query: &str) -> HttpResponse {
        self.get(&format!("/rest/{method}?{}&{query}", auth_for(user)))
    }

    fn json(&self, user: &str, method: &str, query: &str) -> Value {
        let r = self.raw(user, method, &format!("f=json&{query}"));
        let v: Value = serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("{method}: {e}: {}", r.text()));
        v["subsonic-response"].clone()
    }

    fn ok(&self, user: &str, method: &str, query: &str) -> Value {
        let v = self.json(user, method, query);
        assert_eq!(v["status"], "ok", "{method}?{query}: {v}");
        v
    }

    fn err(&self, user: &str, method: &str, query: &str) -> i64 {
        let v = self.json(user, method, query);
        assert_eq!(v["status"], "failed", "{method}?{query}: {v}");
        v["error"]["code"].as_i64().unwrap()
    }

    fn add_user(&self, name: &str) {
        self.ok(ADMIN, "createUser", &format!("username={name}&password={name}-pass&email={name}@example.com"));
    }

    /// createShare: the new share's id.
    fn share(&self, user: &str, query: &str) -> String {
        let v = self.ok(user, "createShare", query);
        v["shares"]["share"][0]["id"].as_str().unwrap().to_string()
    }

    fn page(&self, id: &str) -> HttpResponse {
        self.get(&format!("/share/{id}"))
    }

    fn file(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.d.fx.music.join(rel)).unwrap()
    }
}

fn auth_for(user: &str) -> String {
    if user == ADMIN {
        format!("u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test")
    } else {
        auth(user)
    }
}

/// Every value of `attr="…"` in a page.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let needle = format!(" {attr}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&needle) {
        let from = &rest[i + needle.len()..];
        let end = from.find('"').unwrap();
        out.push(from[..end].replace("&amp;", "&"));
        rest = &from[end..];
    }
    out
}

/// The stream links of a share's page, in order.
fn stream_links(html: &str) -> Vec<String> {
    attrs(html, "data-id")
}

fn link(id: &str, what: &str, token: &str) -> String {
    format!("/share/{id}/{what}/{token}")
}

fn one_byte_changed(token: &str) -> String {
    let mut b = token.as_bytes().to_vec();
    let last = b.len() - 1;
    b[last] = if b[last] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

#[test]
fn share_methods_follow_the_xsd_and_the_openapi_spec_and_their_owners() {
    let lib = library("");
    lib.add_user("alice");
    lib.add_user("bob");
    let user = lib.ok("alice", "getUser", "username=alice");
    assert_eq!(user["user"]["shareRole"], true, "sharing is on by default");
    let album = &lib.albums["Album"];
    let expires = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
        + 86_400_000)
        .to_string();
    let r = lib.raw("alice", "createShare", &format!("id={album}&description=Mine&expires={expires}"));
    let xml = r.text();
    assert!(xml.contains("<share ") && xml.contains("<entry "), "{xml}");
    assert_valid_xml(&xml);
    let r = lib.raw("alice", "getShares", "f=json");
    assert_valid_json("getShares", &r.text());
    let v: Value = serde_json::from_str(&r.text()).unwrap();
    let share = &v["subsonic-response"]["shares"]["share"][0];
    let id = share["id"].as_str().unwrap().to_string();
    assert_eq!(share["description"], "Mine");
    assert_eq!(share["username"], "alice");
    assert_eq!(share["visitCount"], 0);
    assert_eq!(share["entry"].as_array().unwrap().len(), 3, "the album's songs");
    assert_eq!(share["url"], format!("http://localhost/share/{id}"), "from the request's Host");
    let forged = http(
        lib.d.port,
        "GET",
        &format!("/rest/getShares?f=json&{}", auth("alice")),
        &[("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https")],
        b"",
    )
    .unwrap();
    assert!(
        forged.text().contains(&format!("\"url\":\"http://localhost/share/{id}\"")),
        "forwarded headers count only from ExtAuth.TrustedSources: {}",
        forged.text()
    );
    assert!(share["expires"].as_str().is_some());
    assert_valid_xml(&lib.raw("alice", "getShares", "").text());
    let created = lib.raw("bob", "createShare", &format!("f=json&id={}", lib.songs["First"]));
    assert_valid_json("createShare", &created.text());

    // Another user sees nothing of alice's share and cannot touch it; an admin can.
    let theirs = lib.ok("bob", "getShares", "");
    assert_eq!(theirs["shares"]["share"].as_array().map(|a| a.len()), Some(1), "bob's own only: {theirs}");
    assert_eq!(lib.err("bob", "updateShare", &format!("id={id}&description=Hacked")), 70);
    assert_eq!(lib.err("bob", "deleteShare", &format!("id={id}")), 70);
    let all = lib.ok(ADMIN, "getShares", "");
    assert_eq!(all["shares"]["share"].as_array().unwrap().len(), 2, "an admin sees everyone's");
    let updated = lib.raw(ADMIN, "updateShare", &format!("id={id}&description=Renamed"));
    assert_valid_xml(&updated.text());
    let v = lib.ok("alice", "getShares", "");
    assert_eq!(v["shares"]["share"][0]["description"], "Renamed");
    assert_eq!(lib.page(&id).status, 200);
    let v = lib.ok("alice", "getShares", "");
    assert_eq!(v["shares"]["share"][0]["visitCount"], 1, "the visit counts");
    assert!(v["shares"]["share"][0]["lastVisited"].as_str().is_some());
    let deleted = lib.raw(ADMIN, "deleteShare", &format!("id={id}"));
    assert_valid_xml(&deleted.text());
    assert_eq!(lib.ok("alice", "getShares", "")["shares"]["share"].as_array().map_or(0, |a| a.len()), 0);

    // Bad input: clear errors, the right codes.
    assert_eq!(lib.err("alice", "createShare", ""), 10);
    assert_eq!(lib.err("alice", "createShare", "id=nothing-has-this-id"), 70);
    assert_eq!(lib.err("alice", "createShare", &format!("id={album}&expires=1000")), 0, "in the past");
    assert_eq!(lib.err("alice", "updateShare", "id=nothing"), 70);
}

#[test]
fn share_links_die_with_the_share_and_reach_nothing_outside_it() {
    let lib = library("");
    lib.add_user("alice");
    let a = lib.share("alice", &format!("id={}&description=One", lib.songs["First"]));
    let b = lib.share("alice", &format!("id={}", lib.songs["Elsewhere"]));
    let page = lib.page(&a);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.header("x-robots-tag"), Some("noindex"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("require-trusted-types-for"), "{csp}");
    let html = page.text();
    assert!(html.contains(r#"<meta name="robots" content="noindex">"#));
    assert!(html.contains("Shared by alice"), "{html}");
    assert!(!html.contains(&lib.songs["First"]), "no internal song id on the page");
    assert!(!html.contains("1-01.flac") && !html.contains("Artist/Album"), "no path on the page");
    let tokens = stream_links(&html);
    assert_eq!(tokens.len(), 1);
    let song = lib.get(&link(&a, "stream", &tokens[0]));
    assert_eq!(song.status, 200);
    assert_eq!(song.body, lib.file("Artist/Album/1-01.flac"), "the original file, without credentials");
    let cover = lib.get(&format!("{}?size=64", link(&a, "cover", &attrs(&html, "data-cover")[0])));
    assert_eq!(cover.status, 200);
    assert!(cover.header("content-type").unwrap().starts_with("image/"));

    // Refused: one byte changed, another item, the token on another share, another kind.
    assert_eq!(lib.get(&link(&a, "stream", &one_byte_changed(&tokens[0]))).status, 404);
    let other_item = tokens[0].replacen("0.", "1.", 1);
    assert_eq!(lib.get(&link(&a, "stream", &other_item)).status, 404, "a song outside the share");
    assert_eq!(lib.get(&link(&b, "stream", &tokens[0])).status, 404, "a token of another share");
    assert_eq!(lib.get(&link(&a, "cover", &tokens[0])).status, 404, "a stream token is no cover token");
    assert_eq!(lib.get(&link(&a, "download", &tokens[0])).status, 404);
    assert_eq!(lib.get("/share/0123456789abcdef0123456789abcdef").status, 404);
    assert_eq!(lib.get("/share/../rest/ping").status, 404);

    // Delete kills the page and every token at once.
    lib.ok("alice", "deleteShare", &format!("id={a}"));
    assert_eq!(lib.page(&a).status, 404);
    assert_eq!(lib.get(&link(&a, "stream", &tokens[0])).status, 404, "a token after delete");

    // Expiry: the page answers 410 and the token is refused.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let soon = lib.share("alice", &format!("id={}&expires={}", lib.songs["Third"], now_ms + 2500));
    let token = stream_links(&lib.page(&soon).text()).remove(0);
    assert_eq!(lib.get(&link(&soon, "stream", &token)).status, 200);
    std::thread::sleep(Duration::from_millis(3500));
    let gone = lib.page(&soon);
    assert_eq!(gone.status, 410, "{}", gone.text());
    assert!(gone.text().contains("This share has ended"));
    assert_eq!(lib.get(&link(&soon, "stream", &token)).status, 404, "a token after expiry");

    // Changing a share's expiry retires the tokens made for the old one.
    let c = lib.share("alice", &format!("id={}", lib.songs["Third"]));
    let token = stream_links(&lib.page(&c).text()).remove(0);
    lib.ok("alice", "updateShare", &format!("id={c}&expires=0"));
    assert_eq!(lib.get(&link(&c, "stream", &token)).status, 404);
    let token = stream_links(&lib.page(&c).text()).remove(0);
    assert_eq!(lib.get(&link(&c, "stream", &token)).status, 200, "the page's new links work");
}

#[test]
fn m3u_links_play_with_curl_and_no_credentials_and_plays_can_be_capped() {
    let lib = library("");
    let album = &lib.albums["Album"];
    let id = lib.share(ADMIN, &format!("id={album}&maxPlays=4"));
    let html = lib.page(&id).text();
    let m3u_href = attrs(&html, "href").into_iter().find(|h| h.contains("/m3u")).unwrap();
    assert!(lib.get(&m3u_href).header("content-type").unwrap().starts_with("audio/x-mpegurl"));
    // As a desktop player would: curl sends the address it connects to as the Host.
    let url = format!("http://127.0.0.1:{}{m3u_href}", lib.d.port);
    let m3u = std::process::Command::new("curl").args(["-sf", &url]).output().unwrap();
    assert!(m3u.status.success());
    let text = String::from_utf8(m3u.stdout).unwrap();
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    let urls: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(urls.len(), 3);
    let files = ["Artist/Album/1-01.flac", "Artist/Album/1-02.flac", "Artist/Album/2-01.flac"];
    for (url, file) in urls.iter().zip(files) {
        assert!(url.starts_with(&format!("http://127.0.0.1:{}/share/", lib.d.port)), "{url}");
        let out = std::process::Command::new("curl").args(["-sf", url]).output().unwrap();
        assert!(out.status.success(), "curl {url}");
        assert_eq!(out.stdout, lib.file(file), "{url}");
    }
    // Three plays counted; the fourth is the last allowed.
    let first = urls[0].split_once(&format!(":{}", lib.d.port)).unwrap().1;
    assert_eq!(lib.get(first).status, 200);
    assert_eq!(lib.get(first).status, 403, "the cap of four plays is reached");
    assert_eq!(lib.page(&id).status, 410);
}

#[test]
fn downloadable_false_offers_no_zip_and_refuses_its_url() {
    let lib = library("");
    let album = &lib.albums["Album"];
    let no = lib.share(ADMIN, &format!("id={album}"));
    assert!(!lib.page(&no).text().contains("share-download"), "DefaultDownloadableShare is false");
    let yes = lib.share(ADMIN, &format!("id={album}&downloadable=true"));
    let html = lib.page(&yes).text();
    let zip = attrs(&html, "href").into_iter().find(|h| h.contains("/download/")).expect("a download link");
    let r = lib.get(&zip);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/zip"));
    check_zip(
        &r.body,
        &lib.d.fx.dir,
        &[
            ("01 - Tester - First.flac", lib.file("Artist/Album/1-01.flac")),
            ("02 - Tester - _img src=x onerror=alert(1)_Second.flac", lib.file("Artist/Album/1-02.flac")),
            ("03 - Tester - Third.flac", lib.file("Artist/Album/2-01.flac")),
        ],
    );
    lib.ok(ADMIN, "updateShare", &format!("id={yes}&downloadable=false"));
    assert!(!lib.page(&yes).text().contains("share-download"));
    assert_eq!(lib.get(&zip).status, 403, "the zip URL of a share that is no longer downloadable");
    let token = zip.rsplit('/').next().unwrap();
    assert_eq!(lib.get(&link(&no, "download", token)).status, 404, "another share's zip token");
}

/// Python's zipfile (and `unzip -t`) read it: these names in this order, byte-identical.
fn check_zip(zip: &[u8], dir: &Path, want: &[(&str, Vec<u8>)]) {
    let path = dir.join(format!("check-{}.zip", want.len()));
    std::fs::write(&path, zip).unwrap();
    let script = "import sys, zipfile, hashlib\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        assert z.testzip() is None\n\
        for i in z.infolist(): print(i.filename + '\\t' + hashlib.sha256(z.read(i)).hexdigest())\n";
    let out = std::process::Command::new("python3").arg("-c").arg(script).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = String::from_utf8(out.stdout).unwrap();
    let want: Vec<String> = want
        .iter()
        .map(|(n, b)| {
            use sha2::Digest;
            format!("{n}\t{}", hex::encode(sha2::Sha256::digest(b)))
        })
        .collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    let t = std::process::Command::new("unzip").arg("-tq").arg(&path).output();
    if let Ok(t) = t {
        assert!(t.status.success(), "unzip -t: {}", String::from_utf8_lossy(&t.stdout));
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn album_artist_and_playlist_downloads_are_zips_of_the_files_in_order() {
    let lib = library("");
    let album = &lib.albums["Album"];
    let r = lib.raw(ADMIN, "download", &format!("id={album}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/zip"));
    assert!(r.header("content-disposition").unwrap().contains("Album.zip"));
    check_zip(
        &r.body,
        &lib.d.fx.dir,
        &[
            ("Disc 1/01 - First.flac", lib.file("Artist/Album/1-01.flac")),
            ("Disc 1/02 - _img src=x onerror=alert(1)_Second.flac", lib.file("Artist/Album/1-02.flac")),
            ("Disc 2/01 - Third.flac", lib.file("Artist/Album/2-01.flac")),
        ],
    );
    let songs = format!("songId={}&songId={}", lib.songs["Elsewhere"], lib.songs["First"]);
    let pl = lib.ok(ADMIN, "createPlaylist", &format!("name=Mix&{songs}"));
    let pl = pl["playlist"]["id"].as_str().unwrap();
    let r = lib.raw(ADMIN, "download", &format!("id={pl}"));
    check_zip(
        &r.body,
        &lib.d.fx.dir,
        &[
            ("01 - Tester - Elsewhere.flac", lib.file("Artist/Other/01.flac")),
            ("02 - Tester - First.flac", lib.file("Artist/Album/1-01.flac")),
        ],
    );
    let artists = lib.ok(ADMIN, "getArtists", "");
    let artist = artists["artists"]["index"][0]["artist"][0]["id"].as_str().unwrap().to_string();
    let r = lib.raw(ADMIN, "download", &format!("id={artist}"));
    assert_eq!(r.header("content-type"), Some("application/zip"), "{}", r.text());
    let mut z = zip_names(&r.body, &lib.d.fx.dir);
    z.sort();
    assert_eq!(
        z,
        [
            "Album/Disc 1/01 - First.flac",
            "Album/Disc 1/02 - _img src=x onerror=alert(1)_Second.flac",
            "Album/Disc 2/01 - Third.flac",
            "Other/01 - Elsewhere.flac"
        ]
    );
    assert_eq!(lib.err(ADMIN, "download", "id=nothing"), 70);
}

fn zip_names(zip: &[u8], dir: &Path) -> Vec<String> {
    let path = dir.join("names.zip");
    std::fs::write(&path, zip).unwrap();
    let script = "import sys, zipfile\nfor n in zipfile.ZipFile(sys.argv[1]).namelist(): print(n)\n";
    let out = std::process::Command::new("python3").arg("-c").arg(script).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

fn post_password(lib: &Lib, id: &str, pw: &str) -> HttpResponse {
    let body = format!("password={pw}");
    let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Sec-Fetch-Site", "same-origin")];
    http(lib.d.port, "POST", &format!("/share/{id}"), &headers, body.as_bytes()).unwrap()
}

#[test]
fn share_passwords_are_asked_hashed_and_rate_limited() {
    let lib = library("AuthRequestLimit = 3\nAuthWindowLength = \"60s\"\nShareURL = \"https://music.example/\"\n");
    let song = &lib.songs["First"];
    let id = lib.share(ADMIN, &format!("id={song}&password=open-sesame"));
    let listed = lib.ok(ADMIN, "getShares", "");
    assert_eq!(listed["shares"]["share"][0]["url"], format!("https://music.example/share/{id}"), "ShareURL");
    let asked = lib.page(&id);
    assert_eq!(asked.status, 401);
    assert!(asked.text().contains(r#"type="password""#) && !asked.text().contains("data-id="), "{}", asked.text());
    let m3u = lib.get(&format!("/share/{id}/m3u"));
    assert_eq!(m3u.status, 401, "the m3u needs the password too, or the page's list token");
    let open = post_password(&lib, &id, "open-sesame");
    assert_eq!(open.status, 200);
    assert_eq!(stream_links(&open.text()).len(), 1, "the right password opens the page");
    let list = attrs(&open.text(), "href").into_iter().find(|h| h.contains("/m3u")).unwrap();
    assert_eq!(lib.get(&list).status, 200, "the page's m3u link carries its list token");
    let cross = http(
        lib.d.port,
        "POST",
        &format!("/share/{id}"),
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Sec-Fetch-Site", "cross-site")],
        b"password=open-sesame",
    )
    .unwrap();
    assert_eq!(cross.status, 403, "another site's form");
    for _ in 0..3 {
        let r = post_password(&lib, &id, "wrong");
        assert_eq!(r.status, 401);
        assert!(r.text().contains("That password is not right."));
    }
    let limited = post_password(&lib, &id, "open-sesame");
    assert_eq!(limited.status, 429, "limited, right password or not");
    assert!(limited.text().contains("Too many wrong passwords"));
    // Stored hashed: the database holds an argon2id hash, not the password.
    let db = std::fs::read(lib.d.fx.data.join("redoubt.db")).unwrap_or_default();
    let wal = std::fs::read(lib.d.fx.data.join("redoubt.db-wal")).unwrap_or_default();
    let contains = |hay: &[u8], n: &[u8]| hay.windows(n.len()).any(|w| w == n);
    assert!(!contains(&db, b"open-sesame") && !contains(&wal, b"open-sesame"));
    assert!(contains(&db, b"$argon2id$") || contains(&wal, b"$argon2id$"));
}

#[test]
fn stored_markup_in_the_description_and_the_tags_is_text() {
    let lib = library("");
    let album = &lib.albums["Album"];
    let desc = "%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E";
    let id = lib.share(ADMIN, &format!("id={album}&description={desc}"));
    let html = lib.page(&id).text();
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;Second"), "the title, escaped: {html}");
}

#[test]
fn sharing_off_answers_50_and_share_paths_are_404_and_downloads_off_refuse_zips() {
    let lib = library("EnableSharing = false\nEnableDownloads = false\n");
    let album = &lib.albums["Album"];
    assert_eq!(lib.err(ADMIN, "createShare", &format!("id={album}")), 50);
    assert_eq!(lib.err(ADMIN, "getShares", ""), 50);
    assert_eq!(lib.err(ADMIN, "updateShare", "id=x"), 50);
    assert_eq!(lib.err(ADMIN, "deleteShare", "id=x"), 50);
    assert_eq!(lib.ok(ADMIN, "getUser", "username=admin")["user"]["shareRole"], false);
    assert_eq!(lib.get("/share/0123456789abcdef0123456789abcdef").status, 404);
    assert_eq!(lib.get("/share/0123456789abcdef0123456789abcdef/m3u").status, 404);
    assert_eq!(lib.err(ADMIN, "download", &format!("id={album}")), 50);
}

/// The resident set of a process, in KiB.
fn rss_kib(pid: i32) -> u64 {
    status_field(&proc_status(pid), "VmRSS").split_whitespace().next().unwrap_or("0").parse().unwrap_or(0)
}

/// A ~2 GB album (ten ~200 MB WAV files: one generated, then copied; each a valid WAV the
/// scanner indexes), zipped while the front's and the transcoder's RSS are sampled: each must
/// stay within 20 MB of its size before the download. It writes 2 GB of WAV files into the
/// fixture (removed after) and takes about a minute.
#[test]
fn a_2_gb_zip_leaves_the_front_and_the_transcoder_flat() {
    let fx = Fixture::new();
    let a = fx.music.join("Big/Album");
    std::fs::create_dir_all(&a).unwrap();
    // 44.1 kHz, 16-bit stereo: 176,400 bytes a second; 1,150 s is about 203 MB.
    let first = a.join("01.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=sample_rate=44100:duration=1150",
        "-ac",
        "2",
        "-metadata",
        "title=T1",
        "-metadata",
        "album=Big",
        first.to_str().unwrap(),
    ]);
    for i in 2..=10 {
        std::fs::copy(&first, a.join(format!("{i:02}.wav"))).unwrap();
    }
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    let lib = Lib { d, songs: HashMap::new(), albums: HashMap::new() };
    let albums = lib.ok(ADMIN, "getAlbumList2", "type=newest");
    let album = albums["albumList2"]["album"][0]["id"].as_str().unwrap().to_string();
    let (front, transcoder) = (lib.d.role_pid("front"), lib.d.role_pid("transcoder"));
    let (front0, trans0) = (rss_kib(front), rss_kib(transcoder));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", lib.d.port)).unwrap();
    use std::io::Write;
    write!(s, "GET /rest/download?{}&id={album} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", auth_for(ADMIN))
        .unwrap();
    let (mut total, mut peak_front, mut peak_trans) = (0u64, front0, trans0);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = s.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        total += k as u64;
        n += 1;
        if n.is_multiple_of(16) {
            peak_front = peak_front.max(rss_kib(front));
            peak_trans = peak_trans.max(rss_kib(transcoder));
        }
    }
    println!(
        "zip of {} MB: front RSS {} -> peak {} KiB, transcoder RSS {} -> peak {} KiB",
        total / 1_000_000,
        front0,
        peak_front,
        trans0,
        peak_trans
    );
    assert!(total > 2_000_000_000, "{total} bytes");
    assert!(peak_front < front0 + 20 * 1024, "the front grew by {} KiB", peak_front - front0);
    assert!(peak_trans < trans0 + 20 * 1024, "the transcoder grew by {} KiB", peak_trans - trans0);
    let _: PathBuf = lib.d.fx.dir.clone();
}

/// In headless Chromium, a fresh context without cookies: the share's page shows its tracks
/// (markup in the description and a title stays text: no dialog, no injected element), and
/// its player reaches `playing` on the share's signed links, with no console error, CSP
/// violation or failed request.
#[test]
fn share_page_plays_in_a_fresh_browser_without_a_session() {
    if !common::browser::browser_stack("the share page in a browser") {
        return;
    }
    let lib = library("");
    let album = &lib.albums["Album"];
    let desc = "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E";
    let id = lib.share(ADMIN, &format!("id={album}&description={desc}"));
    let url = format!("http://127.0.0.1:{}/share/{id}", lib.d.port);
    let run = common::browser::run_script("share.mjs", &[&url], Duration::from_secs(120), || lib.d.log());
    for step in run.result["steps"].as_array().unwrap() {
        assert_eq!(step["ok"], true, "{}", run.pretty());
    }
    let steps = run.result["steps"].as_array().unwrap();
    let page = &run.result["pages"][0];
    assert_eq!(page["axe"].as_array().map_or(0, |a| a.len()), 0, "axe-core: {}", page["axe"]);
    assert_eq!(page["overflow"], 0, "no sideways scrolling");
    let tracks = steps.iter().find(|s| s["name"] == "tracks").unwrap();
    assert_eq!(tracks["rows"], 3);
    assert_eq!(tracks["titles"][1], "<img src=x onerror=alert(1)>Second", "the title as text");
    assert_eq!(
        tracks["heading"], "\"><script>alert(1)</script><img src=x onerror=alert(2)>",
        "the description as text"
    );
    assert_eq!(run.result["dialogs"], 0);
    assert!(run.result["streams"].as_array().unwrap().iter().any(|s| s["status"] == 200 || s["status"] == 206));
    common::browser::assert_no_page_problems(&run, &[]);
}

/// `transcode=true`: a share's streams follow its owner's player named `share` (made on the
/// first stream, set like any player with `updatePlayer`); without it, the original file.
#[test]
fn a_transcoding_share_follows_its_owners_share_player() {
    let lib = library("");
    let song = &lib.songs["First"];
    let plain = lib.share(ADMIN, &format!("id={song}"));
    let id = lib.share(ADMIN, &format!("id={song}&transcode=true"));
    let token = stream_links(&lib.page(&id).text()).remove(0);
    let original = lib.file("Artist/Album/1-01.flac");
    assert_eq!(lib.get(&link(&id, "stream", &token)).body, original, "the player sets nothing yet: the file");
    let players = lib.ok(ADMIN, "getPlayers", "");
    let player = players["players"]["player"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["client"] == "share")
        .expect("the owner's share player")["id"]
        .as_str()
        .unwrap()
        .to_string();
    lib.ok(ADMIN, "updatePlayer", &format!("id={player}&format=mp3"));
    let r = lib.get(&link(&id, "stream", &token));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("audio/mpeg"));
    assert!(r.body.starts_with(b"ID3") || r.body.first() == Some(&0xff), "an mp3");
    let token = stream_links(&lib.page(&plain).text()).remove(0);
    assert_eq!(lib.get(&link(&plain, "stream", &token)).body, original, "a share without the switch");
}
