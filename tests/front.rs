//! The front's HTTP layer (issue 12), against the real daemon: CORS on `/rest` (and only
//! there), security headers on every answer, the session cookie refused as a `/rest`
//! credential, compressed answers equal to plain ones (cached or not), and connection caps
//! and deadlines that keep one address from taking the server from everyone else.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::media::{write_track, Tags};
use common::*;
use serde_json::Value;

const AUTH: &str = "u=admin&p=admin-pass&v=1.16.1&c=test";

/// Two albums of six songs each (mp3 and ogg), so that album and playlist answers are large
/// enough to compress.
fn library(opts: Options) -> Daemon {
    let fx = Fixture::new();
    for (album, format) in [("Morning Ragas", "mp3"), ("Night Music", "ogg")] {
        let dir = fx.music.join("Player").join(album);
        std::fs::create_dir_all(&dir).unwrap();
        for n in 1..=6u32 {
            let tags = Tags {
                title: Some(format!("{album} part {n} — a title long enough to repeat")),
                artist: Some("Player".into()),
                album: Some(album.into()),
                track: Some(n),
                year: Some(2001),
                genres: vec!["Ambient".into()],
                ..Tags::default()
            };
            write_track(&dir.join(format!("{n:02}.{format}")), format, &tags);
        }
    }
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, opts);
    d.wait_ready();
    d.wait_scans(1);
    d
}

fn get(d: &Daemon, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http(d.port, "GET", path, headers, b"").unwrap()
}

fn json(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

fn status(r: &HttpResponse) -> (String, i64) {
    let v = json(r);
    let resp = &v["subsonic-response"];
    (resp["status"].as_str().unwrap_or("").to_string(), resp["error"]["code"].as_i64().unwrap_or(-1))
}

fn assert_security_headers(r: &HttpResponse, what: &str) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{what}: {:?}", r.headers);
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert!(
        r.header("content-security-policy").is_some_and(|c| c.contains("frame-ancestors 'none'")),
        "{what}: {:?}",
        r.header("content-security-policy")
    );
}

fn first_song(d: &Daemon) -> (String, u64) {
    let v = d.rest("search3", "query=&songCount=1");
    let s = &v["searchResult3"]["song"][0];
    assert!(s.is_object(), "no song: {v}");
    (s["id"].as_str().unwrap().to_string(), s["size"].as_u64().unwrap())
}

#[test]
fn preflight_is_answered_without_authentication_and_only_on_rest() {
    let d = library(Options::default());
    for method in ["ping.view", "getAlbumList2", "stream", "noSuchMethod"] {
        let r = http(
            d.port,
            "OPTIONS",
            &format!("/rest/{method}"),
            &[
                ("Origin", "http://player.example:8080"),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "range, x-requested-with"),
            ],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 204, "{method}: {r:?}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{method}");
        let methods = r.header("access-control-allow-methods").unwrap_or("").to_ascii_uppercase();
        for m in ["GET", "POST", "HEAD"] {
            assert!(methods.contains(m), "{method}: allow-methods {methods}");
        }
        let allowed = r.header("access-control-allow-headers").unwrap_or("").to_ascii_lowercase();
        assert!(allowed.contains("range") && allowed.contains("x-requested-with"), "{method}: {allowed}");
        assert_eq!(r.header("access-control-max-age"), Some("86400"));
        assert!(r.header("access-control-allow-credentials").is_none(), "never with credentials");
    }
    // The cookie-authenticated side has no CORS at all.
    for path in ["/auth/login", "/auth/me"] {
        let r = http(
            d.port,
            "OPTIONS",
            path,
            &[("Origin", "http://player.example:8080"), ("Access-Control-Request-Method", "POST")],
            b"",
        )
        .unwrap();
        assert!(r.header("access-control-allow-origin").is_none(), "{path}: {r:?}");
        assert_ne!(r.status / 100, 2, "{path}: a preflight there must not succeed");
    }
}

#[test]
fn every_rest_answer_allows_any_origin_media_included_and_every_answer_has_security_headers() {
    let d = library(Options::default());
    let (song, size) = first_song(&d);
    let origin = [("Origin", "http://player.example:8080")];
    let answers = [
        ("ping", get(&d, &format!("/rest/ping.view?{AUTH}&f=json"), &origin)),
        ("wrong password", get(&d, "/rest/ping?u=admin&p=nope&v=1.16.1&c=test&f=json", &origin)),
        ("unknown method", get(&d, &format!("/rest/noSuchMethod?{AUTH}"), &origin)),
        (
            "stream range",
            get(&d, &format!("/rest/stream?{AUTH}&id={song}&format=raw"), &[origin[0], ("Range", "bytes=0-99")]),
        ),
        ("download", get(&d, &format!("/rest/download?{AUTH}&id={song}"), &origin)),
    ];
    for (what, r) in &answers {
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{what}: {:?}", r.headers);
        let exposed = r.header("access-control-expose-headers").unwrap_or("").to_ascii_lowercase();
        for h in ["content-range", "content-length", "accept-ranges", "x-content-duration"] {
            assert!(exposed.contains(h), "{what}: {h} not exposed in {exposed:?}");
        }
        assert_security_headers(r, what);
    }
    let range = &answers[3].1;
    assert_eq!(range.status, 206);
    assert_eq!(range.header("content-range"), Some(format!("bytes 0-99/{size}").as_str()));
    assert_eq!(range.body.len(), 100);
    assert_eq!(status(&answers[1].1).1, 40);
    for (what, r) in [("auth/me", get(&d, "/auth/me", &origin)), ("not found", get(&d, "/nothing/here", &origin))] {
        assert!(r.header("access-control-allow-origin").is_none(), "{what}: {:?}", r.headers);
        assert_security_headers(&r, what);
    }
}

#[test]
fn the_session_cookie_is_never_a_credential_on_rest() {
    let d = library(Options::default());
    let login = http(
        d.port,
        "POST",
        "/auth/login",
        &[("Content-Type", "application/json")],
        br#"{"username":"admin","password":"admin-pass"}"#,
    )
    .unwrap();
    assert_eq!(login.status, 200, "{}", login.text());
    let cookie = login.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    // The cookie is good where it belongs...
    let me = get(&d, "/auth/me", &[("Cookie", &cookie)]);
    assert_eq!(me.status, 200, "{}", me.text());
    // ...and worth nothing on /rest, from a page of another site or not.
    for headers in [
        vec![("Cookie", cookie.as_str())],
        vec![("Cookie", cookie.as_str()), ("Origin", "http://evil.example"), ("Sec-Fetch-Site", "cross-site")],
    ] {
        for method in ["ping", "getUser?username=admin&", "deleteUser?username=admin&"] {
            let sep = if method.ends_with('&') { "" } else { "?" };
            let r = get(&d, &format!("/rest/{method}{sep}v=1.16.1&c=page&f=json"), &headers);
            assert_eq!(status(&r), ("failed".to_string(), 10), "{method} with {headers:?}: {}", r.text());
        }
    }
    assert_eq!(status(&get(&d, &format!("/rest/getUser?{AUTH}&username=admin&f=json"), &[])).0, "ok");
}

#[test]
fn a_proxys_user_header_is_not_honoured_for_another_sites_page() {
    let d = library(Options {
        config: Some("[ExtAuth]\nTrustedSources = \"127.0.0.1/32\"\n".into()),
        ..Options::default()
    });
    let ping = |extra: &[(&str, &str)]| {
        let mut headers = vec![("Remote-User", "admin")];
        headers.extend_from_slice(extra);
        status(&get(&d, "/rest/ping?v=1.16.1&c=web&f=json", &headers))
    };
    let ok = ("ok".to_string(), -1);
    assert_eq!(ping(&[]), ok, "a client that is not a browser");
    assert_eq!(ping(&[("Sec-Fetch-Site", "same-origin")]), ok);
    assert_eq!(ping(&[("Sec-Fetch-Site", "none")]), ok, "typed into the address bar");
    for cross in [
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Origin", "http://evil.example")],
    ] {
        assert_eq!(ping(&cross), ("failed".to_string(), 50), "{cross:?}");
    }
    d.wait_log("from another site", Duration::from_secs(5));
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b).read_to_end(&mut out).expect("valid gzip");
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(b, 4096).read_to_end(&mut out).expect("valid brotli");
    out
}

#[test]
fn compressed_answers_decompress_to_the_plain_bytes_cached_or_not() {
    let d = library(Options::default());
    let album = d.rest("getAlbumList2", "type=alphabeticalByName&size=1")["albumList2"]["album"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let songs = d.rest("search3", "query=&songCount=50")["searchResult3"]["song"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("songId={}", s["id"].as_str().unwrap()))
        .collect::<Vec<_>>()
        .join("&");
    let made = d.rest("createPlaylist", &format!("name=Everything&{songs}"));
    let playlist = made["playlist"]["id"].as_str().unwrap().to_string();
    // getAlbum, getArtists and search3 are kept by the front's cache; getPlaylist is not.
    let queries = [
        format!("getAlbum?id={album}"),
        "getArtists?".to_string(),
        "search3?query=part&songCount=20".to_string(),
        format!("getPlaylist?id={playlist}"),
    ];
    for q in &queries {
        for f in ["xml", "json"] {
            let path = format!("/rest/{q}&{AUTH}&f={f}");
            let plain = get(&d, &path, &[]);
            assert_eq!(plain.status, 200);
            assert!(plain.header("content-encoding").is_none(), "{path}: no coding asked");
            assert!(plain.body.len() > 256, "{path}: {} bytes is too small to test", plain.body.len());
            // Twice each: the second of a cached method is the cache's copy.
            for round in 0..2 {
                for (coding, ask) in [("gzip", "gzip"), ("br", "gzip, deflate, br"), ("gzip", "br;q=0.2, gzip")] {
                    let r = get(&d, &path, &[("Accept-Encoding", ask)]);
                    assert_eq!(r.header("content-encoding"), Some(coding), "{path} ({ask}), round {round}");
                    assert!(
                        r.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("vary")
                            && v.to_ascii_lowercase().contains("accept-encoding")),
                        "{path}: {:?}",
                        r.headers
                    );
                    let body = if coding == "gzip" { gunzip(&r.body) } else { unbrotli(&r.body) };
                    assert_eq!(body, plain.body, "{path} in {coding}, round {round}");
                    assert!(r.body.len() < plain.body.len(), "{path}: {coding} is not smaller");
                }
                let r = get(&d, &path, &[("Accept-Encoding", "identity")]);
                assert!(r.header("content-encoding").is_none());
                assert_eq!(r.body, plain.body);
            }
        }
    }
    // Small answers and media are sent as they are.
    let ping = get(&d, &format!("/rest/ping?{AUTH}"), &[("Accept-Encoding", "gzip, br")]);
    assert!(ping.header("content-encoding").is_none(), "{:?}", ping.headers);
    let (song, size) = first_song(&d);
    let raw = get(&d, &format!("/rest/stream?{AUTH}&id={song}&format=raw"), &[("Accept-Encoding", "gzip, br")]);
    assert!(raw.header("content-encoding").is_none(), "{:?}", raw.headers);
    assert_eq!(raw.header("content-length"), Some(size.to_string().as_str()));
    assert_eq!(raw.body.len() as u64, size);
}

/// A TCP connection to the daemon from a chosen loopback address.
fn connect_from(src: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let fd: OwnedFd =
        socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(std::io::Error::from)?;
    let [a, b, c, d] = src.octets();
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::new(a, b, c, d, 0)).map_err(std::io::Error::from)?;
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::new(127, 0, 0, 1, port))
        .map_err(std::io::Error::from)?;
    Ok(TcpStream::from(fd))
}

/// The connection was closed by the server (EOF, reset, or an answer and then EOF) within
/// `within`; the first bytes it sent, if any.
fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(_) => return None,
        }
    }
}

#[test]
fn one_address_cannot_take_the_server_from_everyone_else() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    // This test's own 1,200 sockets need more than the usual soft limit of 1,024.
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    // Default caps; short deadlines, so the test does not wait 30 s and 60 s.
    let d = library(Options {
        config: Some("[Limits]\nRequestTimeout = \"3s\"\nIdleTimeout = \"5s\"\n".into()),
        ..Options::default()
    });
    // The front may use every descriptor the hard limit allows.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.role_pid("front"))).unwrap();
    let open_files: Vec<&str> =
        limits.lines().find(|l| l.starts_with("Max open files")).unwrap().split_whitespace().collect();
    assert_eq!(open_files[3], open_files[4], "soft = hard: {limits}");

    // A client on another address pings throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let (pings, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let pinger = {
        let (stop, pings, failures, port) = (stop.clone(), pings.clone(), failures.clone(), d.port);
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let ok = connect_from(Ipv4Addr::new(127, 0, 0, 2), port).and_then(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(3)))?;
                    http_on(&mut s, "GET", &format!("/rest/ping?{AUTH}&f=json"), &[], b"")
                });
                match ok {
                    Ok(r) if r.status == 200 && r.text().contains(r#""status":"ok""#) => {
                        pings.fetch_add(1, Ordering::SeqCst);
                    }
                    other => {
                        eprintln!("ping from 127.0.0.2 failed: {other:?}");
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
                worst = worst.max(started.elapsed());
                std::thread::sleep(Duration::from_millis(100));
            }
            worst
        })
    };
    let started = Instant::now();
    let local = Ipv4Addr::new(127, 0, 0, 1);
    // 100 connections send a form body one byte at a time...
    let mut tricklers: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = connect_from(local, d.port).unwrap();
            s.write_all(
                b"POST /rest/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\nu",
            )
            .unwrap();
            s
        })
        .collect();
    // ...five more send their headers that way...
    let mut slow_headers: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = connect_from(local, d.port).unwrap();
            s.write_all(b"GET /rest/ping?").unwrap();
            s
        })
        .collect();
    // ...and 1,100 more just connect and wait.
    let mut idle: Vec<TcpStream> = (0..1100).filter_map(|_| connect_from(local, d.port).ok()).collect();
    assert!(idle.len() > 1000, "only {} connections could be opened", idle.len());
    // Over the per-address cap (128 by default): closed at once, after a short 503.
    let mut refused = 0;
    let mut refusal_text = String::new();
    for s in idle.iter_mut() {
        s.set_nonblocking(false).unwrap();
        if let Some(bytes) = closed_within(s, Duration::from_millis(20)) {
            refused += 1;
            if refusal_text.is_empty() {
                refusal_text = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    assert!(refused >= 1100 - 128, "{refused} of 1,100 refused at once");
    assert!(refusal_text.is_empty() || refusal_text.starts_with("HTTP/1.1 503"), "{refusal_text:?}");
    // The tricklers keep trickling until the deadline cuts them off.
    let trickle_until = Instant::now() + Duration::from_secs(8);
    let mut cut = vec![None; tricklers.len()];
    while Instant::now() < trickle_until && cut.iter().any(Option::is_none) {
        for (i, s) in tricklers.iter_mut().enumerate() {
            if cut[i].is_some() {
                continue;
            }
            if s.write_all(b"=").is_err() {
                cut[i] = Some(started.elapsed());
                continue;
            }
            s.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 256];
            match s.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    assert!(text.starts_with("HTTP/1.1 408"), "a trickler got {text:?}");
                    cut[i] = Some(started.elapsed());
                }
                Ok(_) => cut[i] = Some(started.elapsed()),
                Err(_) => {}
            }
            s.set_nonblocking(false).unwrap();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let cut: Vec<Duration> =
        cut.into_iter().map(|c| c.expect("a trickling connection outlived the deadline")).collect();
    assert!(cut.iter().all(|c| *c >= Duration::from_secs(2)), "cut before the 3 s deadline: {cut:?}");
    // Idle connections and slow headers end with the idle timeout (5 s).
    for s in slow_headers.iter_mut().chain(idle.iter_mut()) {
        assert!(closed_within(s, Duration::from_secs(8)).is_some(), "an idle connection outlived the idle timeout");
    }
    stop.store(true, Ordering::SeqCst);
    let worst = pinger.join().unwrap();
    let (pings, failures) = (pings.load(Ordering::SeqCst), failures.load(Ordering::SeqCst));
    assert_eq!(failures, 0, "{pings} pings answered, {failures} failed; slowest {worst:?}");
    assert!(pings >= 10, "only {pings} pings in {:?}", started.elapsed());
    // A line a second at most, with a count.
    let log = d.log();
    let lines = log.lines().filter(|l| l.contains("refused a connection")).count();
    let secs = started.elapsed().as_secs() as usize + 2;
    assert!((1..=secs).contains(&lines), "{lines} refusal lines in {secs} s:\n{log}");
    assert!(!log.contains("accept:"), "accept errors:\n{log}");
}
