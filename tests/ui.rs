//! The web UI (issue 13 items 1–4, 8, 9): the real daemon with a real small library, and
//! Debian's chromium driving it (tests/browser/ui-*.mjs, helpers in tests/browser/lib.mjs and
//! tests/common/browser.rs), plus the HTTP rules the pages rely on, checked with a plain
//! client. Screenshots of every page, at desktop and phone width in light and dark, land in
//! `target/ui-screenshots/`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::browser::*;
use common::media::{ffmpeg, tagged_bytes, Tags};
use common::*;
use serde_json::Value;

/// The stored-XSS strings of the issue.
const HOSTILE_1: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_2: &str = "\"><script>alert(1)</script>";

/// `secs` of a tone as a 64 kbps mp3, tagged with lofty.
fn song(path: &Path, hz: u32, secs: u32, tags: Tags) {
    let raw = path.with_extension("raw.mp3");
    let src = format!("sine=frequency={hz}:sample_rate=44100:duration={secs}");
    ffmpeg(&["-f", "lavfi", "-i", &src, "-ac", "2", "-c:a", "libmp3lame", "-b:a", "64k", raw.to_str().unwrap()]);
    let bytes = std::fs::read(&raw).unwrap();
    std::fs::remove_file(&raw).unwrap();
    std::fs::write(path, tagged_bytes("mp3", &bytes, &tags, lofty::config::WriteOptions::default())).unwrap();
}

/// A cover: a two-colour gradient JPEG.
fn cover(path: &Path, from: &str, to: &str) {
    let src = format!("gradients=s=600x600:c0={from}:c1={to}:x0=0:y0=0:x1=600:y1=600:nb_colors=2");
    ffmpeg(&["-f", "lavfi", "-i", &src, "-frames:v", "1", "-q:v", "3", path.to_str().unwrap()]);
}

fn tags(title: &str, artist: &str, album: &str, track: u32, year: i32, genre: &str) -> Tags {
    Tags {
        title: Some(title.into()),
        artist: Some(artist.into()),
        album_artist: Some(artist.into()),
        album: Some(album.into()),
        track: Some(track),
        disc: Some(1),
        year: Some(year),
        genres: vec![genre.into()],
        ..Tags::default()
    }
}

/// "Cross Origin" by "Browser Band" (First, Second, Third: 60 s each, with a cover), "Other
/// Album" by "Second Artist" (Other One, Other Two), and one song for each hostile string,
/// every tag of it that string.
fn library(music: &Path) {
    let a = music.join("Browser Band/Cross Origin");
    std::fs::create_dir_all(&a).unwrap();
    for (i, t) in ["First", "Second", "Third"].iter().enumerate() {
        let n = i as u32 + 1;
        song(
            &a.join(format!("0{n} {t}.mp3")),
            330 + 110 * n,
            60,
            tags(t, "Browser Band", "Cross Origin", n, 2021, "Rock"),
        );
    }
    cover(&a.join("cover.jpg"), "0x5b3fd9", "0xf0629a");
    let b = music.join("Second Artist/Other Album");
    std::fs::create_dir_all(&b).unwrap();
    for (i, t) in ["Other One", "Other Two"].iter().enumerate() {
        let n = i as u32 + 1;
        song(&b.join(format!("0{n}.mp3")), 500 + 50 * n, 20, tags(t, "Second Artist", "Other Album", n, 1998, "Jazz"));
    }
    cover(&b.join("cover.jpg"), "0x0f9d8a", "0xf7c948");
    for (i, hostile) in [HOSTILE_1, HOSTILE_2].iter().enumerate() {
        let dir = music.join(format!("Hostile {i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut t = tags(hostile, hostile, hostile, 1, 2020, hostile);
        t.comment = Some(hostile.to_string());
        t.lyrics = Some(hostile.to_string());
        t.replaygain_track_gain = Some("-4.5 dB".into());
        t.replaygain_track_peak = Some("0.95".into());
        song(&dir.join("01 hostile.mp3"), 700, 20, t);
    }
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(music).status();
}

fn step<'a>(run: &'a ScriptRun, name: &str) -> &'a Value {
    run.result["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("the script never reached {name}: {}", run.pretty()))
}

/// Every recorded step passed, every page had no serious or critical axe-core violation, no
/// horizontal overflow, its landmarks, and no console error or CSP violation.
/// The run without the saved play queue's read among its failed requests when a navigation
/// cut it off: app.js reads the queue on every page, and a script that moves on before the
/// answer came (a loaded machine) aborts that GET, which loses only its answer.
fn without_aborted_queue_read(run: ScriptRun) -> ScriptRun {
    let mut result = run.result;
    if let Some(failed) = result["failedRequests"].as_array_mut() {
        failed.retain(|f| {
            let url = f["url"].as_str().unwrap_or("");
            !(f["error"] == "net::ERR_ABORTED" && url.contains("/app/api/getPlayQueueByIndex"))
        });
    }
    ScriptRun { result, stdout: run.stdout, stderr: run.stderr }
}

fn assert_steps_and_pages(run: &ScriptRun, landmarks: bool) {
    assert_steps_and_pages_allowing(run, landmarks, &[]);
}

/// As [`assert_steps_and_pages`], with more refusals the test asks for: (status, a path the
/// failed load's URL contains).
fn assert_steps_and_pages_allowing(run: &ScriptRun, landmarks: bool, more: &[(&str, &str)]) {
    let failed: Vec<&Value> =
        run.result["steps"].as_array().into_iter().flatten().filter(|s| s["ok"] != true).collect();
    assert!(failed.is_empty(), "steps failed: {failed:#?}");
    let pages = run.result["pages"].as_array().cloned().unwrap_or_default();
    assert!(!pages.is_empty(), "no page was checked: {}", run.pretty());
    for p in &pages {
        let name = p["name"].as_str().unwrap_or("?");
        assert!(p["axe"].as_array().is_some_and(|v| v.is_empty()), "axe-core on {name}: {:#}", p["axe"]);
        assert!(p["overflow"].as_i64().unwrap_or(1) <= 0, "{name} scrolls sideways: {p}");
        assert_eq!((p["banner"].as_i64(), p["main"].as_i64()), (Some(1), Some(1)), "{name}'s landmarks: {p}");
        if landmarks {
            assert!(p["navigation"].as_i64().unwrap_or(0) >= 1 && p["player"] == 1, "{name}'s landmarks: {p}");
        }
        assert_eq!(p["cspViolations"], 0, "{name}: {p}");
        let shot = p["screenshot"].as_str().unwrap_or("");
        assert!(Path::new(shot).is_file(), "{name}: no screenshot at {shot:?}");
    }
    assert_eq!(run.result["dialogs"], 0, "a dialog opened: {}", run.pretty());
    // Chromium logs the refusals the test asks for as failed loads (a wrong password: 401,
    // the limit: 429, a wrong setup code: 401, differing passwords: 400; the not-found page:
    // 404); nothing else may be.
    let mut result = run.result.clone();
    if let Some(errors) = result["consoleErrors"].as_array_mut() {
        errors.retain(|e| {
            let text = e["text"].as_str().unwrap_or("");
            let url = e["url"].as_str().unwrap_or("");
            let asked = [
                ("400 (Bad Request)", "/app/setup"),
                ("401 (Unauthorized)", "/app/setup"),
                ("401 (Unauthorized)", "/app/login"),
                ("429 (Too Many Requests)", "/app/login"),
                ("404 (Not Found)", "/app/album/no-such-album"),
            ];
            let failed = |status: &str| {
                text == format!("Failed to load resource: the server responded with a status of {status}")
            };
            !asked.iter().any(|(status, path)| failed(status) && url.ends_with(path))
                && !more.iter().any(|(status, path)| failed(status) && url.contains(path))
        });
    }
    // A song or a cover the page stopped loading itself (the next song, the next page) is
    // aborted, not failed.
    if let Some(failed) = result["failedRequests"].as_array_mut() {
        failed.retain(|f| {
            let url = f["url"].as_str().unwrap_or("");
            !(f["error"] == "net::ERR_ABORTED" && (url.contains("/app/stream/") || url.contains("/app/art/")))
        });
    }
    let filtered = ScriptRun { result, stdout: String::new(), stderr: String::new() };
    assert_no_page_problems(&filtered, &[]);
}

/// Issue 13, items 1 and 2: the first run with the setup code from the log (a wrong code and
/// differing passwords refused), logout, the setup page closed afterwards, wrong passwords and
/// then the rate limiter's answer as a sentence with the wait (the form disabled meanwhile),
/// login after the wait; the same forms without JavaScript (a plain login returns to the page
/// asked for); the pages at desktop and phone width, light and dark, checked by axe-core.
#[test]
fn ui_first_run_login_lockout_and_logout() {
    if !browser_stack("web UI first run") {
        return;
    }
    let fx = Fixture::new();
    let mut d = Daemon::spawn(
        fx,
        Options { config: Some("AuthRequestLimit = 3\nAuthWindowLength = \"4s\"\n".into()), ..Options::default() },
    );
    d.wait_ready();
    let line = d.wait_log("one-time setup code: ", Duration::from_secs(10));
    let code = line.rsplit("one-time setup code: ").next().unwrap().trim().to_string();
    let base = format!("http://127.0.0.1:{}", d.port);
    let run =
        run_script("ui-session.mjs", &[&base, &code, ADMIN, ADMIN_PASSWORD, "3"], Duration::from_secs(240), || {
            format!("daemon log:\n{}", d.log())
        });
    eprintln!("{}", run.pretty());
    assert!(step(&run, "wrong-code-refused")["error"].as_str().unwrap().contains("setup code is wrong"));
    assert_eq!(step(&run, "passwords-differ")["error"], "The two passwords are not the same.");
    assert_eq!(step(&run, "admin-created")["user"], ADMIN);
    assert_eq!(step(&run, "logged-out")["notice"], "You have logged out.");
    assert_eq!(step(&run, "logged-out")["cookies"], 0, "logout expires both cookies");
    let closed = step(&run, "setup-closed");
    assert_eq!(closed["h1"], "redoubt is set up");
    assert_eq!(closed["link"], 1, "{closed}");
    let attempts = step(&run, "wrong-passwords")["attempts"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 4, "three refusals, then the limit: {attempts:#?}");
    for a in &attempts[..3] {
        assert_eq!((a["status"].as_i64(), a["error"].as_str()), (Some(401), Some("Wrong user name or password.")));
    }
    let locked = &attempts[3];
    assert_eq!(locked["status"], 429, "{locked}");
    let wait: u64 = locked["retryAfter"].as_str().and_then(|s| s.parse().ok()).expect("Retry-After");
    let sentence = locked["error"].as_str().unwrap();
    let expected = if wait == 1 { "1 second".to_string() } else { format!("{wait} seconds") };
    assert_eq!(sentence, format!("Too many failed attempts. Wait {expected}, then try again."));
    assert_eq!(locked["wait"], wait.to_string());
    assert_eq!(locked["disabled"], true, "the form waits too: {locked}");
    assert_eq!(step(&run, "login-after-the-wait")["user"], ADMIN);
    assert_eq!(step(&run, "plain-html-login-returns-to-the-page")["h1"], "Random albums");
    assert_eq!(step(&run, "plain-html-logout")["notice"], "You have logged out.");
    assert_steps_and_pages(&run, false);
    assert!(d.log().contains("first admin \"admin\" created with the setup code") || d.log().contains("first admin"));
}

/// Issue 13, items 3, 4, 8 and 9: browse to an album from the grid, from its artist and from
/// search as you type (in-page: the document is never reloaded); play it (the audio element
/// plays and its time moves on), the next song, a seek, and browsing on while the same element
/// keeps playing; the queue (play next, add, reorder, remove); keyboard shortcuts and the help;
/// the Media Session's metadata; the playback settings (mp3 at 96 kbps, ReplayGain by song, kept
/// in the browser and sent with each stream); both stored-XSS songs shown, played (so
/// transcoded, through the gain node) and queued as literal text with no dialog and no CSP
/// violation; a scrobble; keyboard-only use; then every page at desktop
/// and phone width, light and dark: axe-core, no sideways scrolling, the landmarks, a
/// screenshot, no console error and no CSP violation.
#[test]
fn ui_browse_play_and_escape() {
    if !browser_stack("web UI browsing and playing") {
        return;
    }
    let fx = Fixture::new();
    library(&fx.music);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    let base = format!("http://127.0.0.1:{}", d.port);
    let run = run_script(
        "ui-library.mjs",
        &[&base, ADMIN, ADMIN_PASSWORD, HOSTILE_1, HOSTILE_2],
        Duration::from_secs(480),
        || format!("daemon log:\n{}", d.log()),
    );
    eprintln!("{}", serde_json::to_string_pretty(&run.result["steps"]).unwrap());
    for name in ["grid-to-album", "artist-to-album", "search-as-you-type-to-album"] {
        assert_eq!(step(&run, name)["inPage"], true, "{name} reloaded the document: {}", step(&run, name));
    }
    assert_eq!(step(&run, "grid-to-album")["rows"], 3);
    assert_eq!(step(&run, "link-from-another-site")["h1"], "Cross Origin");
    let streams = run.result["streams"].as_array().cloned().unwrap_or_default();
    assert!(streams.iter().any(|s| s["status"] == 206), "the player's requests used ranges: {streams:?}");
    assert_steps_and_pages(&run, true);

    // The player scrobbled like a Subsonic client: the second hostile song, listened to past
    // half its length, has a play, from this browser's own player entry.
    let found = d.rest("search3", "query=script&songCount=5&albumCount=0&artistCount=0");
    let s = &found["searchResult3"]["song"][0];
    assert_eq!(s["title"], HOSTILE_2, "{found}");
    assert!(s["playCount"].as_i64().unwrap_or(0) >= 1, "no scrobble submission: {s}");
    let players = d.rest("getPlayers", "");
    let names: Vec<&str> =
        players["players"]["player"].as_array().into_iter().flatten().filter_map(|p| p["client"].as_str()).collect();
    assert!(names.iter().any(|n| n.starts_with("web-")), "the browser is a player of its own: {names:?}");
}

/// What every UI page must carry (docs/security.md T24).
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; \
                      connect-src 'self'; font-src 'self'; worker-src 'none'; object-src 'none'; frame-ancestors 'none'; \
                      base-uri 'none'; form-action 'self'; require-trusted-types-for 'script'; trusted-types redoubt";

/// The names of every attribute of every tag (values skipped, quoted as maud quotes them).
fn attribute_names(html: &str) -> Vec<String> {
    let mut names = Vec::new();
    for tag in html.split('<').skip(1) {
        let mut rest = tag.trim_start_matches('/');
        // The element's name.
        rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '!');
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('>') || rest.starts_with("/>") {
                break;
            }
            let end = rest.find(|c: char| c == '=' || c == '>' || c.is_whitespace()).unwrap_or(rest.len());
            names.push(rest[..end].to_ascii_lowercase());
            rest = &rest[end..];
            if let Some(after) = rest.strip_prefix("=\"") {
                rest = after.split_once('"').map_or("", |(_, r)| r);
            } else if let Some(after) = rest.strip_prefix('=') {
                rest = after.trim_start_matches(|c: char| !c.is_whitespace() && c != '>');
            }
        }
    }
    names
}

/// The cookies a login sets, as one Cookie header, and the CSRF token it returned.
fn web_login(d: &Daemon) -> (String, String) {
    web_login_as(d, ADMIN, ADMIN_PASSWORD)
}

fn web_login_as(d: &Daemon, user: &str, password: &str) -> (String, String) {
    let r = http(
        d.port,
        "POST",
        "/auth/login",
        &[("Content-Type", "application/json")],
        format!(r#"{{"username":"{user}","password":"{password}"}}"#).as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let cookies: Vec<String> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .collect();
    assert_eq!(cookies.len(), 2, "the session and its CSRF token: {:?}", r.headers);
    for (_, v) in r.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")) {
        assert!(v.contains("HttpOnly") && v.contains("SameSite=Strict"), "{v}");
    }
    let csrf = serde_json::from_slice::<Value>(&r.body).unwrap()["csrfToken"].as_str().unwrap().to_string();
    (cookies.join("; "), csrf)
}

fn get_with(d: &Daemon, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http(d.port, "GET", path, headers, b"").unwrap()
}

fn subsonic(r: &HttpResponse) -> Value {
    serde_json::from_slice::<Value>(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))["subsonic-response"]
        .clone()
}

fn daemon_with_library(config: Option<&str>) -> Daemon {
    let fx = Fixture::new();
    library(&fx.music);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options { config: config.map(str::to_string), ..Options::default() });
    d.wait_ready();
    d.wait_scans(1);
    d
}

/// docs/security.md T23, T24: every page carries the strict policy (no inline script or
/// style, Trusted Types), `no-store`, and no CORS; `/` leads to the UI and the UI to the login;
/// the bridge to the method table takes a change only as a POST with the CSRF token (the
/// broker refuses a wrong one), the cookie is still nothing on `/rest`; streams answer ranges,
/// covers are private to the browser, assets immutable; logout needs the token.
#[test]
fn ui_pages_have_a_strict_policy_and_changes_need_the_csrf_token() {
    let d = daemon_with_library(None);
    for from in ["/", "/index.html", "/login", "/app"] {
        let r = get_with(&d, from, &[]);
        assert_eq!((r.status, r.header("location")), (303, Some("/app/")), "{from}");
    }
    let r = get_with(&d, "/app/albums?list=random", &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/app/login?next=%2Fapp%2Falbums%3Flist%3Drandom")));

    let (cookie, csrf) = web_login(&d);
    let auth = [("Cookie", cookie.as_str())];
    let album = d.rest("getAlbumList2", "type=alphabeticalByName&size=10")["albumList2"]["album"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Cross Origin")
        .unwrap()
        .clone();
    let song = d.rest("getAlbum", &format!("id={}", album["id"].as_str().unwrap()))["album"]["song"][0].clone();
    let (album_id, artist_id, song_id) =
        (album["id"].as_str().unwrap(), album["artistId"].as_str().unwrap(), song["id"].as_str().unwrap());
    let pages = [
        "/app/".to_string(),
        "/app/albums?list=random".into(),
        "/app/albums?list=byYear".into(),
        "/app/albums?list=byGenre&genre=Rock".into(),
        "/app/artists".into(),
        "/app/genres".into(),
        "/app/folders".into(),
        "/app/search?q=o".into(),
        "/app/shortcuts".into(),
        format!("/app/album/{album_id}"),
        format!("/app/artist/{artist_id}"),
        format!("/app/song/{song_id}"),
        "/app/setup".into(),
    ];
    let mut assets = Vec::new();
    for path in &pages {
        let r = get_with(&d, path, &[auth[0], ("Origin", "http://evil.example")]);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-security-policy"), Some(POLICY), "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("access-control-allow-origin"), None, "{path}: no CORS under /app");
        let html = r.text();
        assert!(!html.contains(" style=") && !html.contains("<style"), "{path}: an inline style");
        assert_eq!(html.matches("<script").count(), html.matches("<script type=\"module\" src=").count(), "{path}");
        let handlers: Vec<String> = attribute_names(&html).into_iter().filter(|a| a.starts_with("on")).collect();
        assert!(handlers.is_empty(), "{path}: event handler attributes {handlers:?}");
        assert!(!html.contains("<img src=x") && !html.contains("<script>alert"), "{path}: a tag from the library");
        for part in html.split("/app/assets/").skip(1) {
            assets.push(format!("/app/assets/{}", part.split('"').next().unwrap()));
        }
    }
    // The partial page in-page navigation asks for: its <main> only, with the same policy.
    let r = get_with(&d, "/app/genres", &[auth[0], ("X-UI-Partial", "1")]);
    assert_eq!(r.header("content-security-policy"), Some(POLICY));
    assert!(r.text().contains("<main id=\"main\"") && !r.text().contains("id=\"player\""), "{}", r.text());

    assets.sort();
    assets.dedup();
    assert_eq!(assets.len(), 3, "one style sheet, one script, one icon: {assets:?}");
    // The script imports the player module by its hashed name.
    let app = assets.iter().find(|a| a.ends_with(".js")).unwrap().clone();
    let app_text = get_with(&d, &app, &[]).text();
    let player = app_text.split("from './").nth(1).and_then(|t| t.split('\'').next()).expect("an import").to_string();
    assert!(player.starts_with("player.") && player.len() > 20, "{player}");
    assets.push(format!("/app/assets/{player}"));
    for a in &assets {
        let r = get_with(&d, a, &[]);
        assert_eq!(r.status, 200, "{a}");
        assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"), "{a}");
    }
    for js in assets.iter().filter(|a| a.ends_with(".js")) {
        assert_eq!(get_with(&d, js, &[]).header("content-type"), Some("text/javascript; charset=utf-8"));
    }
    assert_eq!(get_with(&d, "/app/assets/app.0000000000000000.js", &[]).status, 404);

    // The bridge: reads with the session alone; a change only as a POST with the token.
    let r = get_with(&d, &format!("/app/api/getAlbum?id={album_id}"), &auth);
    assert_eq!(subsonic(&r)["album"]["name"], "Cross Origin", "{}", r.text());
    let star = format!("/app/api/star?id={song_id}");
    let form = [auth[0], ("Content-Type", "application/x-www-form-urlencoded")];
    let r = http(d.port, "POST", &star, &form, b"").unwrap();
    assert_eq!((r.status, subsonic(&r)["error"]["code"].as_i64()), (403, Some(50)), "no token: {}", r.text());
    let r = get_with(&d, &format!("{star}&_csrf={csrf}"), &auth);
    assert_eq!(r.status, 403, "a change is never a GET: {}", r.text());
    let wrong = [auth[0], ("X-CSRF-Token", "0123456789abcdef")];
    let r = http(d.port, "POST", &star, &wrong, b"").unwrap();
    assert_eq!(subsonic(&r)["error"]["code"], 50, "the broker checks the token: {}", r.text());
    let starred = || d.rest("getStarred2", "")["starred2"]["song"].as_array().map_or(0, Vec::len);
    assert_eq!(starred(), 0, "nothing was starred yet");
    let with = [auth[0], ("X-CSRF-Token", csrf.as_str())];
    let r = http(d.port, "POST", &star, &with, b"").unwrap();
    assert_eq!(subsonic(&r)["status"], "ok", "{}", r.text());
    assert_eq!(starred(), 1, "starred with the token");
    let r = http(d.port, "POST", "/app/api/unstar", &form, format!("id={song_id}&_csrf={csrf}").as_bytes()).unwrap();
    assert_eq!(subsonic(&r)["status"], "ok", "the token as a form field: {}", r.text());
    assert_eq!(starred(), 0, "unstarred with the token in the form");
    assert_eq!(get_with(&d, "/app/api/ping", &[]).status, 401, "the bridge needs the session");
    let r = http(d.port, "POST", &star, &[auth[0], ("X-CSRF-Token", &csrf), ("Sec-Fetch-Site", "cross-site")], b"")
        .unwrap();
    assert_eq!(r.status, 403, "another site's request: {}", r.text());
    // The cookie is still nothing on /rest, whatever comes with it.
    let r = http(d.port, "POST", &format!("/rest/star?id={song_id}&v=1.16.1&c=x&f=json"), &with, b"").unwrap();
    assert_eq!(subsonic(&r)["error"]["code"], 10, "{}", r.text());

    // The player's stream: a single range; covers private to this browser.
    let r = get_with(&d, &format!("/app/stream/{song_id}?c=web-test"), &[auth[0], ("Range", "bytes=0-99")]);
    assert_eq!(r.status, 206, "{:?}", r.headers);
    assert!(r.header("content-range").unwrap().starts_with("bytes 0-99/"), "{:?}", r.headers);
    assert_eq!(r.body.len(), 100);
    assert_eq!(get_with(&d, &format!("/app/stream/{song_id}"), &[]).status, 401);
    let r = get_with(&d, &format!("/app/art/{album_id}?size=64"), &auth);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("image/"), "{:?}", r.headers);
    assert!(r.header("cache-control").unwrap().starts_with("private"), "{:?}", r.headers);

    // Login and setup refuse another site's form; logout needs the token.
    let r = http(
        d.port,
        "POST",
        "/app/login",
        &[("Origin", "http://evil.example"), ("Content-Type", "application/x-www-form-urlencoded")],
        format!("username={ADMIN}&password={ADMIN_PASSWORD}").as_bytes(),
    )
    .unwrap();
    assert_eq!((r.status, r.header("set-cookie")), (403, None));
    let r = http(d.port, "POST", "/app/logout", &form, b"_csrf=wrong").unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(get_with(&d, "/app/", &auth).status, 200, "still logged in");
    let r = http(d.port, "POST", "/app/logout", &form, format!("_csrf={csrf}").as_bytes()).unwrap();
    assert_eq!((r.status, r.header("location")), (303, Some("/app/login?out=1")));
    let expired: Vec<&str> =
        r.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(expired.len(), 2, "{expired:?}");
    assert!(expired.iter().all(|c| c.contains("Max-Age=0")), "{expired:?}");
    assert_eq!(get_with(&d, "/app/", &auth).status, 303, "the session has ended");
}

/// Issue 13 item 2: behind a trusted ExtAuth proxy the UI logs in as the header's user with
/// no form (a session of its own, so that changes still need its CSRF token), follows the
/// header when it names someone else, and logout ends the session and goes to
/// ExtAuth.LogoutURL, which the pages' `form-action` allows.
#[test]
fn ui_behind_a_trusted_proxy_logs_in_without_a_form_and_logs_out_to_the_logout_url() {
    let d = daemon_with_library(Some(
        "[ExtAuth]\nTrustedSources = \"127.0.0.1/32\"\nLogoutURL = \"https://sso.example/logout?from=redoubt\"\n",
    ));
    let as_user = |user: &'static str, cookie: Option<&str>, path: &str| {
        let mut h = vec![("Remote-User", user)];
        if let Some(c) = cookie {
            h.push(("Cookie", c));
        }
        get_with(&d, path, &h)
    };
    let cookies_of = |r: &HttpResponse| {
        r.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.split(';').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let r = as_user("alice", None, "/app/genres");
    assert_eq!((r.status, r.header("location")), (303, Some("/app/genres")), "{}", r.text());
    let cookies = cookies_of(&r);
    assert_eq!(cookies.len(), 2, "{:?}", r.headers);
    let cookie = cookies.join("; ");
    let csrf = cookies[1].strip_prefix("redoubt_csrf=").unwrap().to_string();
    let r = as_user("alice", Some(&cookie), "/app/genres");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<span class=\"user-name\">alice</span>"), "{}", r.text());
    let policy = r.header("content-security-policy").unwrap();
    assert!(policy.contains("form-action 'self' https://sso.example;"), "{policy}");
    // The login page has no form behind the proxy.
    let r = as_user("alice", Some(&cookie), "/app/login");
    assert_eq!((r.status, r.header("location")), (303, Some("/app/")));
    // The header names someone else: a session for them, not alice's.
    let r = as_user("bob", Some(&cookie), "/app/");
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(cookies_of(&r).len(), 2);
    // A change through the bridge still needs the token.
    let h = [("Remote-User", "alice"), ("Cookie", cookie.as_str())];
    assert_eq!(http(d.port, "POST", "/app/api/startScan", &h, b"").unwrap().status, 403);
    // Logout: redoubt's session ends, then the proxy's logout.
    let r = http(
        d.port,
        "POST",
        "/app/logout",
        &[("Remote-User", "alice"), ("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")],
        format!("_csrf={csrf}").as_bytes(),
    )
    .unwrap();
    assert_eq!((r.status, r.header("location")), (303, Some("https://sso.example/logout?from=redoubt")));
    let r = get_with(&d, "/app/genres", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 303, "the session ended: {:?}", r.headers);
    assert!(r.header("location").unwrap().starts_with("/app/login"), "{:?}", r.headers);
}

/// Issue 13, items 5 and 6, in chromium: star, rate, a playlist (created, two songs added from
/// the album's rows, moved with the keyboard, one removed, renamed; another deleted), playlists
/// named with the stored-XSS strings shown as text; the play queue saved and restored after a
/// reload and on a second browser; a player held to 128 kbps; the dark theme kept and rendered
/// by the server; an API key created, shown once, used on `/rest`, revoked and refused; the
/// password changed (a wrong current one refused; then the old one refused, the new one logs
/// in, the other browser's session ended); every page at desktop and phone width, light and
/// dark: axe-core, no sideways scrolling, landmarks, screenshots, no console error and no CSP
/// violation.
#[test]
fn ui_music_playlists_queue_and_settings() {
    if !browser_stack("web UI: your music and settings") {
        return;
    }
    let fx = Fixture::new();
    library(&fx.music);
    // A playlist file in the library: imported, read-only.
    std::fs::write(
        fx.music.join("mix.m3u"),
        "#EXTM3U\n#PLAYLIST:Imported mix\nBrowser Band/Cross Origin/02 Second.mp3\n",
    )
    .unwrap();
    let _ = std::process::Command::new("chmod").args(["a+r"]).arg(fx.music.join("mix.m3u")).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    let base = format!("http://127.0.0.1:{}", d.port);
    let new_password = "a new password, long enough";
    let run = run_script(
        "ui-music.mjs",
        &[&base, ADMIN, ADMIN_PASSWORD, new_password, HOSTILE_1, HOSTILE_2],
        Duration::from_secs(480),
        || format!("daemon log:\n{}", d.log()),
    );
    eprintln!("{}", serde_json::to_string_pretty(&run.result["steps"]).unwrap());
    assert_eq!(step(&run, "wrong-current-password-refused")["error"], "The current password is wrong.");
    assert_eq!(step(&run, "password-changed")["changedNotice"], "Your password is changed. Log in with the new one.");
    assert_eq!(run.result["rest"]["afterRevoke"]["error"]["code"], 44, "a revoked key is refused: {}", run.pretty());
    assert_eq!(step(&run, "api-key-created")["shownAgain"], false);
    assert_music_steps_and_pages(&run);

    // What the browser did is what the server holds.
    let as_new = |method: &str, query: &str| {
        let r =
            d.get(&format!("/rest/{method}?u={ADMIN}&p={}&v=1.16.1&c=test&f=json&{query}", q(new_password))).unwrap();
        subsonic(&r)
    };
    let lists = as_new("getPlaylists", "");
    let names: Vec<&str> =
        lists["playlists"]["playlist"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
    for name in ["Night drive", "Imported mix", HOSTILE_1, HOSTILE_2] {
        assert!(names.contains(&name), "{name:?} in {names:?}");
    }
    assert!(!names.contains(&"To delete") && !names.contains(&"Road trip"), "{names:?}");
    let queue = as_new("getPlayQueueByIndex", "");
    let titles: Vec<&str> = queue["playQueueByIndex"]["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["title"].as_str())
        .collect();
    assert_eq!(titles, ["First", "Second", "Third", "Second"], "{queue}");
    let old = d.get(&format!("/rest/ping?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&f=json")).unwrap();
    assert_eq!(subsonic(&old)["error"]["code"], 40, "the old password is gone");
}

fn q(s: &str) -> String {
    s.replace(' ', "%20").replace(',', "%2C")
}

/// As [`assert_steps_and_pages`], with the refusals this script asks for: the wrong current
/// password (401 from `/app/settings/password`), the old password after the change (401
/// from `/app/login`) and a change to the imported playlist (403 from `/app/playlist/<id>`).
fn assert_music_steps_and_pages(run: &ScriptRun) {
    let mut result = run.result.clone();
    if let Some(errors) = result["consoleErrors"].as_array_mut() {
        errors.retain(|e| {
            let text = e["text"].as_str().unwrap_or("");
            let url = e["url"].as_str().unwrap_or("");
            let refused = |status: &str| {
                text == format!("Failed to load resource: the server responded with a status of {status}")
            };
            !((refused("401 (Unauthorized)")
                && (url.ends_with("/app/settings/password") || url.ends_with("/app/login")))
                || (refused("403 (Forbidden)") && url.contains("/app/playlist/")))
        });
    }
    // A saved queue still being fetched when the test moves on (a reload, the next page), and
    // the save sent when the page goes away, cut off by the test closing the browser.
    if let Some(failed) = result["failedRequests"].as_array_mut() {
        failed.retain(|f| {
            let url = f["url"].as_str().unwrap_or("");
            !(f["error"] == "net::ERR_ABORTED"
                && (url.contains("/app/api/getPlayQueueByIndex") || url.contains("/app/api/savePlayQueueByIndex")))
        });
    }
    let filtered = ScriptRun { result, stdout: String::new(), stderr: String::new() };
    assert_steps_and_pages(&filtered, true);
}

/// The API key form's key in the answer page (`<input id="new-key" … value="rdt_…">`).
fn shown_key(html: &str) -> Option<String> {
    let at = html.find("value=\"rdt_")? + 7;
    Some(html[at..].split('"').next()?.to_string())
}

/// The ids of the revoke forms on a settings page.
fn key_ids(html: &str) -> Vec<String> {
    // Empty: the Share dialog's field, which the script fills.
    html.split("name=\"id\" value=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect()
}

fn post_form(d: &Daemon, path: &str, cookies: &str, body: &str) -> HttpResponse {
    http(
        d.port,
        "POST",
        path,
        &[
            ("Cookie", cookies),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        body.as_bytes(),
    )
    .unwrap()
}

/// docs/security.md T34, T35 over HTTP: a web session manages only its own API keys (created
/// with the CSRF token only; another user's key cannot be revoked and is not listed), and
/// changing the password needs the current one, checked by the broker; the change ends every
/// web session of the user and leaves API keys working.
#[test]
fn t34_t35_settings_need_the_current_password_and_keys_stay_their_owners() {
    let d = daemon_with_library(None);
    let made = d.rest("createUser", "username=bob&password=bobs-password&email=bob%40example.org");
    assert_eq!(made["status"], "ok", "{made}");
    let (admin_cookies, admin_csrf) = web_login(&d);

    // Without the CSRF token the broker refuses the new key, and none is made.
    let r = post_form(&d, "/app/settings/keys", &admin_cookies, "name=sneaky");
    assert_eq!(r.status, 403, "{}", r.text());
    let r = post_form(&d, "/app/settings/keys", &admin_cookies, &format!("_csrf={admin_csrf}&name=phone"));
    assert_eq!(r.status, 200, "{}", r.text());
    let key = shown_key(&r.text()).expect("the new key is shown");
    let settings = http(d.port, "GET", "/app/settings", &[("Cookie", &admin_cookies)], b"").unwrap().text();
    assert!(!settings.contains(&key), "the key is shown once only");
    assert!(!settings.contains("sneaky"));
    let ids = key_ids(&settings);
    assert_eq!(ids.len(), 1, "{settings}");
    let with_key = |k: &str| subsonic(&d.get(&format!("/rest/ping?apiKey={k}&v=1.16.1&c=test&f=json")).unwrap());
    assert_eq!(with_key(&key)["status"], "ok");

    // Bob sees none of it and cannot revoke it (not found), even naming its id.
    let (bob_cookies, bob_csrf) = web_login_as(&d, "bob", "bobs-password");
    let bobs = http(d.port, "GET", "/app/settings", &[("Cookie", &bob_cookies)], b"").unwrap().text();
    assert!(key_ids(&bobs).is_empty() && !bobs.contains("phone"), "{bobs}");
    let r = post_form(&d, "/app/settings/revoke", &bob_cookies, &format!("_csrf={bob_csrf}&id={}", ids[0]));
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(with_key(&key)["status"], "ok", "bob revoked nothing");

    // The password: the current one is checked by the broker.
    let change = |current: &str| {
        post_form(
            &d,
            "/app/settings/password",
            &bob_cookies,
            &format!("_csrf={bob_csrf}&current={current}&password=bobs-new-password&password2=bobs-new-password"),
        )
    };
    let r = change("not-bobs-password");
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("The current password is wrong."));
    let as_bob = |p: &str| subsonic(&d.get(&format!("/rest/ping?u=bob&p={p}&v=1.16.1&c=test&f=json")).unwrap());
    assert_eq!(as_bob("bobs-password")["status"], "ok", "unchanged");
    let r = post_form(
        &d,
        "/app/settings/password",
        &bob_cookies,
        "current=bobs-password&password=bobs-new-password&password2=bobs-new-password",
    );
    assert_eq!(r.status, 403, "no change without the CSRF token: {}", r.text());
    assert_eq!(as_bob("bobs-password")["status"], "ok", "unchanged");
    let r = change("bobs-password");
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(r.header("location").unwrap_or("").ends_with("/app/login?changed=1"));
    assert_eq!(as_bob("bobs-password")["error"]["code"], 40);
    assert_eq!(as_bob("bobs-new-password")["status"], "ok");
    let after = http(d.port, "GET", "/app/settings", &[("Cookie", &bob_cookies)], b"").unwrap();
    assert_eq!(after.status, 303, "the session ended with the change");

    // The admin revokes their own key; it is refused from then on.
    let r = post_form(&d, "/app/settings/revoke", &admin_cookies, &format!("_csrf={admin_csrf}&id={}", ids[0]));
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(with_key(&key)["error"]["code"], 44);
}

/// The plain user of the admin test.
const PLAIN: &str = "bob";
const PLAIN_PASSWORD: &str = "bob-password-1";

/// Issue 13, item 7, and docs/security.md T26, T27: the admin pages against the real daemon.
/// With EnableTranscodingConfig: a user created and deleted (the last admin kept, with the
/// broker's reason), a full scan requested and its status followed live, `/bin/sh` refused as
/// a transcoding command with the reason and a real change saved, the security page with one
/// row per process, each measured confined, and the events the run caused; every page at
/// desktop and phone width through axe-core, with screenshots, no console error or CSP
/// violation; a plain user refused every admin page and action (by URL and by request), by
/// the broker. Then a crashed process's restart and its new measurement on the security page.
/// Without EnableTranscodingConfig: the page is read-only, says why, and the broker refuses
/// a change sent anyway; refused ExtAuth headers are recorded, a flood only up to the budget.
#[test]
fn ui_admin_pages() {
    if !browser_stack("web UI admin pages") {
        return;
    }
    let fx = Fixture::new();
    library(&fx.music);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    fx.add_user(PLAIN, PLAIN_PASSWORD, false);
    let mut d =
        Daemon::spawn(fx, Options { config: Some("EnableTranscodingConfig = true\n".into()), ..Options::default() });
    d.wait_ready();
    d.wait_scans(1);
    let base = format!("http://127.0.0.1:{}", d.port);
    let run = run_script(
        "ui-admin.mjs",
        &[&base, ADMIN, ADMIN_PASSWORD, PLAIN, PLAIN_PASSWORD, "editable"],
        Duration::from_secs(400),
        || format!("daemon log:\n{}", d.log()),
    );
    eprintln!("{}", serde_json::to_string_pretty(&run.result["steps"]).unwrap());
    assert_eq!(step(&run, "user-created")["outcome"], "User carol added.");
    let folders = step(&run, "folders-saved");
    assert_eq!(folders["outcome"], "The music folders of carol were saved.", "{folders}");
    assert_eq!((folders["all"].as_bool(), folders["music"].as_bool()), (Some(false), Some(true)), "{folders}");
    let kept = step(&run, "last-admin-kept");
    assert_eq!(kept["outcome"], "Refused: The last admin cannot lose the admin role.", "{kept}");
    assert_eq!(kept["role"], "alert");
    assert_eq!(step(&run, "user-deleted")["outcome"], "User carol deleted.");
    let scan = step(&run, "scan-status-live");
    assert_eq!(scan["outcome"], "Scan requested.");
    assert!(scan["state"].as_str().unwrap().starts_with("Not scanning. The library holds "), "{scan}");
    let shell = step(&run, "shell-refused");
    let reason = shell["outcome"].as_str().unwrap();
    assert!(reason.starts_with("Refused: Invalid command") && reason.contains("ffmpeg"), "{shell}");
    assert_eq!(shell["role"], "alert");
    assert_eq!(step(&run, "profile-saved")["bitrate"], "160");
    let security = step(&run, "security-page");
    let rows = security["rows"].as_array().unwrap();
    let roles: Vec<&str> = rows.iter().filter_map(|r| r["role"].as_str()).collect();
    assert_eq!(roles, ["front", "broker", "scanner", "transcoder"], "{security}");
    for r in rows {
        assert_eq!(r["confined"], "true", "measured on this kernel: {r}");
        assert!(r["cells"][2].as_str().unwrap().contains("enforced"), "{r}");
        assert!(r["cells"][3].as_str().unwrap().starts_with("filter ("), "{r}");
        assert_eq!(r["cells"][6], "65534", "the unprivileged uid: {r}");
    }
    let kinds: Vec<&str> = security["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"failed_login") && kinds.contains(&"transcoding_refused"), "{security}");
    assert!(!run.stdout.contains("-wrong"), "no password in any event");
    let refused = security["events"].as_array().unwrap().iter().find(|e| e["kind"] == "transcoding_refused").unwrap();
    assert_eq!(refused["cells"][2], ADMIN, "{refused}");
    let plain = step(&run, "not-admin");
    for v in plain["visits"].as_array().unwrap() {
        assert_eq!(v["status"], 403, "a plain user reached an admin page: {v}");
    }
    for t in plain["tried"].as_array().unwrap() {
        let path = t["path"].as_str().unwrap();
        if path.starts_with("/app/admin/") {
            assert_eq!(t["status"], 403, "{t}");
        } else {
            assert_eq!(t["error"], 50, "the broker refuses it: {t}");
        }
    }
    let run = without_aborted_queue_read(run);
    assert_steps_and_pages_allowing(
        &run,
        false,
        &[("400 (Bad Request)", "/app/admin/"), ("403 (Forbidden)", "/app/admin/")],
    );
    let names: Vec<String> = d.rest("getUsers", "")["users"]["user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| format!("{}:{}", u["username"].as_str().unwrap(), u["adminRole"]))
        .collect();
    assert_eq!(names, [format!("{ADMIN}:true"), format!("{PLAIN}:false")], "nothing the plain user tried happened");

    // A process killed: the supervisor restarts it, the broker records it, and the new one
    // measures itself again.
    let (cookie, _) = web_login_as(&d, ADMIN, ADMIN_PASSWORD);
    let old = d.role_pid("scanner");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old), nix::sys::signal::Signal::SIGKILL).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (page, row) = loop {
        let page = get_with(&d, "/app/admin/security", &[("Cookie", &cookie)]).text();
        let row =
            page.split("data-role=\"scanner\"").nth(1).unwrap_or("").split("</tr>").next().unwrap_or("").to_string();
        let restarted = page.contains("data-kind=\"role_restarted\"") && !row.contains(&format!(">{old}</td>"));
        if restarted && row.contains("data-confined") {
            break (page, row);
        }
        assert!(std::time::Instant::now() < deadline, "no restart on the security page: {page}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(page.contains("killed by SIGKILL"), "{page}");
    let new = d.role_pid("scanner");
    assert_ne!(new, old);
    assert!(row.contains(&format!("<td class=\"num\">{new}</td>")) && row.contains("data-confined=\"true\""), "{row}");
    drop(d);

    // Without EnableTranscodingConfig, and with ExtAuth trusting another address.
    let fx = Fixture::new();
    library(&fx.music);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let config = "[ExtAuth]\nTrustedSources = \"10.99.0.1/32\"\n";
    let mut d = Daemon::spawn(fx, Options { config: Some(config.into()), ..Options::default() });
    d.wait_ready();
    d.wait_scans(1);
    let base = format!("http://127.0.0.1:{}", d.port);
    let run = run_script(
        "ui-admin.mjs",
        &[&base, ADMIN, ADMIN_PASSWORD, PLAIN, PLAIN_PASSWORD, "read-only"],
        Duration::from_secs(200),
        || format!("daemon log:\n{}", d.log()),
    );
    eprintln!("{}", serde_json::to_string_pretty(&run.result["steps"]).unwrap());
    let ro = step(&run, "transcoding-read-only");
    assert!(ro["note"].as_str().unwrap().contains("EnableTranscodingConfig is off"), "{ro}");
    assert_eq!(
        ro["reason"], "Refused: Transcoding profiles are read-only on this server (EnableTranscodingConfig = false)",
        "{ro}"
    );
    assert_steps_and_pages_allowing(&run, false, &[("403 (Forbidden)", "/app/admin/")]);
    // A header only the proxy may set, from anyone else: recorded, up to the budget a minute.
    for _ in 0..40 {
        let r = get_with(&d, "/app/genres", &[("Remote-User", "admin")]);
        assert_eq!(r.status, 303, "to the login page, the header ignored");
    }
    let (cookie, _) = web_login_as(&d, ADMIN, ADMIN_PASSWORD);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let count = loop {
        let page = get_with(&d, "/app/admin/security", &[("Cookie", &cookie)]).text();
        let n = page.matches("data-kind=\"extauth_refused\"").count();
        if n >= 20 || std::time::Instant::now() > deadline {
            assert!(page.contains("not in TrustedSources, ignored"), "{page}");
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(count, 20, "the front's reports are bounded per minute");
}

/// The id of the album "Cross Origin" of [`library`].
fn cross_origin_album(d: &Daemon) -> String {
    let list = d.rest("getAlbumList2", "type=alphabeticalByName&size=50");
    list["albumList2"]["album"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "Cross Origin"))
        .and_then(|a| a["id"].as_str())
        .unwrap_or_else(|| panic!("no Cross Origin album: {list}"))
        .to_string()
}

/// Issue 14 item 6 in chromium: the owner shares the album from its page (the Share dialog,
/// with a password and a hostile description), copies the link; a fresh browser (no cookie)
/// types the password and plays; "My shares" shows the visit; the expiry edited to the past
/// makes the link 410, delete 404. A second share (a song row's, at phone width) is not on
/// another user's page, who cannot delete it either; the admin sees it with its owner on
/// `/app/admin/shares` and deletes it. Pages and the dialog at desktop and phone width through
/// axe-core, with screenshots, no console error beyond the refusals asked for, no CSP violation.
#[test]
fn ui_shares_from_the_album_page_to_a_fresh_browser() {
    if !browser_stack("web UI shares") {
        return;
    }
    let fx = Fixture::new();
    library(&fx.music);
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    fx.add_user(PLAIN, PLAIN_PASSWORD, false);
    fx.add_user("carol", "carol-password-1", false);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    let album = cross_origin_album(&d);
    let base = format!("http://127.0.0.1:{}", d.port);
    let run = run_script(
        "ui-shares.mjs",
        &[&base, PLAIN, PLAIN_PASSWORD, "carol", "carol-password-1", ADMIN, ADMIN_PASSWORD, &album, HOSTILE_1],
        Duration::from_secs(400),
        || format!("daemon log:\n{}", d.log()),
    );
    eprintln!("{}", serde_json::to_string_pretty(&run.result["steps"]).unwrap());
    assert_eq!(step(&run, "link-copied")["copied"], step(&run, "album-share-created")["link"]);
    assert_eq!(step(&run, "description-literal")["title"], HOSTILE_1);
    let dialog = step(&run, "album-share-dialog-open");
    assert_eq!(dialog["what"], "Cross Origin", "{dialog}");
    assert_eq!(dialog["downloadable"], false, "DefaultDownloadableShare is false: {dialog}");
    let run = without_aborted_queue_read(run);
    assert_steps_and_pages_allowing(
        &run,
        false,
        &[
            ("401 (Unauthorized)", "/share/"),
            ("410 (Gone)", "/share/"),
            ("404 (Not Found)", "/share/"),
            ("403 (Forbidden)", "/app/admin/shares"),
        ],
    );
    let left = d.rest("getShares", "");
    assert!(left["shares"]["share"].as_array().is_none_or(|s| s.is_empty()), "every share deleted: {left}");
}

/// Issue 16 item 4: the smart playlist editor. A smart playlist made in the editor holds the
/// songs its rules choose, and a Subsonic client then sees it, read-only, with those songs; a
/// rule that does not fit its field is said on the form (400), what was typed kept; edited
/// rules choose again. Desktop and phone pages: axe-core, no sideways scrolling, landmarks.
#[test]
fn ui_smart_playlist_editor() {
    if !browser_stack("web UI: smart playlists") {
        return;
    }
    let d = daemon_with_library(None);
    d.wait_scans(1);
    let base = format!("http://127.0.0.1:{}", d.port);
    let run = run_script("ui-smart.mjs", &[&base, ADMIN, ADMIN_PASSWORD], Duration::from_secs(300), || {
        format!("daemon log:\n{}", d.log())
    });
    eprintln!("{}", serde_json::to_string_pretty(&run.result["steps"]).unwrap());
    for name in ["smart-created", "smart-bad-rule-said", "smart-edited"] {
        step(&run, name);
    }
    let run = without_aborted_queue_read(run);
    assert_steps_and_pages_allowing(&run, true, &[("400 (Bad Request)", "/app/smart/")]);
    // What the editor made is what a Subsonic client sees.
    let lists = d.rest("getPlaylists", "");
    let p = lists["playlists"]["playlist"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "Jazz picks")
        .unwrap_or_else(|| panic!("no smart playlist: {lists}"))
        .clone();
    assert_eq!((p["readonly"].clone(), p["songCount"].clone()), (Value::Bool(true), Value::from(1)), "{p}");
    let one = d.rest("getPlaylist", &format!("id={}", p["id"].as_str().unwrap()));
    let titles: Vec<&str> =
        one["playlist"]["entry"].as_array().into_iter().flatten().filter_map(|e| e["title"].as_str()).collect();
    assert_eq!(titles, ["Other Two"], "{one}");
    let r = d.rest("updatePlaylist", &format!("playlistId={}&name=x", p["id"].as_str().unwrap()));
    assert_eq!(r["error"]["code"], 50, "{r}");
}

/// The share forms without the script: a share made with a plain POST (and the CSRF token)
/// shows its link; a POST without the token, or one the browser marks cross-site, to "My
/// shares" or the admin's list, changes nothing; a bad date is said on the page. With
/// EnableSharing off, no page offers a Share action and the share pages are 404.
#[test]
fn ui_share_forms_need_the_csrf_token_and_refuse_cross_site_posts() {
    let d = daemon_with_library(None);
    let made = d.rest("createUser", "username=bob&password=bobs-password");
    assert_eq!(made["status"], "ok", "{made}");
    let album = cross_origin_album(&d);
    let (cookies, csrf) = web_login_as(&d, "bob", "bobs-password");
    let page = |path: &str| http(d.port, "GET", path, &[("Cookie", &cookies)], b"").unwrap();
    let bobs_shares = || {
        let r = d.get("/rest/getShares?u=bob&p=bobs-password&v=1.16.1&c=test&f=json").unwrap();
        subsonic(&r)["shares"]["share"].as_array().cloned().unwrap_or_default()
    };
    let album_page = page(&format!("/app/album/{album}")).text();
    assert!(album_page.contains(&format!("/app/shares/new?id={album}")), "the album's Share action");
    assert!(album_page.contains("id=\"share-dialog\"") && album_page.contains("href=\"/app/shares\""));
    let song = d.rest("getAlbum", &format!("id={album}"))["album"]["song"][0]["id"].as_str().unwrap().to_string();
    let list = subsonic(
        &d.get(&format!("/rest/createPlaylist?u=bob&p=bobs-password&v=1.16.1&c=test&f=json&name=Mine&songId={song}"))
            .unwrap(),
    );
    let playlist = list["playlist"]["id"].as_str().unwrap().to_string();
    assert!(page(&format!("/app/playlist/{playlist}")).text().contains(&format!("/app/shares/new?id={playlist}")));
    let form = page(&format!("/app/shares/new?id={album}"));
    assert_eq!(form.status, 200);
    assert!(form.text().contains("name=\"op\" value=\"create\""), "{}", form.text());

    let create =
        format!("op=create&id={album}&description=Plain%20form&expires=2999-12-31&maxPlays=3&downloadable=true");
    let cross = |path: &str, body: &str| {
        http(
            d.port,
            "POST",
            path,
            &[
                ("Cookie", &cookies),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Sec-Fetch-Site", "cross-site"),
            ],
            body.as_bytes(),
        )
        .unwrap()
    };
    let r = cross("/app/shares", &format!("_csrf={csrf}&{create}"));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("another site"), "{}", r.text());
    let r = post_form(&d, "/app/shares", &cookies, &create);
    assert_eq!(r.status, 403, "no change without the CSRF token: {}", r.text());
    assert!(bobs_shares().is_empty(), "nothing was shared");

    let r = post_form(&d, "/app/shares", &cookies, &format!("_csrf={csrf}&{create}"));
    assert_eq!(r.status, 303, "{}", r.text());
    let location = r.header("location").unwrap_or("").to_string();
    let id = location.strip_prefix("/app/shares?created=").unwrap_or_else(|| panic!("{location}")).to_string();
    let shares = bobs_shares();
    assert_eq!(shares.len(), 1, "{shares:?}");
    assert_eq!((&shares[0]["id"], &shares[0]["description"]), (&Value::from(id.as_str()), &Value::from("Plain form")));
    assert_eq!(shares[0]["expires"], "2999-12-31T23:59:59Z", "{}", shares[0]);
    let created = page(&location).text();
    let main = created.split("<main").nth(1).unwrap_or("").split("</main>").next().unwrap_or("");
    assert!(main.contains("id=\"created-link\"") && main.contains(&format!("/share/{id}\"")), "the new link: {main}");
    assert!(main.contains("0 of 3"), "the play cap: {main}");

    // Edits and deletes, without the token or cross-site: refused, nothing changed.
    let update = format!("op=update&id={id}&description=Changed&expires=");
    let r = cross("/app/shares", &format!("_csrf={csrf}&{update}"));
    assert_eq!(r.status, 403, "{}", r.text());
    let r = post_form(&d, "/app/shares", &cookies, &update);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = cross("/app/shares", &format!("_csrf={csrf}&op=delete&id={id}"));
    assert_eq!(r.status, 403, "{}", r.text());
    let (admin_cookies, admin_csrf) = web_login(&d);
    let r = http(
        d.port,
        "POST",
        "/app/admin/shares",
        &[
            ("Cookie", &admin_cookies),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        format!("_csrf={admin_csrf}&do=delete&id={id}").as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    let r = post_form(&d, "/app/admin/shares", &admin_cookies, &format!("do=delete&id={id}"));
    assert_eq!(r.status, 403, "{}", r.text());
    let shares = bobs_shares();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0]["description"], "Plain form", "unchanged");

    // A date that is none is said on the page; a real edit is saved.
    let r = post_form(&d, "/app/shares", &cookies, &format!("_csrf={csrf}&op=update&id={id}&expires=2026-02-31"));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("The expiry is not a date"), "{}", r.text());
    let r = post_form(&d, "/app/shares", &cookies, &format!("_csrf={csrf}&{update}&maxPlays="));
    assert_eq!(r.status, 303, "{}", r.text());
    let shares = bobs_shares();
    assert_eq!(shares[0]["description"], "Changed");
    assert!(shares[0].get("expires").is_none(), "an empty date: never ends: {}", shares[0]);
    let r = post_form(&d, "/app/shares", &cookies, &format!("_csrf={csrf}&op=delete&id={id}"));
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(bobs_shares().is_empty());
    drop(d);

    // EnableSharing off: no action, no page.
    let d = daemon_with_library(Some("EnableSharing = false\n"));
    let album = cross_origin_album(&d);
    let (cookies, _) = web_login(&d);
    let page = |path: &str| http(d.port, "GET", path, &[("Cookie", &cookies)], b"").unwrap();
    let album_page = page(&format!("/app/album/{album}")).text();
    assert!(!album_page.contains("data-action=\"share\"") && !album_page.contains("share-dialog"), "{album_page}");
    assert!(!album_page.contains("/app/shares") && !album_page.contains("/app/admin/shares"));
    for path in ["/app/shares", "/app/shares/new?id=x", "/app/admin/shares"] {
        assert_eq!(page(path).status, 404, "{path}");
    }
}
