//! Rendered answers to deterministic library calls (`LibraryCall::deterministic`), kept so
//! that a repeated request costs the broker only its credential check: every request still
//! goes to the broker (`Request::CachedApi`), which authenticates it and answers `NotModified`
//! only when the copy was made for the same user at the current database generation (no row
//! written since). Nothing is ever served without that check.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

use super::Params;
use crate::proto::{CacheStamp, Credentials};

/// Total size of the cached bodies.
const MAX_BYTES: usize = 32 << 20;
/// Larger answers (a 500-song page) are not kept.
const MAX_ENTRY: usize = 512 << 10;
/// Parameters that say who asks, not what: left out of the key (the broker checks the user).
const NOT_IN_KEY: &[&str] = &["u", "p", "t", "s", "apiKey", "c", "v", "_"];

#[derive(Clone)]
pub struct Entry {
    pub stamp: CacheStamp,
    pub content_type: &'static str,
    pub body: Bytes,
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

    pub fn put(&self, key: String, entry: Entry) {
        if entry.body.len() > MAX_ENTRY {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let size = entry.body.len() + key.len();
        if let Some(old) = inner.map.insert(key.clone(), entry) {
            inner.bytes -= old.body.len() + key.len();
        } else {
            inner.order.push_back(key);
        }
        inner.bytes += size;
        while inner.bytes > MAX_BYTES {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some(e) = inner.map.remove(&oldest) {
                inner.bytes -= e.body.len() + oldest.len();
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
        let stamp = CacheStamp { user: "u".into(), generation: 1 };
        for i in 0..200 {
            let body = Bytes::from(vec![0u8; 400 << 10]);
            c.put(format!("k{i}"), Entry { stamp: stamp.clone(), content_type: "text/xml", body });
        }
        let inner = c.inner.lock().unwrap();
        assert!(inner.bytes <= MAX_BYTES);
        assert!(inner.map.contains_key("k199") && !inner.map.contains_key("k0"));
        assert_eq!(inner.map.len(), inner.order.len());
    }
}
