//! Security events (the admin UI's security page): written where each happens (the store's
//! login checks, the transcoding admin calls, the front's refused ExtAuth headers, the
//! supervisor's restarts), kept bounded (the newest [`MAX_EVENTS`] rows), and read only by
//! an admin. No event holds a password, token or key: who, from where, and what happened.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use crate::proto::admin::{EventKind, SecurityEvent, MAX_EVENTS};

/// Text fields are cut to this many characters (a user name is whatever a client sent).
const FIELD_MAX: usize = 200;

fn cut(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(FIELD_MAX).collect()
}

/// Records one event and deletes what falls beyond the newest [`MAX_EVENTS`]. A failure is
/// logged, never passed on: an event cannot make the request it describes fail.
pub fn record(conn: &Connection, kind: EventKind, user: &str, source: &str, detail: &str) {
    let r = conn
        .execute(
            "INSERT INTO security_events (at, kind, user, source, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![super::db::now(), kind.name(), cut(user), cut(source), cut(detail)],
        )
        .and_then(|_| {
            conn.execute(
                "DELETE FROM security_events WHERE id <= (SELECT max(id) FROM security_events) - ?1",
                [MAX_EVENTS as i64],
            )
        });
    if let Err(e) = r {
        tracing::warn!("cannot record a security event ({}): {e}", kind.name());
    }
}

/// The newest events, newest first.
pub fn newest(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<SecurityEvent>> {
    let mut st =
        conn.prepare_cached("SELECT at, kind, user, source, detail FROM security_events ORDER BY id DESC LIMIT ?1")?;
    let rows = st.query_map([limit.min(MAX_EVENTS) as i64], |r| {
        let kind: String = r.get(1)?;
        Ok((r.get(0)?, kind, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, kind, user, source, detail): (i64, String, String, String, String) = row?;
        // A kind a newer redoubt wrote is left out rather than misnamed.
        if let Some(kind) = EventKind::from_name(&kind) {
            out.push(SecurityEvent { at, kind, user, source, detail });
        }
    }
    Ok(out)
}

/// How many of the front's reports are recorded per minute: the front is the role most
/// exposed, and a compromised one could otherwise push every other event out of the table.
pub const FRONT_REPORTS_PER_MINUTE: u32 = 20;

/// The budget of the front's reports: [`FRONT_REPORTS_PER_MINUTE`] in the minute from the
/// first report of a window; those beyond it are counted, and the next recorded one says how
/// many were dropped.
#[derive(Default)]
pub struct Budget {
    /// The window's start, the reports recorded in it, the reports dropped since the last one
    /// recorded.
    state: Mutex<(Option<Instant>, u32, u64)>,
}

impl Budget {
    /// Some(dropped since the last recorded report) if this one may be recorded.
    pub fn take(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0.is_none_or(|start| now.duration_since(start) >= Duration::from_secs(60)) {
            s.0 = Some(now);
            s.1 = 0;
        }
        if s.1 >= FRONT_REPORTS_PER_MINUTE {
            s.2 += 1;
            return None;
        }
        s.1 += 1;
        Some(std::mem::take(&mut s.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (std::path::PathBuf, Connection) {
        let dir = std::env::temp_dir().join(format!("redoubt-test-events-{}", super::super::db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = super::super::db::open(&super::super::db::path(&dir)).unwrap();
        (dir, conn)
    }

    /// docs/security.md T27: the table keeps the newest MAX_EVENTS rows, whatever comes.
    #[test]
    fn events_are_bounded_to_the_newest() {
        let (dir, conn) = db();
        for i in 0..(MAX_EVENTS + 25) {
            record(&conn, EventKind::FailedLogin, &format!("u{i}"), "10.0.0.1", "wrong password");
        }
        let n: i64 = conn.query_row("SELECT count(*) FROM security_events", [], |r| r.get(0)).unwrap();
        assert_eq!(n, MAX_EVENTS as i64);
        let newest = newest(&conn, 3).unwrap();
        assert_eq!(newest.len(), 3);
        assert_eq!(newest[0].user, format!("u{}", MAX_EVENTS + 24), "newest first");
        assert_eq!(newest[0].kind, EventKind::FailedLogin);
        // Control characters and overlong fields are cut.
        record(&conn, EventKind::ExtAuthRefused, &"x".repeat(5000), "a\nb", "d");
        let e = &super::newest(&conn, 1).unwrap()[0];
        assert_eq!((e.user.len(), e.source.as_str()), (FIELD_MAX, "ab"));
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// docs/security.md T27: a flood of the front's reports records at most the budget per
    /// minute, and the next recorded one says how many were dropped.
    #[test]
    fn the_fronts_reports_are_rate_limited() {
        let b = Budget::default();
        let t0 = Instant::now();
        let taken = (0..100).filter(|_| b.take(t0).is_some()).count();
        assert_eq!(taken, FRONT_REPORTS_PER_MINUTE as usize);
        assert_eq!(b.take(t0 + Duration::from_secs(61)), Some(100 - FRONT_REPORTS_PER_MINUTE as u64));
        assert_eq!(b.take(t0 + Duration::from_secs(62)), Some(0));
    }
}
