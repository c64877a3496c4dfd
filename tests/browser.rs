//! Browser clients against the running daemon: Debian's chromium, headless, driven by
//! playwright-core (tests/browser/, helpers in tests/common/browser.rs and
//! tests/browser/lib.mjs). The pages are served from another origin, as a web client's are.

mod common;

use std::path::Path;
use std::time::Duration;

use common::browser::*;
use common::media::ffmpeg;
use common::*;
use serde_json::Value;

/// A few seconds of a tone, tagged, in the format the extra arguments choose.
fn tone(path: &Path, hz: u32, tags: &[(&str, &str)], codec: &[&str]) {
    let src = format!("sine=frequency={hz}:sample_rate=44100:duration=8");
    let mut args: Vec<String> = ["-f", "lavfi", "-i", &src, "-ac", "2"].iter().map(|s| s.to_string()).collect();
    for (k, v) in tags {
        args.extend(["-metadata".to_string(), format!("{k}={v}")]);
    }
    args.extend(codec.iter().map(|s| s.to_string()));
    args.push(path.to_str().unwrap().to_string());
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The daemon with a small real library (one album: an mp3 and an ogg), scanned.
fn daemon_with_library() -> Daemon {
    let fx = Fixture::new();
    let album = fx.music.join("Browser Band/Cross Origin");
    std::fs::create_dir_all(&album).unwrap();
    let tags =
        |title, track| [("title", title), ("artist", "Browser Band"), ("album", "Cross Origin"), ("track", track)];
    tone(&album.join("01 First.mp3"), 440, &tags("First", "1"), &["-c:a", "libmp3lame", "-b:a", "96k"]);
    tone(&album.join("02 Second.ogg"), 660, &tags("Second", "2"), &["-c:a", "libvorbis", "-q:a", "2"]);
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    d.wait_scans(1);
    d
}

fn step<'a>(run: &'a ScriptRun, name: &str) -> &'a Value {
    run.result["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("the page never reached {name}: {}", run.pretty()))
}

/// Issue 12: a page on another origin (127.0.0.2) calls `ping`, `getAlbumList2` and `getAlbum`
/// with `fetch` and token auth, reads a byte range of a song (its `Content-Range` readable by
/// the script only if the server exposes it), and plays the song in an
/// `<audio crossorigin="anonymous">` that reaches `playing` with `currentTime` advancing.
/// Without CORS on `/rest`, the first fetch fails and chromium logs why.
#[test]
fn a_page_on_another_origin_calls_the_api_and_plays_a_song() {
    if !browser_stack("cross-origin page") {
        return;
    }
    let d = daemon_with_library();
    let site = Origin::serve(&pages_dir(), &[]);
    let server = format!("http://127.0.0.1:{}", d.port);
    assert_ne!(site.base(), server);

    let run = run_script(
        "cors.mjs",
        &[&site.url("/cors.html"), &server, ADMIN, ADMIN_PASSWORD],
        Duration::from_secs(120),
        || format!("daemon log:\n{}", d.log()),
    );
    let r = &run.result;
    assert_eq!(r["origin"], site.base(), "the page ran on its own origin: {}", run.pretty());
    let console: Vec<&str> =
        r["consoleErrors"].as_array().into_iter().flatten().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(r["done"], true, "the page's script never finished: {}", run.pretty());
    assert!(
        r["failedAt"].is_null(),
        "the page stopped at {}: {}\nchromium's console:\n  {}\nresult: {}\norigin served: {:?}",
        r["failedAt"],
        r["failure"],
        console.join("\n  "),
        run.pretty(),
        site.requests(),
    );

    for method in ["ping", "getAlbumList2", "getAlbum"] {
        let s = step(&run, method);
        assert_eq!(s["httpStatus"], 200, "{method}: {s}");
        assert_eq!(s["status"], "ok", "{method}: {s}");
    }
    assert_eq!(step(&run, "getAlbumList2")["albums"], serde_json::json!(["Cross Origin"]));
    let songs = &step(&run, "getAlbum")["songs"];
    assert_eq!(songs[0]["title"], "First", "{songs}");

    let range = step(&run, "streamRange");
    assert_eq!(range["httpStatus"], 206, "{range}");
    assert_eq!(range["bytes"], 1024, "{range}");
    let content_range = range["contentRange"].as_str().unwrap_or_else(|| panic!("Content-Range not exposed: {range}"));
    assert!(content_range.starts_with("bytes 0-1023/"), "{range}");

    let audio = step(&run, "audio");
    assert_eq!(audio["crossOrigin"], "anonymous", "{audio}");
    assert_eq!(audio["playing"], true, "{audio}");
    assert_eq!(audio["advanced"], true, "currentTime did not advance: {audio}");
    assert!(audio["mediaError"].is_null(), "{audio}");

    assert_no_page_problems(&run, &[]);
    assert!(run.result["axe"].as_array().is_some_and(|v| v.is_empty()), "axe-core: {}", run.pretty());
    let shot = r["screenshot"].as_str().unwrap_or("");
    assert!(Path::new(shot).is_file(), "no screenshot at {shot:?}");
    eprintln!("{}", run.pretty());
}
