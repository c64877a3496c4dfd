//! getAlbumList2's library-wide orders (alphabeticalByName, alphabeticalByArtist, newest)
//! kept in memory as album rowids, so that a page at any offset costs its own rows. SQLite's
//! OFFSET walks every row before the page: at a million tracks (100,000 albums) a page deep
//! in alphabeticalByName read up to 100,000 index entries, and newest sorted every album.
//!
//! An order is reused only while `album_order_version` (migration 0018, kept by triggers on
//! `albums`), read in the page's own read transaction, is the number it was built at; else it
//! is built again in that transaction. So a page is the albums the OFFSET query gives in the
//! same snapshot, in the same order (each ORDER BY ends on a unique column). It holds about
//! 8 bytes an album per order. Only for a user who sees every folder and names no music
//! folder: anyone else's list is filtered album by album, by SQL (browse::Library::album_list).

use std::sync::{Arc, Mutex};

use rusqlite::Connection;

/// An order the broker keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    ByName,
    ByArtist,
    Newest,
}

impl Order {
    pub const ALL: [Order; 3] = [Order::ByName, Order::ByArtist, Order::Newest];

    /// The order over `albums al`, as every getAlbumList2 of its kind sorts, kept or not.
    pub fn sql(self) -> &'static str {
        match self {
            Order::ByName => "coalesce(al.sort_name, al.name) COLLATE NOCASE, al.id",
            Order::ByArtist => "al.artist_name COLLATE NOCASE, al.name COLLATE NOCASE, al.id",
            Order::Newest => "al.created_at DESC, al.rowid DESC",
        }
    }

    fn slot(self) -> usize {
        match self {
            Order::ByName => 0,
            Order::ByArtist => 1,
            Order::Newest => 2,
        }
    }
}

struct Built {
    version: i64,
    rowids: Arc<[i64]>,
}

/// The orders, each built at most once per `album_order_version`.
#[derive(Default)]
pub struct AlbumOrders {
    built: [Mutex<Option<Built>>; 3],
}

impl AlbumOrders {
    /// The rowids of the listed albums at `offset..offset + size` in `order`, as the snapshot
    /// of `conn`'s open read transaction has them (an error outside one: the version and the
    /// page must be read in one snapshot).
    pub fn page(&self, conn: &Connection, order: Order, offset: u32, size: u32) -> rusqlite::Result<Vec<i64>> {
        if conn.is_autocommit() {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
                Some("a kept album order was read outside a read transaction".into()),
            ));
        }
        let version: i64 = conn.prepare_cached("SELECT v FROM album_order_version")?.query_row([], |r| r.get(0))?;
        let rowids = {
            // Held while building: the other requests for this order wait for it rather than
            // each walking the whole index.
            let mut slot = self.built[order.slot()].lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(b) if b.version == version => b.rowids.clone(),
                _ => {
                    let rowids = build(conn, order)?;
                    *slot = Some(Built { version, rowids: rowids.clone() });
                    rowids
                }
            }
        };
        let start = (offset as usize).min(rowids.len());
        let end = start.saturating_add(size as usize).min(rowids.len());
        Ok(rowids[start..end].to_vec())
    }
}

/// Every listed album (with songs) in `order`.
fn build(conn: &Connection, order: Order) -> rusqlite::Result<Arc<[i64]>> {
    let sql = format!("SELECT al.rowid FROM albums al WHERE al.song_count > 0 ORDER BY {}", order.sql());
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], |r| r.get(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::db;

    fn database() -> (std::path::PathBuf, Connection) {
        let dir = std::env::temp_dir().join(format!("redoubt-album-order-{}", db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = db::open(&db::path(&dir)).unwrap();
        (dir, conn)
    }

    fn version(conn: &Connection) -> i64 {
        conn.query_row("SELECT v FROM album_order_version", [], |r| r.get(0)).unwrap()
    }

    fn add(conn: &Connection, id: &str, name: &str, artist: &str, created: i64, songs: i64) {
        conn.execute(
            "INSERT INTO albums (id, key, name, artist_name, created_at, song_count) VALUES (?1, ?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![id, name, artist, created, songs],
        )
        .unwrap();
    }

    /// What the OFFSET query gives: the reference every kept page must equal.
    fn by_offset(conn: &Connection, order: Order, offset: u32, size: u32) -> Vec<i64> {
        let sql = format!(
            "SELECT al.rowid FROM albums al WHERE al.song_count > 0 ORDER BY {} LIMIT ?1 OFFSET ?2",
            order.sql()
        );
        conn.prepare(&sql).unwrap().query_map([size, offset], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    fn kept(orders: &AlbumOrders, conn: &Connection, order: Order, offset: u32, size: u32) -> Vec<i64> {
        conn.execute_batch("BEGIN").unwrap();
        let page = orders.page(conn, order, offset, size).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        page
    }

    fn assert_every_page_matches(orders: &AlbumOrders, conn: &Connection) {
        for order in Order::ALL {
            for (offset, size) in [(0, 500), (0, 3), (3, 4), (7, 1), (9, 5), (12, 2), (400, 10)] {
                assert_eq!(
                    kept(orders, conn, order, offset, size),
                    by_offset(conn, order, offset, size),
                    "{order:?} at {offset}, {size}"
                );
            }
        }
    }

    /// The writes that move an album in an order, or in or out of the lists, change the
    /// version, and so does every insert; the others (figures, years, genres) leave it, so a
    /// rescan that changes nothing that orders albums keeps the orders.
    #[test]
    fn the_version_changes_exactly_when_an_order_may() {
        let (dir, conn) = database();
        add(&conn, "a", "Alpha", "Zed", 5, 0);
        let mut v = version(&conn);
        let mut expect = |conn: &Connection, sql: &str, changes: bool| {
            conn.execute_batch(sql).unwrap();
            let now = version(conn);
            assert_eq!(now != v, changes, "{sql}");
            v = now;
        };
        expect(&conn, "UPDATE albums SET song_count = 3 WHERE id = 'a'", true);
        expect(&conn, "UPDATE albums SET song_count = 7, duration_ms = 9, year = 1999, genre_list = 'x'", false);
        expect(&conn, "UPDATE albums SET name = 'Beta'", true);
        expect(&conn, "UPDATE albums SET name = 'Beta'", false);
        expect(&conn, "UPDATE albums SET sort_name = 'Alpha'", true);
        expect(&conn, "UPDATE albums SET sort_name = NULL", true);
        expect(&conn, "UPDATE albums SET artist_name = 'Ann'", true);
        expect(&conn, "UPDATE albums SET created_at = 6", true);
        expect(&conn, "UPDATE albums SET id = 'b'", true);
        // Any insert, listed or not: it may be a REPLACE, whose deletion fires no trigger.
        expect(&conn, "INSERT INTO albums (id, key, name, created_at) VALUES ('c', 'c', 'C', 1)", true);
        expect(&conn, "INSERT INTO albums (id, key, name, created_at, song_count) VALUES ('d', 'd', 'D', 1, 2)", true);
        expect(&conn, "DELETE FROM albums WHERE id = 'c'", false);
        expect(&conn, "UPDATE albums SET song_count = 0 WHERE id = 'd'", true);
        expect(&conn, "UPDATE albums SET song_count = 4 WHERE id = 'd'", true);
        expect(&conn, "DELETE FROM albums WHERE id = 'd'", true);
        expect(&conn, "INSERT OR REPLACE INTO albums (id, key, name, created_at) VALUES ('b', 'b', 'B', 1)", true);
        expect(&conn, "BEGIN; UPDATE albums SET name = 'Gone'; ROLLBACK", false);
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Every page of every kept order equals the OFFSET query's, before and after writes
    /// that reorder, add and remove albums (the orders are built again, not served stale).
    #[test]
    fn kept_pages_equal_the_offset_query_through_changes() {
        let (dir, conn) = database();
        let names = ["delta", "Alpha", "charlie", "Bravo", "écho", "alpha", "Zulu", "yankee", "10", "9", "", "mike"];
        for (i, name) in names.iter().enumerate() {
            let artist = names[(i * 5) % names.len()];
            // Two albums per second, as a scan creates them: the newest order's ties.
            add(&conn, &format!("al{i:02}"), name, artist, (i / 2) as i64, (i % 4) as i64);
        }
        conn.execute("UPDATE albums SET sort_name = 'aardvark' WHERE id = 'al06'", []).unwrap();
        let orders = AlbumOrders::default();
        assert_every_page_matches(&orders, &conn);
        for change in [
            "UPDATE albums SET name = 'Omega' WHERE id = 'al01'",
            "UPDATE albums SET song_count = 0 WHERE id = 'al02'",
            "UPDATE albums SET song_count = 1 WHERE id = 'al04'",
            "UPDATE albums SET sort_name = NULL WHERE id = 'al06'",
            "UPDATE albums SET artist_name = 'AAA' WHERE id = 'al09'",
            "UPDATE albums SET created_at = 100 WHERE id = 'al03'",
            "INSERT INTO albums (id, key, name, artist_name, created_at, song_count) VALUES ('al99', 'k99', 'Bravo', 'x', 3, 2)",
            "DELETE FROM albums WHERE id = 'al05'",
        ] {
            conn.execute_batch(change).unwrap();
            assert_every_page_matches(&orders, &conn);
        }
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A page read outside a transaction could pair one snapshot's version with another's
    /// rows; it is refused.
    #[test]
    fn a_page_outside_a_read_transaction_is_refused() {
        let (dir, conn) = database();
        assert!(AlbumOrders::default().page(&conn, Order::ByName, 0, 10).is_err());
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }
}
