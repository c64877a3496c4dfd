//! The SQLite database: opened only by the broker (and the offline `redoubt user|key|apikey`
//! commands), WAL, foreign keys on, versioned migrations applied in one transaction each.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_users", include_str!("migrations/0001_users.sql")),
    ("0002_library", include_str!("migrations/0002_library.sql")),
    ("0003_userdata", include_str!("migrations/0003_userdata.sql")),
    ("0004_media", include_str!("migrations/0004_media.sql")),
    ("0005_search_prefixes", include_str!("migrations/0005_search_prefixes.sql")),
    ("0006_user_names", include_str!("migrations/0006_user_names.sql")),
    ("0007_unknown_albums", include_str!("migrations/0007_unknown_albums.sql")),
    ("0008_backup_requests", include_str!("migrations/0008_backup_requests.sql")),
    ("0009_security_events", include_str!("migrations/0009_security_events.sql")),
    ("0010_shares", include_str!("migrations/0010_shares.sql")),
    ("0011_album_fields_and_lyrics", include_str!("migrations/0011_album_fields_and_lyrics.sql")),
    ("0012_folder_access", include_str!("migrations/0012_folder_access.sql")),
    ("0014_housekeeping", include_str!("migrations/0014_housekeeping.sql")),
    ("0013_smart_playlists", include_str!("migrations/0013_smart_playlists.sql")),
    ("0015_list_indexes", include_str!("migrations/0015_list_indexes.sql")),
    ("0016_stale_figures", include_str!("migrations/0016_stale_figures.sql")),
    ("0017_present_tracks_in_order", include_str!("migrations/0017_present_tracks_in_order.sql")),
    ("0018_album_order_version", include_str!("migrations/0018_album_order_version.sql")),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn path(data_folder: &Path) -> PathBuf {
    data_folder.join("redoubt.db")
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database {path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("database {path}: {full}. Free some space and try again.")]
    Full { path: String, full: String },
    #[error(
        "database {path} has schema version {found}, but this redoubt knows only up to {known}: it was \
         written by a newer redoubt. Run that version, or restore a backup made before the upgrade."
    )]
    TooNew { path: String, found: i64, known: i64 },
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> DbError + '_ {
    move |source| match disk_full(&source, path.parent().unwrap_or(Path::new("."))) {
        Some(full) => DbError::Full { path: path.display().to_string(), full },
        None => DbError::Sqlite { path: path.display().to_string(), source },
    }
}

/// Free bytes on the filesystem holding `folder` (for unprivileged users), if it can tell.
pub fn free_bytes(folder: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(folder).ok()?;
    Some(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// Below this, a write error in the data folder is taken for a full disk: SQLite reports some
/// failed writes as "disk I/O error" (growing the WAL index at open, for one), whatever the
/// errno was.
const NEARLY_FULL: u64 = 256 * 1024;

fn full_sentence(folder: &Path, free: Option<u64>) -> String {
    match free {
        Some(n) => format!("disk full: the filesystem holding {} has {} KiB free", folder.display(), n / 1024),
        None => format!("disk full: the filesystem holding {} has no room left", folder.display()),
    }
}

/// "disk full: …" if `e` is SQLite failing for want of space in `folder`.
pub fn disk_full(e: &rusqlite::Error, folder: &Path) -> Option<String> {
    use rusqlite::ErrorCode;
    let rusqlite::Error::SqliteFailure(f, _) = e else { return None };
    let free = free_bytes(folder);
    match f.code {
        ErrorCode::DiskFull => Some(full_sentence(folder, free)),
        ErrorCode::SystemIoFailure | ErrorCode::CannotOpen if free.is_some_and(|n| n < NEARLY_FULL) => {
            Some(full_sentence(folder, free))
        }
        _ => None,
    }
}

/// A database error as a plain sentence (never Rust's debug form), naming a full disk as such.
pub fn explain(e: &rusqlite::Error, folder: &Path) -> String {
    disk_full(e, folder).unwrap_or_else(|| e.to_string())
}

/// The same for a file error in the data folder.
pub fn explain_io(e: &std::io::Error, folder: &Path) -> String {
    if e.raw_os_error() == Some(nix::libc::ENOSPC) || e.raw_os_error() == Some(nix::libc::EDQUOT) {
        return full_sentence(folder, free_bytes(folder));
    }
    e.to_string()
}

/// Opens (creating if needed) and migrates the database.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let err = sql(path);
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(&err)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(&err)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(&err)?;
    if version > SCHEMA_VERSION {
        return Err(DbError::TooNew { path: path.display().to_string(), found: version, known: SCHEMA_VERSION });
    }
    conn.pragma_update(None, "journal_mode", "WAL").map_err(&err)?;
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(&err)?;
    // Temporary tables and statement journals in memory: the broker's sandbox grants no
    // /tmp, and big transactions (a scan batch) would otherwise need a temp file there.
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(&err)?;
    tune(&conn).map_err(&err)?;
    // The write-ahead log is copied into the database every 64 MiB instead of every 4 MiB: a
    // scan batch rewrites the same index pages, and each copy (with its fsync) was 16% of a
    // full scan. A scan ends with a checkpoint of its own (ingest::finish_scan).
    conn.pragma_update(None, "wal_autocheckpoint", 16384).map_err(&err)?;
    for (i, (name, text)) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(&err)?;
        tx.execute_batch(text).map_err(&err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(&err)?;
        tx.commit().map_err(&err)?;
        tracing::info!("database: applied migration {name}");
    }
    Ok(conn)
}

/// A read-only connection to an existing (already migrated) database.
pub fn open_reader(path: &Path) -> Result<Connection, DbError> {
    let err = sql(path);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(&err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(&err)?;
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(&err)?;
    tune(&conn).map_err(&err)?;
    Ok(conn)
}

/// What every connection shares. Pages are read straight from the mapped file instead of
/// copied into a private cache; the page cache holds what a scan batch dirties (with less,
/// SQLite spills and re-reads pages mid-transaction); and prepared statements stay prepared:
/// a scan batch alone uses about thirty, and with rusqlite's default of 16 they were parsed
/// again on every track (14% of a full scan).
fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
    conn.pragma_update(None, "cache_size", -16384i64)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

pub fn meta_get(conn: &Connection, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()
}

pub fn meta_set(conn: &Connection, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        rusqlite::params![key, value],
    )
    .map(drop)
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// An opaque id for a library row (a track, album or artist; 16 bytes, hex) that sorts by
/// when it was made: 6 bytes of milliseconds, then 10 random ones (as UUIDv7 lays them out).
/// A scan inserts them next to each other in every index keyed by them, where random ids
/// touched a page anywhere in each index per track. Not for secrets: [`new_id`] is.
pub fn new_row_id() -> String {
    let mut b = [0u8; 16];
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    b[..6].copy_from_slice(&(ms as u64).to_be_bytes()[2..]);
    getrandom::getrandom(&mut b[6..]).expect("the kernel's random source");
    hex::encode(b)
}

/// A random opaque id (16 bytes, hex).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("the kernel's random source");
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_a_newer_schema() {
        let dir = std::env::temp_dir().join(format!("redoubt-db-{}", new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = path(&dir);
        let c = open(&p).unwrap();
        let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let fk: i64 = c.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        drop(c);
        open(&p).unwrap();
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(c);
        let e = open(&p).unwrap_err().to_string();
        assert!(e.contains("written by a newer redoubt"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
