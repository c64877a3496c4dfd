//! What a zip download holds: the songs of an album, an artist or a playlist (or a share), in
//! order, and the readable, unique name each gets inside the zip (`01 - Title.flac`; a
//! multi-disc album's songs in `Disc N/`; an artist's in a folder per album; a playlist's
//! numbered by position). Only ids: the transcoder gets the paths, the client never.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};

use super::store::User;
use crate::proto::error::internal;
use crate::proto::media::ZipEntry;
use crate::proto::ApiError;

/// A song as a zip needs it.
#[derive(Debug, Clone)]
pub struct ZipTrack {
    pub root: u32,
    pub path: Vec<u8>,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub album_id: String,
    pub track: Option<i64>,
    pub disc: Option<i64>,
    pub suffix: String,
}

const COLUMNS: &str = "f.music_folder_id, f.path, t.file_name, t.title, t.artist, coalesce(al.name, ''), \
    coalesce(t.album_id, ''), t.track, t.disc, t.suffix";
const FROM: &str = "FROM tracks t JOIN folders f ON f.id = t.folder_id LEFT JOIN albums al ON al.id = t.album_id";

/// The songs matching `filter` (on `?1`, `arg`) that `user` (`?2`) may see.
fn tracks(
    conn: &Connection,
    roots: &[i64],
    user: &str,
    filter: &str,
    order: &str,
    arg: &str,
) -> Result<Vec<ZipTrack>, ApiError> {
    let visible = super::access::track("t", "?2");
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE t.missing = 0 AND {visible} AND ({filter}) ORDER BY {order}");
    let mut st = conn.prepare_cached(&sql).map_err(internal)?;
    let rows = st
        .query_map([arg, user], |r| {
            let folder: i64 = r.get(0)?;
            let dir: Vec<u8> = r.get(1)?;
            let name: Vec<u8> = r.get(2)?;
            Ok((
                folder,
                super::ingest::join_path(&dir, &name),
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .map_err(internal)?;
    let mut out = Vec::new();
    for row in rows {
        let (folder, path, title, artist, album, album_id, track, disc, suffix) = row.map_err(internal)?;
        let Some(root) = roots.iter().position(|r| *r == folder) else { continue };
        out.push(ZipTrack { root: root as u32, path, title, artist, album, album_id, track, disc, suffix });
    }
    Ok(out)
}

/// Tracks by id, in the order given (unknown or missing ones, and those `user` may not see,
/// left out).
pub fn tracks_by_ids(conn: &Connection, roots: &[i64], user: &str, ids: &[String]) -> Result<Vec<ZipTrack>, ApiError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(tracks(conn, roots, user, "t.id = ?1", "t.id", id)?);
    }
    Ok(out)
}

/// What a `download` id names besides a song.
pub enum Collection {
    Album,
    Artist,
    Playlist,
}

/// The zip's name and songs for an album, artist or playlist id `me` may see; None if the id
/// is none of those.
pub fn collection(
    conn: &Connection,
    roots: &[i64],
    me: &User,
    id: &str,
) -> Result<Option<(Collection, String, Vec<ZipTrack>)>, ApiError> {
    let one = |sql: &str| conn.query_row(sql, [id], |r| r.get::<_, String>(0)).optional().map_err(internal);
    // An album or artist `me` may not see is no album or artist here (super::access).
    let sees = |check: fn(&Connection, &str, &str) -> rusqlite::Result<bool>| check(conn, &me.id, id).map_err(internal);
    if let Some(name) = one("SELECT name FROM albums WHERE id = ?1")? {
        if !sees(super::access::sees_album)? {
            return Ok(None);
        }
        let t = tracks(conn, roots, &me.id, "t.album_id = ?1", "t.disc, t.track, t.title COLLATE NOCASE", id)?;
        return Ok(Some((Collection::Album, name, t)));
    }
    if let Some(name) = one("SELECT name FROM artists WHERE id = ?1")? {
        if !sees(super::access::sees_artist)? {
            return Ok(None);
        }
        let filter = "t.album_id IN (SELECT al.id FROM albums al WHERE al.artist_id = ?1) \
                      OR t.id IN (SELECT track_id FROM track_artists WHERE artist_id = ?1)";
        let t =
            tracks(conn, roots, &me.id, filter, "al.year, al.name COLLATE NOCASE, t.album_id, t.disc, t.track", id)?;
        return Ok(Some((Collection::Artist, name, t)));
    }
    let playlist: Option<String> = conn
        .query_row(
            "SELECT name FROM playlists WHERE id = ?1 AND (owner_id = ?2 OR public = 1 OR ?3)",
            params![id, me.id, me.admin],
            |r| r.get(0),
        )
        .optional()
        .map_err(internal)?;
    if let Some(name) = playlist {
        let ids: Vec<String> = conn
            .prepare_cached("SELECT track_id FROM playlist_tracks WHERE playlist_id = ?1 ORDER BY position")
            .map_err(internal)?
            .query_map([id], |r| r.get(0))
            .map_err(internal)?
            .collect::<Result<_, _>>()
            .map_err(internal)?;
        // A playlist of someone who sees more: only the songs `me` may see.
        return Ok(Some((Collection::Playlist, name, tracks_by_ids(conn, roots, &me.id, &ids)?)));
    }
    Ok(None)
}

/// A name part safe in a zip on any system: no separators, control characters or leading
/// dots, and not too long.
pub fn clean(s: &str) -> String {
    let mut out: String =
        s.chars()
            .map(|c| {
                if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
    out = out.trim().trim_start_matches('.').trim().to_string();
    if out.chars().count() > 120 {
        out = out.chars().take(120).collect();
    }
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// The entries of a zip: albums (and an artist's albums) as `[Album/][Disc N/]NN - Title.ext`,
/// lists (playlists, shares) as `NNN - Artist - Title.ext`; every name unique.
pub fn entries(tracks: &[ZipTrack], kind: &Collection) -> Vec<ZipEntry> {
    let multi_disc: HashSet<&str> = {
        let mut discs: std::collections::HashMap<&str, HashSet<i64>> = Default::default();
        for t in tracks {
            discs.entry(&t.album_id).or_default().insert(t.disc.unwrap_or(1));
        }
        discs.into_iter().filter(|(_, d)| d.len() > 1).map(|(a, _)| a).collect()
    };
    let width = tracks.len().to_string().len().max(2);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(tracks.len());
    for (i, t) in tracks.iter().enumerate() {
        let ext = clean(&t.suffix);
        let stem = match kind {
            Collection::Playlist => format!("{:0width$} - {} - {}", i + 1, clean(&t.artist), clean(&t.title)),
            Collection::Album | Collection::Artist => {
                let mut s = String::new();
                if matches!(kind, Collection::Artist) {
                    s.push_str(&clean(&t.album));
                    s.push('/');
                }
                if multi_disc.contains(t.album_id.as_str()) {
                    s.push_str(&format!("Disc {}/", t.disc.unwrap_or(1)));
                }
                match t.track {
                    Some(n) => s.push_str(&format!("{n:02} - {}", clean(&t.title))),
                    None => s.push_str(&clean(&t.title)),
                }
                s
            }
        };
        let mut name = format!("{stem}.{ext}");
        let mut n = 2;
        while !seen.insert(name.to_lowercase()) {
            name = format!("{stem} ({n}).{ext}");
            n += 1;
        }
        out.push(ZipEntry { root: t.root, path: t.path.clone(), name });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(title: &str, track: Option<i64>, disc: Option<i64>, album: &str) -> ZipTrack {
        ZipTrack {
            root: 0,
            path: b"x".to_vec(),
            title: title.into(),
            artist: "Art/ist".into(),
            album: album.into(),
            album_id: album.into(),
            track,
            disc,
            suffix: "flac".into(),
        }
    }

    #[test]
    fn names_are_readable_unique_and_safe() {
        let album =
            [t("One", Some(1), Some(1), "a"), t("One", Some(1), Some(2), "a"), t("../x", Some(2), Some(2), "a")];
        let names: Vec<String> = entries(&album, &Collection::Album).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["Disc 1/01 - One.flac", "Disc 2/01 - One.flac", "Disc 2/02 - _x.flac"]);
        let single = [t("Same", Some(1), None, "b"), t("Same", Some(1), None, "b")];
        let names: Vec<String> = entries(&single, &Collection::Album).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["01 - Same.flac", "01 - Same (2).flac"]);
        let list: Vec<String> = entries(&single, &Collection::Playlist).into_iter().map(|e| e.name).collect();
        assert_eq!(list, ["01 - Art_ist - Same.flac", "02 - Art_ist - Same.flac"]);
        let artist: Vec<String> = entries(&single[..1], &Collection::Artist).into_iter().map(|e| e.name).collect();
        assert_eq!(artist, ["b/01 - Same.flac"]);
        assert_eq!(clean("..."), "_");
    }
}
