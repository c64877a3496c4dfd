//! getAvatar, and the picture a user uploads on the web UI's settings page, through the real
//! front with a session and its CSRF token: decoded, bounded and re-encoded by the
//! transcoder (docs/security.md T41).

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

struct Web {
    cookie: String,
    csrf: String,
}

fn login(d: &Daemon, user: &str, password: &str) -> Web {
    let body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let r = http(d.port, "POST", "/auth/login", &[("Content-Type", "application/json")], body.as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    Web { cookie, csrf: v["csrfToken"].as_str().unwrap().to_string() }
}

const BOUNDARY: &str = "----redoubtTestBoundary7MA4YWxkTrZu0gW";

fn multipart(csrf: Option<&str>, image: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    if let Some(c) = csrf {
        b.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{c}\r\n").as_bytes());
    }
    b.extend(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend(image);
    b.extend(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

fn upload(d: &Daemon, w: &Web, csrf: Option<&str>, image: &[u8]) -> HttpResponse {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let headers = [("Cookie", w.cookie.as_str()), ("Content-Type", ct.as_str())];
    http(d.port, "POST", "/app/settings/avatar", &headers, &multipart(csrf, image)).unwrap()
}

fn avatar_of(d: &Daemon, user: &str) -> HttpResponse {
    d.get(&format!("/rest/getAvatar?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&username={user}")).unwrap()
}

/// A picture uploaded through the settings page comes back from getAvatar re-encoded and
/// within 256 pixels, with an ETag; garbage, a decompression bomb, an upload without the
/// CSRF token and one over 2 MB are refused with a sentence, and the picture stays.
#[test]
fn t41_an_uploaded_avatar_is_decoded_in_the_transcoder_and_bounded() {
    let d = Daemon::start();
    assert_eq!(d.rest("createUser", "username=bob&password=bob-pass-1&email=bob@example.com")["status"], "ok");
    let admin = login(&d, ADMIN, ADMIN_PASSWORD);

    let page = http(d.port, "GET", "/app/settings", &[("Cookie", &admin.cookie)], b"").unwrap();
    assert!(page.text().contains("enctype=\"multipart/form-data\""), "the settings page offers the upload");

    let r = upload(&d, &admin, Some(&admin.csrf), &common::media::png(1200, 800));
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(r.header("location").unwrap().ends_with("/app/settings?done=avatar"));

    let a = avatar_of(&d, ADMIN);
    assert_eq!(a.status, 200);
    let img = image::load_from_memory(&a.body).expect("getAvatar answers an image");
    assert!(img.width() == 256 && (170..=171).contains(&img.height()), "scaled to fit 256 pixels, its shape kept");
    let ct = a.header("content-type").unwrap().to_string();
    assert!(ct == "image/jpeg" || ct == "image/png", "{ct}");
    let etag = a.header("etag").expect("an ETag").to_string();
    let again = d.get(&format!("/rest/getAvatar?u=bob&p=bob-pass-1&v=1.16.1&c=test&username={ADMIN}")).unwrap();
    assert_eq!(again.body, a.body, "anyone signed in sees it");
    let cached = http(
        d.port,
        "GET",
        &format!("/rest/getAvatar?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&username={ADMIN}"),
        &[("If-None-Match", &etag)],
        b"",
    )
    .unwrap();
    assert_eq!(cached.status, 304);
    // Bob has none: the placeholder, not the admin's.
    let bobs = avatar_of(&d, "bob");
    assert_eq!(bobs.status, 200);
    assert_ne!(bobs.body, a.body);

    let transcoder = d.role_pid("transcoder");
    for (what, bytes) in [
        ("garbage", b"this is not an image at all".to_vec()),
        ("a decompression bomb", redoubt::transcoder::art::fixtures::png_bomb(100_000, 100_000)),
        ("nothing", Vec::new()),
    ] {
        let r = upload(&d, &admin, Some(&admin.csrf), &bytes);
        assert_eq!(r.status, 400, "{what}: {}", r.status);
        let text = r.text();
        assert!(text.contains("That image cannot be used") || text.contains("No image was sent"), "{what}: {text}");
        assert_eq!(avatar_of(&d, ADMIN).header("etag"), Some(etag.as_str()), "{what}: the picture stays");
    }
    assert_eq!(d.role_pid("transcoder"), transcoder, "the bomb was refused by the bounds, not by a crash");
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("avatar upload refused") && (l.contains("exceeds limit") || l.contains("pixel limit"))),
        "the decoder's bounds refused the bomb:\n{log}"
    );

    // Without the session's CSRF token: refused, nothing changed.
    let r = upload(&d, &admin, None, &common::media::png(64, 64));
    assert_eq!(r.status, 403, "{}", r.text());
    let r = upload(&d, &admin, Some("forged"), &common::media::png(64, 64));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(avatar_of(&d, ADMIN).header("etag"), Some(etag.as_str()));

    // Over 2 MB: refused before the broker sees it.
    let big = vec![0x42u8; 3 * 1024 * 1024];
    let body = multipart(Some(&admin.csrf), &big);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /app/settings/avatar HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        admin.cookie,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(&body); // the server stops reading: the write may fail
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{}", raw.chars().take(300).collect::<String>());
    assert!(raw.contains("That image is larger than 2 MB."));
    assert_eq!(avatar_of(&d, ADMIN).header("etag"), Some(etag.as_str()));

    // A user sets their own (the form names nobody); removing it brings the placeholder back.
    let bob = login(&d, "bob", "bob-pass-1");
    assert_eq!(upload(&d, &bob, Some(&bob.csrf), &common::media::jpeg(100, 300)).status, 303);
    let b = image::load_from_memory(&avatar_of(&d, "bob").body).unwrap();
    assert!(b.height() == 256 && (85..=86).contains(&b.width()), "{}×{}", b.width(), b.height());
    assert_eq!(avatar_of(&d, ADMIN).header("etag"), Some(etag.as_str()), "bob's upload is bob's");
    let form = format!("_csrf={}", bob.csrf);
    let r = http(
        d.port,
        "POST",
        "/app/settings/avatar-remove",
        &[("Cookie", &bob.cookie), ("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 303);
    assert_eq!(avatar_of(&d, "bob").body, bobs.body, "the placeholder again");

    let r: serde_json::Value = serde_json::from_slice(
        &d.get(&format!("/rest/getAvatar?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&f=json&username=nobody"))
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(r["subsonic-response"]["error"]["code"], 70, "{r}");
}

/// The front and the broker never decode: with the transcoder stopped, an upload gets no
/// answer until it runs again.
#[test]
fn t41_the_upload_waits_for_the_transcoder() {
    let d = Daemon::start();
    let admin = login(&d, ADMIN, ADMIN_PASSWORD);
    let transcoder = d.role_pid("transcoder");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(transcoder), nix::sys::signal::Signal::SIGSTOP).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let _ = tx.send(upload(&d, &admin, Some(&admin.csrf), &common::media::png(64, 64)).status);
        });
        let early = rx.recv_timeout(Duration::from_secs(2));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(transcoder), nix::sys::signal::Signal::SIGCONT).unwrap();
        assert!(early.is_err(), "answered without the transcoder: {early:?}");
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(303));
    });
    assert!(image::load_from_memory(&avatar_of(&d, ADMIN).body).unwrap().width() == 64);
}
