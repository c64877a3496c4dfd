//! Bookmarks: a position in a song, one per song and user.

use rusqlite::params;

use super::{invalid, require_song, valid_text, Ctx};
use crate::broker::browse::songs_by_ids;
use crate::broker::db::now;
use crate::proto::error::{internal, not_found};
use crate::proto::userdata::{BookmarkRec, UserDataAnswer as A};
use crate::proto::ApiError;

pub(super) fn list(cx: Ctx<'_>) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let mut st = conn
        .prepare_cached(
            "SELECT track_id, position, comment, created_at, changed_at FROM bookmarks WHERE user_id = ?1 \
             ORDER BY changed_at DESC, track_id",
        )
        .map_err(internal)?;
    let rows: Vec<(String, i64, String, i64, i64)> = st
        .query_map([&me.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let mut out = Vec::with_capacity(rows.len());
    for (track, position, comment, created, changed) in rows {
        if let Some(song) = songs_by_ids(conn, &me.id, &[track])?.pop() {
            out.push(BookmarkRec { song, username: me.name.clone(), position, comment, created, changed });
        }
    }
    Ok(A::Bookmarks(out))
}

pub(super) fn create(cx: Ctx<'_>, id: &str, position: i64, comment: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    if position < 0 {
        return Err(invalid("Invalid position"));
    }
    valid_text("comment", comment, 5000)?;
    require_song(conn, me, id)?;
    conn.prepare_cached(
        "INSERT INTO bookmarks (user_id, track_id, position, comment, created_at, changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
         ON CONFLICT (user_id, track_id) DO UPDATE SET position = excluded.position, comment = excluded.comment, \
         changed_at = excluded.changed_at",
    )
    .map_err(internal)?
    .execute(params![me.id, id, position, comment, now()])
    .map_err(internal)?;
    Ok(A::Done)
}

pub(super) fn delete(cx: Ctx<'_>, id: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let n = conn
        .prepare_cached("DELETE FROM bookmarks WHERE user_id = ?1 AND track_id = ?2")
        .map_err(internal)?
        .execute(params![me.id, id])
        .map_err(internal)?;
    if n == 0 {
        return Err(not_found("Bookmark"));
    }
    Ok(A::Done)
}
