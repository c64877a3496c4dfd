//! Stars and ratings: a user's annotations on songs, albums and artists.

use rusqlite::{params, Connection};

use super::{invalid, is, Ctx, Kind};
use crate::broker::db::now;
use crate::broker::store::User;
use crate::proto::error::{internal, not_found};
use crate::proto::userdata::UserDataAnswer as A;
use crate::proto::ApiError;

/// A song, album or artist id (Subsonic's `id` may name any of them).
fn kind_of(conn: &Connection, me: &User, id: &str) -> Result<Option<Kind>, ApiError> {
    for k in [Kind::Track, Kind::Album, Kind::Artist] {
        if is(conn, me, k, id)? {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

/// star (true) / unstar (false).
pub(super) fn star(
    cx: Ctx<'_>,
    star: bool,
    ids: &[String],
    album_ids: &[String],
    artist_ids: &[String],
) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let mut items = Vec::with_capacity(ids.len() + album_ids.len() + artist_ids.len());
    for id in ids {
        items.push((kind_of(conn, me, id)?.ok_or_else(|| not_found("Song, album or artist"))?, id));
    }
    for (kind, list, what) in [(Kind::Album, album_ids, "Album"), (Kind::Artist, artist_ids, "Artist")] {
        for id in list {
            if !is(conn, me, kind, id)? {
                return Err(not_found(what));
            }
            items.push((kind, id));
        }
    }
    let tx = conn.unchecked_transaction().map_err(internal)?;
    let t = now();
    for (kind, id) in items {
        if star {
            tx.prepare_cached(
                "INSERT INTO annotations (user_id, kind, item_id, starred_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, kind, item_id) DO UPDATE SET starred_at = coalesce(annotations.starred_at, excluded.starred_at)",
            )
            .map_err(internal)?
            .execute(params![me.id, kind.column(), id, t])
            .map_err(internal)?;
        } else {
            tx.prepare_cached(
                "UPDATE annotations SET starred_at = NULL WHERE user_id = ?1 AND kind = ?2 AND item_id = ?3",
            )
            .map_err(internal)?
            .execute(params![me.id, kind.column(), id])
            .map_err(internal)?;
        }
    }
    tx.commit().map_err(internal)?;
    Ok(A::Done)
}

pub(super) fn set_rating(cx: Ctx<'_>, id: &str, rating: u8) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    if rating > 5 {
        return Err(invalid("Invalid rating: 0 to 5"));
    }
    let kind = kind_of(conn, me, id)?.ok_or_else(|| not_found("Song, album or artist"))?;
    conn.prepare_cached(
        "INSERT INTO annotations (user_id, kind, item_id, rating) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (user_id, kind, item_id) DO UPDATE SET rating = excluded.rating",
    )
    .map_err(internal)?
    .execute(params![me.id, kind.column(), id, rating as i64])
    .map_err(internal)?;
    Ok(A::Done)
}
