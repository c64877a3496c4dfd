//! Playlists: a user's own, public ones, and those imported from playlist files in the
//! library (read-only here: their file is what changes them).

use rusqlite::{params, Connection, OptionalExtension};

use super::{invalid, require_songs, smart, valid_name, valid_text, Ctx};
use crate::broker::browse::songs_by_ids;
use crate::broker::db::{new_id, now};
use crate::broker::store::User;
use crate::proto::error::{code, internal, missing, not_authorized, not_found};
use crate::proto::library::SongRec;
use crate::proto::smart::SmartRules;
use crate::proto::userdata::{PlaylistRec, SmartPlaylistRec, UserDataAnswer as A};
use crate::proto::ApiError;

/// `username`: admins only (another user's view).
pub(super) fn list(cx: Ctx<'_>, username: Option<&str>) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let (viewer_id, viewer_admin) = match username {
        Some(name) => {
            // Resolve the name first, then compare ids: "is this me" never rests on
            // how two spellings compare (names.rs).
            let target = conn
                .prepare_cached("SELECT id, is_admin FROM users WHERE name_key = ?1")
                .map_err(internal)?
                .query_row([crate::broker::names::key(name)], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))
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
        "SELECT {} {PLAYLIST_FROM} \
         WHERE p.owner_id = ?1 OR p.public = 1 OR (?2 AND p.owner_id IS NULL) ORDER BY p.name COLLATE NOCASE, p.id",
        playlist_columns("?3")
    );
    let mut st = conn.prepare_cached(&sql).map_err(internal)?;
    let rows = st.query_map(params![viewer_id, viewer_admin, me.id], playlist_row).map_err(internal)?;
    let mut list = rows.collect::<Result<Vec<_>, _>>().map_err(internal)?;
    for row in &mut list {
        row.choose_smart_songs(conn, &me.id)?;
    }
    Ok(A::Playlists(list.into_iter().map(|row| row.rec(me)).collect()))
}

pub(super) fn get(cx: Ctx<'_>, id: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let mut row = visible_playlist(conn, me, id)?;
    let songs = match row.choose_smart_songs(conn, &me.id)? {
        Some(ids) => songs_by_ids(conn, &me.id, &ids)?,
        None => playlist_songs(conn, me, id)?,
    };
    Ok(A::Playlist(Box::new(row.rec(me)), songs))
}

/// A smart playlist's rules (the web UI's editor).
pub(super) fn smart(cx: Ctx<'_>, id: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let mut row = visible_playlist(conn, me, id)?;
    let Some(rules) = row.smart.as_deref().map(smart::load_rules) else { return Err(not_found("Smart playlist")) };
    row.choose_smart_songs(conn, &me.id)?;
    let imported = row.imported;
    let problems = rules.problems();
    Ok(A::SmartPlaylist(Box::new(SmartPlaylistRec { playlist: row.rec(me), rules, imported, problems })))
}

/// A new smart playlist of the caller's, or one they may edit replaced.
pub(super) fn save_smart(
    cx: Ctx<'_>,
    id: Option<&str>,
    name: &str,
    comment: &str,
    public: bool,
    rules: &SmartRules,
) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    valid_name("playlist name", name, 500)?;
    valid_text("comment", comment, 5000)?;
    rules.check_bounds().map_err(invalid)?;
    if let Some(why) = rules.problems().first() {
        return Err(invalid(format!("Invalid rule: {why}")));
    }
    let stored = smart::store_rules(rules);
    let t = now();
    let tx = conn.unchecked_transaction().map_err(internal)?;
    let id = match id {
        Some(id) => {
            visible_playlist(&tx, me, id)?.check_smart_edit(me)?;
            tx.prepare_cached(
                "UPDATE playlists SET name = ?2, comment = ?3, public = ?4, updated_at = ?5 WHERE id = ?1",
            )
            .map_err(internal)?
            .execute(params![id, name, comment, public, t])
            .map_err(internal)?;
            id.to_string()
        }
        None => {
            let id = new_id();
            tx.prepare_cached(
                "INSERT INTO playlists (id, name, owner_id, comment, public, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )
            .map_err(internal)?
            .execute(params![id, name, me.id, comment, public, t])
            .map_err(internal)?;
            id
        }
    };
    tx.prepare_cached(
        "INSERT INTO smart_playlists (playlist_id, rules) VALUES (?1, ?2) \
         ON CONFLICT (playlist_id) DO UPDATE SET rules = excluded.rules",
    )
    .map_err(internal)?
    .execute(params![id, stored])
    .map_err(internal)?;
    tx.commit().map_err(internal)?;
    smart(cx, &id)
}

pub(super) fn delete_smart(cx: Ctx<'_>, id: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    visible_playlist(conn, me, id)?.check_smart_edit(me)?;
    conn.prepare_cached("DELETE FROM playlists WHERE id = ?1").map_err(internal)?.execute([id]).map_err(internal)?;
    Ok(A::Done)
}

/// A new playlist (`name`), or `id`'s songs replaced (and renamed if `name` is given).
pub(super) fn create(cx: Ctx<'_>, id: Option<&str>, name: Option<&str>, songs: &[String]) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    if let Some(n) = name {
        valid_name("playlist name", n, 500)?;
    }
    require_songs(conn, me, songs)?;
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
            id.to_string()
        }
        None => {
            let n = name.ok_or_else(|| missing("name"))?;
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
    Ok(A::Playlist(Box::new(row.rec(me)), songs))
}

/// `remove`: indexes into the playlist as it was before this update.
pub(super) fn update(
    cx: Ctx<'_>,
    id: &str,
    name: Option<&str>,
    comment: Option<&str>,
    public: Option<bool>,
    add: &[String],
    remove: &[u32],
) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let row = visible_playlist(conn, me, id)?;
    let contents = name.is_some() || !add.is_empty() || !remove.is_empty();
    row.check_edit(me, contents)?;
    if let Some(n) = name {
        valid_name("playlist name", n, 500)?;
    }
    if let Some(c) = comment {
        valid_text("comment", c, 5000)?;
    }
    require_songs(conn, me, add)?;
    let tx = conn.unchecked_transaction().map_err(internal)?;
    if !add.is_empty() || !remove.is_empty() {
        // Indexes count the songs the client was shown: those present in the library and in
        // the caller's folders (the others stay where they are).
        let mut st = tx
            .prepare_cached(&format!(
                "SELECT pt.track_id, t.missing = 0 AND {} FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id \
                 WHERE pt.playlist_id = ?1 ORDER BY pt.position",
                crate::broker::access::track("t", "?2")
            ))
            .map_err(internal)?;
        let all: Vec<(String, bool)> = st
            .query_map([id, &me.id], |r| Ok((r.get(0)?, r.get(1)?)))
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
            .execute(params![id, p as i64])
            .map_err(internal)?;
    }
    touch_playlist(&tx, id, now())?;
    tx.commit().map_err(internal)?;
    Ok(A::Done)
}

pub(super) fn delete(cx: Ctx<'_>, id: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let row = visible_playlist(conn, me, id)?;
    // An imported playlist may go too: it comes back if its file is still there when
    // its folder is read again.
    row.check_edit(me, false)?;
    conn.prepare_cached("DELETE FROM playlists WHERE id = ?1").map_err(internal)?.execute([id]).map_err(internal)?;
    Ok(A::Done)
}

/// Most songs in one playlist.
const MAX_PLAYLIST: usize = 100_000;

/// A playlist's columns; its count, duration and cover are of the songs the caller (the
/// parameter `user`) may see (super::access): a playlist of someone who sees more shows only
/// those.
fn playlist_columns(user: &str) -> String {
    let visible = crate::broker::access::track("t", user);
    format!(
        "p.id, p.name, p.comment, coalesce(u.name, ''), p.public, p.created_at, p.updated_at, \
         p.owner_id, p.source_root IS NOT NULL, \
         (SELECT count(*) FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id AND t.missing = 0 \
            WHERE pt.playlist_id = p.id AND {visible}), \
         (SELECT coalesce(sum(t.duration_ms), 0) FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id AND t.missing = 0 \
            WHERE pt.playlist_id = p.id AND {visible}), \
         (SELECT t.album_id FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id AND t.missing = 0 \
            WHERE pt.playlist_id = p.id AND t.album_id IS NOT NULL AND {visible} ORDER BY pt.position LIMIT 1), \
         (SELECT sp.rules FROM smart_playlists sp WHERE sp.playlist_id = p.id)"
    )
}

const PLAYLIST_FROM: &str = "FROM playlists p LEFT JOIN users u ON u.id = p.owner_id";

struct PlaylistRow {
    rec: PlaylistRec,
    owner_id: Option<String>,
    imported: bool,
    /// A smart playlist's stored rules.
    smart: Option<String>,
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
            smart: false,
        },
        owner_id: r.get(7)?,
        imported: r.get(8)?,
        smart: r.get(12)?,
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
        if self.smart.is_some() {
            return Err(ApiError::new(
                code::NOT_AUTHORIZED,
                "This is a smart playlist: its rules choose its songs. Change it in the web UI, or its .nsp file.",
            ));
        }
        if contents && self.imported {
            return Err(ApiError::new(
                code::NOT_AUTHORIZED,
                "This playlist is imported from a playlist file in the library: change the file instead.",
            ));
        }
        Ok(())
    }

    /// Rules (the web UI's editor) change a smart playlist of one's own, or any as an admin;
    /// one imported from a `.nsp` file only through its file.
    fn check_smart_edit(&self, me: &User) -> Result<(), ApiError> {
        if self.smart.is_none() {
            return Err(not_found("Smart playlist"));
        }
        if !(self.owned_by(me) || me.admin) {
            return Err(not_authorized());
        }
        if self.imported {
            return Err(ApiError::new(
                code::NOT_AUTHORIZED,
                "This smart playlist is imported from a .nsp file in the library: change the file instead.",
            ));
        }
        Ok(())
    }

    /// A smart playlist's songs, chosen now with its owner's data, of those `viewer` may see
    /// (super::access: a playlist of someone who sees more shows only those; counts, duration
    /// and cover follow); None for an ordinary playlist.
    fn choose_smart_songs(&mut self, conn: &Connection, viewer: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(text) = &self.smart else { return Ok(None) };
        let mut hits = smart::evaluate(conn, self.owner_id.as_deref(), &smart::load_rules(text))?;
        // One question for a viewer who sees everything (most), one per song otherwise.
        if !crate::broker::access::sees_every_folder(conn, viewer).map_err(internal)? {
            let mut visible = Vec::with_capacity(hits.len());
            for h in hits.drain(..) {
                if crate::broker::access::sees_track(conn, viewer, &h.id).map_err(internal)? {
                    visible.push(h);
                }
            }
            hits = visible;
        }
        self.rec.song_count = hits.len() as i64;
        self.rec.duration_secs = (hits.iter().map(|h| h.duration_ms).sum::<i64>() + 500) / 1000;
        self.rec.cover_art = hits.iter().find_map(|h| h.album_id.clone());
        self.rec.smart = true;
        Ok(Some(hits.into_iter().map(|h| h.id).collect()))
    }

    fn rec(self, me: &User) -> PlaylistRec {
        let readonly = self.imported || self.smart.is_some() || !(self.owned_by(me) || me.admin);
        PlaylistRec { readonly, ..self.rec }
    }
}

/// The playlist, if `me` may see it (the owner, anyone for a public one, admins); otherwise
/// "not found", so that private playlists do not show that they exist.
fn visible_playlist(conn: &Connection, me: &User, id: &str) -> Result<PlaylistRow, ApiError> {
    let sql = format!("SELECT {} {PLAYLIST_FROM} WHERE p.id = ?1", playlist_columns("?2"));
    let row = conn
        .prepare_cached(&sql)
        .map_err(internal)?
        .query_row([id, &me.id], playlist_row)
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
