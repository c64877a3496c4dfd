//! docs/security.md T31 and T32: HTTPS (TLSCert/TLSKey) served by the front, whose memory and
//! descriptors never hold the private key; the broker signs each handshake. Against the real
//! daemon, with certificates the openssl CLI makes, curl and `openssl s_client` as clients,
//! and the front's memory read through /proc/<pid>/mem.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;

const MARKER: &str = "redoubt-test-hook-probe";

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).stdin(Stdio::null()).output().expect("the openssl CLI");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A self-signed certificate for localhost and its P-256 key (PKCS#8 PEM), in `dir`.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
}

impl Pair {
    fn make(dir: &Path, name: &str) -> Pair {
        let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        openssl(&[
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        for f in [&cert, &key] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
            if is_root() {
                chown_tree(f, UNPRIVILEGED);
            }
        }
        Pair { cert, key }
    }

    /// The key's bytes as they could sit in memory: its PKCS#8 DER, and the secret scalar
    /// big-endian (as in the DER) and little-endian (as a bignum's limbs hold it).
    fn secrets(&self) -> Vec<(&'static str, Vec<u8>)> {
        // The PEM's own DER, byte for byte (`openssl pkey` could re-encode it).
        let der_file = self.key.with_extension("der");
        openssl(&["asn1parse", "-noout", "-in", self.key.to_str().unwrap(), "-out", der_file.to_str().unwrap()]);
        let der = std::fs::read(&der_file).unwrap();
        // ECPrivateKey inside the PKCS#8: version 1 (02 01 01), then the 32-byte scalar (04 20).
        let at = der.windows(5).position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20]).expect("an EC private key") + 5;
        let scalar = der[at..at + 32].to_vec();
        let mut reversed = scalar.clone();
        reversed.reverse();
        vec![("the key's DER", der), ("the secret scalar", scalar), ("the scalar reversed", reversed)]
    }

    fn fingerprint(&self) -> String {
        let out = openssl(&["x509", "-in", self.cert.to_str().unwrap(), "-noout", "-fingerprint", "-sha256"]);
        String::from_utf8(out).unwrap().trim().rsplit('=').next().unwrap().to_string()
    }
}

/// curl https://localhost:PORT/rest/ping as the admin, trusting only `ca`: the JSON status, or
/// curl's complaint.
fn curl_ping(port: u16, ca: &Path) -> Result<String, String> {
    let url = format!("https://localhost:{port}/rest/ping?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&f=json");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", ca.to_str().unwrap(), &url])
        .output()
        .expect("curl");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(v["subsonic-response"]["status"].as_str().unwrap_or_default().to_string())
}

/// The SHA-256 fingerprint of the certificate the daemon serves, as openssl s_client sees it.
fn served_fingerprint(port: u16) -> String {
    let pem = openssl(&["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", "localhost", "-tls1_3"]);
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut x509.stdin.take().unwrap(), &pem).unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().rsplit('=').next().unwrap().to_string()
}

fn wait_https(d: &mut Daemon, ca: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!("daemon exited early ({st}):\n{}", d.log());
        }
        match curl_ping(d.port, ca) {
            Ok(status) if status == "ok" => break,
            other if Instant::now() > deadline => panic!("no HTTPS ping: {other:?}\n{}", d.log()),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    while d.roles().len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every readable mapping of `pid`, read through /proc/<pid>/mem (root may read any
/// process's memory; roles are non-dumpable, which stops others).
fn memory(pid: i32) -> Vec<u8> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut all = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (range, perms) = (fields.next().unwrap(), fields.next().unwrap());
        let name = fields.nth(3).unwrap_or("");
        if !perms.starts_with('r') || name == "[vvar]" || name == "[vsyscall]" {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap());
        let mut buf = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_ok() {
            if let Ok(n) = mem.read(&mut buf) {
                all.extend_from_slice(&buf[..n]);
            }
        }
    }
    assert!(all.len() > 1 << 20, "read only {} bytes of pid {pid}'s memory", all.len());
    all
}

/// Whether `needle` occurs in `memory` (a plain loop: fast enough unoptimised).
fn holds(memory: &[u8], needle: &[u8]) -> bool {
    let (first, last) = (needle[0], memory.len().saturating_sub(needle.len()));
    (0..=last).any(|i| memory[i] == first && &memory[i..i + needle.len()] == needle)
}

/// T31: HTTPS with the key held by the broker alone. curl completes handshakes (each signed
/// by the broker); the front's memory holds none of the key's bytes while the same search
/// finds them in the broker's; the front has no descriptor on the key and cannot open it.
/// SIGHUP serves a renewed certificate (written as new files, as certbot does); a bad pair
/// on SIGHUP is refused and the current one stays.
#[test]
fn https_with_a_private_key_the_front_never_holds() {
    if !require_root("reading the roles' memory") {
        return;
    }
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let tls = fx.dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::set_permissions(&tls, std::fs::Permissions::from_mode(0o700)).unwrap();
    chown_tree(&tls, UNPRIVILEGED);
    let first = Pair::make(&tls, "first");
    let (cert, key) = (tls.join("server.crt"), tls.join("server.key"));
    std::fs::copy(&first.cert, &cert).unwrap();
    std::fs::copy(&first.key, &key).unwrap();
    chown_tree(&tls, UNPRIVILEGED);
    let config = format!("TLSCert = '{}'\nTLSKey = '{}'\n", cert.display(), key.display());
    let probes = format!("front:open_read:{k};broker:open_read:{k}", k = key.display());
    let env = if cfg!(feature = "test-hooks") { vec![("REDOUBT_TEST_PROBES".into(), probes)] } else { vec![] };
    let mut d = Daemon::spawn(fx, Options { config: Some(config), env, ..Default::default() });
    wait_https(&mut d, &first.cert);
    assert!(d.log().contains(&format!("certificate SHA-256 {}", first.fingerprint())), "{}", d.log());
    assert_eq!(served_fingerprint(d.port), first.fingerprint());
    // Many handshakes at once, each signed by the broker while others wait their turn
    // (front::tls::HANDSHAKES): all complete.
    let port = d.port;
    let ca = first.cert.clone();
    let many: Vec<_> = (0..24)
        .map(|_| {
            let ca = ca.clone();
            std::thread::spawn(move || curl_ping(port, &ca))
        })
        .collect();
    for h in many {
        assert_eq!(h.join().unwrap().as_deref(), Ok("ok"));
    }
    // T32: TLS 1.3 only; a TLS 1.2 client gets no handshake (and no signature).
    let tls12 = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", d.port), "-servername", "localhost", "-tls1_2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!tls12.status.success(), "a TLS 1.2 handshake succeeded: {}", String::from_utf8_lossy(&tls12.stdout));
    // Plain HTTP on the HTTPS port is not served.
    assert!(d.get("/rest/ping").map(|r| r.status != 200).unwrap_or(true));

    let (front, broker) = (d.role_pid("front"), d.role_pid("broker"));
    let front_memory = memory(front);
    let broker_memory = memory(broker);
    let cert_der = openssl(&["x509", "-in", first.cert.to_str().unwrap(), "-outform", "DER"]);
    assert!(holds(&front_memory, &cert_der), "the search works: the front holds the (public) certificate");
    for (what, bytes) in first.secrets() {
        assert!(!holds(&front_memory, &bytes), "the front's memory holds {what}");
    }
    for (what, bytes) in &first.secrets()[..2] {
        assert!(holds(&broker_memory, bytes), "the same search finds {what} in the broker, the key's holder");
    }

    for fd in std::fs::read_dir(format!("/proc/{front}/fd")).unwrap().flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        assert!(!target.starts_with(&tls), "the front has {} open as fd {:?}", target.display(), fd.file_name());
    }
    if cfg!(feature = "test-hooks") {
        for role in ["front", "broker"] {
            let line = d.wait_log(&format!("{MARKER} {role} open_read:{} =>", key.display()), Duration::from_secs(10));
            assert!(line.ends_with("=> EACCES"), "the {role} may open TLSKey: {line}");
        }
    }

    // Renewal: new files renamed over the old ones, then SIGHUP.
    let second = Pair::make(&tls, "second");
    std::fs::copy(&second.cert, tls.join("new.crt")).unwrap();
    std::fs::copy(&second.key, tls.join("new.key")).unwrap();
    chown_tree(&tls, UNPRIVILEGED);
    std::fs::rename(tls.join("new.crt"), &cert).unwrap();
    std::fs::rename(tls.join("new.key"), &key).unwrap();
    d.signal(Signal::SIGHUP);
    d.wait_log("serving a new certificate chain", Duration::from_secs(10));
    assert_eq!(served_fingerprint(d.port), second.fingerprint());
    assert_eq!(curl_ping(d.port, &second.cert).as_deref(), Ok("ok"));
    assert!(curl_ping(d.port, &first.cert).is_err(), "the old certificate is no longer served");
    let front_memory = memory(d.role_pid("front"));
    for (what, bytes) in second.secrets() {
        assert!(!holds(&front_memory, &bytes), "after SIGHUP, the front's memory holds {what} of the new key");
    }

    // A bad pair: the new certificate with another key. Refused; the current one stays.
    let third = Pair::make(&tls, "third");
    std::fs::copy(&third.key, &key).unwrap();
    d.signal(Signal::SIGHUP);
    let line = d.wait_log("the current certificate stays", Duration::from_secs(10));
    assert!(line.contains("is not the key of TLSCert"), "{line}");
    assert_eq!(curl_ping(d.port, &second.cert).as_deref(), Ok("ok"));
    assert_eq!(served_fingerprint(d.port), second.fingerprint());

    // A restarted front is handed the current chain, not the one the daemon started with.
    let old_front = d.role_pid("front");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old_front), Signal::SIGKILL).unwrap();
    d.wait_log("the front killed by SIGKILL", Duration::from_secs(10));
    wait_https(&mut d, &second.cert);
    assert_ne!(d.role_pid("front"), old_front);
    assert_eq!(served_fingerprint(d.port), second.fingerprint());
}

/// A key that is not the certificate's stops the daemon at start, with the reason.
#[test]
fn a_mismatched_pair_refuses_to_start() {
    let fx = Fixture::new();
    let tls = fx.dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (a, b) = (Pair::make(&tls, "a"), Pair::make(&tls, "b"));
    if is_root() {
        chown_tree(&tls, UNPRIVILEGED);
    }
    let config = format!("TLSCert = '{}'\nTLSKey = '{}'\n", a.cert.display(), b.key.display());
    let mut d = Daemon::spawn(fx, Options { config: Some(config), ..Default::default() });
    let status = d.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(2), "{}", d.log());
    assert!(d.log().contains("is not the key of TLSCert"), "{}", d.log());
}

/// `redoubt config check` knows TLSCert and TLSKey, and makes the checks `serve` makes.
#[test]
fn config_check_checks_the_pair() {
    let fx = Fixture::new();
    let tls = fx.dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (a, b) = (Pair::make(&tls, "a"), Pair::make(&tls, "b"));
    if is_root() {
        chown_tree(&tls, UNPRIVILEGED);
    }
    let check = |toml: String| {
        let path = fx.dir.join("check.toml");
        std::fs::write(&path, toml).unwrap();
        let out = fx.command(&["config", "check", "--config", path.to_str().unwrap()]).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = check(format!("TLSCert = '{}'\nTLSKey = '{}'\n", a.cert.display(), a.key.display()));
    assert_eq!(code, Some(0), "{err}");
    let shown = format!("\"{}\"  # file", a.cert.display());
    assert!(out.lines().any(|l| l.starts_with("TLSCert ") && l.contains(&shown)), "{out}");
    assert!(out.contains(&format!("certificate SHA-256 {}", a.fingerprint())), "{out}");
    let (code, _, err) = check(format!("TLSCert = '{}'\n", a.cert.display()));
    assert_eq!(code, Some(2));
    assert!(err.contains("HTTPS needs both"), "{err}");
    let (code, _, err) = check(format!("TLSCert = '{}'\nTLSKey = '{}'\n", a.cert.display(), b.key.display()));
    assert_eq!(code, Some(2));
    assert!(err.contains("is not the key of TLSCert"), "{err}");
}

/// While the broker is slow to sign (test hook: it holds every signature while a file is in
/// DataFolder), the handshakes waiting for it take their places (front::tls::HANDSHAKES) and
/// more wait for one, yet a connection already open is answered: a signature never stalls
/// the front's runtime. Once the broker signs, every waiting handshake completes.
#[cfg(feature = "test-hooks")]
#[test]
fn a_slow_signature_does_not_stall_other_connections() {
    use std::io::Write;
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let tls = fx.dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let pair = Pair::make(&tls, "server");
    if is_root() {
        chown_tree(&tls, UNPRIVILEGED);
    }
    let config = format!("TLSCert = '{}'\nTLSKey = '{}'\n", pair.cert.display(), pair.key.display());
    let mut d = Daemon::spawn(fx, Options { config: Some(config), ..Default::default() });
    wait_https(&mut d, &pair.cert);

    // One connection, open and answered, kept alive.
    let mut open = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{}", d.port), "-servername", "localhost"])
        .args(["-verify_return_error", "-CAfile", pair.cert.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut to_server = open.stdin.take().unwrap();
    let (answers_tx, answers) = std::sync::mpsc::channel::<String>();
    let mut from_server = open.stdout.take().unwrap();
    std::thread::spawn(move || {
        // The answers carry no newline: each body is found by its closing status.
        let (mut seen, mut sent, mut buf) = (String::new(), 0, [0u8; 4096]);
        while let Ok(n @ 1..) = from_server.read(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            let answers = seen.matches("\"status\":\"ok\"").count();
            while sent < answers {
                sent += 1;
                if answers_tx.send(seen.clone()).is_err() {
                    return;
                }
            }
        }
    });
    let request = format!(
        "GET /rest/ping?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&f=json HTTP/1.1\r\nHost: localhost\r\n\r\n"
    );
    to_server.write_all(request.as_bytes()).unwrap();
    let first = answers.recv_timeout(Duration::from_secs(20)).expect("an answer on the open connection");
    assert!(first.contains("\"status\":\"ok\""), "{first}");

    let hold = d.fx.data.join("redoubt-test-hold-signatures");
    std::fs::write(&hold, b"").unwrap();
    let (port, ca) = (d.port, pair.cert.clone());
    let waiting: Vec<_> = (0..6)
        .map(|_| {
            let ca = ca.clone();
            std::thread::spawn(move || curl_ping(port, &ca))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.log().matches("broker holding a signature").count() < 4 {
        assert!(Instant::now() < deadline, "handshakes never reached the broker:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    to_server.write_all(request.as_bytes()).unwrap();
    let second = answers.recv_timeout(Duration::from_secs(20)).expect("an answer while signatures are held");
    assert!(second.contains("\"status\":\"ok\""), "{second}");
    assert!(waiting.iter().all(|h| !h.is_finished()), "a handshake finished without its signature");
    assert_eq!(d.log().matches("broker holding a signature").count(), 4, "more handshakes than places");

    std::fs::remove_file(&hold).unwrap();
    for h in waiting {
        assert_eq!(h.join().unwrap().as_deref(), Ok("ok"));
    }
    drop(to_server);
    let _ = open.kill();
    let _ = open.wait();
}
