//! Per-user library access: the one place that says which library rows a user may see.
//!
//! An admin grants each user some music folders (`redoubt user folders`, Subsonic
//! `createUser`/`updateUser` `musicFolderId`); users nobody restricted, and admins, see every
//! folder (migration 0012). A song is visible if its file lies in one of the user's folders;
//! an album or an artist if one of its present songs is. Everything else answers as if it did
//! not exist (error 70, or left out of a list): never "forbidden", which would say it exists.
//!
//! Every read of the library takes its condition from here, as SQL built from constant pieces
//! (the caller names its table alias and the parameter holding the user id; no value is ever
//! spliced in). For a user who sees everything the conditions are one constant subquery,
//! which SQLite evaluates once per statement.

use rusqlite::Connection;

use crate::proto::error::{internal, not_found};
use crate::proto::{ApiError, FolderAccess};

/// True for a user who sees every folder. Constant within a statement (no outer reference).
fn sees_all(user: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM users vu WHERE vu.id = {user} AND (vu.is_admin = 1 \
         OR NOT EXISTS (SELECT 1 FROM folder_restrictions vr WHERE vr.user_id = vu.id)))"
    )
}

/// The track row `t` lies in a folder `user` may see.
pub fn track(t: &str, user: &str) -> String {
    format!(
        "({} OR EXISTS (SELECT 1 FROM folders vf JOIN folder_grants vg ON vg.music_folder_id = vf.music_folder_id \
         WHERE vf.id = {t}.folder_id AND vg.user_id = {user}))",
        sees_all(user)
    )
}

/// The album row `al` has a present track `user` may see.
pub fn album(al: &str, user: &str) -> String {
    format!(
        "({} OR EXISTS (SELECT 1 FROM tracks vt JOIN folders vf ON vf.id = vt.folder_id \
         JOIN folder_grants vg ON vg.music_folder_id = vf.music_folder_id \
         WHERE vt.album_id = {al}.id AND vt.missing = 0 AND vg.user_id = {user}))",
        sees_all(user)
    )
}

/// The artist row `ar` has a present track (as artist or album artist) `user` may see.
pub fn artist(ar: &str, user: &str) -> String {
    format!(
        "({} OR EXISTS (SELECT 1 FROM track_artists va JOIN tracks vt ON vt.id = va.track_id AND vt.missing = 0 \
         JOIN folders vf ON vf.id = vt.folder_id JOIN folder_grants vg ON vg.music_folder_id = vf.music_folder_id \
         WHERE va.artist_id = {ar}.id AND vg.user_id = {user}))",
        sees_all(user)
    )
}

/// An album's song count and duration (ms) as `user` sees them: the stored figures for a
/// user who sees everything, else counted over their songs (an album may span folders).
pub fn album_figures(al: &str, user: &str) -> String {
    let mine = |what: &str| {
        format!(
            "(SELECT {what} FROM tracks vt WHERE vt.album_id = {al}.id AND vt.missing = 0 AND {})",
            track("vt", user)
        )
    };
    let all = sees_all(user);
    format!(
        "CASE WHEN {all} THEN {al}.song_count ELSE {} END, CASE WHEN {all} THEN {al}.duration_ms ELSE {} END",
        mine("count(*)"),
        mine("coalesce(sum(vt.duration_ms), 0)")
    )
}

/// An artist's album count as `user` sees it (the albums they have a visible song on).
pub fn artist_album_count(ar: &str, user: &str) -> String {
    format!(
        "CASE WHEN {} THEN {ar}.album_count ELSE (SELECT count(DISTINCT vt.album_id) FROM track_artists va \
         JOIN tracks vt ON vt.id = va.track_id AND vt.missing = 0 WHERE va.artist_id = {ar}.id AND {}) END",
        sees_all(user),
        track("vt", user)
    )
}

/// The music folder id `m` (an expression) is one `user` may see.
pub fn music_folder(m: &str, user: &str) -> String {
    format!("{m} IN (SELECT music_folder_id FROM user_music_folders WHERE user_id = {user})")
}

/// Whether `user` may see the folder (directory) `id`.
pub fn sees_dir(conn: &Connection, user: &str, id: i64) -> rusqlite::Result<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM folders d WHERE d.id = ?1 AND {})",
        music_folder("d.music_folder_id", "?2")
    );
    conn.prepare_cached(&sql)?.query_row(rusqlite::params![id, user], |r| r.get(0))
}

/// The ids of the active music folders `user` may see.
pub fn folder_ids(conn: &Connection, user: &str) -> rusqlite::Result<Vec<i64>> {
    // Built once: read on every cached answer's revalidation.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT id FROM music_folders WHERE active = 1 AND {} ORDER BY id", music_folder("id", "?1"))
    });
    let mut st = conn.prepare_cached(&SQL)?;
    let rows = st.query_map([user], |r| r.get(0))?;
    rows.collect()
}

/// The music folders `user` may see, active ones, by id: (id, name).
pub fn music_folders(conn: &Connection, user: &str) -> Result<Vec<(i64, String)>, ApiError> {
    let sql =
        format!("SELECT id, name FROM music_folders WHERE active = 1 AND {} ORDER BY id", music_folder("id", "?1"));
    let mut st = conn.prepare_cached(&sql).map_err(internal)?;
    let rows = st.query_map([user], |r| Ok((r.get(0)?, r.get(1)?))).map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

/// Whether `user` may see the track `id` (present, in one of their folders).
pub fn sees_track(conn: &Connection, user: &str, id: &str) -> rusqlite::Result<bool> {
    let sql =
        format!("SELECT EXISTS (SELECT 1 FROM tracks t WHERE t.id = ?2 AND t.missing = 0 AND {})", track("t", "?1"));
    conn.prepare_cached(&sql)?.query_row([user, id], |r| r.get(0))
}

/// Whether `user` may see the album `id`.
pub fn sees_album(conn: &Connection, user: &str, id: &str) -> rusqlite::Result<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM albums al WHERE al.id = ?2 AND al.song_count > 0 AND {})",
        album("al", "?1")
    );
    conn.prepare_cached(&sql)?.query_row([user, id], |r| r.get(0))
}

/// Whether `user` may see the artist `id`.
pub fn sees_artist(conn: &Connection, user: &str, id: &str) -> rusqlite::Result<bool> {
    let sql =
        format!("SELECT EXISTS (SELECT 1 FROM artists ar WHERE ar.id = ?2 AND ar.live = 1 AND {})", artist("ar", "?1"));
    conn.prepare_cached(&sql)?.query_row([user, id], |r| r.get(0))
}

/// Whether `user` sees every folder, those added later too (an admin, or unrestricted).
pub fn sees_every_folder(conn: &Connection, user: &str) -> rusqlite::Result<bool> {
    let sql = format!("SELECT {}", sees_all("?1"));
    conn.prepare_cached(&sql)?.query_row([user], |r| r.get(0))
}

/// A user's access as stored: None for every folder, else the granted music folder ids.
pub fn grants(conn: &Connection, user: &str) -> rusqlite::Result<Option<Vec<i64>>> {
    let restricted: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM folder_restrictions WHERE user_id = ?1)", [user], |r| r.get(0))?;
    if !restricted {
        return Ok(None);
    }
    let mut st =
        conn.prepare_cached("SELECT music_folder_id FROM folder_grants WHERE user_id = ?1 ORDER BY music_folder_id")?;
    let ids = st.query_map([user], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
    Ok(Some(ids))
}

/// Every id names an active music folder (70 otherwise).
pub fn check_folders(conn: &Connection, ids: &[i64]) -> Result<(), ApiError> {
    for id in ids {
        let known: bool = conn
            .query_row("SELECT EXISTS (SELECT 1 FROM music_folders WHERE id = ?1 AND active = 1)", [id], |r| r.get(0))
            .map_err(internal)?;
        if !known {
            return Err(not_found("Music folder"));
        }
    }
    Ok(())
}

/// Sets a user's access: every folder (those added later too), or exactly these music
/// folders, each of which must exist and be active (70 otherwise).
pub fn set_grants(conn: &Connection, user: &str, access: &FolderAccess) -> Result<(), ApiError> {
    let FolderAccess::Only(ids) = access else {
        conn.execute("DELETE FROM folder_grants WHERE user_id = ?1", [user]).map_err(internal)?;
        conn.execute("DELETE FROM folder_restrictions WHERE user_id = ?1", [user]).map_err(internal)?;
        return Ok(());
    };
    let tx = conn.unchecked_transaction().map_err(internal)?;
    check_folders(conn, ids)?;
    conn.execute("DELETE FROM folder_grants WHERE user_id = ?1", [user]).map_err(internal)?;
    for id in ids {
        conn.execute(
            "INSERT OR IGNORE INTO folder_grants (user_id, music_folder_id) VALUES (?1, ?2)",
            rusqlite::params![user, id],
        )
        .map_err(internal)?;
    }
    conn.execute("INSERT OR IGNORE INTO folder_restrictions (user_id) VALUES (?1)", [user]).map_err(internal)?;
    tx.commit().map_err(internal)
}
