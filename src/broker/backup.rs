//! Backups of the database with SQLite's online backup API (Backup.Path, Backup.Schedule,
//! Backup.Count; `redoubt backup create|list|restore`).
//!
//! A backup is one copy of every page made in a single step from the broker's writer
//! connection while the broker holds it: no write can land in the middle, so the copy is
//! a consistent database holding every write committed before it began, while API reads go
//! on (they use the read-only connections). It is written to a hidden `.partial` file, made
//! a self-contained rollback-journal database (no WAL beside it), given mode 0600, synced,
//! and renamed into place; then the oldest backups beyond Backup.Count are removed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::Connection;

const PREFIX: &str = "redoubt-backup-";
const SUFFIX: &str = ".db";

/// `redoubt-backup-2026-12-01T14-30-00.123Z.db`: sortable by name, one per millisecond.
fn file_name(at: SystemTime) -> String {
    let d = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let day = crate::dates::iso8601(d.as_secs()).replace(':', "-");
    let day = day.trim_end_matches('Z');
    format!("{PREFIX}{day}.{:03}Z{SUFFIX}", d.subsec_millis())
}

/// Copies the database behind `src` into a new backup in `dir`; returns its path. Prunes
/// to `count` backups afterwards (0: keep all).
pub fn create(src: &Connection, dir: &Path, count: usize) -> Result<PathBuf, String> {
    let mut at = SystemTime::now();
    let mut path = dir.join(file_name(at));
    while path.exists() {
        at += Duration::from_millis(1);
        path = dir.join(file_name(at));
    }
    let partial = dir.join(format!(".{}.partial", file_name(at)));
    let _ = std::fs::remove_file(&partial);
    let shown = |e: &dyn std::fmt::Display| format!("backup {}: {e}", path.display());
    let result = (|| -> Result<(), String> {
        // Created 0600 before a byte is written (the umask is 077 too).
        std::fs::OpenOptions::new().write(true).create_new(true).mode_0600().open(&partial).map_err(|e| shown(&e))?;
        let mut dst = Connection::open(&partial).map_err(|e| shown(&e))?;
        {
            let b = rusqlite::backup::Backup::new(src, &mut dst).map_err(|e| shown(&e))?;
            // Every page in one step: one read of a consistent snapshot.
            b.run_to_completion(std::os::raw::c_int::MAX, Duration::ZERO, None).map_err(|e| shown(&e))?;
        }
        // Requests that were queued are the live daemon's business, not the backup's.
        dst.execute("DELETE FROM backup_requests", []).map_err(|e| shown(&e))?;
        let _: String = dst.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0)).map_err(|e| shown(&e))?;
        drop(dst);
        // fchmod on the open file (the broker's seccomp filter has no chmod by path).
        std::fs::File::open(&partial)
            .and_then(|f| {
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                f.sync_all()
            })
            .map_err(|e| shown(&e))?;
        std::fs::rename(&partial, &path).map_err(|e| shown(&e))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    prune(dir, count);
    Ok(path)
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

/// The backups in `dir`, oldest first, with their sizes.
pub fn list(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out: Vec<(PathBuf, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX)))
        .filter_map(|e| Some((e.path(), e.metadata().ok().filter(|m| m.is_file())?.len())))
        .collect();
    out.sort();
    out
}

/// Removes the oldest backups beyond `count` (0: keep all).
pub fn prune(dir: &Path, count: usize) {
    if count == 0 {
        return;
    }
    let all = list(dir);
    for (old, _) in all.iter().take(all.len().saturating_sub(count)) {
        match std::fs::remove_file(old) {
            Ok(()) => tracing::info!("removed the old backup {}", old.display()),
            Err(e) => tracing::warn!("cannot remove the old backup {}: {e}", old.display()),
        }
    }
}

/// Checks a backup before it replaces the database: `PRAGMA integrity_check` says ok, and
/// its schema is one this build knows.
pub fn check(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let verdict: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| format!("{}: not a readable database: {e}", path.display()))?;
    if verdict != ["ok"] {
        return Err(format!("{}: the integrity check failed: {}", path.display(), verdict.join("; ")));
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| e.to_string())?;
    if version > super::db::SCHEMA_VERSION {
        return Err(format!(
            "{}: made by a newer redoubt (schema {version}, this one knows {}); restore it with that version",
            path.display(),
            super::db::SCHEMA_VERSION
        ));
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_prune_keeps_the_newest() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_135_936_123);
        let n = file_name(t);
        assert!(n.starts_with(PREFIX) && n.ends_with(".123Z.db") && !n.contains(':'), "{n}");
        let dir = std::env::temp_dir().join(format!("redoubt-backup-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = Connection::open(dir.join("src.db")).unwrap();
        src.execute_batch(
            "CREATE TABLE backup_requests (id INTEGER PRIMARY KEY); CREATE TABLE t (x); INSERT INTO t VALUES (1);",
        )
        .unwrap();
        let made: Vec<PathBuf> = (0..4).map(|_| create(&src, &dir, 3).unwrap()).collect();
        let left: Vec<PathBuf> = list(&dir).into_iter().map(|(p, _)| p).collect();
        assert_eq!(left, made[1..].to_vec());
        for p in &left {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
            let c = check(p).unwrap();
            assert_eq!(c.query_row("SELECT x FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
