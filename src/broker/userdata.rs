//! The write side of the Subsonic API: stars, ratings, plays and now-playing, playlists, the
//! play queue, bookmarks and internet radio stations, always as the authenticated user. Every
//! SQL text here is a constant with `?` parameters; the user id comes from the credentials the
//! broker checked, never from a request parameter, so that a playlist's owner cannot be named
//! by the caller (CVE-2024-32963).

use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::browse::songs_by_ids;
use super::db::{new_id, now};
use super::store::User;
use crate::proto::error::{code, internal, missing, not_authorized, not_found};
use crate::proto::library::SongRec;
use crate::proto::userdata::*;
use crate::proto::ApiError;

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(code::GENERIC, msg)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// What an annotation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Track,
    Album,
    Artist,
}

impl Kind {
    fn column(self) -> &'static str {
        match self {
            Kind::Track => "track",
            Kind::Album => "album",
            Kind::Artist => "artist",
        }
    }
}

fn exists(conn: &Connection, sql: &str, id: &str) -> Result<bool, ApiError> {
    conn.prepare_cached(sql).map_err(internal)?.exists([id]).map_err(internal)
}

fn is(conn: &Connection, kind: Kind, id: &str) -> Result<bool, ApiError> {
    match kind {
        Kind::Track => exists(conn, "SELECT 1 FROM tracks WHERE id = ?1 AND missing = 0", id),
        Kind::Album => exists(conn, "SELECT 1 FROM albums WHERE id = ?1 AND song_count > 0", id),
        Kind::Artist => exists(conn, "SELECT 1 FROM artists WHERE id = ?1", id),
    }
}

/// A song, album or artist id (Subsonic's `id` may name any of them).
fn kind_of(conn: &Connection, id: &str) -> Result<Option<Kind>, ApiError> {
    for k in [Kind::Track, Kind::Album, Kind::Artist] {
        if is(conn, k, id)? {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

fn require_songs(conn: &Connection, ids: &[String]) -> Result<(), ApiError> {
    for id in ids {
        if !is(conn, Kind::Track, id)? {
            return Err(not_found("Song"));
        }
    }
    Ok(())
}

/// A name as stored: given verbatim, but not blank, not over `max` characters, and without
/// control characters.
fn valid_name(what: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.trim().is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(invalid(format!("Invalid {what}: 1 to {max} characters, no control characters")));
    }
    Ok(())
}

/// Free text (comments): up to `max` characters; line breaks and tabs, but no other control
/// characters (XML cannot carry them).
fn valid_text(what: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.chars().count() > max || s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(invalid(format!("Invalid {what}: up to {max} characters, no control characters")));
    }
    Ok(())
}

/// An http(s) URL with a host, no spaces or control characters, at most 2048 bytes.
pub fn valid_http_url(u: &str) -> bool {
    let lower = u.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    u.len() <= 2048
        && !host.is_empty()
        && !host.starts_with(':')
        && !u.chars().any(|c| c.is_control() || c.is_whitespace())
}

pub fn answer(conn: &Connection, me: &User, client: &str, call: &UserDataCall) -> Result<UserDataAnswer, ApiError> {
    use UserDataAnswer as A;
    use UserDataCall as C;
    Ok(match call {
        C::Star { star, ids, album_ids, artist_ids } => {
            let mut items = Vec::with_capacity(ids.len() + album_ids.len() + artist_ids.len());
            for id in ids {
                items.push((kind_of(conn, id)?.ok_or_else(|| not_found("Song, album or artist"))?, id));
            }
            for (kind, list, what) in [(Kind::Album, album_ids, "Album"), (Kind::Artist, artist_ids, "Artist")] {
                for id in list {
                    if !is(conn, kind, id)? {
                        return Err(not_found(what));
                    }
                    items.push((kind, id));
                }
            }
            let tx = conn.unchecked_transaction().map_err(internal)?;
            let t = now();
            for (kind, id) in items {
                if *star {
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
            A::Done
        }
        C::SetRating { id, rating } => {
            if *rating > 5 {
                return Err(invalid("Invalid rating: 0 to 5"));
            }
            let kind = kind_of(conn, id)?.ok_or_else(|| not_found("Song, album or artist"))?;
            conn.prepare_cached(
                "INSERT INTO annotations (user_id, kind, item_id, rating) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, kind, item_id) DO UPDATE SET rating = excluded.rating",
            )
            .map_err(internal)?
            .execute(params![me.id, kind.column(), id, *rating as i64])
            .map_err(internal)?;
            A::Done
        }
        C::Scrobble { ids, times, submission } => {
            require_songs(conn, ids)?;
            if *submission {
                let tx = conn.unchecked_transaction().map_err(internal)?;
                let current = now();
                for (i, id) in ids.iter().enumerate() {
                    // Plays reported for the future count as now.
                    let at = times.get(i).map(|ms| ms / 1000).filter(|s| *s > 0).unwrap_or(current).min(current);
                    count_play(&tx, &me.id, id, at)?;
                }
                tx.commit().map_err(internal)?;
            } else if let Some(id) = ids.last() {
                let duration = duration_ms(conn, id)?;
                playing().start(me, client, id, duration, None);
            }
            A::Done
        }
        C::ReportPlayback { id, position_ms, state, rate, ignore_scrobble } => {
            require_songs(conn, std::slice::from_ref(id))?;
            let duration = duration_ms(conn, id)?;
            let timeline = Timeline { state: *state, position_ms: *position_ms, rate: *rate, at_ms: now_ms() };
            if *state == PlaybackState::Stopped {
                // A play counts when the session that started it stops far enough in: half the
                // song, or four minutes (what last.fm asks), and only once.
                let session = playing().stop(me, client, id);
                let threshold = if duration > 0 { (duration / 2).min(240_000) } else { 240_000 };
                if session && !*ignore_scrobble && *position_ms >= threshold {
                    let tx = conn.unchecked_transaction().map_err(internal)?;
                    count_play(&tx, &me.id, id, now())?;
                    tx.commit().map_err(internal)?;
                }
            } else {
                playing().start(me, client, id, duration, Some(timeline));
            }
            A::Done
        }
        C::NowPlaying => {
            let list = playing().list();
            let mut out = Vec::with_capacity(list.len());
            let (t, t_ms) = (now(), now_ms());
            for p in list {
                let Some(song) = songs_by_ids(conn, &me.id, std::slice::from_ref(&p.track_id))?.pop() else { continue };
                let timeline = p.timeline.map(|tl| {
                    let mut pos = tl.position_ms;
                    if tl.state == PlaybackState::Playing {
                        pos += ((t_ms - tl.at_ms).max(0) as f64 * tl.rate) as i64;
                        if p.duration_ms > 0 {
                            pos = pos.min(p.duration_ms);
                        }
                    }
                    (tl.state, pos, tl.rate)
                });
                out.push(NowPlayingRec {
                    song,
                    username: p.username,
                    minutes_ago: (t - p.since).max(0) / 60,
                    player_id: p.player_id,
                    player_name: p.player,
                    timeline,
                });
            }
            A::NowPlaying(out)
        }
        C::Playlists { username } => {
            let (viewer_id, viewer_admin) = match username {
                Some(name) => {
                    // Resolve the name first, then compare ids: "is this me" never rests on
                    // how two spellings compare (names.rs).
                    let target = conn
                        .prepare_cached("SELECT id, is_admin FROM users WHERE name_key = ?1")
                        .map_err(internal)?
                        .query_row([crate::broker::names::key(name)], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
                        })
                        .optional()
                        .map_err(internal)?;
                    match target {
                        Some((id, _)) if id == me.id => (me.id.clone(), me.admin),
                        _ if !me.admin => return Err(not_authorized()),
                        Some(t) => t,
                        None => return Err(not_found("User")),
                    }
                }
                None => (me.id.clone(), me.admin),
            };
            let sql = format!(
                "SELECT {PLAYLIST_COLUMNS} {PLAYLIST_FROM} \
                 WHERE p.owner_id = ?1 OR p.public = 1 OR (?2 AND p.owner_id IS NULL) ORDER BY p.name COLLATE NOCASE, p.id"
            );
            let mut st = conn.prepare_cached(&sql).map_err(internal)?;
            let rows = st.query_map(params![viewer_id, viewer_admin], playlist_row).map_err(internal)?;
            let list = rows.collect::<Result<Vec<_>, _>>().map_err(internal)?;
            A::Playlists(list.into_iter().map(|row| row.rec(me)).collect())
        }
        C::Playlist { id } => {
            let row = visible_playlist(conn, me, id)?;
            let songs = playlist_songs(conn, me, id)?;
            A::Playlist(Box::new(row.rec(me)), songs)
        }
        C::CreatePlaylist { id, name, songs } => {
            if let Some(n) = name {
                valid_name("playlist name", n, 500)?;
            }
            require_songs(conn, songs)?;
            let tx = conn.unchecked_transaction().map_err(internal)?;
            let t = now();
            let id = match id {
                Some(id) => {
                    let row = visible_playlist(&tx, me, id)?;
                    row.check_edit(me, true)?;
                    if let Some(n) = name {
                        tx.prepare_cached("UPDATE playlists SET name = ?2 WHERE id = ?1")
                            .map_err(internal)?
                            .execute(params![id, n])
                            .map_err(internal)?;
                    }
                    id.clone()
                }
                None => {
                    let n = name.as_ref().ok_or_else(|| missing("name"))?;
                    let id = new_id();
                    tx.prepare_cached(
                        "INSERT INTO playlists (id, name, owner_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                    )
                    .map_err(internal)?
                    .execute(params![id, n, me.id, t])
                    .map_err(internal)?;
                    id
                }
            };
            write_playlist_tracks(&tx, &id, songs)?;
            touch_playlist(&tx, &id, t)?;
            tx.commit().map_err(internal)?;
            let row = visible_playlist(conn, me, &id)?;
            let songs = playlist_songs(conn, me, &id)?;
            A::Playlist(Box::new(row.rec(me)), songs)
        }
        C::UpdatePlaylist { id, name, comment, public, add, remove } => {
            let row = visible_playlist(conn, me, id)?;
            let contents = name.is_some() || !add.is_empty() || !remove.is_empty();
            row.check_edit(me, contents)?;
            if let Some(n) = name {
                valid_name("playlist name", n, 500)?;
            }
            if let Some(c) = comment {
                valid_text("comment", c, 5000)?;
            }
            require_songs(conn, add)?;
            let tx = conn.unchecked_transaction().map_err(internal)?;
            if !add.is_empty() || !remove.is_empty() {
                // Indexes count the songs the client was shown: those present in the library.
                let mut st = tx
                    .prepare_cached(
                        "SELECT pt.track_id, t.missing = 0 FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id \
                         WHERE pt.playlist_id = ?1 ORDER BY pt.position",
                    )
                    .map_err(internal)?;
                let all: Vec<(String, bool)> = st
                    .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(internal)?
                    .collect::<Result<_, _>>()
                    .map_err(internal)?;
                drop(st);
                let shown: Vec<usize> = (0..all.len()).filter(|i| all[*i].1).collect();
                let mut drop_at = vec![false; all.len()];
                for i in remove {
                    let at = shown.get(*i as usize).ok_or_else(|| invalid("songIndexToRemove is out of range"))?;
                    drop_at[*at] = true;
                }
                let mut tracks: Vec<String> =
                    all.into_iter().zip(drop_at).filter(|(_, gone)| !gone).map(|((t, _), _)| t).collect();
                tracks.extend(add.iter().cloned());
                if tracks.len() > MAX_PLAYLIST {
                    return Err(invalid(format!("A playlist holds at most {MAX_PLAYLIST} songs")));
                }
                write_playlist_tracks(&tx, id, &tracks)?;
            }
            if let Some(n) = name {
                tx.prepare_cached("UPDATE playlists SET name = ?2 WHERE id = ?1")
                    .map_err(internal)?
                    .execute(params![id, n])
                    .map_err(internal)?;
            }
            if let Some(c) = comment {
                tx.prepare_cached("UPDATE playlists SET comment = ?2 WHERE id = ?1")
                    .map_err(internal)?
                    .execute(params![id, c])
                    .map_err(internal)?;
            }
            if let Some(p) = public {
                tx.prepare_cached("UPDATE playlists SET public = ?2 WHERE id = ?1")
                    .map_err(internal)?
                    .execute(params![id, *p as i64])
                    .map_err(internal)?;
            }
            touch_playlist(&tx, id, now())?;
            tx.commit().map_err(internal)?;
            A::Done
        }
        C::DeletePlaylist { id } => {
            let row = visible_playlist(conn, me, id)?;
            // An imported playlist may go too: it comes back if its file is still there when
            // its folder is read again.
            row.check_edit(me, false)?;
            conn.prepare_cached("DELETE FROM playlists WHERE id = ?1")
                .map_err(internal)?
                .execute([id])
                .map_err(internal)?;
            A::Done
        }
        C::PlayQueue { by_index } => A::PlayQueue(Box::new(play_queue(conn, me, *by_index)?)),
        C::SavePlayQueue { ids, current, position } => {
            if ids.len() > MAX_IDS {
                return Err(invalid(format!("A play queue holds at most {MAX_IDS} songs")));
            }
            if *position < 0 {
                return Err(invalid("Invalid position"));
            }
            require_songs(conn, ids)?;
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
            .execute(params![me.id, current.map(|c| c as i64), if ids.is_empty() { 0 } else { *position }, now(), client])
            .map_err(internal)?;
            tx.commit().map_err(internal)?;
            A::Done
        }
        C::Bookmarks => {
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
            A::Bookmarks(out)
        }
        C::CreateBookmark { id, position, comment } => {
            if *position < 0 {
                return Err(invalid("Invalid position"));
            }
            valid_text("comment", comment, 5000)?;
            require_songs(conn, std::slice::from_ref(id))?;
            conn.prepare_cached(
                "INSERT INTO bookmarks (user_id, track_id, position, comment, created_at, changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
                 ON CONFLICT (user_id, track_id) DO UPDATE SET position = excluded.position, comment = excluded.comment, \
                 changed_at = excluded.changed_at",
            )
            .map_err(internal)?
            .execute(params![me.id, id, position, comment, now()])
            .map_err(internal)?;
            A::Done
        }
        C::DeleteBookmark { id } => {
            let n = conn
                .prepare_cached("DELETE FROM bookmarks WHERE user_id = ?1 AND track_id = ?2")
                .map_err(internal)?
                .execute(params![me.id, id])
                .map_err(internal)?;
            if n == 0 {
                return Err(not_found("Bookmark"));
            }
            A::Done
        }
        C::RadioStations => {
            let mut st = conn
                .prepare_cached(
                    "SELECT id, name, stream_url, homepage_url FROM radio_stations ORDER BY name COLLATE NOCASE, id",
                )
                .map_err(internal)?;
            let rows = st
                .query_map([], |r| {
                    Ok(RadioRec { id: r.get(0)?, name: r.get(1)?, stream_url: r.get(2)?, homepage_url: r.get(3)? })
                })
                .map_err(internal)?;
            A::RadioStations(rows.collect::<Result<_, _>>().map_err(internal)?)
        }
        C::CreateRadioStation { name, stream_url, homepage_url } => {
            if !me.admin {
                return Err(not_authorized());
            }
            valid_station(name, stream_url, homepage_url)?;
            conn.prepare_cached(
                "INSERT INTO radio_stations (id, name, stream_url, homepage_url, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(internal)?
            .execute(params![new_id(), name, stream_url, homepage_url, now()])
            .map_err(internal)?;
            A::Done
        }
        C::UpdateRadioStation { id, name, stream_url, homepage_url } => {
            if !me.admin {
                return Err(not_authorized());
            }
            valid_station(name, stream_url, homepage_url)?;
            let n = conn
                .prepare_cached("UPDATE radio_stations SET name = ?2, stream_url = ?3, homepage_url = ?4 WHERE id = ?1")
                .map_err(internal)?
                .execute(params![id, name, stream_url, homepage_url])
                .map_err(internal)?;
            if n == 0 {
                return Err(not_found("Internet radio station"));
            }
            A::Done
        }
        C::DeleteRadioStation { id } => {
            if !me.admin {
                return Err(not_authorized());
            }
            let n = conn
                .prepare_cached("DELETE FROM radio_stations WHERE id = ?1")
                .map_err(internal)?
                .execute([id])
                .map_err(internal)?;
            if n == 0 {
                return Err(not_found("Internet radio station"));
            }
            A::Done
        }
    })
}

fn valid_station(name: &str, stream_url: &str, homepage_url: &str) -> Result<(), ApiError> {
    valid_name("station name", name, 500)?;
    if !valid_http_url(stream_url) {
        return Err(invalid("Invalid streamUrl: an http or https URL"));
    }
    if !homepage_url.is_empty() && !valid_http_url(homepage_url) {
        return Err(invalid("Invalid homepageUrl: an http or https URL"));
    }
    Ok(())
}

fn duration_ms(conn: &Connection, id: &str) -> Result<i64, ApiError> {
    conn.prepare_cached("SELECT duration_ms FROM tracks WHERE id = ?1")
        .map_err(internal)?
        .query_row([id], |r| r.get(0))
        .optional()
        .map_err(internal)
        .map(Option::unwrap_or_default)
}

/// One play of a song at `at` (unix seconds): counted for the song, its album and each of
/// its artists (track and album artists, once each). The last-played time only moves forward.
fn count_play(conn: &Connection, user: &str, track: &str, at: i64) -> Result<(), ApiError> {
    let album: Option<String> = conn
        .prepare_cached("SELECT album_id FROM tracks WHERE id = ?1")
        .map_err(internal)?
        .query_row([track], |r| r.get(0))
        .optional()
        .map_err(internal)?
        .flatten();
    let artists: Vec<String> = conn
        .prepare_cached("SELECT DISTINCT artist_id FROM track_artists WHERE track_id = ?1")
        .map_err(internal)?
        .query_map([track], |r| r.get(0))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let items = std::iter::once((Kind::Track, track.to_string()))
        .chain(album.map(|a| (Kind::Album, a)))
        .chain(artists.into_iter().map(|a| (Kind::Artist, a)));
    for (kind, id) in items {
        conn.prepare_cached(
            "INSERT INTO annotations (user_id, kind, item_id, play_count, played_at) VALUES (?1, ?2, ?3, 1, ?4) \
             ON CONFLICT (user_id, kind, item_id) DO UPDATE SET play_count = annotations.play_count + 1, \
             played_at = max(coalesce(annotations.played_at, 0), excluded.played_at)",
        )
        .map_err(internal)?
        .execute(params![user, kind.column(), id, at])
        .map_err(internal)?;
    }
    Ok(())
}

/// Most songs in one playlist.
const MAX_PLAYLIST: usize = 100_000;

const PLAYLIST_COLUMNS: &str = "p.id, p.name, p.comment, coalesce(u.name, ''), p.public, p.created_at, p.updated_at, \
    p.owner_id, p.source_root IS NOT NULL, \
    (SELECT count(*) FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id AND t.missing = 0 WHERE pt.playlist_id = p.id), \
    (SELECT coalesce(sum(t.duration_ms), 0) FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id AND t.missing = 0 WHERE pt.playlist_id = p.id), \
    (SELECT t.album_id FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id AND t.missing = 0 \
       WHERE pt.playlist_id = p.id AND t.album_id IS NOT NULL ORDER BY pt.position LIMIT 1)";

const PLAYLIST_FROM: &str = "FROM playlists p LEFT JOIN users u ON u.id = p.owner_id";

struct PlaylistRow {
    rec: PlaylistRec,
    owner_id: Option<String>,
    imported: bool,
}

fn playlist_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PlaylistRow> {
    Ok(PlaylistRow {
        rec: PlaylistRec {
            id: r.get(0)?,
            name: r.get(1)?,
            comment: r.get(2)?,
            owner: r.get(3)?,
            public: r.get::<_, i64>(4)? != 0,
            created: r.get(5)?,
            changed: r.get(6)?,
            song_count: r.get(9)?,
            duration_secs: (r.get::<_, i64>(10)? + 500) / 1000,
            cover_art: r.get(11)?,
            readonly: false,
        },
        owner_id: r.get(7)?,
        imported: r.get(8)?,
    })
}

impl PlaylistRow {
    fn owned_by(&self, me: &User) -> bool {
        self.owner_id.as_deref() == Some(me.id.as_str())
    }

    fn visible_to(&self, me: &User) -> bool {
        self.owned_by(me) || self.rec.public || me.admin
    }

    /// Only the owner, or an admin, changes a playlist; an imported playlist's name and songs
    /// come from its file (the next scan would undo changes to them).
    fn check_edit(&self, me: &User, contents: bool) -> Result<(), ApiError> {
        if !(self.owned_by(me) || me.admin) {
            return Err(not_authorized());
        }
        if contents && self.imported {
            return Err(ApiError::new(
                code::NOT_AUTHORIZED,
                "This playlist is imported from a playlist file in the library: change the file instead.",
            ));
        }
        Ok(())
    }

    fn rec(self, me: &User) -> PlaylistRec {
        let readonly = self.imported || !(self.owned_by(me) || me.admin);
        PlaylistRec { readonly, ..self.rec }
    }
}

/// The playlist, if `me` may see it (the owner, anyone for a public one, admins); otherwise
/// "not found", so that private playlists do not show that they exist.
fn visible_playlist(conn: &Connection, me: &User, id: &str) -> Result<PlaylistRow, ApiError> {
    let sql = format!("SELECT {PLAYLIST_COLUMNS} {PLAYLIST_FROM} WHERE p.id = ?1");
    let row = conn
        .prepare_cached(&sql)
        .map_err(internal)?
        .query_row([id], playlist_row)
        .optional()
        .map_err(internal)?
        .filter(|row| row.visible_to(me));
    row.ok_or_else(|| not_found("Playlist"))
}

fn playlist_songs(conn: &Connection, me: &User, id: &str) -> Result<Vec<SongRec>, ApiError> {
    let ids: Vec<String> = conn
        .prepare_cached("SELECT track_id FROM playlist_tracks WHERE playlist_id = ?1 ORDER BY position")
        .map_err(internal)?
        .query_map([id], |r| r.get(0))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    songs_by_ids(conn, &me.id, &ids)
}

fn write_playlist_tracks(conn: &Connection, id: &str, tracks: &[String]) -> Result<(), ApiError> {
    conn.prepare_cached("DELETE FROM playlist_tracks WHERE playlist_id = ?1")
        .map_err(internal)?
        .execute([id])
        .map_err(internal)?;
    let mut st = conn
        .prepare_cached("INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (?1, ?2, ?3)")
        .map_err(internal)?;
    for (i, t) in tracks.iter().enumerate() {
        st.execute(params![id, i as i64, t]).map_err(internal)?;
    }
    Ok(())
}

fn touch_playlist(conn: &Connection, id: &str, t: i64) -> Result<(), ApiError> {
    conn.prepare_cached("UPDATE playlists SET updated_at = ?2 WHERE id = ?1")
        .map_err(internal)?
        .execute(params![id, t])
        .map_err(internal)?;
    Ok(())
}

fn play_queue(conn: &Connection, me: &User, by_index: bool) -> Result<PlayQueueRec, ApiError> {
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

/// What players report playing, in memory: it matters only while it lasts.
#[derive(Debug, Clone)]
struct Playing {
    user_id: String,
    username: String,
    player: String,
    player_id: i64,
    track_id: String,
    duration_ms: i64,
    /// Unix seconds of the last report.
    since: i64,
    timeline: Option<Timeline>,
}

#[derive(Debug, Clone, Copy)]
struct Timeline {
    state: PlaybackState,
    position_ms: i64,
    rate: f64,
    /// When it was reported, ms since the epoch.
    at_ms: i64,
}

#[derive(Default)]
struct NowPlaying {
    entries: Vec<Playing>,
    next_player: i64,
}

/// Most entries kept (the oldest go first): players are named by clients.
const MAX_PLAYING: usize = 1000;

static NOW_PLAYING: Mutex<NowPlaying> = Mutex::new(NowPlaying { entries: Vec::new(), next_player: 0 });

fn playing() -> std::sync::MutexGuard<'static, NowPlaying> {
    NOW_PLAYING.lock().unwrap_or_else(|p| p.into_inner())
}

impl NowPlaying {
    /// Entries last reported longer ago than their song lasts, plus ten minutes, are gone.
    fn expire(&mut self) {
        let t = now();
        self.entries.retain(|p| t - p.since <= p.duration_ms / 1000 + 600);
    }

    fn start(&mut self, me: &User, player: &str, track: &str, duration_ms: i64, timeline: Option<Timeline>) {
        self.expire();
        let existing = self.entries.iter().position(|p| p.user_id == me.id && p.player == player);
        let player_id = match existing {
            Some(i) => self.entries.remove(i).player_id,
            None => {
                self.next_player += 1;
                self.next_player
            }
        };
        if self.entries.len() >= MAX_PLAYING {
            self.entries.remove(0);
        }
        self.entries.push(Playing {
            user_id: me.id.clone(),
            username: me.name.clone(),
            player: player.to_string(),
            player_id,
            track_id: track.to_string(),
            duration_ms,
            since: now(),
            timeline,
        });
    }

    /// Ends a player's session on `track`; whether there was one.
    fn stop(&mut self, me: &User, player: &str, track: &str) -> bool {
        self.expire();
        let found = self.entries.iter().position(|p| p.user_id == me.id && p.player == player && p.track_id == track);
        found.map(|i| self.entries.remove(i)).is_some()
    }

    /// Newest first.
    fn list(&mut self) -> Vec<Playing> {
        self.expire();
        self.entries.iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radio_urls_are_http_or_https_with_a_host() {
        for ok in ["http://radio.example/stream", "HTTPS://r.example:8000/a?b=c", "https://u@h/"] {
            assert!(valid_http_url(ok), "{ok}");
        }
        for bad in [
            "",
            "ftp://x/",
            "javascript:alert(1)",
            "http://",
            "http:///path",
            "https://:80/",
            "http://a b/",
            "http://x/\n",
            "file:///etc/passwd",
            "data:text/html,x",
        ] {
            assert!(!valid_http_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn names_are_kept_verbatim_but_not_blank_or_with_control_characters() {
        assert!(valid_name("n", "'; DROP TABLE playlists; --", 500).is_ok());
        assert!(valid_name("n", "  ", 500).is_err());
        assert!(valid_name("n", "a\u{0}b", 500).is_err());
        assert!(valid_text("c", "line\nline", 10).is_ok());
        assert!(valid_text("c", "bell\u{7}", 10).is_err());
    }
}
