//! Connection and request caps, so that one client cannot take the server from everyone else.
//!
//! - Every open connection holds an [`Admission`]; at most `total` are open at once, below the
//!   front's file-descriptor limit, so `accept` never runs out of descriptors.
//! - One client address (an IPv6 /64 counts as one) holds at most `per_client` connections;
//!   a trusted proxy's own address at most `per_proxy`, since it carries many clients.
//! - Behind a trusted proxy the forwarded client is capped per request instead: at most
//!   `per_client` of its requests in flight ([`Limits::request`]).
//!
//! A connection over a cap is closed at once. Refusals and accept errors are logged at most
//! once a second, with the count since the last line ([`Throttle`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::proto::FrontInit;

/// Who a cap counts: an address (IPv6 grouped by /64), or the unix socket's peers together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4(u32),
    V6(u64),
    Unix,
}

impl Key {
    fn of(addr: Option<IpAddr>) -> Key {
        match addr.map(|a| a.to_canonical()) {
            Some(IpAddr::V4(a)) => Key::V4(u32::from(a)),
            Some(IpAddr::V6(a)) => Key::V6((u128::from(a) >> 64) as u64),
            None => Key::Unix,
        }
    }
}

/// The configured caps (`Limits.*` options, resolved by the supervisor).
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub total: usize,
    pub per_client: usize,
    pub per_proxy: usize,
}

impl Caps {
    pub fn from_init(init: &FrontInit) -> Caps {
        Caps {
            total: init.max_connections,
            per_client: init.max_connections_per_client,
            per_proxy: init.max_connections_per_proxy,
        }
    }
}

pub struct Limits {
    caps: Caps,
    state: Mutex<State>,
    refusals: Throttle,
}

#[derive(Default)]
struct State {
    open: usize,
    connections: HashMap<Key, usize>,
    /// Requests in flight per forwarded client (behind a trusted proxy).
    requests: HashMap<String, usize>,
}

/// Why a connection or request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Total(usize),
    Client(usize),
    Proxy(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Total(n) => write!(f, "{n} connections are open (Limits.MaxConnections)"),
            Refusal::Client(n) => write!(f, "the client has {n} open (Limits.MaxConnectionsPerClient)"),
            Refusal::Proxy(n) => write!(f, "the proxy has {n} open (Limits.MaxConnectionsPerProxy)"),
        }
    }
}

/// One open connection; dropping it frees its place.
pub struct Admission {
    limits: Arc<Limits>,
    key: Key,
}

/// One place fewer held by `key`; a key holding none is forgotten.
fn release<K: std::hash::Hash + Eq>(held: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = held.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            held.remove(key);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut s = self.limits.lock();
        s.open -= 1;
        release(&mut s.connections, &self.key);
    }
}

/// One request in flight from a forwarded client; dropping it frees its place.
pub struct InFlight {
    limits: Arc<Limits>,
    client: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        release(&mut self.limits.lock().requests, &self.client);
    }
}

impl Limits {
    pub fn new(caps: Caps) -> Arc<Limits> {
        Arc::new(Limits { caps, state: Mutex::default(), refusals: Throttle::new() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new connection from `peer` (None: a unix-socket peer), which is a trusted
    /// proxy when `proxy` is set.
    pub fn admit(self: &Arc<Self>, peer: Option<IpAddr>, proxy: bool) -> Result<Admission, Refusal> {
        let key = Key::of(peer);
        let mut s = self.lock();
        if s.open >= self.caps.total {
            return Err(Refusal::Total(s.open));
        }
        let held = s.connections.get(&key).copied().unwrap_or(0);
        if proxy && held >= self.caps.per_proxy {
            return Err(Refusal::Proxy(held));
        }
        if !proxy && key != Key::Unix && held >= self.caps.per_client {
            return Err(Refusal::Client(held));
        }
        s.open += 1;
        *s.connections.entry(key).or_insert(0) += 1;
        Ok(Admission { limits: self.clone(), key })
    }

    /// A place for one request from a client a trusted proxy forwarded.
    pub fn request(self: &Arc<Self>, client: &str) -> Result<InFlight, Refusal> {
        let mut s = self.lock();
        let held = s.requests.get(client).copied().unwrap_or(0);
        if held >= self.caps.per_client {
            return Err(Refusal::Client(held));
        }
        *s.requests.entry(client.to_string()).or_insert(0) += 1;
        Ok(InFlight { limits: self.clone(), client: client.to_string() })
    }

    /// Logs a refusal (at most once a second).
    pub fn refused(&self, who: &str, why: &Refusal) {
        self.refusals.note(|suppressed| {
            if suppressed == 0 {
                tracing::warn!("refused a connection from {who}: {why}");
            } else {
                tracing::warn!("refused a connection from {who}: {why} (and {suppressed} more since the last line)");
            }
        });
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().open
    }
}

/// Logs at most once a second, counting what it held back.
pub struct Throttle {
    state: Mutex<(Option<Instant>, u64)>,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new()
    }
}

impl Throttle {
    pub const fn new() -> Throttle {
        Throttle { state: Mutex::new((None, 0)) }
    }

    /// Calls `log` with the number of events held back since the last line, unless a line
    /// was written less than a second ago.
    pub fn note(&self, log: impl FnOnce(u64)) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match s.0 {
            Some(last) if now.duration_since(last) < Duration::from_secs(1) => s.1 += 1,
            _ => {
                let held = s.1;
                *s = (Some(now), 0);
                drop(s);
                log(held);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_client: usize, per_proxy: usize) -> Arc<Limits> {
        Limits::new(Caps { total, per_client, per_proxy })
    }

    #[test]
    fn a_client_is_capped_and_others_still_get_in() {
        let l = limits(100, 3, 50);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| l.admit(Some(a), false).unwrap()).collect();
        assert_eq!(l.admit(Some(a), false).err(), Some(Refusal::Client(3)));
        let other = l.admit(Some(b), false).unwrap();
        drop(held);
        assert_eq!(l.open(), 1);
        l.admit(Some(a), false).unwrap();
        drop(other);
    }

    #[test]
    fn the_total_cap_holds_for_everyone() {
        let l = limits(2, 10, 10);
        let _a = l.admit(Some("10.0.0.1".parse().unwrap()), false).unwrap();
        let _b = l.admit(None, false).unwrap();
        assert_eq!(l.admit(Some("10.0.0.2".parse().unwrap()), false).err(), Some(Refusal::Total(2)));
    }

    #[test]
    fn a_proxy_has_its_own_cap_and_its_clients_are_capped_per_request() {
        let l = limits(100, 2, 5);
        let p: IpAddr = "192.168.1.1".parse().unwrap();
        let conns: Vec<_> = (0..5).map(|_| l.admit(Some(p), true).unwrap()).collect();
        assert_eq!(l.admit(Some(p), true).err(), Some(Refusal::Proxy(5)));
        let r1 = l.request("203.0.113.9").unwrap();
        let _r2 = l.request("203.0.113.9").unwrap();
        assert_eq!(l.request("203.0.113.9").err(), Some(Refusal::Client(2)));
        l.request("203.0.113.10").unwrap();
        drop(r1);
        l.request("203.0.113.9").unwrap();
        drop(conns);
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let l = limits(100, 1, 1);
        let _a = l.admit(Some("2001:db8:1:2::1".parse().unwrap()), false).unwrap();
        assert!(l.admit(Some("2001:db8:1:2::ffff".parse().unwrap()), false).is_err());
        let _b = l.admit(Some("2001:db8:1:3::1".parse().unwrap()), false).unwrap();
        let _c = l.admit(Some("10.1.1.1".parse().unwrap()), false).unwrap();
        assert!(l.admit(Some("::ffff:10.1.1.1".parse().unwrap()), false).is_err());
    }

    #[test]
    fn the_throttle_writes_once_a_second_with_a_count() {
        let t = Throttle::new();
        let mut lines = Vec::new();
        for _ in 0..100 {
            t.note(|held| lines.push(held));
        }
        assert_eq!(lines, vec![0]);
        t.state.lock().unwrap().0 = Some(Instant::now() - Duration::from_secs(2));
        t.note(|held| lines.push(held));
        assert_eq!(lines, vec![0, 99]);
    }
}
