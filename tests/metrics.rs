//! The Prometheus endpoint (Prometheus.Enabled; docs/security.md T33) against the real
//! daemon: refused without its credential, absent unless enabled, never enabled without a
//! credential, and after some traffic (requests, a failed login, a scan with a broken file,
//! transcodes, a killed scanner) serving OpenMetrics text whose families hold those numbers.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use common::media::{self, ffmpeg, Tags};
use common::*;

const PASSWORD: &str = "scrape-secret";
const AUTH: &str = "u=admin&p=admin-pass&v=1.16.1&c=test&f=json";

fn config(extra: &str) -> String {
    format!("[Prometheus]\nEnabled = true\nPassword = \"{PASSWORD}\"\n{extra}")
}

fn basic(user: &str, password: &str) -> String {
    // Base64 by hand: the test needs no crate for it.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// A connection to the daemon from another loopback address (a client of its own for the
/// rate limits).
fn connect_from(src: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::os::fd::AsRawFd;
    let fd =
        socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(std::io::Error::from)?;
    let [a, b, c, d] = src.octets();
    bind(fd.as_raw_fd(), &SockaddrIn::new(a, b, c, d, 0)).map_err(std::io::Error::from)?;
    connect(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port)).map_err(std::io::Error::from)?;
    Ok(TcpStream::from(fd))
}

fn scrape(d: &Daemon, authorization: Option<&str>) -> HttpResponse {
    let headers: Vec<(&str, &str)> = authorization.map(|a| ("Authorization", a)).into_iter().collect();
    http(d.port, "GET", "/metrics", &headers, b"").unwrap()
}

/// One sample of the exposition: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The exposition parsed: `# TYPE` lines by family, and the samples. Panics on any line that
/// is not OpenMetrics text as Prometheus reads it.
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

fn parse(text: &str) -> Exposition {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "OpenMetrics text ends with # EOF:\n{text}");
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(valid_name(name), "bad family name in {line:?}");
            match kind {
                "TYPE" => {
                    let t = parts.next().unwrap_or("");
                    assert!(["counter", "gauge", "histogram", "info", "summary", "unknown"].contains(&t), "{line:?}");
                    assert!(types.insert(name.to_string(), t.to_string()).is_none(), "family {name} twice");
                }
                "HELP" | "UNIT" => {}
                _ => panic!("unknown comment line {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                let mut labels = BTreeMap::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (k, v) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line:?}"));
                    let end = v.find('"').unwrap_or_else(|| panic!("unclosed label value in {line:?}"));
                    assert!(valid_name(k), "bad label name {k:?} in {line:?}");
                    labels.insert(k.to_string(), v[..end].to_string());
                    rest = v[end + 1..].strip_prefix(',').unwrap_or(&v[end + 1..]);
                }
                (name, labels)
            }
        };
        assert!(valid_name(name), "bad sample name in {line:?}");
        let family = ["_total", "_bucket", "_sum", "_count", "_created"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| types.contains_key(*f)))
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample {name} before its # TYPE line");
        samples.push(Sample { name: name.to_string(), labels, value });
    }
    Exposition { types, samples }
}

impl Exposition {
    /// The sum of the samples named `name` that carry every label in `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .collect();
        assert!(!found.is_empty(), "no sample {name} {labels:?}; samples: {:#?}", self.samples);
        found.iter().map(|s| s.value).sum()
    }

    fn family(&self, name: &str, kind: &str) {
        assert_eq!(self.types.get(name).map(String::as_str), Some(kind), "family {name} ({kind}): {:?}", self.types);
    }
}

/// A song long enough that its transcode outlasts a client that stops reading.
fn long_noise(path: &std::path::Path) {
    let src = "anoisesrc=color=pink:sample_rate=44100:duration=240:amplitude=0.3";
    ffmpeg(&["-f", "lavfi", "-i", src, "-ac", "1", "-metadata", "title=Long Noise", path.to_str().unwrap()]);
}

fn song_id(d: &Daemon, title: &str) -> String {
    let found = d.rest("search3", "query=&songCount=50");
    let songs = found["searchResult3"]["song"].as_array().unwrap_or_else(|| panic!("{found}")).clone();
    songs.iter().find(|s| s["title"] == title).unwrap_or_else(|| panic!("no {title}: {found}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn t33_metrics_need_their_credential_and_count_what_happened() {
    let fx = Fixture::new();
    let album = fx.music.join("Artist/Album");
    std::fs::create_dir_all(&album).unwrap();
    media::write_track(&album.join("01 one.mp3"), "mp3", &Tags { title: Some("One".into()), ..Tags::default() });
    media::write_track(&album.join("02 two.mp3"), "mp3", &Tags { title: Some("Two".into()), ..Tags::default() });
    long_noise(&album.join("03 long.flac"));
    media::random_bytes(&album.join("04 broken.ogg"), 10_000, 7);
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let extra = "[Transcoding]\nMaxConcurrentPerUser = 1\n";
    let opts = Options { config: Some(format!("AuthRequestLimit = 1\n{}", config(extra))), ..Options::default() };
    let mut d = Daemon::spawn(fx, opts);
    d.wait_ready();
    let finished = d.wait_scans(1);
    assert!(finished.contains("3 files read"), "{finished}");
    d.wait_log("transcoding profiles checked", Duration::from_secs(60));

    // Without the credential, with a wrong one, or with the password as a bearer token
    // (none is configured): 401, asking for Basic, never cached.
    for auth in [None, Some(basic("prometheus", "wrong")), Some(format!("Bearer {PASSWORD}"))] {
        let r = scrape(&d, auth.as_deref());
        assert_eq!(r.status, 401, "{auth:?}: {}", r.text());
        assert!(r.header("www-authenticate").is_some_and(|h| h.starts_with("Basic realm=")), "{:?}", r.headers);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(!r.text().contains("redoubt_"), "no numbers without the credential");
    }
    // The Subsonic credential is not the endpoint's.
    assert_eq!(scrape(&d, Some(&basic(ADMIN, ADMIN_PASSWORD))).status, 401);

    // Traffic: pings, an unknown method, a failed login, a cached list read twice.
    for _ in 0..3 {
        assert_eq!(d.rest("ping", "")["status"], "ok");
    }
    assert_eq!(d.rest("noSuchMethod", "")["status"], "failed");
    // Failed logins for one user from four addresses: with AuthRequestLimit = 1 its
    // per-user bucket (4) fills, a lockout, and a fifth attempt is refused unchecked.
    let ghost = |last_octet: u8| {
        let mut s = connect_from(Ipv4Addr::new(127, 0, 0, last_octet), d.port).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        http_on(&mut s, "GET", "/rest/ping?u=ghost&p=wrong&v=1.16.1&c=test&f=json", &[], b"").unwrap().text()
    };
    for i in 10..14 {
        let answer = ghost(i);
        assert!(answer.contains("\"code\":40"), "{answer}");
    }
    d.wait_log("user \"ghost\" is locked out", Duration::from_secs(10));
    assert!(!ghost(14).contains("\"status\":\"ok\""));
    for _ in 0..2 {
        assert_eq!(d.rest("getMusicFolders", "")["status"], "ok");
    }

    // A transcode held open by a client that stops reading, so a second one for the same
    // user is refused at Transcoding.MaxConcurrentPerUser.
    let long = song_id(&d, "Long Noise");
    let mut held = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(held, "GET /rest/stream?{AUTH}&id={long}&format=mp3&maxBitRate=320 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 512];
    let n = held.read(&mut first).unwrap();
    assert!(
        String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    let refused = d.rest("stream", &format!("id={long}&format=mp3&maxBitRate=320"));
    assert!(refused["error"]["message"].as_str().unwrap_or("").contains("Too many transcodes"), "{refused}");

    // The scanner killed: the supervisor restarts it, and the broker hears why.
    let scanner = d.role_pid("scanner");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(scanner), nix::sys::signal::Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.roles().iter().all(|(r, p)| r != "scanner" || *p == scanner) {
        assert!(Instant::now() < deadline, "the scanner was not restarted:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }

    let r = scrape(&d, Some(&basic("prometheus", PASSWORD)));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/openmetrics-text")), "{:?}", r.headers);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("access-control-allow-origin").is_none(), "no CORS on the metrics");
    let m = parse(&r.text());
    drop(held);

    // Requests by method and status, with latency.
    m.family("redoubt_rest_requests", "counter");
    let pings = m.value("redoubt_rest_requests_total", &[("method", "ping"), ("status", "200"), ("error", "none")]);
    assert!(pings >= 3.0, "{pings}");
    assert_eq!(m.value("redoubt_rest_requests_total", &[("method", "ping"), ("error", "40")]), 4.0);
    assert_eq!(m.value("redoubt_rest_requests_total", &[("method", "unknown")]), 1.0);
    assert!(!r.text().contains("noSuchMethod"), "unknown names are not labels");
    m.family("redoubt_rest_request_duration_seconds", "histogram");
    let count = m.value("redoubt_rest_request_duration_seconds_count", &[("method", "ping")]);
    let all_pings = m.value("redoubt_rest_requests_total", &[("method", "ping")]);
    assert_eq!(count, all_pings, "every ping is timed");
    let inf = m.value("redoubt_rest_request_duration_seconds_bucket", &[("method", "ping"), ("le", "+Inf")]);
    assert_eq!(inf, count);
    // The answer cache: the second getMusicFolders was a hit.
    m.family("redoubt_answer_cache_lookups", "counter");
    assert!(m.value("redoubt_answer_cache_lookups_total", &[("result", "hit")]) >= 1.0);
    assert!(m.value("redoubt_answer_cache_lookups_total", &[("result", "miss")]) >= 1.0);
    // The scan: three files read, one that could not be.
    m.family("redoubt_scans", "counter");
    assert_eq!(m.value("redoubt_scans_total", &[("outcome", "completed")]), 1.0);
    assert_eq!(m.value("redoubt_scan_files_total", &[]), 3.0);
    assert_eq!(m.value("redoubt_last_scan_files", &[]), 3.0);
    assert_eq!(m.value("redoubt_scan_problems_total", &[]), 1.0);
    assert_eq!(m.value("redoubt_last_scan_problems", &[]), 1.0);
    let secs = m.value("redoubt_last_scan_duration_seconds", &[]);
    assert!(secs > 0.0 && secs == m.value("redoubt_scan_duration_seconds_total", &[]), "{secs}");
    // Logins: four failures, the lockout they caused, the attempt refused after it.
    m.family("redoubt_auth_failures", "counter");
    assert_eq!(m.value("redoubt_auth_failures_total", &[]), 4.0);
    m.family("redoubt_auth_lockouts", "counter");
    assert_eq!(m.value("redoubt_auth_lockouts_total", &[]), 1.0);
    m.family("redoubt_auth_refused", "counter");
    assert_eq!(m.value("redoubt_auth_refused_total", &[]), 1.0);
    // Transcodes: one running (the held stream), one refused at the per-user cap.
    m.family("redoubt_transcodes_running", "gauge");
    assert_eq!(m.value("redoubt_transcodes_running", &[]), 1.0);
    assert!(m.value("redoubt_transcodes_started_total", &[]) >= 1.0);
    assert_eq!(m.value("redoubt_transcodes_refused_total", &[("cap", "user")]), 1.0);
    assert_eq!(m.value("redoubt_transcodes_refused_total", &[("cap", "server")]), 0.0);
    // The killed scanner, by role and cause.
    m.family("redoubt_role_restarts", "counter");
    assert_eq!(m.value("redoubt_role_restarts_total", &[("role", "scanner"), ("cause", "sigkill")]), 1.0);
    // The database's size.
    m.family("redoubt_database_size_bytes", "gauge");
    assert!(m.value("redoubt_database_size_bytes", &[]) > 4096.0);

    // Guessing is slow: after 10 wrong credentials from one address, even the right one is
    // answered 429 unchecked there, while another address still scrapes.
    let from = |octet: u8, auth: &str| {
        let mut s = connect_from(Ipv4Addr::new(127, 0, 0, octet), d.port).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        http_on(&mut s, "GET", "/metrics", &[("Authorization", auth)], b"").unwrap()
    };
    for i in 0..10 {
        assert_eq!(from(3, &basic("prometheus", &format!("guess{i}"))).status, 401);
    }
    let limited = from(3, &basic("prometheus", PASSWORD));
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.header("retry-after").is_some());
    assert!(!limited.text().contains("redoubt_"));
    assert_eq!(from(4, &basic("prometheus", PASSWORD)).status, 200);
    assert_eq!(d.get("/rest/ping").unwrap().status, 200);
}

#[test]
fn metrics_are_off_by_default() {
    let d = Daemon::start();
    let r = scrape(&d, Some(&basic("prometheus", PASSWORD)));
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(!r.text().contains("redoubt_"));
}

#[test]
fn metrics_enabled_without_a_credential_refuse_to_start() {
    let fx = Fixture::new();
    let opts = Options { config: Some("[Prometheus]\nEnabled = true\n".into()), ..Options::default() };
    let mut d = Daemon::spawn(fx, opts);
    let status = d.wait_exit(Duration::from_secs(20));
    assert!(!status.success());
    let log = d.log();
    assert!(log.contains("Prometheus.Enabled") && log.contains("credential"), "{log}");
}

#[test]
fn metrics_follow_base_url_and_their_path() {
    let opts = Options {
        config: Some(format!(
            "BaseUrl = \"/music\"\n[Prometheus]\nEnabled = true\nBearerToken = \"{PASSWORD}\"\nMetricsPath = \"/stats/prom\"\n"
        )),
        ..Options::default()
    };
    let fx = Fixture::new();
    let mut d = Daemon::spawn(fx, opts);
    d.wait_ready_at("/music/rest/ping");
    let bearer = format!("Bearer {PASSWORD}");
    let at = |path: &str, auth: &str| http(d.port, "GET", path, &[("Authorization", auth)], b"").unwrap();
    assert_eq!(at("/music/stats/prom", &bearer).status, 200);
    assert_eq!(at("/metrics", &bearer).status, 404);
    assert_eq!(at("/stats/prom", &bearer).status, 404);
    let wrong = at("/music/stats/prom", "Bearer nope");
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer realm=\"redoubt metrics\""));
    assert_eq!(at("/music/stats/prom", &basic("x", PASSWORD)).status, 401, "no password is configured");
}
