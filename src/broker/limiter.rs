//! Sliding-window limit on failed credential checks (SECURITY.md T3).
//!
//! Two counters per attempt: (client address, lower-cased user) with `limit` failures per
//! window, and the user alone with four times that, so that a compromised front inventing
//! client addresses still cannot guess at full speed. Only failures count; while a key is
//! over its limit every attempt is refused, right password or not.
#![forbid(unsafe_code)]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Keys tracked at most; beyond it the stalest are dropped (memory stays bounded).
const MAX_KEYS: usize = 100_000;
/// How much more the per-user counter allows than the per-address one.
pub const USER_FACTOR: u32 = 4;

pub struct Limiter {
    limit: u32,
    window: Duration,
    failures: HashMap<String, VecDeque<Instant>>,
}

impl Limiter {
    /// `limit == 0` or a zero window disables limiting.
    pub fn new(limit: u32, window: Duration) -> Limiter {
        Limiter { limit, window, failures: HashMap::new() }
    }

    fn keys(addr: &str, user: &str) -> [(String, u32); 2] {
        let user = user.to_lowercase();
        [(format!("{addr}\u{0}{user}"), 1), (format!("\u{0}user\u{0}{user}"), USER_FACTOR)]
    }

    fn disabled(&self) -> bool {
        self.limit == 0 || self.window.is_zero()
    }

    /// Ok, or how long until the next attempt may be made.
    pub fn check(&mut self, addr: &str, user: &str, now: Instant) -> Result<(), Duration> {
        if self.disabled() {
            return Ok(());
        }
        let mut wait = Duration::ZERO;
        for (key, factor) in Self::keys(addr, user) {
            if let Some(q) = self.failures.get_mut(&key) {
                while q.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                    q.pop_front();
                }
                let allowed = (self.limit * factor) as usize;
                if q.len() >= allowed {
                    // Free again when enough of the oldest failures have left the window.
                    let oldest_that_must_expire = q[q.len() - allowed];
                    wait = wait.max(self.window.saturating_sub(now.duration_since(oldest_that_must_expire)));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait.max(Duration::from_secs(1)))
        }
    }

    pub fn fail(&mut self, addr: &str, user: &str, now: Instant) {
        if self.disabled() {
            return;
        }
        if self.failures.len() >= MAX_KEYS {
            let window = self.window;
            self.failures.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
            if self.failures.len() >= MAX_KEYS {
                self.failures.clear();
            }
        }
        for (key, factor) in Self::keys(addr, user) {
            let q = self.failures.entry(key).or_default();
            q.push_back(now);
            // Never more entries than can matter.
            while q.len() > (self.limit * factor) as usize {
                q.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_attempt_waits_for_the_window() {
        let mut l = Limiter::new(5, Duration::from_secs(20));
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(l.check("1.2.3.4", "Alice", t0).is_ok(), "attempt {i}");
            l.fail("1.2.3.4", "alice", t0);
        }
        let wait = l.check("1.2.3.4", "ALICE", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert!(l.check("1.2.3.4", "alice", t0 + Duration::from_secs(19)).is_err());
        assert!(l.check("1.2.3.4", "alice", t0 + Duration::from_secs(20)).is_ok());
        // Another address is not limited by the first one's failures...
        assert!(l.check("5.6.7.8", "alice", t0).is_ok());
    }

    #[test]
    fn inventing_addresses_hits_the_per_user_limit() {
        let mut l = Limiter::new(5, Duration::from_secs(20));
        let t0 = Instant::now();
        for i in 0..(5 * USER_FACTOR) {
            let addr = format!("10.0.0.{i}");
            assert!(l.check(&addr, "bob", t0).is_ok());
            l.fail(&addr, "bob", t0);
        }
        assert!(l.check("10.9.9.9", "bob", t0).is_err());
        assert!(l.check("10.9.9.9", "carol", t0).is_ok());
    }

    #[test]
    fn zero_disables() {
        let mut l = Limiter::new(0, Duration::from_secs(20));
        for _ in 0..100 {
            l.fail("a", "b", Instant::now());
        }
        assert!(l.check("a", "b", Instant::now()).is_ok());
    }
}
