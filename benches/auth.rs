//! The cost of each credential check, in process (no HTTP): argon2id (once per start),
//! AES-256-GCM per password, and Store::authenticate for each Subsonic mechanism.
//! Prints figures; asserts nothing about time.
//!
//!     cargo bench --bench auth

use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use redoubt::broker::store::{Settings, Store};
use redoubt::broker::vault::{self, KeyConfig, Vault};
use redoubt::proto::{Client, Credentials, Secret};

fn time<F: FnMut()>(what: &str, n: u32, mut f: F) {
    f();
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let per = t.elapsed() / n;
    let shown = if per > Duration::from_millis(1) {
        format!("{:.1} ms", per.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} µs", per.as_secs_f64() * 1e6)
    };
    println!("{what:<52} {shown:>12}  ({:.0}/s)", 1.0 / per.as_secs_f64());
}

fn main() {
    time("argon2id key derivation (once per start; 64 MiB, t=3)", 5, || {
        vault::derive("correct horse battery staple", b"0123456789abcdef", vault::KDF).unwrap();
    });
    let v = Vault::from_key(privsep::secret::SecretKey::new(&[7; 32]).unwrap()).unwrap();
    let blob = v.encrypt("user-id", "a password of ordinary length");
    time("AES-256-GCM encrypt one password", 100_000, || {
        std::hint::black_box(v.encrypt("user-id", "a password of ordinary length"));
    });
    time("AES-256-GCM decrypt one password", 100_000, || {
        std::hint::black_box(v.decrypt("user-id", &blob));
    });

    let dir = std::env::temp_dir().join(format!("redoubt-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = KeyConfig { data_folder: dir.clone(), passphrase: None, previous: None, may_transition: true };
    // The rate limiter on, as in the daemon: every check counts an attempt and takes it back.
    let settings = Settings::default();
    let (store, _) = Store::open(&key, settings).unwrap();
    store.add_user("bench", Some("bench-password"), false, None).unwrap();
    let (_, api_key) = store.add_api_key("bench", "bench").unwrap();
    let client = Client { addr: "127.0.0.1".into(), name: "bench".into() };
    let password = Credentials::Password { user: "bench".into(), password: Secret("bench-password".into()) };
    let salt = "a1b2c3d4";
    let token = hex::encode(Md5::digest(format!("bench-password{salt}").as_bytes()));
    let tok = Credentials::Token { user: "bench".into(), token: Secret(token), salt: Secret(salt.into()) };
    let apikey = Credentials::ApiKey { key: Secret(api_key) };
    time("authenticate: u + p (lookup, decrypt, compare)", 50_000, || {
        store.authenticate(&client, &password).unwrap();
    });
    time("authenticate: u + t + s (lookup, decrypt, md5)", 50_000, || {
        store.authenticate(&client, &tok).unwrap();
    });
    time("authenticate: apiKey (sha256, indexed lookup)", 50_000, || {
        store.authenticate(&client, &apikey).unwrap();
    });
    let _ = std::fs::remove_dir_all(dir);
}
