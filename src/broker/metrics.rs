//! The broker's side of the metrics endpoint: a snapshot of what it counts (scans, failed
//! credential checks, transcodes, the database's size) and of what the supervisor tells it
//! (role restarts). The front turns it into Prometheus text (`front::metrics`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::Broker;
use crate::proto::metrics::BrokerMetrics;
use crate::proto::Role;

/// Distinct (role, cause) pairs kept at most: causes come from the supervisor and are few,
/// but the broker bounds what it keeps whatever it is told.
const MAX_RESTART_SERIES: usize = 64;

#[derive(Default)]
pub struct Counts {
    restarts: Mutex<HashMap<(Role, String), u64>>,
}

impl Counts {
    /// The supervisor restarts `role` after a death of this `cause`.
    pub fn restarted(&self, role: Role, cause: &str) {
        let mut r = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        let key = (role, cause.to_string());
        if r.len() >= MAX_RESTART_SERIES && !r.contains_key(&key) {
            tracing::debug!("restart cause {cause:?} not counted: too many distinct causes");
            return;
        }
        *r.entry(key).or_insert(0) += 1;
    }

    pub fn snapshot(&self, broker: &Broker) -> BrokerMetrics {
        let restarts = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        BrokerMetrics {
            scans: broker.scans.counts(),
            auth: broker.store.auth_counts(),
            transcodes: broker.media.transcode_counts(),
            restarts: restarts.iter().map(|((role, cause), n)| (*role, cause.clone(), *n)).collect(),
            database_bytes: database_bytes(&super::db::path(&broker.data_folder)),
        }
    }
}

/// The database file and its write-ahead log (what the data folder's disk holds for it).
fn database_bytes(db: &std::path::Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), wal.into()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_are_counted_by_role_and_cause_within_a_bound() {
        let c = Counts::default();
        c.restarted(Role::Scanner, "sigkill");
        c.restarted(Role::Scanner, "sigkill");
        c.restarted(Role::Front, "exit");
        for i in 0..200 {
            c.restarted(Role::Transcoder, &format!("cause{i}"));
        }
        let r = c.restarts.lock().unwrap();
        assert_eq!(r.len(), MAX_RESTART_SERIES);
        assert_eq!(r[&(Role::Scanner, "sigkill".to_string())], 2);
        assert_eq!(r[&(Role::Front, "exit".to_string())], 1);
    }
}
