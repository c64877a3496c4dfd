//! Rendered answers to deterministic library calls (`LibraryCall::deterministic`), kept so
//! that a repeated request costs the broker only its credential check: every request still
//! goes to the broker (`Request::CachedApi`), which authenticates it and answers `NotModified`
//! only when the copy was made for the same user at the current database generation (no row
//! written since). Nothing is ever served without that check.
//!
//! An entry also keeps its gzip and brotli forms, made the first time a client asks for them,
//! so that a cached answer is compressed once, not on every request.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use super::Params;
use crate::proto::{CacheStamp, Credentials};

/// Total size of the cached bodies.
const MAX_BYTES: usize = 32 << 20;
/// Larger answers (a 500-song page) are not kept.
const MAX_ENTRY: usize = 512 << 10;
/// Parameters that say who asks, not what: left out of the key (the broker checks the user).
const NOT_IN_KEY: &[&str] = &["u", "p", "t", "s", "apiKey", "c", "v", "_"];

/// Answers smaller than this are sent as they are: compressing them saves nothing.
pub const COMPRESS_ABOVE: usize = 256;

#[derive(Clone)]
pub struct Entry {
    pub stamp: CacheStamp,
    pub content_type: &'static str,
    pub body: Bytes,
    /// Shared by every clone of the entry, so a form made once serves all later requests.
    compressed: Arc<Compressed>,
}

#[derive(Default)]
struct Compressed {
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Compressed {
    fn slot(&self, enc: Encoding) -> Option<&OnceLock<Bytes>> {
        match enc {
            Encoding::Identity => None,
            Encoding::Gzip => Some(&self.gzip),
            Encoding::Brotli => Some(&self.brotli),
        }
    }

    fn bytes(&self) -> usize {
        self.gzip.get().map_or(0, Bytes::len) + self.brotli.get().map_or(0, Bytes::len)
    }
}

impl Entry {
    pub fn new(stamp: CacheStamp, content_type: &'static str, body: Bytes) -> Entry {
        Entry { stamp, content_type, body, compressed: Arc::default() }
    }
}

/// A content coding the front sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The coding to answer an `Accept-Encoding` with: the client's highest q-value among
    /// brotli and gzip (`*` standing for either), brotli on a tie; identity when it names neither.
    pub fn preferred(accept: Option<&str>) -> Encoding {
        let (mut br, mut gzip, mut any) = (None, None, None);
        for item in accept.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            match name.to_ascii_lowercase().as_str() {
                "br" => br = Some(q),
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => any = Some(q),
                _ => {}
            }
        }
        let br = br.or(any).unwrap_or(0.0);
        let gzip = gzip.or(any).unwrap_or(0.0);
        if br > 0.0 && br >= gzip {
            Encoding::Brotli
        } else if gzip > 0.0 {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }

    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    fn compress(self, body: &[u8]) -> Bytes {
        match self {
            Encoding::Identity => Bytes::copy_from_slice(body),
            Encoding::Gzip => {
                let mut w =
                    flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::new(6));
                w.write_all(body).expect("writing to memory");
                Bytes::from(w.finish().expect("writing to memory"))
            }
            Encoding::Brotli => {
                let mut out = Vec::with_capacity(body.len() / 4);
                {
                    // Quality 5, window 22: kept and served many times, so worth more than the
                    // on-the-fly level, but nowhere near brotli's slow 11.
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    w.write_all(body).expect("writing to memory");
                }
                Bytes::from(out)
            }
        }
    }
}

/// Answers of these types are worth compressing (every Subsonic answer, the UI's pages).
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "image/svg+xml"
                | "application/manifest+json"
        )
}

#[derive(Default)]
pub struct Cache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// Insertion order, for eviction.
    order: VecDeque<String>,
    bytes: usize,
}

/// What identifies a request's answer: who claims to ask (the broker verifies it), the
/// method, and every other parameter (the format and JSONP callback included), sorted.
pub fn key(creds: &Credentials, method: &str, p: &Params) -> String {
    let mut k = String::with_capacity(128);
    match creds {
        Credentials::Password { user, .. } | Credentials::Token { user, .. } => {
            k.push_str("u:");
            k.push_str(&user.to_lowercase());
        }
        Credentials::ApiKey { key } => {
            k.push_str("k:");
            k.push_str(&key.0);
        }
        Credentials::External { user } => {
            k.push_str("x:");
            k.push_str(&user.to_lowercase());
        }
        // The web UI's bridge (ui/bridge.rs): one session, one key; the CSRF token says
        // nothing about what is asked.
        Credentials::Session { token, .. } => {
            k.push_str("w:");
            k.push_str(&token.0);
        }
    }
    k.push('\0');
    k.push_str(method);
    let mut rest: Vec<&(String, String)> = p.0.iter().filter(|(n, _)| !NOT_IN_KEY.contains(&n.as_str())).collect();
    rest.sort();
    for (n, v) in rest {
        k.push('\0');
        k.push_str(n);
        k.push('=');
        k.push_str(v);
    }
    k
}

impl Cache {
    pub fn get(&self, key: &str) -> Option<Entry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).map.get(key).cloned()
    }

    /// The entry's body in `enc`, compressed now if no earlier request asked for it. None when
    /// the answer is sent as it is (identity asked, or too small to gain).
    pub fn encoded(&self, key: &str, entry: &Entry, enc: Encoding) -> Option<Bytes> {
        let slot = entry.compressed.slot(enc)?;
        if entry.body.len() < COMPRESS_ABOVE || !compressible(entry.content_type) {
            return None;
        }
        if let Some(b) = slot.get() {
            return Some(b.clone());
        }
        let made = enc.compress(&entry.body);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if slot.set(made.clone()).is_ok() {
            // Counted only while the entry is still the one cached (eviction subtracts it).
            if inner.map.get(key).is_some_and(|e| Arc::ptr_eq(&e.compressed, &entry.compressed)) {
                inner.bytes += made.len();
            }
        }
        Some(slot.get().cloned().unwrap_or(made))
    }

    pub fn put(&self, key: String, entry: Entry) {
        if entry.body.len() > MAX_ENTRY {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let size = entry.body.len() + key.len();
        if let Some(old) = inner.map.insert(key.clone(), entry) {
            inner.bytes -= old.body.len() + old.compressed.bytes() + key.len();
        } else {
            inner.order.push_back(key);
        }
        inner.bytes += size;
        while inner.bytes > MAX_BYTES {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some(e) = inner.map.remove(&oldest) {
                inner.bytes -= e.body.len() + e.compressed.bytes() + oldest.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Secret;

    fn params(list: &[(&str, &str)]) -> Params {
        Params(list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn keys_ignore_credentials_and_order_but_not_the_format_or_the_user() {
        let alice = Credentials::Password { user: "Alice".into(), password: Secret("x".into()) };
        let alice_t = Credentials::Token { user: "alice".into(), token: Secret("t".into()), salt: Secret("s".into()) };
        let bob = Credentials::Password { user: "bob".into(), password: Secret("x".into()) };
        let a = key(&alice, "getAlbum", &params(&[("id", "1"), ("f", "json"), ("u", "Alice"), ("p", "x"), ("c", "a")]));
        let b = key(&alice_t, "getAlbum", &params(&[("f", "json"), ("id", "1"), ("t", "t"), ("s", "s"), ("c", "b")]));
        assert_eq!(a, b);
        assert_ne!(a, key(&bob, "getAlbum", &params(&[("id", "1"), ("f", "json")])));
        assert_ne!(a, key(&alice, "getAlbum", &params(&[("id", "1")])), "XML and JSON differ");
        assert_ne!(a, key(&alice, "getAlbum", &params(&[("id", "1"), ("f", "jsonp"), ("callback", "x")])));
        assert_ne!(a, key(&alice, "getSong", &params(&[("id", "1"), ("f", "json")])));
    }

    #[test]
    fn the_cache_stays_under_its_cap() {
        let c = Cache::default();
        let stamp = CacheStamp { user: "u".into(), generation: 1, access: vec![] };
        for i in 0..200 {
            let body = Bytes::from(vec![0u8; 400 << 10]);
            c.put(format!("k{i}"), Entry::new(stamp.clone(), "text/xml", body));
        }
        let inner = c.inner.lock().unwrap();
        assert!(inner.bytes <= MAX_BYTES);
        assert!(inner.map.contains_key("k199") && !inner.map.contains_key("k0"));
        assert_eq!(inner.map.len(), inner.order.len());
    }

    #[test]
    fn accept_encoding_picks_the_clients_best_of_brotli_and_gzip() {
        use Encoding::*;
        assert_eq!(Encoding::preferred(None), Identity);
        assert_eq!(Encoding::preferred(Some("gzip")), Gzip);
        assert_eq!(Encoding::preferred(Some("gzip, deflate, br")), Brotli);
        assert_eq!(Encoding::preferred(Some("br;q=0.5, gzip;q=0.9")), Gzip);
        assert_eq!(Encoding::preferred(Some("br;q=0, gzip;q=0")), Identity);
        assert_eq!(Encoding::preferred(Some("identity")), Identity);
        assert_eq!(Encoding::preferred(Some("*")), Brotli);
        assert_eq!(Encoding::preferred(Some("*;q=0.1, br;q=0")), Gzip);
        assert_eq!(Encoding::preferred(Some("GZIP")), Gzip);
    }

    #[test]
    fn compressed_forms_are_made_once_decompress_to_the_body_and_are_counted() {
        use std::io::Read;
        let c = Cache::default();
        let stamp = CacheStamp { user: "u".into(), generation: 1, access: vec![] };
        let body = Bytes::from("<album name=\"x\"/>".repeat(200));
        c.put("k".into(), Entry::new(stamp.clone(), "text/xml", body.clone()));
        let e = c.get("k").unwrap();
        let before = c.inner.lock().unwrap().bytes;
        let gz = c.encoded("k", &e, Encoding::Gzip).unwrap();
        let br = c.encoded("k", &c.get("k").unwrap(), Encoding::Brotli).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, body);
        plain.clear();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, body);
        assert_eq!(c.inner.lock().unwrap().bytes, before + gz.len() + br.len());
        // A later request gets the same bytes, not a second compression.
        let again = c.encoded("k", &c.get("k").unwrap(), Encoding::Gzip).unwrap();
        assert_eq!(again.as_ptr(), gz.as_ptr());
        assert!(c.encoded("k", &e, Encoding::Identity).is_none());
        c.put("small".into(), Entry::new(stamp, "text/xml", Bytes::from_static(b"<ok/>")));
        assert!(c.encoded("small", &c.get("small").unwrap(), Encoding::Gzip).is_none());
        // Replacing the entry gives its bytes back, compressed forms included.
        c.put(
            "k".into(),
            Entry::new(CacheStamp { user: "u".into(), generation: 2, access: vec![] }, "text/xml", body.clone()),
        );
        assert_eq!(c.inner.lock().unwrap().bytes, before + "small".len() + "<ok/>".len());
    }
}
