//! stream, download, transcoding and lyrics against the running daemon, with real ffmpeg in
//! the transcoder's sandbox (docs/security.md T6, T7).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::media::ffmpeg;
use common::*;
use serde_json::Value;

const AUTH: &str = "u=admin&p=admin-pass&v=1.16.1&c=test";

struct Lib {
    d: Daemon,
    /// Song ids by title.
    ids: HashMap<String, String>,
}

impl Lib {
    fn get(&self, method: &str, query: &str, headers: &[(&str, &str)]) -> HttpResponse {
        http(self.d.port, "GET", &format!("/rest/{method}?{AUTH}&{query}"), headers, b"").unwrap()
    }

    fn json(&self, method: &str, query: &str) -> Value {
        let r = self.get(method, &format!("f=json&{query}"), &[]);
        let v: Value = serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("{method}: {e}: {}", r.text()));
        v["subsonic-response"].clone()
    }

    fn ok(&self, method: &str, query: &str) -> Value {
        let v = self.json(method, query);
        assert_eq!(v["status"], "ok", "{method}?{query}: {v}");
        v
    }

    fn err(&self, method: &str, query: &str) -> (i64, String) {
        let v = self.json(method, query);
        assert_eq!(v["status"], "failed", "{method}?{query}: {v}");
        (v["error"]["code"].as_i64().unwrap(), v["error"]["message"].as_str().unwrap_or("").to_string())
    }

    /// A user made through the API (the CLI cannot open a running daemon's data folder).
    fn add_user(&self, name: &str) {
        self.ok("createUser", &format!("username={name}&password={name}-pass&email={name}@example.com"));
    }

    fn id(&self, title: &str) -> &str {
        &self.ids[title]
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.d.fx.music.join(rel)
    }
}

/// Noise, so that encoders need the bit rate they are given.
fn noise(path: &Path, secs: u32, extra: &[&str]) {
    let src = format!("anoisesrc=color=pink:sample_rate=44100:duration={secs}:amplitude=0.3");
    let mut args = vec!["-f", "lavfi", "-i", &src, "-ac", "2"];
    args.extend(extra);
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
}

fn library(opts: Options, extra: impl FnOnce(&Path)) -> Lib {
    library_with(|_| opts, extra)
}

/// [`library`], with options made from the fixture (its database made, the daemon not yet
/// started).
fn library_with(opts: impl FnOnce(&Fixture) -> Options, extra: impl FnOnce(&Path)) -> Lib {
    let fx = Fixture::new();
    let a = fx.music.join("Artist/Album");
    std::fs::create_dir_all(&a).unwrap();
    noise(
        &a.join("01 Noise.flac"),
        20,
        &["-metadata", "title=Flac Noise", "-metadata", "artist=Tester", "-metadata", "album=Album"],
    );
    noise(
        &a.join("02 Loud.mp3"),
        12,
        &["-b:a", "320k", "-metadata", "title=Mp3 Noise", "-metadata", "artist=Tester", "-metadata", "album=Album"],
    );
    std::fs::write(a.join("01 Noise.lrc"), "[ar:Tester]\n[offset:+100]\n[00:01.00]First line\n[00:05.50]Second line\n")
        .unwrap();
    extra(&fx.music);
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let opts = opts(&fx);
    let mut d = Daemon::spawn(fx, opts);
    d.wait_ready();
    d.wait_scans(1);
    // The start-up check of every profile runs ffmpeg too: tests that count ffmpeg processes
    // start after it.
    d.wait_log("transcoding profiles checked", Duration::from_secs(60));
    let mut lib = Lib { d, ids: HashMap::new() };
    let found = lib.ok("search3", "query=&songCount=500");
    for s in found["searchResult3"]["song"].as_array().unwrap() {
        lib.ids.insert(s["title"].as_str().unwrap().to_string(), s["id"].as_str().unwrap().to_string());
    }
    lib
}

fn probe(bytes: &[u8], dir: &Path, name: &str) -> Value {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {name}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn codec(p: &Value) -> &str {
    p["streams"][0]["codec_name"].as_str().unwrap_or("")
}

fn duration(p: &Value) -> f64 {
    p["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0)
}

fn kbps(p: &Value) -> f64 {
    let s = p["streams"][0]["bit_rate"].as_str().or(p["format"]["bit_rate"].as_str());
    s.and_then(|b| b.parse::<f64>().ok()).unwrap_or(0.0) / 1000.0
}

/// The bit rate ffmpeg reaches on its own, outside redoubt, with the default profile's codec.
fn reference_kbps(dir: &Path, source: &Path, format: &str, rate: u32) -> f64 {
    let out = dir.join(format!("reference-{rate}.{format}"));
    let b = format!("{rate}k");
    let mut args = vec!["-i", source.to_str().unwrap(), "-map", "0:a:0", "-b:a", &b];
    args.extend(match format {
        "mp3" => vec!["-f", "mp3"],
        "opus" => vec!["-c:a", "libopus", "-f", "opus"],
        _ => vec!["-c:a", "aac", "-f", "adts"],
    });
    args.push(out.to_str().unwrap());
    ffmpeg(&args);
    kbps(&probe(&std::fs::read(&out).unwrap(), dir, &format!("reference-probe.{format}")))
}

#[test]
fn raw_streams_answer_ranges_head_and_downloads() {
    let l = library(Options::default(), |_| {});
    let id = l.id("Flac Noise").to_string();
    let original = std::fs::read(l.file("Artist/Album/01 Noise.flac")).unwrap();
    let size = original.len();

    let r = l.get("stream", &format!("id={id}"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.body == original, "the raw stream is the file, byte for byte");
    assert_eq!(r.header("content-type"), Some("audio/flac"));
    assert_eq!(r.header("content-length"), Some(size.to_string().as_str()));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(r.header("last-modified").is_some_and(|v| v.ends_with(" GMT")));
    let etag = r.header("etag").expect("an etag").to_string();

    for (range, first, last) in [
        ("bytes=0-99".to_string(), 0, 99),
        ("bytes=1000-1999".to_string(), 1000, 1999),
        ("bytes=-500".to_string(), size - 500, size - 1),
        (format!("bytes={}-", size - 10), size - 10, size - 1),
        (format!("bytes=100-{}", size + 1000), 100, size - 1),
    ] {
        let r = l.get("stream", &format!("id={id}"), &[("Range", &range)]);
        assert_eq!(r.status, 206, "{range}");
        assert!(r.body[..] == original[first..=last], "{range}: the right bytes");
        assert_eq!(r.header("content-range"), Some(format!("bytes {first}-{last}/{size}").as_str()), "{range}");
        assert_eq!(r.header("content-length"), Some((last - first + 1).to_string().as_str()));
    }
    let r = l.get("stream", &format!("id={id}"), &[("Range", &format!("bytes={size}-"))]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some(format!("bytes */{size}").as_str()));
    // An If-Range for another version of the file: the whole file.
    let r = l.get("stream", &format!("id={id}"), &[("Range", "bytes=0-9"), ("If-Range", "\"old\"")]);
    assert_eq!((r.status, r.body.len()), (200, size));
    let r = l.get("stream", &format!("id={id}"), &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);

    let head = http(l.d.port, "HEAD", &format!("/rest/stream?{AUTH}&id={id}"), &[], b"").unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(size.to_string().as_str()));
    assert!(head.body.is_empty());

    // format=raw never transcodes, whatever else is asked.
    let r = l.get("stream", &format!("id={id}&format=raw&maxBitRate=64"), &[]);
    assert!(r.body == original);

    let r = l.get("download", &format!("id={id}"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.body == original);
    let disp = r.header("content-disposition").unwrap_or("");
    assert!(disp.starts_with("attachment;") && disp.contains("01%20Noise.flac"), "{disp}");

    assert_eq!(l.err("stream", "id=nope").0, 70);
    assert_eq!(l.err("stream", "").0, 10);
    assert_eq!(l.err("download", "id=nope").0, 70);
    // A song whose file has gone since the scan: 70, and the daemon carries on.
    let mp3 = l.id("Mp3 Noise").to_string();
    std::fs::remove_file(l.file("Artist/Album/02 Loud.mp3")).unwrap();
    assert_eq!(l.err("stream", &format!("id={mp3}")).0, 70);
    // A user without a picture gets the placeholder, as from Navidrome without Gravatar.
    let avatar = l.get("getAvatar", "username=admin", &[]);
    assert_eq!((avatar.status, avatar.header("content-type")), (200, Some("image/png")));
    assert_eq!(l.err("getAvatar", "username=nobody").0, 70);
    let bad = http(l.d.port, "GET", "/rest/stream?u=admin&p=wrong&v=1.16.1&c=test&f=json&id=x", &[], b"").unwrap();
    assert!(bad.text().contains("\"code\":40"), "{}", bad.text());
}

#[test]
fn transcodes_are_the_codec_and_rate_asked_for() {
    let l = library(Options::default(), |_| {});
    let dir = l.d.fx.dir.clone();
    let flac = l.id("Flac Noise").to_string();
    let mp3 = l.id("Mp3 Noise").to_string();
    for (source, format, want_codec, want_kbps, ctype) in [
        (&flac, "mp3", "mp3", 192.0, "audio/mpeg"),
        (&flac, "opus", "opus", 128.0, "audio/ogg"),
        (&flac, "aac", "aac", 256.0, "audio/aac"),
        (&mp3, "flac", "flac", 0.0, "audio/flac"),
    ] {
        let r = l.get("stream", &format!("id={source}&format={format}"), &[]);
        assert_eq!(r.status, 200, "{format}: {}", r.text().chars().take(300).collect::<String>());
        assert_eq!(r.header("content-type"), Some(ctype), "{format}");
        assert_eq!(r.header("accept-ranges"), Some("none"), "{format}: transcodes are not seekable");
        assert!(r.header("x-content-duration").is_some());
        assert!(r.header("content-length").is_none(), "{format}: no length unless asked");
        let p = probe(&r.body, &dir, &format!("out.{format}"));
        assert_eq!(codec(&p), want_codec, "{format}: {p}");
        if want_kbps > 0.0 {
            // Encoders in VBR mode (opus) land near, not on, the rate they are given: compare
            // with the same encoder run directly at the profile's rate.
            let got = kbps(&p);
            let want = reference_kbps(&dir, &l.file("Artist/Album/01 Noise.flac"), format, want_kbps as u32);
            assert!((got - want).abs() / want < 0.1, "{format}: {got} kbps, ffmpeg alone at {want_kbps}k gives {want}");
        }
    }
    // maxBitRate below the song's rate, and nothing else: DefaultDownsamplingFormat (opus).
    let r = l.get("stream", &format!("id={flac}&maxBitRate=96"), &[]);
    let p = probe(&r.body, &dir, "down.opus");
    assert_eq!((codec(&p), r.header("content-type")), ("opus", Some("audio/ogg")));
    let want = reference_kbps(&dir, &l.file("Artist/Album/01 Noise.flac"), "opus", 96);
    assert!((kbps(&p) - want).abs() / want < 0.1, "{} against {want}", kbps(&p));
    // A cap above the song's rate changes nothing.
    let r = l.get("stream", &format!("id={mp3}&maxBitRate=500"), &[]);
    assert!(r.body == std::fs::read(l.file("Artist/Album/02 Loud.mp3")).unwrap());
    // timeOffset: the transcode starts there.
    let r = l.get("stream", &format!("id={flac}&format=mp3&timeOffset=12"), &[]);
    assert_eq!(r.header("x-content-duration"), Some("8.00"));
    let left = duration(&probe(&r.body, &dir, "offset.mp3"));
    assert!((left - 8.0).abs() < 0.5, "20 s song from 12 s: {left} s left");
    assert_eq!(l.err("stream", &format!("id={flac}&format=mp3&timeOffset=25")).0, 0);
    // estimateContentLength: a Content-Length, and exactly that many bytes.
    let r = l.get("stream", &format!("id={flac}&format=mp3&estimateContentLength=true"), &[]);
    let len: usize = r.header("content-length").expect("an estimate").parse().unwrap();
    assert_eq!(r.body.len(), len);
    assert!((len as f64 - 20.0 * 192_000.0 / 8.0).abs() < 10_000.0, "{len}");
}

#[test]
fn players_force_formats_and_caps_per_client() {
    let l = library(Options::default(), |_| {});
    let dir = l.d.fx.dir.clone();
    let flac = l.id("Flac Noise").to_string();
    // Streaming makes the player (user + client name).
    assert_eq!(l.get("stream", &format!("id={flac}&format=raw"), &[]).status, 200);
    let players = l.ok("getPlayers", "");
    let list = players["players"]["player"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{players}");
    assert_eq!((list[0]["client"].as_str(), list[0]["username"].as_str()), (Some("test"), Some("admin")));
    let pid = list[0]["id"].as_str().unwrap().to_string();
    l.ok("updatePlayer", &format!("id={pid}&format=aac"));
    let r = l.get("stream", &format!("id={flac}&format=mp3"), &[]);
    assert_eq!(codec(&probe(&r.body, &dir, "forced.aac")), "aac", "the player's format wins");
    // Another client of the same user is not affected.
    let other =
        http(l.d.port, "GET", &format!("/rest/stream?u=admin&p=admin-pass&v=1.16.1&c=other&id={flac}"), &[], b"")
            .unwrap();
    assert_eq!(other.header("content-type"), Some("audio/flac"));
    // A cap on the player downsamples.
    l.ok("updatePlayer", &format!("id={pid}&format=&maxBitRate=64"));
    let r = l.get("stream", &format!("id={flac}"), &[]);
    let p = probe(&r.body, &dir, "capped.opus");
    assert_eq!(codec(&p), "opus");
    assert!(kbps(&p) < 90.0, "{}", kbps(&p));
    assert_eq!(l.err("updatePlayer", &format!("id={pid}&format=wma")).0, 0, "no such profile");
    assert_eq!(l.err("updatePlayer", "id=nope&format=mp3").0, 70);
    // Players are private to their user.
    l.add_user("bob");
    let bob = |q: &str| {
        let r = http(l.d.port, "GET", &format!("/rest/{q}&u=bob&p=bob-pass&v=1.16.1&c=bobs&f=json"), &[], b"").unwrap();
        serde_json::from_str::<Value>(&r.text()).unwrap()["subsonic-response"].clone()
    };
    assert_eq!(bob("getPlayers?x=1")["players"]["player"].as_array().map(|a| a.len()).unwrap_or(0), 0);
    assert_eq!(bob(&format!("updatePlayer?id={pid}&format=raw"))["error"]["code"], 70);
}

#[test]
fn t7_transcoding_commands_can_only_run_ffmpeg() {
    let opts = Options {
        env: vec![
            ("REDOUBT_ENABLEDOWNLOADS".into(), "false".into()),
            ("REDOUBT_TEST_PROBES".into(), "transcoder:exec:/bin/sh;transcoder:socket_inet".into()),
        ],
        ..Default::default()
    };
    let l = library(opts, |_| {});
    let flac = l.id("Flac Noise").to_string();
    let ts = l.ok("getTranscodings", "");
    let formats: Vec<&str> = ts["transcodings"]["transcoding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["targetFormat"].as_str().unwrap())
        .collect();
    assert_eq!(formats.len(), 4, "{ts}");
    // Read-only without EnableTranscodingConfig, for admins too, and logged.
    let (code, _) = l.err("createTranscoding", "name=x&targetFormat=x&command=ffmpeg%20-i%20%25s%20-f%20mp3%20-");
    assert_eq!(code, 50);
    l.d.wait_log("EnableTranscodingConfig is false", Duration::from_secs(5));
    assert_eq!(l.err("deleteTranscoding", "id=mp3").0, 50);
    assert_eq!(l.err("download", &format!("id={flac}")).0, 50, "EnableDownloads = false");

    // Forced into the database anyway: the transcoder refuses to run it.
    let db = rusqlite::Connection::open(l.d.fx.data.join("redoubt.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    for evil in ["/bin/sh -c 'id > /tmp/pwned' %s", "curl -o /tmp/pwned http://127.0.0.1/ %s", "sh %s"] {
        db.execute("UPDATE transcodings SET command = ?1 WHERE id = 'mp3'", [evil]).unwrap();
        let (code, msg) = l.err("stream", &format!("id={flac}&format=mp3"));
        assert_eq!(code, 0);
        assert!(msg.contains("Refused") && msg.contains("ffmpeg"), "{evil}: {msg}");
    }
    l.d.wait_log("refusing a transcoding command", Duration::from_secs(5));
    // And landlock would deny the exec even if it got that far; sockets are denied too.
    let line = l.d.wait_log("transcoder exec:/bin/sh =>", Duration::from_secs(10));
    assert!(line.contains("=> EACCES"), "{line}");
    let line = l.d.wait_log("transcoder socket_inet =>", Duration::from_secs(10));
    assert!(line.contains("=> EPERM"), "{line}");
    assert!(!Path::new("/tmp/pwned").exists());
}

#[test]
fn t6_ffmpeg_cannot_reach_the_network_or_write_files() {
    let opts = Options { env: vec![("REDOUBT_ENABLETRANSCODINGCONFIG".into(), "true".into())], ..Default::default() };
    let l = library(opts, |_| {});
    let dir = l.d.fx.dir.clone();
    let flac = l.id("Flac Noise").to_string();
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let create = |name: &str, fmt: &str, cmd: &str| {
        l.json("createTranscoding", &format!("name={name}&targetFormat={fmt}&defaultBitRate=128&command={}", enc(cmd)))
    };
    // T7 at save: only the configured ffmpeg.
    for bad in ["/bin/sh -c ffmpeg %s", "curl %s", "/usr/local/bin/ffmpeg -i %s -f mp3 -", "ffmpeg -f mp3 -"] {
        let v = create("bad", "bad", bad);
        assert_eq!(v["status"], "failed", "{bad} was saved: {v}");
    }
    // Network: ffmpeg's socket() is refused, so reading a URL fails; the stream is an error.
    // The URL serves real audio (this very daemon's raw stream), so only the sandbox can make
    // the transcode fail.
    let url = format!("http://127.0.0.1:{}/rest/stream?{AUTH}&id={flac}&format=raw", l.d.port);
    let v = create("net", "net", &format!("ffmpeg -v error -i %s -i '{url}' -map 1:a:0 -f mp3 -"));
    assert_eq!(v["status"], "ok", "{v}");
    let (code, msg) = l.err("stream", &format!("id={flac}&format=net"));
    assert_eq!(code, 0);
    assert!(msg.contains("Transcoding failed"), "{msg}");
    l.d.wait_log("01 Noise.flac failed", Duration::from_secs(5));
    let log = l.d.log();
    let failure = &log[log.find("01 Noise.flac failed").unwrap()..];
    assert!(failure.contains("Operation not permitted"), "ffmpeg's socket() was not what failed: {failure}");
    // Files: nothing outside the pipe is writable.
    let target = format!("/tmp/redoubt-t6-{}", std::process::id());
    let v = create("write", "wr", &format!("ffmpeg -i %s -map 0:a:0 -f mp3 -y {target}"));
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(l.err("stream", &format!("id={flac}&format=wr")).0, 0);
    assert!(!Path::new(&target).exists(), "ffmpeg wrote {target}");
    let v = create("data", "dw", "ffmpeg -i %s -map 0:a:0 -f mp3 -y %s.mp3");
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(l.err("stream", &format!("id={flac}&format=dw")).0, 0);
    assert!(!l.file("Artist/Album/01 Noise.flac.mp3").exists(), "ffmpeg wrote into the music folder");
    // A value with spaces, quotes and ';' stays one argument: here, one metadata value.
    let v = create("tagged", "tag", "ffmpeg -i %s -map 0:a:0 -metadata 'title=a \"b\"; rm -rf /' -b:a %bk -f mp3 -");
    assert_eq!(v["status"], "ok", "{v}");
    let r = l.get("stream", &format!("id={flac}&format=tag"), &[]);
    let p = probe(&r.body, &dir, "tagged.mp3");
    assert_eq!(p["format"]["tags"]["title"], "a \"b\"; rm -rf /", "{p}");
    // A normal transcode still works, and profiles can be changed and removed by admins.
    let r = l.get("stream", &format!("id={flac}&format=mp3"), &[]);
    assert_eq!(codec(&probe(&r.body, &dir, "normal.mp3")), "mp3");
    let id = v["transcoding"]["id"].as_str().unwrap().to_string();
    l.ok("updateTranscoding", &format!("id={id}&defaultBitRate=64"));
    assert_eq!(l.err("updateTranscoding", &format!("id={id}&command={}", enc("sh -c x %s"))).0, 0);
    l.ok("deleteTranscoding", &format!("id={id}"));
    assert_eq!(l.err("deleteTranscoding", &format!("id={id}")).0, 70);
    l.add_user("eve");
    let r = http(
        l.d.port,
        "GET",
        &format!(
            "/rest/createTranscoding?u=eve&p=eve-pass&v=1.16.1&c=x&f=json&name=e&targetFormat=e&command={}",
            enc("ffmpeg -i %s -")
        ),
        &[],
        b"",
    )
    .unwrap();
    assert!(r.text().contains("\"code\":50"), "{}", r.text());
}

/// Opens a stream and reads only the response head; the connection stays open.
fn open_stream(port: u16, user: &str, id: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!(
        "GET /rest/stream?u={user}&p={user}-pass&v=1.16.1&c=t&f=json&format=mp3&id={id} HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "connection closed in the head");
        head.push(b[0]);
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

fn ffmpeg_children(transcoder: i32) -> Vec<i32> {
    children(transcoder)
        .into_iter()
        .filter(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "ffmpeg"))
        .collect()
}

#[test]
fn transcodes_are_capped_and_stop_with_their_client() {
    let opts = Options {
        env: vec![
            ("REDOUBT_TRANSCODING_MAXCONCURRENT".into(), "3".into()),
            ("REDOUBT_TRANSCODING_MAXCONCURRENTPERUSER".into(), "2".into()),
        ],
        ..Default::default()
    };
    // Ten minutes of a tone: far more mp3 than the pipes and socket buffers hold, so each
    // transcode runs until its client reads or leaves.
    let l = library(opts, |music| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:sample_rate=22050:duration=600",
            "-metadata",
            "title=Long",
            music.join("Artist/Album/03 Long.flac").to_str().unwrap(),
        ])
    });
    l.add_user("alice");
    l.add_user("bob");
    let long = l.id("Long").to_string();
    let transcoder = l.d.role_pid("transcoder");
    let (a1, h) = open_stream(l.d.port, "alice", &long);
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    let (a2, h) = open_stream(l.d.port, "alice", &long);
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    // Alice's third: over the per-user cap.
    let (_, h) = open_stream(l.d.port, "alice", &long);
    assert!(h.starts_with("HTTP/1.1 429"), "{h}");
    assert!(h.to_ascii_lowercase().contains("retry-after:"), "{h}");
    let (b1, h) = open_stream(l.d.port, "bob", &long);
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    // Bob's second: over the server's cap (3).
    let (_, h) = open_stream(l.d.port, "bob", &long);
    assert!(h.starts_with("HTTP/1.1 429"), "{h}");
    assert_eq!(ffmpeg_children(transcoder).len(), 3);

    // Clients that leave take their ffmpeg with them within a second.
    drop(a1);
    drop(a2);
    drop(b1);
    let deadline = Instant::now() + Duration::from_secs(1);
    while !ffmpeg_children(transcoder).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ffmpeg_children(transcoder), Vec::<i32>::new(), "ffmpeg outlived its client");
    // And the slots are free again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, h) = open_stream(l.d.port, "alice", &long);
        if h.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the slots were not freed: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!l.d.log().contains("panicked"));
}

#[test]
fn lyrics_from_sidecar_files() {
    let l = library(Options::default(), |_| {});
    let flac = l.id("Flac Noise").to_string();
    let v = l.ok("getLyricsBySongId", &format!("id={flac}"));
    let list = v["lyricsList"]["structuredLyrics"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    let s = &list[0];
    assert_eq!((s["synced"].as_bool(), s["lang"].as_str(), s["offset"].as_i64()), (Some(true), Some("und"), Some(100)));
    assert_eq!(s["displayTitle"], "Flac Noise");
    let lines: Vec<(i64, &str)> = s["line"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["start"].as_i64().unwrap(), x["value"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [(1000, "First line"), (5500, "Second line")]);
    let plain = l.ok("getLyrics", "artist=tester&title=flac%20noise");
    assert_eq!(plain["lyrics"]["value"], "First line\nSecond line", "{plain}");
    assert_eq!(plain["lyrics"]["title"], "Flac Noise");
    let none = l.ok("getLyrics", "title=nothing");
    assert!(none["lyrics"]["value"].is_null());
    let mp3 = l.id("Mp3 Noise").to_string();
    let empty = l.ok("getLyricsBySongId", &format!("id={mp3}"));
    assert_eq!(empty["lyricsList"]["structuredLyrics"].as_array().map(|a| a.len()).unwrap_or(0), 0);
    assert_eq!(l.err("getLyricsBySongId", "id=nope").0, 70);
    // Both answers are valid OpenSubsonic.
    assert_valid_json("getLyricsBySongId", &l.get("getLyricsBySongId", &format!("f=json&id={flac}"), &[]).text());
    assert_valid_json("getLyrics", &l.get("getLyrics", "f=json&title=Flac%20Noise", &[]).text());
    let exts = l.ok("getOpenSubsonicExtensions", "");
    let names: Vec<&str> =
        exts["openSubsonicExtensions"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"songLyrics") && names.contains(&"transcodeOffset"), "{names:?}");
}

/// Sidecar TTML, SRT and enhanced LRC, ordered by LyricsPriority; songLyrics v2's `enhanced`
/// adds kinds and word cues, and version 1 answers stay as they were.
#[test]
fn lyrics_formats_priority_and_version_2() {
    let opts = Options {
        env: vec![("REDOUBT_LYRICSPRIORITY".into(), ".ttml, .srt, .LRC, .txt, embedded".into())],
        ..Default::default()
    };
    let l = library(opts, |music| {
        let a = music.join("Artist/Album");
        for (name, title) in [("03 Words", "Words"), ("04 Subs", "Subs"), ("05 Ttml", "Ttml")] {
            noise(&a.join(format!("{name}.flac")), 2, &["-metadata", &format!("title={title}")]);
        }
        std::fs::write(a.join("03 Words.lrc"), "[00:01.00]<00:01.00>Hello <00:01.50>wörld<00:02.25>\n").unwrap();
        std::fs::write(a.join("03 Words.txt"), "plain words").unwrap();
        // .srt before .lrc (the priority); the .lrc is not used.
        std::fs::write(a.join("04 Subs.srt"), "1\n00:00:01,250 --> 00:00:02,000\nSubtitle line\n").unwrap();
        std::fs::write(a.join("04 Subs.lrc"), "[00:09.00]not this one\n").unwrap();
        std::fs::write(
            a.join("05 Ttml.ttml"),
            r#"<tt xml:lang="en"><body><div><p begin="0.5s" end="2s"><span begin="0.5s" end="1s">Sing</span> <span begin="1s" end="2s">along</span></p></div><div xml:lang="fr"><p begin="0.5s" end="2s">Chantez</p></div></body></tt>"#,
        )
        .unwrap();
    });
    let lines = |s: &Value| -> Vec<(i64, String)> {
        s["line"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["start"].as_i64().unwrap(), x["value"].as_str().unwrap().to_string()))
            .collect()
    };
    let cues = |c: &Value| -> Vec<(i64, Option<i64>, i64, i64, String)> {
        c["cue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["start"].as_i64().unwrap(),
                    x["end"].as_i64(),
                    x["byteStart"].as_i64().unwrap(),
                    x["byteEnd"].as_i64().unwrap(),
                    x["value"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let both = |id: &str| -> (Value, Value) {
        let v1 = l.ok("getLyricsBySongId", &format!("id={id}"));
        let v2 = l.ok("getLyricsBySongId", &format!("id={id}&enhanced=true"));
        assert_valid_json("getLyricsBySongId", &l.get("getLyricsBySongId", &format!("f=json&id={id}"), &[]).text());
        assert_valid_json(
            "getLyricsBySongId",
            &l.get("getLyricsBySongId", &format!("f=json&enhanced=true&id={id}"), &[]).text(),
        );
        (v1["lyricsList"]["structuredLyrics"].clone(), v2["lyricsList"]["structuredLyrics"].clone())
    };

    // Enhanced LRC: v1 sees the line without stamps; v2 the word cues, byte offsets exact.
    let (v1, v2) = both(l.id("Words"));
    assert_eq!(lines(&v1[0]), [(1000, "Hello wörld".to_string())], "{v1}");
    assert!(v1[0].get("cueLine").is_none() && v1[0].get("kind").is_none(), "{v1}");
    assert_eq!(v2[0]["kind"], "main", "{v2}");
    let cue_line = &v2[0]["cueLine"][0];
    assert_eq!((cue_line["index"].as_i64(), cue_line["value"].as_str()), (Some(0), Some("Hello wörld")), "{v2}");
    assert_eq!(cues(cue_line), [(1000, Some(1500), 0, 4, "Hello".into()), (1500, Some(2250), 6, 11, "wörld".into())]);

    // SRT wins over LRC by LyricsPriority.
    let (v1, _) = both(l.id("Subs"));
    assert_eq!(lines(&v1[0]), [(1250, "Subtitle line".to_string())], "{v1}");
    assert_eq!(v1[0]["synced"], true);

    // TTML: the translation is v2's only.
    let (v1, v2) = both(l.id("Ttml"));
    assert_eq!(v1.as_array().unwrap().len(), 1, "{v1}");
    assert_eq!((v1[0]["lang"].as_str(), lines(&v1[0])), (Some("en"), vec![(500, "Sing along".to_string())]));
    let kinds: Vec<(&str, &str)> =
        v2.as_array().unwrap().iter().map(|s| (s["kind"].as_str().unwrap(), s["lang"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("main", "en"), ("translation", "fr")], "{v2}");
    assert_eq!(
        cues(&v2[0]["cueLine"][0]),
        [(500, Some(1000), 0, 3, "Sing".into()), (1000, Some(2000), 5, 9, "along".into())]
    );
    // getLyrics (v1 of the API) answers the plain text of the first source.
    let plain = l.ok("getLyrics", "title=Words");
    assert_eq!(plain["lyrics"]["value"], "Hello wörld", "{plain}");
    let exts = l.ok("getOpenSubsonicExtensions", "");
    let lyrics_ext =
        exts["openSubsonicExtensions"].as_array().unwrap().iter().find(|e| e["name"] == "songLyrics").cloned();
    assert_eq!(lyrics_ext.unwrap()["versions"], serde_json::json!([1, 2]));
}

/// The result a role reported for a test-hook probe.
fn probe_result(d: &Daemon, role: &str, probe: &str) -> String {
    let line = d.wait_log(&format!("redoubt-test-hook-probe {role} {probe} =>"), Duration::from_secs(10));
    line.rsplit("=> ").next().unwrap().trim().to_string()
}

fn with_probes(probes: &[String]) -> Options {
    Options { env: vec![("REDOUBT_TEST_PROBES".into(), probes.join(";"))], ..Default::default() }
}

/// The libblas.so.3 the installed ffmpeg loads, resolved (Debian's alternatives are symlinks).
fn ffmpeg_blas() -> Option<PathBuf> {
    let ffmpeg = std::process::Command::new("sh").args(["-c", "command -v ffmpeg"]).output().ok()?;
    let ffmpeg = String::from_utf8_lossy(&ffmpeg.stdout).trim().to_string();
    let out = std::process::Command::new("ldd").arg(&ffmpeg).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| l.trim_start().starts_with("libblas.so"))?;
    let path = line.split("=>").nth(1)?.split_whitespace().next()?;
    std::fs::canonicalize(path).ok()
}

/// The OpenBLAS stack of issue 11 (`.ci/run` makes `libopenblas0-pthread` the libblas.so.3
/// alternative): ffmpeg loads OpenBLAS, which calls mbind while allocating. Every seeded
/// profile transcodes in the sandbox there, checked by ffprobe.
#[test]
fn every_seeded_profile_transcodes_with_openblas_present() {
    let blas = ffmpeg_blas();
    let openblas = blas.as_ref().is_some_and(|p| p.to_string_lossy().contains("openblas"));
    if !openblas {
        let why = format!("ffmpeg's libblas.so.3 is {blas:?}, not OpenBLAS (.ci/run installs libopenblas0-pthread)");
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{why}");
        eprintln!("SKIPPED: {why}");
        return;
    }
    let l = library(Options::default(), |_| {});
    let dir = l.d.fx.dir.clone();
    let flac = l.id("Flac Noise").to_string();
    let ts = l.ok("getTranscodings", "");
    let profiles = ts["transcodings"]["transcoding"].as_array().unwrap().clone();
    let formats: Vec<&str> = profiles.iter().map(|t| t["targetFormat"].as_str().unwrap()).collect();
    assert_eq!(formats.len(), 4, "{ts}");
    for format in formats {
        let r = l.get("stream", &format!("id={flac}&format={format}"), &[]);
        assert_eq!(r.status, 200, "{format}");
        assert!(r.header("content-type").is_some_and(|t| t.starts_with("audio/")), "{format}: {}", r.text());
        let p = probe(&r.body, &dir, &format!("openblas.{format}"));
        assert_eq!(codec(&p), format, "{format}: {p}");
        assert!((duration(&p) - 20.0).abs() < 0.5, "{format}: the whole song: {p}");
    }
    let log = l.d.log();
    assert!(!log.contains("SIGSYS") && !log.contains("does not work on this host"), "{log}");
}

/// The memory-policy group: answered ENOSYS (a kernel without NUMA), and the transcoder
/// carries on; ffmpeg, whose OpenBLAS calls mbind (previous test), transcodes.
#[test]
fn t6_memory_policy_calls_answer_enosys_and_the_transcoder_carries_on() {
    let calls = ["mbind", "set_mempolicy", "get_mempolicy", "migrate_pages", "move_pages", "set_mempolicy_home_node"];
    let probes: Vec<String> = calls.iter().map(|c| format!("transcoder:syscall:{c}")).collect();
    let l = library(with_probes(&probes), |_| {});
    for c in calls {
        assert_eq!(probe_result(&l.d, "transcoder", &format!("syscall:{c}")), "ENOSYS", "{c}");
    }
    let flac = l.id("Flac Noise").to_string();
    let r = l.get("stream", &format!("id={flac}&format=mp3"), &[]);
    assert_eq!(codec(&probe(&r.body, &l.d.fx.dir, "after.mp3")), "mp3");
    assert!(!l.d.log().contains("the transcoder killed"), "{}", l.d.log());
}

/// The scheduling group (any process of the daemon's uid: answered EPERM, as the kernel
/// answers without CAP_SYS_NICE) and cache folders (EPERM; landlock would refuse too).
#[test]
fn t6_scheduling_and_cache_folder_calls_answer_eperm_and_the_transcoder_carries_on() {
    let calls = [
        "sched_setaffinity",
        "sched_setscheduler",
        "sched_setparam",
        "sched_setattr",
        "setpriority",
        "ioprio_set",
        "mkdirat",
    ];
    let probes: Vec<String> = calls.iter().map(|c| format!("transcoder:syscall:{c}")).collect();
    let d = Daemon::start_with(with_probes(&probes));
    let transcoder = d.role_pid("transcoder");
    for c in calls {
        assert_eq!(probe_result(&d, "transcoder", &format!("syscall:{c}")), "EPERM", "{c}");
    }
    assert_eq!(d.role_pid("transcoder"), transcoder, "the same transcoder:\n{}", d.log());
    assert_eq!(d.get("/rest/ping").unwrap().status, 200);
}

/// The reads any host's libraries make (clocks without a vDSO, identity, scheduling state)
/// are allowed.
#[test]
fn t6_clock_and_identity_reads_are_allowed() {
    let calls = ["gettimeofday", "clock_getres", "getcpu", "getresuid", "getgroups", "sched_getattr"];
    let probes: Vec<String> = calls.iter().map(|c| format!("transcoder:syscall:{c}")).collect();
    let d = Daemon::start_with(with_probes(&probes));
    for c in calls {
        assert_eq!(probe_result(&d, "transcoder", &format!("syscall:{c}")), "ok", "{c}");
    }
}

/// The kill group: each call, made in a child of the transcoder (which inherits its
/// filters, as ffmpeg does), kills that child with SIGSYS; the transcoder carries on. The
/// network and tracing group still answers EPERM.
#[test]
fn t6_calls_that_widen_reach_still_kill() {
    let kill = [
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "io_uring_setup",
        "keyctl",
        "mount",
        "unshare",
        "setns",
        "kexec_load",
        "init_module",
        "finit_module",
        "delete_module",
        "open_by_handle_at",
        "shmget",
        "pidfd_send_signal",
    ];
    let mut probes: Vec<String> = kill.iter().map(|c| format!("transcoder:child:syscall:{c}")).collect();
    probes.push("transcoder:child:syscall:process_vm_readv".into());
    probes.push("transcoder:child:socket_inet".into());
    let d = Daemon::start_with(with_probes(&probes));
    let transcoder = d.role_pid("transcoder");
    for c in kill {
        assert_eq!(probe_result(&d, "transcoder", &format!("child:syscall:{c}")), "SIGSYS", "{c}");
    }
    assert_eq!(probe_result(&d, "transcoder", "child:syscall:process_vm_readv"), "EPERM");
    assert_eq!(probe_result(&d, "transcoder", "child:socket_inet"), "EPERM");
    assert_eq!(d.role_pid("transcoder"), transcoder, "the same transcoder:\n{}", d.log());
}

/// A program the transcoder runs as ffmpeg that makes a call of the kill group (util-linux
/// `unshare`, whose first act is unshare(2)) dies by SIGSYS, and the log says in words that
/// the transcoder's system-call filter stopped it, and to run `redoubt doctor`.
#[test]
fn a_sigsys_while_streaming_is_explained_in_the_log() {
    let unshare = ["/usr/bin/unshare", "/bin/unshare"].into_iter().find(|p| Path::new(p).exists()).expect("util-linux");
    let opts = |ffmpeg: &Path| Options {
        env: vec![
            ("REDOUBT_ENABLETRANSCODINGCONFIG".into(), "true".into()),
            ("REDOUBT_FFMPEGPATH".into(), ffmpeg.display().to_string()),
        ],
        ..Default::default()
    };
    let l = library_with(
        |fx| {
            let bin = fx.dir.join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let stand_in = bin.join("ffmpeg");
            std::fs::copy(unshare, &stand_in).unwrap();
            let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&bin).status();
            opts(&stand_in)
        },
        |_| {},
    );
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let v = l.json("createTranscoding", &format!("name=unshare&targetFormat=uns&command={}", enc("ffmpeg %s")));
    assert_eq!(v["status"], "ok", "{v}");
    let flac = l.id("Flac Noise").to_string();
    let (code, msg) = l.err("stream", &format!("id={flac}&format=uns"));
    assert_eq!(code, 0);
    assert!(msg.contains("system-call filter"), "{msg}");
    let line = l.d.wait_log("01 Noise.flac failed:", Duration::from_secs(10));
    assert!(line.contains("the transcoder's system-call filter stopped ffmpeg (SIGSYS)"), "{line}");
    assert!(line.contains("run `redoubt doctor`"), "{line}");
}

/// A profile this ffmpeg cannot run: a codec it does not have.
const BROKEN: (&str, &str, &str) = ("wma audio", "wma", "ffmpeg -ss %t -i %s -map 0:a:0 -v 0 -c:a wmav9 -f asf -");

fn add_profile(fx: &Fixture, (name, format, command): (&str, &str, &str)) {
    let db = rusqlite::Connection::open(fx.data.join("redoubt.db")).unwrap();
    db.execute(
        "INSERT INTO transcodings (id, name, target_format, default_bit_rate, command) VALUES (?1, ?2, ?3, 128, ?4)",
        [format, name, format, command],
    )
    .unwrap();
    drop(db);
    if is_root() {
        chown_tree(&fx.data, UNPRIVILEGED);
    }
}

/// `redoubt doctor` runs every stored profile in the transcoder's sandbox: one row each, and
/// a profile ffmpeg cannot run fails the doctor, named.
#[test]
fn doctor_checks_every_stored_profile_and_fails_naming_a_broken_one() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let out = fx.cli(&["doctor"], "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("profiles stored in"), "{text}");
    for (name, format) in [("aac audio", "aac"), ("flac audio", "flac"), ("mp3 audio", "mp3"), ("opus audio", "opus")] {
        let row = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no row for {name}: {text}"));
        assert!(row.contains(&format!(" {format} ")) && row.contains(" ok ("), "{row}");
    }

    add_profile(&fx, BROKEN);
    let out = fx.cli(&["doctor"], "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "a broken profile fails the doctor: {text}");
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(" audio ") && !l.starts_with("transcoding")).collect();
    assert_eq!(rows.len(), 5, "one row per profile: {text}");
    let broken = rows.iter().find(|l| l.starts_with("wma audio")).unwrap();
    assert!(broken.contains("FAIL: ffmpeg ended (exit status: 1)"), "{broken}");
    assert_eq!(rows.iter().filter(|l| l.contains(" ok (")).count(), 4, "{text}");
    assert!(text.contains("1 transcoding profiles failed"), "{text}");
    assert!(text.contains("every role is sandboxed as its policy says"), "the roles are fine: {text}");
}

/// The daemon checks every profile once at start and warns, naming the one that fails; it
/// serves meanwhile, and the working profiles still work.
#[test]
fn the_daemon_checks_every_profile_at_start_and_warns_naming_a_broken_one() {
    let l = library_with(
        |fx| {
            add_profile(fx, BROKEN);
            Options::default()
        },
        |_| {},
    );
    let line = l.d.wait_log("does not work on this host", Duration::from_secs(30));
    assert!(line.contains("WARN") && line.contains("\"wma audio\" (format wma)"), "{line}");
    assert!(line.contains("redoubt doctor"), "{line}");
    let log = l.d.log();
    assert_eq!(log.matches("does not work on this host").count(), 1, "only the broken one: {log}");
    let flac = l.id("Flac Noise").to_string();
    let r = l.get("stream", &format!("id={flac}&format=opus"), &[]);
    assert_eq!(codec(&probe(&r.body, &l.d.fx.dir, "works.opus")), "opus");
}

/// getNowPlaying shows a streamed song from the stream's start until the song's end (here,
/// after its stream was read whole and closed), and for as long as its stream stays open
/// past that end; then it is gone.
#[test]
fn now_playing_lasts_while_the_stream_is_open_and_until_the_song_ends() {
    let l = library(Options::default(), |music| {
        // 3 s, but 18 MB: more than the sockets and the front's queue hold, so a client that
        // reads nothing keeps the stream open.
        let wide = ["-ar", "192000", "-ac", "8", "-c:a", "pcm_s32le", "-metadata", "title=Wide Noise"];
        noise(&music.join("Artist/Album/03 Wide.wav"), 3, &wide);
    });
    let entries = |l: &Lib| l.ok("getNowPlaying", "")["nowPlaying"]["entry"].as_array().cloned().unwrap_or_default();
    assert!(entries(&l).is_empty());

    let flac = l.id("Flac Noise").to_string();
    let whole = l.get("stream", &format!("id={flac}&format=raw"), &[]);
    assert_eq!(whole.status, 200);
    let now = entries(&l);
    assert_eq!(now.len(), 1, "the 20 s song is playing after its stream closed: {now:?}");
    assert_eq!(now[0]["id"], flac.as_str());
    assert_eq!(now[0]["username"], ADMIN);
    assert_eq!(now[0]["playerName"], "test");

    let wide = l.id("Wide Noise").to_string();
    let started = std::time::Instant::now();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", l.d.port)).unwrap();
    write!(s, "GET /rest/stream?{AUTH}&id={wide}&format=raw HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut first = vec![0u8; 64 * 1024];
    let n = s.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    // The song lasts 3 s; its stream is still open after 4.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(started.elapsed()));
    let now = entries(&l);
    assert_eq!(now.len(), 1, "the same player's new song replaces the old one: {now:?}");
    assert_eq!(now[0]["id"], wide.as_str(), "still playing while its stream is open: {now:?}");
    drop(s);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !entries(&l).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the closed stream's song, past its end, is still playing");
        std::thread::sleep(Duration::from_millis(100));
    }
}
