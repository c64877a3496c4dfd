//! Sliding-window limit on failed credential checks (docs/security.md T3).
//!
//! Every attempt counts against a few buckets, each allowing so many failures per window:
//! - password and token checks, web logins: (address, user) `limit`; the user from any
//!   address `USER_FACTOR × limit` (a front that invents addresses still cannot guess at
//!   speed); the address across all users `USER_FACTOR × limit` (password spraying);
//! - API keys: the address only (a 256-bit key needs no per-user limit, and a shared bucket
//!   would let anyone lock every key out);
//! - the first-admin setup code: (address, setup) and setup from anywhere.
//!
//! [`Limiter::begin`] checks every bucket and, if none is full, records the attempt as a
//! failure in all of them in the same step (so concurrent attempts cannot all slip through
//! before any is counted); [`Limiter::succeeded`] takes it back. While a bucket is full every
//! attempt through it is refused, right password or not.
//!
//! Memory is bounded whatever is sent: names are cut and normalised before they are counted
//! (see names.rs), buckets are fixed-size keyed hashes, expired buckets are dropped as new
//! ones come, and past [`MAX_BUCKETS`] buckets or [`MAX_STAMPS`] stored failures the least
//! recently used bucket goes first (never all of them).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::proto::metrics::AuthMetrics;

/// How much more the per-user and per-address buckets allow than (address, user).
pub const USER_FACTOR: u32 = 4;
/// Buckets kept at most (about 10 MB when full: `a_million_long_names_…` measures it).
pub const MAX_BUCKETS: usize = 32 * 1024;
/// Failure times kept at most, over all buckets.
pub const MAX_STAMPS: usize = 128 * 1024;

type Key = [u8; 16];

/// What an attempt is for, which picks its buckets.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    /// A password or token for this user name (already in its key form, names::key).
    User(&'a str),
    ApiKey,
    Setup,
    /// A share's password (share id): limited like a user's, per address and from anywhere.
    Share(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    AddressUser,
    User,
    Address,
    Other,
}

/// An attempt in flight: already counted as a failure until [`Limiter::succeeded`].
#[must_use]
pub struct Ticket {
    buckets: Vec<(Key, Scope, u32)>,
    at: u64,
}

/// A refused attempt: how long to wait, and whether the user's own bucket is the full one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub wait: Duration,
    pub user_locked: bool,
}

struct Bucket {
    /// Failure times, in ms since the limiter's epoch, oldest first.
    times: VecDeque<u64>,
    /// When this bucket was last touched, for the LRU order.
    seq: u64,
}

pub struct Limiter {
    limit: u32,
    window_ms: u64,
    epoch: Instant,
    /// Keys are keyed hashes: fixed size, and not chosen by whoever sends the names.
    salt: [u8; 16],
    buckets: HashMap<Key, Bucket>,
    /// (seq, key) in the order buckets were touched; stale entries (the bucket was touched
    /// again since) are skipped and compacted away.
    lru: VecDeque<(u64, Key)>,
    seq: u64,
    stamps: usize,
    /// Users an admin unlocked (`redoubt user unlock`): failures before that time are forgotten.
    unlocked: HashMap<Key, u64>,
    /// Totals for the metrics endpoint: failures, refusals, lockouts.
    counts: AuthMetrics,
}

/// Addresses as buckets see them: IPv6 clients by their /64 (one host usually has a whole
/// /64 to pick addresses from), everything else as given.
pub fn address_group(addr: &str) -> String {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        _ => addr.chars().take(64).collect(),
    }
}

impl Limiter {
    /// `limit == 0` or a zero window disables limiting.
    pub fn new(limit: u32, window: Duration) -> Limiter {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt).expect("the kernel's random source");
        Limiter {
            limit,
            window_ms: window.as_millis() as u64,
            epoch: Instant::now(),
            salt,
            buckets: HashMap::new(),
            lru: VecDeque::new(),
            seq: 0,
            stamps: 0,
            unlocked: HashMap::new(),
            counts: AuthMetrics::default(),
        }
    }

    /// Failed checks, refused attempts and lockouts since the start (counted even when
    /// limiting is disabled, lockouts excepted: there are none then).
    pub fn counts(&self) -> AuthMetrics {
        self.counts.clone()
    }

    fn disabled(&self) -> bool {
        self.limit == 0 || self.window_ms == 0
    }

    fn ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn key(&self, parts: &[&str]) -> Key {
        let mut h = Sha256::new();
        h.update(self.salt);
        for p in parts {
            h.update((p.len() as u32).to_le_bytes());
            h.update(p.as_bytes());
        }
        h.finalize()[..16].try_into().expect("16 bytes")
    }

    fn user_key(&self, user: &str) -> Key {
        self.key(&["user", user])
    }

    fn buckets_for(&self, addr: &str, attempt: Attempt) -> Vec<(Key, Scope, u32)> {
        let addr = address_group(addr);
        let wide = self.limit.saturating_mul(USER_FACTOR);
        match attempt {
            Attempt::User(user) => vec![
                (self.key(&["addr+user", &addr, user]), Scope::AddressUser, self.limit),
                (self.user_key(user), Scope::User, wide),
                (self.key(&["addr", &addr]), Scope::Address, wide),
            ],
            Attempt::ApiKey => vec![(self.key(&["addr", &addr]), Scope::Address, wide)],
            Attempt::Setup => vec![
                (self.key(&["addr+setup", &addr]), Scope::Other, self.limit),
                (self.key(&["setup"]), Scope::Other, wide),
            ],
            Attempt::Share(id) => vec![
                (self.key(&["addr+share", &addr, id]), Scope::Other, self.limit),
                (self.key(&["share", id]), Scope::Other, wide),
                (self.key(&["addr", &addr]), Scope::Address, wide),
            ],
        }
    }

    /// Drops the failures of `bucket` that left the window (or that an unlock forgave).
    fn prune(&mut self, key: &Key, now_ms: u64, forgive_before: Option<u64>) {
        let Some(b) = self.buckets.get_mut(key) else { return };
        let before = b.times.len();
        while b.times.front().is_some_and(|t| now_ms.saturating_sub(*t) >= self.window_ms)
            || b.times.front().zip(forgive_before).is_some_and(|(t, f)| *t <= f)
        {
            b.times.pop_front();
        }
        self.stamps -= before - b.times.len();
        if b.times.capacity() > 2 * b.times.len() + 8 {
            b.times.shrink_to(b.times.len() + 4);
        }
    }

    /// Refuses the attempt if any of its buckets is full; otherwise counts it as a failure in
    /// every bucket, to be taken back by [`Limiter::succeeded`].
    pub fn begin(&mut self, addr: &str, attempt: Attempt, now: Instant) -> Result<Ticket, Refusal> {
        let at = self.ms(now);
        let buckets = self.buckets_for(addr, attempt);
        if self.disabled() {
            return Ok(Ticket { buckets: Vec::new(), at });
        }
        self.expire_some(at);
        let forgive = match attempt {
            Attempt::User(u) => self.unlocked.get(&self.user_key(u)).copied(),
            _ => None,
        };
        let mut wait_ms = 0u64;
        let mut user_locked = false;
        for (key, scope, allowed) in &buckets {
            let forgive = forgive.filter(|_| matches!(scope, Scope::User | Scope::AddressUser));
            self.prune(key, at, forgive);
            if let Some(b) = self.buckets.get(key) {
                let allowed = *allowed as usize;
                if b.times.len() >= allowed {
                    // Free again when enough of the oldest failures have left the window.
                    let must_expire = b.times[b.times.len() - allowed];
                    wait_ms = wait_ms.max(self.window_ms.saturating_sub(at.saturating_sub(must_expire)));
                    user_locked |= *scope == Scope::User;
                }
            }
        }
        if wait_ms > 0 {
            self.counts.refused += 1;
            return Err(Refusal { wait: Duration::from_millis(wait_ms).max(Duration::from_secs(1)), user_locked });
        }
        for (key, _, allowed) in &buckets {
            self.push(*key, at, *allowed as usize);
        }
        Ok(Ticket { buckets, at })
    }

    /// The attempt succeeded: successes are free.
    pub fn succeeded(&mut self, ticket: Ticket) {
        for (key, _, _) in &ticket.buckets {
            if let Some(b) = self.buckets.get_mut(key) {
                if let Some(i) = b.times.iter().rposition(|t| *t == ticket.at) {
                    b.times.remove(i);
                    self.stamps -= 1;
                }
            }
        }
    }

    /// The attempt failed (it is already counted). Returns how long the user is now locked
    /// out for, if this failure filled the user's bucket (for the log: a lockout starts).
    pub fn failed(&mut self, ticket: Ticket) -> Option<Duration> {
        self.counts.failures += 1;
        let (key, _, allowed) = ticket.buckets.iter().find(|(_, s, _)| *s == Scope::User)?;
        let b = self.buckets.get(key)?;
        let locked = b.times.len() == *allowed as usize;
        self.counts.lockouts += locked as u64;
        locked.then(|| Duration::from_millis(self.window_ms))
    }

    /// Forgets the failures counted against `user` so far (an admin's `redoubt user unlock`).
    pub fn unlock(&mut self, user: &str, now: Instant) {
        let at = self.ms(now);
        let window = self.window_ms;
        self.unlocked.retain(|_, t| at.saturating_sub(*t) < window);
        let key = self.user_key(user);
        self.unlocked.insert(key, at);
        self.prune(&key, at, Some(at));
    }

    fn push(&mut self, key: Key, at: u64, allowed: usize) {
        self.seq += 1;
        let seq = self.seq;
        if !self.buckets.contains_key(&key) {
            while self.buckets.len() >= MAX_BUCKETS {
                self.evict_oldest();
            }
            // Most buckets never see a second failure.
            self.buckets.insert(key, Bucket { times: VecDeque::with_capacity(allowed.min(2)), seq });
        }
        let b = self.buckets.get_mut(&key).expect("just inserted");
        b.seq = seq;
        b.times.push_back(at);
        self.stamps += 1;
        // Never more entries than can matter.
        while b.times.len() > allowed {
            b.times.pop_front();
            self.stamps -= 1;
        }
        self.lru.push_back((seq, key));
        while self.stamps > MAX_STAMPS {
            self.evict_oldest();
        }
        if self.lru.len() > self.buckets.len() + self.buckets.len() / 2 + 1024 {
            self.compact();
        }
    }

    /// Drops the least recently used bucket.
    fn evict_oldest(&mut self) {
        while let Some((seq, key)) = self.lru.pop_front() {
            if self.buckets.get(&key).is_some_and(|b| b.seq == seq) {
                let b = self.buckets.remove(&key).expect("present");
                self.stamps -= b.times.len();
                return;
            }
        }
    }

    /// Drops a few buckets whose every failure left the window: the LRU order is the order
    /// of last failures, so they are at its front.
    fn expire_some(&mut self, now_ms: u64) {
        for _ in 0..8 {
            let Some(&(seq, key)) = self.lru.front() else { return };
            match self.buckets.get(&key) {
                Some(b) if b.seq == seq => {
                    let expired = b.times.back().is_none_or(|t| now_ms.saturating_sub(*t) >= self.window_ms);
                    if !expired {
                        return;
                    }
                    let b = self.buckets.remove(&key).expect("present");
                    self.stamps -= b.times.len();
                }
                _ => {}
            }
            self.lru.pop_front();
        }
    }

    fn compact(&mut self) {
        let mut live: Vec<(u64, Key)> = self.buckets.iter().map(|(k, b)| (b.seq, *k)).collect();
        live.sort_unstable();
        self.lru = live.into();
    }

    /// Bytes held, from the capacities of every structure (a bound on the heap it uses).
    pub fn footprint(&self) -> usize {
        use std::mem::size_of;
        // A hashbrown table holds one control byte per slot besides the slot.
        let map = |cap: usize, slot: usize| (cap * 8 / 7).next_power_of_two() * (slot + 1);
        map(self.buckets.capacity(), size_of::<(Key, Bucket)>())
            + self.buckets.values().map(|b| b.times.capacity() * size_of::<u64>()).sum::<usize>()
            + self.lru.capacity() * size_of::<(u64, Key)>()
            + map(self.unlocked.capacity(), size_of::<(Key, u64)>())
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn fail(l: &mut Limiter, addr: &str, attempt: Attempt, t: Instant) -> Result<Option<Duration>, Refusal> {
        l.begin(addr, attempt, t).map(|ticket| l.failed(ticket))
    }

    #[test]
    fn the_sixth_attempt_waits_for_the_window() {
        let mut l = Limiter::new(5, S(20));
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(fail(&mut l, "1.2.3.4", Attempt::User("alice"), t0).is_ok(), "attempt {i}");
        }
        let r = l.begin("1.2.3.4", Attempt::User("alice"), t0).err().unwrap();
        assert_eq!(r.wait, S(20));
        assert!(!r.user_locked, "only the (address, user) bucket is full");
        assert!(l.begin("1.2.3.4", Attempt::User("alice"), t0 + S(19)).is_err());
        assert!(l.begin("1.2.3.4", Attempt::User("alice"), t0 + S(20)).is_ok());
        // Another address is not limited by the first one's failures.
        assert!(l.begin("5.6.7.8", Attempt::User("alice"), t0).is_ok());
    }

    #[test]
    fn successes_are_free_and_counting_is_one_step() {
        let mut l = Limiter::new(2, S(20));
        let t0 = Instant::now();
        for _ in 0..10 {
            let t = l.begin("a", Attempt::User("u"), t0).unwrap();
            l.succeeded(t);
        }
        // Two attempts in flight at once fill the bucket before either concludes.
        let a = l.begin("a", Attempt::User("u"), t0).unwrap();
        let b = l.begin("a", Attempt::User("u"), t0).unwrap();
        assert!(l.begin("a", Attempt::User("u"), t0).is_err(), "a third concurrent attempt is refused");
        l.succeeded(a);
        let _ = l.failed(b);
        assert!(l.begin("a", Attempt::User("u"), t0).is_ok());
    }

    #[test]
    fn inventing_addresses_hits_the_per_user_limit_and_the_lockout_is_reported_once() {
        let mut l = Limiter::new(5, S(20));
        let t0 = Instant::now();
        let mut started = 0;
        for i in 0..(5 * USER_FACTOR) {
            if fail(&mut l, &format!("10.0.0.{i}"), Attempt::User("bob"), t0).unwrap().is_some() {
                started += 1;
            }
        }
        assert_eq!(started, 1);
        let r = l.begin("10.9.9.9", Attempt::User("bob"), t0).err().unwrap();
        assert!(r.user_locked);
        let counts = l.counts();
        assert_eq!((counts.failures, counts.refused, counts.lockouts), (5 * USER_FACTOR as u64, 1, 1), "{counts:?}");
        assert!(l.begin("10.9.9.9", Attempt::User("carol"), t0).is_ok());
        // API keys do not go through the user's bucket.
        assert!(l.begin("10.9.9.9", Attempt::ApiKey, t0).is_ok());
        // An admin's unlock forgives the failures so far.
        l.unlock("bob", t0);
        assert!(l.begin("10.9.9.9", Attempt::User("bob"), t0 + Duration::from_millis(1)).is_ok());
    }

    #[test]
    fn spraying_many_users_from_one_address_is_limited() {
        let mut l = Limiter::new(5, S(20));
        let t0 = Instant::now();
        for i in 0..(5 * USER_FACTOR) {
            fail(&mut l, "6.6.6.6", Attempt::User(&format!("user{i}")), t0).unwrap();
        }
        assert!(l.begin("6.6.6.6", Attempt::User("fresh"), t0).is_err());
        assert!(l.begin("6.6.6.6", Attempt::ApiKey, t0).is_err(), "the address bucket covers keys too");
        assert!(l.begin("7.7.7.7", Attempt::User("fresh"), t0).is_ok());
    }

    #[test]
    fn bad_api_keys_lock_out_only_their_address() {
        let mut l = Limiter::new(5, S(20));
        let t0 = Instant::now();
        for i in 0..200 {
            let _ = fail(&mut l, &format!("10.1.{}.{}", i / 250, i % 250), Attempt::ApiKey, t0);
        }
        assert!(l.begin("192.0.2.1", Attempt::ApiKey, t0).is_ok());
        for _ in 0..(5 * USER_FACTOR) {
            fail(&mut l, "192.0.2.9", Attempt::ApiKey, t0).unwrap();
        }
        assert!(l.begin("192.0.2.9", Attempt::ApiKey, t0).is_err());
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64() {
        assert_eq!(address_group("2001:db8:1:2:aaaa::1"), address_group("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(address_group("2001:db8:1:2::1"), address_group("2001:db8:1:3::1"));
        assert_eq!(address_group("::ffff:192.0.2.1"), "192.0.2.1");
        let mut l = Limiter::new(5, S(20));
        let t0 = Instant::now();
        for i in 0..5 {
            fail(&mut l, &format!("2001:db8:1:2::{i:x}"), Attempt::User("alice"), t0).unwrap();
        }
        assert!(l.begin("2001:db8:1:2::99", Attempt::User("alice"), t0).is_err());
    }

    #[test]
    fn a_million_long_names_keep_memory_bounded_and_other_counters() {
        let mut l = Limiter::new(5, S(20));
        let t0 = Instant::now();
        // A victim's failures, from its own address: one more is allowed.
        for _ in 0..4 {
            fail(&mut l, "192.0.2.7", Attempt::User("victim"), t0).unwrap();
        }
        // A million distinct 4 KiB names from one address: the spraying bucket stops them
        // after a few, before they can take room.
        let mut name = "x".repeat(4096);
        for i in 0..1_000_000u32 {
            name.replace_range(..8, &format!("{i:08}"));
            let _ = fail(&mut l, "203.0.113.5", Attempt::User(&crate::broker::names::key(&name)), t0);
        }
        assert!(l.len() < 100, "{} buckets", l.len());
        fail(&mut l, "192.0.2.7", Attempt::User("victim"), t0).unwrap();
        assert!(l.begin("192.0.2.7", Attempt::User("victim"), t0).is_err(), "the victim's counter was kept");
        // From invented addresses (a lying front), far past the bucket cap: bounded, least
        // recently used out first.
        // A new address and a new name each time: three new buckets an attempt.
        for i in 0..(4 * MAX_BUCKETS as u32) {
            let addr = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            let _ = fail(&mut l, &addr, Attempt::User(&format!("{i}{}", &name[..64])), t0);
        }
        assert_eq!(l.len(), MAX_BUCKETS, "full, and no more");
        let bytes = l.footprint();
        eprintln!(
            "after the flood: {} buckets (map capacity {}), {} stored failures, lru {} of {}, {bytes} bytes",
            l.len(),
            l.buckets.capacity(),
            l.stamps,
            l.lru.len(),
            l.lru.capacity()
        );
        // hashbrown doubles its table rather than rehash in place when more than half full,
        // so a full limiter settles at 131,072 slots: about 10 MB in all.
        assert!(bytes < 12 << 20, "limiter holds {bytes} bytes");
    }

    #[test]
    fn zero_disables() {
        let mut l = Limiter::new(0, S(20));
        for _ in 0..100 {
            fail(&mut l, "a", Attempt::User("b"), Instant::now()).unwrap();
        }
        assert!(l.begin("a", Attempt::User("b"), Instant::now()).is_ok());
        assert!(l.is_empty());
    }
}
