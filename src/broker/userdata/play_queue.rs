//! The play queue: one per user, saved by one player and picked up by another.

use rusqlite::{params, Connection, OptionalExtension};

use super::{invalid, require_songs, Ctx};
use crate::broker::browse::songs_by_ids;
use crate::broker::db::now;
use crate::broker::store::User;
use crate::proto::error::{code, internal};
use crate::proto::userdata::{PlayQueueRec, QueueCurrent, UserDataAnswer as A, MAX_IDS};
use crate::proto::ApiError;

/// `by_index`: getPlayQueueByIndex (the current entry as an index).
pub(super) fn get(cx: Ctx<'_>, by_index: bool) -> Result<A, ApiError> {
    Ok(A::PlayQueue(Box::new(read(cx.conn, cx.me, by_index)?)))
}

pub(super) fn save(cx: Ctx<'_>, ids: &[String], current: &QueueCurrent, position: i64) -> Result<A, ApiError> {
    let Ctx { conn, me, client } = cx;
    if ids.len() > MAX_IDS {
        return Err(invalid(format!("A play queue holds at most {MAX_IDS} songs")));
    }
    if position < 0 {
        return Err(invalid("Invalid position"));
    }
    require_songs(conn, me, ids)?;
    let current: Option<usize> = match current {
        _ if ids.is_empty() => None,
        QueueCurrent::None => Some(0),
        QueueCurrent::Id(c) => {
            Some(ids.iter().position(|i| i == c).ok_or_else(|| invalid("current is not in the queue"))?)
        }
        QueueCurrent::Index(i) if (*i as usize) < ids.len() => Some(*i as usize),
        QueueCurrent::Index(_) => {
            return Err(ApiError::new(code::MISSING_PARAMETER, "currentIndex is out of range for the queue"))
        }
    };
    let tx = conn.unchecked_transaction().map_err(internal)?;
    tx.prepare_cached("DELETE FROM play_queue_entries WHERE user_id = ?1")
        .map_err(internal)?
        .execute([&me.id])
        .map_err(internal)?;
    for (i, id) in ids.iter().enumerate() {
        tx.prepare_cached("INSERT INTO play_queue_entries (user_id, position, track_id) VALUES (?1, ?2, ?3)")
            .map_err(internal)?
            .execute(params![me.id, i as i64, id])
            .map_err(internal)?;
    }
    tx.prepare_cached(
        "INSERT INTO play_queues (user_id, current, position, changed_at, changed_by) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (user_id) DO UPDATE SET current = excluded.current, position = excluded.position, \
         changed_at = excluded.changed_at, changed_by = excluded.changed_by",
    )
    .map_err(internal)?
    .execute(params![me.id, current.map(|c| c as i64), if ids.is_empty() { 0 } else { position }, now(), client])
    .map_err(internal)?;
    tx.commit().map_err(internal)?;
    Ok(A::Done)
}

fn read(conn: &Connection, me: &User, by_index: bool) -> Result<PlayQueueRec, ApiError> {
    let head: Option<(Option<i64>, i64, i64, String)> = conn
        .prepare_cached("SELECT current, position, changed_at, changed_by FROM play_queues WHERE user_id = ?1")
        .map_err(internal)?
        .query_row([&me.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .map_err(internal)?;
    let Some((current_pos, position, changed, changed_by)) = head else {
        return Ok(PlayQueueRec { username: me.name.clone(), by_index, ..Default::default() });
    };
    let entries: Vec<(i64, String)> = conn
        .prepare_cached("SELECT position, track_id FROM play_queue_entries WHERE user_id = ?1 ORDER BY position")
        .map_err(internal)?
        .query_map([&me.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let mut songs = Vec::with_capacity(entries.len());
    let mut current = None;
    for (pos, track) in entries {
        // Songs no longer in the library drop out; the current one is found by its place.
        if let Some(s) = songs_by_ids(conn, &me.id, &[track])?.pop() {
            if Some(pos) == current_pos {
                current = Some(songs.len());
            }
            songs.push(s);
        }
    }
    let position = if current.is_some() { position } else { 0 };
    Ok(PlayQueueRec { username: me.name.clone(), songs, current, position, changed, changed_by, by_index })
}
