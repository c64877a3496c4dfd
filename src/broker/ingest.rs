//! Ingest: the library's write side, where what the scanner reports becomes rows. Folder
//! checks (`check_folders`, read-only), the folders' tracks, albums, artists, genres, images
//! and playlist files (`store_folders`, one bounded transaction per message), the end of a
//! scan (`finish_scan`: missing and moved files, album figures, imported playlists), and the
//! record of files that crashed the scanner. Which scan runs, and when, is
//! [`scan_jobs`](super::scan_jobs) (no SQL there); the read side is [`browse`](super::browse).
//! Every statement is a constant with `?` parameters; strings from tags are stored as given.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::db::{meta_get, new_id, new_row_id, now};

/// Set (in `meta`) when every album's and artist's figures are to be recomputed at the end of
/// the next scan (a database from before migration 0016 may hold it); cleared by that scan.
/// Otherwise a batch that changes a track names its albums and artists in `stale_albums` and
/// `stale_artists`, and only those are recomputed: a rescan that changed nothing skips the
/// figures, and a daemon stopped between a batch and the scan's end recomputes them next time.
const FIGURES_STALE: &str = "figures_stale";
/// Above this share of the albums stale (a first scan, a full rescan), one pass over every
/// track recomputes the figures faster than a lookup per stale album.
const WHOLE_FIGURES_ABOVE: f64 = 0.25;
use crate::proto::scan::{FolderSeen, FolderToRead, FolderUpdate, KnownFile, ScannedFile, TrackTags};

/// Makes the music_folders table match MusicFolder; returns the id of each configured folder,
/// in order (a Subsonic music folder id).
pub fn sync_music_folders(conn: &Connection, folders: &[PathBuf]) -> rusqlite::Result<Vec<i64>> {
    conn.execute("UPDATE music_folders SET active = 0", [])?;
    let mut ids = Vec::new();
    for p in folders {
        let path = p.to_string_lossy();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.to_string());
        conn.execute(
            "INSERT INTO music_folders (path, name, active) VALUES (?1, ?2, 1) ON CONFLICT(path) DO UPDATE SET active = 1",
            params![path, name],
        )?;
        ids.push(conn.query_row("SELECT id FROM music_folders WHERE path = ?1", [&path], |r| r.get(0))?);
    }
    Ok(ids)
}

/// The version of the scanner's tag reading: rows stored by an older one (tracks.tags_version)
/// are read again by the next scan, whether or not the file changed. 1: the album fields of
/// migration 0011 (release types, labels, moods, explicit status) and every sidecar lyrics file;
/// 2: release types and the explicit flag under their other names (ID3v2 and MP4 RELEASETYPE,
/// the Vorbis comment ITUNESADVISORY), which version 1 did not read.
pub const TAGS_VERSION: i64 = 2;

fn folder_id(conn: &Connection, root: i64, path: &[u8]) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM folders WHERE music_folder_id = ?1 AND path = ?2")?
        .query_row(params![root, path], |r| r.get(0))
        .optional()
}

/// The folders whose fingerprint changed (all of them on a full scan), with the files the
/// library holds for each, and the ids of the folders seen unchanged (the broker marks them
/// seen at the end of the scan). Reads only: it runs on the reader connection, beside a
/// store transaction on the writer.
pub fn check_folders(
    conn: &Connection,
    roots: &[i64],
    full: bool,
    seen: &[FolderSeen],
) -> rusqlite::Result<(Vec<FolderToRead>, Vec<i64>)> {
    let mut out = Vec::new();
    let mut unchanged = Vec::new();
    for (i, f) in seen.iter().enumerate() {
        let Some(&root) = roots.get(f.root as usize) else { continue };
        let row: Option<(i64, Option<Vec<u8>>)> = conn
            .prepare_cached("SELECT id, fingerprint FROM folders WHERE music_folder_id = ?1 AND path = ?2")?
            .query_row(params![root, f.path], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let stale = |id: i64| -> rusqlite::Result<bool> {
            conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM tracks WHERE folder_id = ?1 AND tags_version < ?2)")?
                .query_row(params![id, TAGS_VERSION], |r| r.get(0))
        };
        match row {
            Some((id, Some(fp))) if !full && fp == f.fingerprint && !stale(id)? => unchanged.push(id),
            Some((id, _)) => {
                // Rows stored by an older tag reading are left out: the scanner reads them again.
                let known = conn
                    .prepare_cached(
                        "SELECT file_name, size, mtime FROM tracks WHERE folder_id = ?1 AND missing = 0 \
                         AND tags_version >= ?2",
                    )?
                    .query_map(params![id, TAGS_VERSION], |r| {
                        Ok(KnownFile { name: r.get(0)?, size: r.get(1)?, mtime: r.get(2)? })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(FolderToRead { index: i as u32, known });
            }
            None => out.push(FolderToRead { index: i as u32, known: Vec::new() }),
        }
    }
    Ok((out, unchanged))
}

pub(crate) fn join_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn parent_path(path: &[u8]) -> Option<&[u8]> {
    if path.is_empty() {
        return None;
    }
    Some(path.iter().rposition(|b| *b == b'/').map(|i| &path[..i]).unwrap_or(b""))
}

fn ensure_folder(tx: &Transaction<'_>, root: i64, path: &[u8], scan: i64) -> rusqlite::Result<i64> {
    if let Some(id) = folder_id(tx, root, path)? {
        return Ok(id);
    }
    let parent = match parent_path(path) {
        Some(p) => Some(ensure_folder(tx, root, p, scan)?),
        None => None,
    };
    tx.prepare_cached("INSERT INTO folders (music_folder_id, path, parent_id, last_scan) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![root, path, parent, scan])?;
    Ok(tx.last_insert_rowid())
}

/// Ids already looked up in this transaction: most tracks of a folder share them. And the
/// search index's changes and the stale albums and artists, written at the end of the
/// transaction (see [`Ids::write_pending`]).
#[derive(Default)]
struct Ids {
    artists: HashMap<String, String>,
    albums: HashMap<String, String>,
    genres: HashMap<String, i64>,
    search: Vec<SearchChange>,
    /// Albums and artists whose figures this batch may have changed (before and after).
    stale_albums: HashSet<String>,
    stale_artists: HashSet<String>,
}

/// One change of an FTS5 search table: (table, rowid, the new text, or None to delete).
type SearchChange = (&'static str, i64, Option<String>);

impl Ids {
    /// Writes the batch's search-index changes, in order, after everything else. FTS5 flushes
    /// its pending terms to disk whenever a later statement of the transaction opens a
    /// statement savepoint (an upsert does), so writing them between the track statements made
    /// one tiny index segment per track, and merging those was a third of a full scan's time.
    ///
    /// The batch's stale albums and artists are written here too, once each.
    fn write_pending(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        for id in self.stale_albums.drain() {
            tx.prepare_cached("INSERT OR IGNORE INTO stale_albums (id) VALUES (?1)")?.execute([id])?;
        }
        for id in self.stale_artists.drain() {
            tx.prepare_cached("INSERT OR IGNORE INTO stale_artists (id) VALUES (?1)")?.execute([id])?;
        }
        for (table, rowid, text) in self.search.drain(..) {
            match text {
                Some(text) => tx
                    .prepare_cached(&format!("INSERT INTO {table} (rowid, text) VALUES (?1, ?2)"))?
                    .execute(params![rowid, text])?,
                None => tx.prepare_cached(&format!("DELETE FROM {table} WHERE rowid = ?1"))?.execute([rowid])?,
            };
        }
        Ok(())
    }
}

fn artist_id(
    tx: &Transaction<'_>,
    ids: &mut Ids,
    name: &str,
    sort: Option<&str>,
    mbz: Option<&str>,
) -> rusqlite::Result<String> {
    let key = name.trim().to_lowercase();
    if let Some(id) = ids.artists.get(&key) {
        return Ok(id.clone());
    }
    let found: Option<String> =
        tx.prepare_cached("SELECT id FROM artists WHERE key = ?1")?.query_row([&key], |r| r.get(0)).optional()?;
    let id = match found {
        Some(id) => {
            if mbz.is_some() || sort.is_some() {
                tx.prepare_cached("UPDATE artists SET mbz_id = coalesce(?2, mbz_id), sort_name = coalesce(?3, sort_name) WHERE id = ?1")?
                    .execute(params![id, mbz, sort])?;
            }
            id
        }
        None => {
            let id = new_row_id();
            tx.prepare_cached("INSERT INTO artists (id, key, name, sort_name, mbz_id) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![id, key, name.trim(), sort, mbz])?;
            ids.search.push(("artist_search", tx.last_insert_rowid(), Some(name.trim().to_string())));
            id
        }
    };
    ids.artists.insert(key, id.clone());
    Ok(id)
}

pub const VARIOUS_ARTISTS: &str = "Various Artists";
/// The album of songs without an album tag (Navidrome's name): one per album artist and
/// folder, so that every song is reachable through getArtists, getArtist and getAlbum.
pub const UNKNOWN_ALBUM: &str = "[Unknown Album]";

/// The key of a folder's album for songs without an album tag: the (first) album artist's id
/// and the folder. Migration 0007 builds the same key in SQL for songs stored before it.
fn unknown_album_key(artist_id: &str, folder: i64) -> String {
    format!("unknown\u{1f}{artist_id}\u{1f}{folder}")
}

fn album_id(
    tx: &Transaction<'_>,
    ids: &mut Ids,
    t: &TrackTags,
    album_artist: &str,
    artist_id: &str,
    folder: i64,
) -> rusqlite::Result<String> {
    let tagged = t.album.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let (name, key) = match (tagged, &t.mbz_album_id) {
        (Some(name), Some(m)) => (name, format!("mbz:{}", m.to_lowercase())),
        (Some(name), None) => (name, format!("{}\u{1f}{}", album_artist.to_lowercase(), name.to_lowercase())),
        (None, _) => (UNKNOWN_ALBUM, unknown_album_key(artist_id, folder)),
    };
    let (sort, mbz, release_group) = match tagged {
        Some(_) => (t.sort_album.as_deref(), t.mbz_album_id.as_deref(), t.mbz_release_group_id.as_deref()),
        None => (None, None, None),
    };
    if let Some(id) = ids.albums.get(&key) {
        return Ok(id.clone());
    }
    let found: Option<String> =
        tx.prepare_cached("SELECT id FROM albums WHERE key = ?1")?.query_row([&key], |r| r.get(0)).optional()?;
    let id = match found {
        Some(id) => id,
        None => {
            let id = new_row_id();
            tx.prepare_cached(
                "INSERT INTO albums (id, key, name, artist_id, artist_name, sort_name, compilation, mbz_id, mbz_release_group_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![id, key, name, artist_id, album_artist, sort, t.compilation, mbz, release_group, now()])?;
            ids.search.push(("album_search", tx.last_insert_rowid(), Some(format!("{name} {album_artist}"))));
            id
        }
    };
    ids.albums.insert(key, id.clone());
    Ok(id)
}

fn genre_id(tx: &Transaction<'_>, ids: &mut Ids, name: &str) -> rusqlite::Result<i64> {
    let key = name.to_lowercase();
    if let Some(id) = ids.genres.get(&key) {
        return Ok(*id);
    }
    tx.prepare_cached("INSERT INTO genres (name) VALUES (?1) ON CONFLICT(name) DO NOTHING")?.execute([name])?;
    let id = tx.prepare_cached("SELECT id FROM genres WHERE name = ?1")?.query_row([name], |r| r.get(0))?;
    ids.genres.insert(key, id);
    Ok(id)
}

/// The album and the artists the track `id` counts towards now: their figures are to be
/// recomputed at the end of the scan (its row is about to change or go missing).
fn mark_stale(tx: &Transaction<'_>, ids: &mut Ids, id: &str) -> rusqlite::Result<()> {
    let album: Option<String> = tx
        .prepare_cached("SELECT album_id FROM tracks WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten();
    ids.stale_albums.extend(album);
    let mut st = tx.prepare_cached("SELECT artist_id FROM track_artists WHERE track_id = ?1")?;
    for artist in st.query_map([id], |r| r.get(0))? {
        ids.stale_artists.insert(artist?);
    }
    Ok(())
}

fn store_track(tx: &Transaction<'_>, ids: &mut Ids, folder: i64, scan: i64, f: &ScannedFile) -> rusqlite::Result<()> {
    let t = &f.tags;
    let title = t.title.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| {
        let name = String::from_utf8_lossy(&f.name).into_owned();
        name.rsplit_once('.').map(|(stem, _)| stem.to_string()).unwrap_or(name)
    });
    let artists: Vec<&str> =
        if t.artists.is_empty() { vec!["[Unknown Artist]"] } else { t.artists.iter().map(|s| s.as_str()).collect() };
    let album_artists: Vec<&str> = if !t.album_artists.is_empty() {
        t.album_artists.iter().map(|s| s.as_str()).collect()
    } else if t.compilation {
        vec![VARIOUS_ARTISTS]
    } else {
        artists.clone()
    };
    let display_artist = artists.join(" • ");
    let display_album_artist = album_artists.join(" • ");
    let mut artist_ids = Vec::new();
    for (i, a) in artists.iter().enumerate() {
        let mbz = if i == 0 { t.mbz_artist_id.as_deref() } else { None };
        let sort = if i == 0 { t.sort_artist.as_deref() } else { None };
        artist_ids.push(artist_id(tx, ids, a, sort, mbz)?);
    }
    let mut album_artist_ids = Vec::new();
    for (i, a) in album_artists.iter().enumerate() {
        let mbz = if i == 0 { t.mbz_album_artist_id.as_deref() } else { None };
        let sort = if i == 0 { t.sort_album_artist.as_deref() } else { None };
        album_artist_ids.push(artist_id(tx, ids, a, sort, mbz)?);
    }
    let album = album_id(tx, ids, t, &display_album_artist, &album_artist_ids[0], folder)?;
    let existing: Option<String> = tx
        .prepare_cached("SELECT id FROM tracks WHERE folder_id = ?1 AND file_name = ?2")?
        .query_row(params![folder, f.name], |r| r.get(0))
        .optional()?;
    let is_new = existing.is_none();
    // The figures of what the row counted towards before, and of what it counts towards now.
    if let Some(id) = &existing {
        mark_stale(tx, ids, id)?;
    }
    ids.stale_albums.insert(album.clone());
    ids.stale_artists.extend(artist_ids.iter().chain(&album_artist_ids).cloned());
    let (id, created_scan) = match existing {
        Some(id) => (id, None),
        None => (new_row_id(), Some(scan)),
    };
    let pictures = t.pictures.iter().map(|(ty, mime)| format!("{ty}:{mime}")).collect::<Vec<_>>().join("\n");
    let ts = now();
    tx.prepare_cached(
        "INSERT INTO tracks (id, folder_id, file_name, size, mtime, suffix, codec, duration_ms, bitrate, sample_rate, bit_depth, \
         channels, title, album_id, artist, album_artist, track, track_total, disc, disc_total, disc_subtitle, year, date, \
         original_date, release_date, compilation, comment, lyrics, tags_version, bpm, sort_title, sort_artist, sort_album, \
         sort_album_artist, mbz_recording_id, mbz_track_id, mbz_album_id, mbz_artist_id, mbz_album_artist_id, \
         mbz_release_group_id, rg_track_gain, rg_track_peak, rg_album_gain, rg_album_peak, pictures, missing, created_scan, \
         created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, \
         ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, ?43, ?44, ?45, 0, \
         coalesce(?46, 0), ?47, ?47) \
         ON CONFLICT(folder_id, file_name) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, \
         suffix = excluded.suffix, codec = excluded.codec, duration_ms = excluded.duration_ms, bitrate = excluded.bitrate, \
         sample_rate = excluded.sample_rate, bit_depth = excluded.bit_depth, channels = excluded.channels, \
         title = excluded.title, album_id = excluded.album_id, artist = excluded.artist, album_artist = excluded.album_artist, \
         track = excluded.track, track_total = excluded.track_total, disc = excluded.disc, disc_total = excluded.disc_total, \
         disc_subtitle = excluded.disc_subtitle, year = excluded.year, date = excluded.date, \
         original_date = excluded.original_date, release_date = excluded.release_date, compilation = excluded.compilation, \
         comment = excluded.comment, lyrics = excluded.lyrics, tags_version = excluded.tags_version, bpm = excluded.bpm, \
         sort_title = excluded.sort_title, sort_artist = excluded.sort_artist, sort_album = excluded.sort_album, \
         sort_album_artist = excluded.sort_album_artist, mbz_recording_id = excluded.mbz_recording_id, \
         mbz_track_id = excluded.mbz_track_id, mbz_album_id = excluded.mbz_album_id, mbz_artist_id = excluded.mbz_artist_id, \
         mbz_album_artist_id = excluded.mbz_album_artist_id, mbz_release_group_id = excluded.mbz_release_group_id, \
         rg_track_gain = excluded.rg_track_gain, rg_track_peak = excluded.rg_track_peak, \
         rg_album_gain = excluded.rg_album_gain, rg_album_peak = excluded.rg_album_peak, pictures = excluded.pictures, \
         missing = 0, updated_at = excluded.updated_at",
    )?
    .execute(params![
        id,
        folder,
        f.name,
        f.size as i64,
        f.mtime,
        f.suffix,
        t.codec,
        t.duration_ms as i64,
        t.bitrate_kbps,
        t.sample_rate,
        t.bit_depth,
        t.channels,
        title,
        album,
        display_artist,
        display_album_artist,
        t.track,
        t.track_total,
        t.disc,
        t.disc_total,
        t.disc_subtitle,
        t.year,
        t.date,
        t.original_date,
        t.release_date,
        t.compilation,
        t.comment,
        t.lyrics,
        TAGS_VERSION,
        t.bpm,
        t.sort_title,
        t.sort_artist,
        t.sort_album,
        t.sort_album_artist,
        t.mbz_recording_id,
        t.mbz_track_id,
        t.mbz_album_id,
        t.mbz_artist_id,
        t.mbz_album_artist_id,
        t.mbz_release_group_id,
        t.rg_track_gain,
        t.rg_track_peak,
        t.rg_album_gain,
        t.rg_album_peak,
        pictures,
        created_scan,
        ts
    ])?;
    let rowid: i64 = tx.prepare_cached("SELECT rowid FROM tracks WHERE id = ?1")?.query_row([&id], |r| r.get(0))?;
    if !is_new {
        ids.search.push(("track_search", rowid, None));
    }
    ids.search.push((
        "track_search",
        rowid,
        Some(format!("{title} {display_artist} {}", t.album.as_deref().unwrap_or(""))),
    ));
    let pairs = |ids: &[String], names: &[&str]| -> String {
        ids.iter().zip(names).map(|(i, n)| format!("{i}\u{1e}{n}")).collect::<Vec<_>>().join("\u{1f}")
    };
    tx.prepare_cached(
        "UPDATE tracks SET genre_list = ?2, artist_list = ?3, album_artist_list = ?4, release_types = ?5, \
         record_labels = ?6, moods = ?7, explicit_status = ?8 WHERE rowid = ?1",
    )?
    .execute(params![
        rowid,
        t.genres.join("\u{1f}"),
        pairs(&artist_ids, &artists),
        pairs(&album_artist_ids, &album_artists),
        t.release_types.join("\u{1f}"),
        t.record_labels.join("\u{1f}"),
        t.moods.join("\u{1f}"),
        t.explicit_status.as_deref().unwrap_or(""),
    ])?;
    if !is_new {
        tx.prepare_cached("DELETE FROM track_lyrics WHERE track_id = ?1")?.execute([&id])?;
    }
    for (source, text) in &f.sidecar_lyrics {
        tx.prepare_cached("INSERT OR REPLACE INTO track_lyrics (track_id, source, text) VALUES (?1, ?2, ?3)")?
            .execute(params![id, source, text])?;
    }
    if !is_new {
        tx.prepare_cached("DELETE FROM track_artists WHERE track_id = ?1")?.execute([&id])?;
    }
    for (role, ids) in [("artist", &artist_ids), ("albumartist", &album_artist_ids)] {
        for (pos, a) in ids.iter().enumerate() {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO track_artists (track_id, role, position, artist_id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, role, pos as i64, a])?;
        }
    }
    tx.prepare_cached("DELETE FROM track_genres WHERE track_id = ?1")?.execute([&id])?;
    for (pos, g) in t.genres.iter().enumerate() {
        let gid = genre_id(tx, ids, g)?;
        tx.prepare_cached("INSERT OR IGNORE INTO track_genres (track_id, genre_id, position) VALUES (?1, ?2, ?3)")?
            .execute(params![id, gid, pos as i64])?;
    }
    Ok(())
}

/// Whether a playlist file in `folder` (relative to its music folder, "" for the music folder
/// itself) is imported: AutoImportPlaylists, and a PlaylistsPath pattern matching the folder.
/// A pattern's `.` is the music folder, `*` one folder name (or part of one), `**` any depth.
pub fn imports_playlists_from(library: &crate::proto::LibrarySettings, folder: &[u8]) -> bool {
    let segments: Vec<&[u8]> = if folder.is_empty() { Vec::new() } else { folder.split(|b| *b == b'/').collect() };
    library.auto_import_playlists
        && library.playlists_path.iter().any(|p| {
            let pattern: Vec<&[u8]> =
                p.as_bytes().split(|b| *b == b'/').filter(|s| !s.is_empty() && *s != b".").collect();
            path_matches(&pattern, &segments)
        })
}

fn path_matches(pattern: &[&[u8]], path: &[&[u8]]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&b"**", rest)) => (0..=path.len()).any(|skip| path_matches(rest, &path[skip..])),
        Some((seg, rest)) => {
            path.split_first().is_some_and(|(name, tail)| name_matches(seg, name) && path_matches(rest, tail))
        }
    }
}

/// One folder name against a pattern where `*` stands for any run of bytes.
fn name_matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| name_matches(rest, &name[skip..])),
        Some((c, rest)) => name.split_first().is_some_and(|(n, tail)| n == c && name_matches(rest, tail)),
    }
}

/// `redoubt scan --purge-missing` queued rows: takes them all; whether one asked to purge.
pub fn take_purge_requests(conn: &Connection) -> rusqlite::Result<bool> {
    let purge: i64 = conn.query_row("SELECT coalesce(max(purge), 0) FROM scan_requests", [], |r| r.get(0))?;
    conn.execute("DELETE FROM scan_requests", [])?;
    Ok(purge != 0)
}

/// Stores what changed folders contain now, in one transaction.
pub fn store_folders(
    conn: &mut Connection,
    roots: &[i64],
    scan: i64,
    updates: &[FolderUpdate],
    library: &crate::proto::LibrarySettings,
) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let mut stored = 0;
    let mut ids = Ids::default();
    for u in updates {
        let Some(&root) = roots.get(u.root as usize) else { continue };
        let folder = ensure_folder(&tx, root, &u.path, scan)?;
        tx.prepare_cached("UPDATE folders SET fingerprint = ?1, last_scan = ?2 WHERE id = ?3")?.execute(params![
            &u.fingerprint[..],
            scan,
            folder
        ])?;
        for f in &u.files {
            store_track(&tx, &mut ids, folder, scan, f)?;
            // Read fine now: whatever was recorded against it (a crash it was only near, an
            // old read error) is cleared; warnings about it follow below.
            tx.prepare_cached("DELETE FROM scan_problems WHERE music_folder_id = ?1 AND path = ?2")?
                .execute(params![root, join_path(&u.path, &f.name)])?;
            stored += 1;
        }
        // Whatever the library had here and the scanner no longer reports is missing.
        let present: std::collections::HashSet<&[u8]> =
            u.files.iter().map(|f| f.name.as_slice()).chain(u.unchanged.iter().map(|n| n.as_slice())).collect();
        let known: Vec<(String, Vec<u8>)> = tx
            .prepare_cached("SELECT id, file_name FROM tracks WHERE folder_id = ?1 AND missing = 0")?
            .query_map([folder], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, name) in known {
            if !present.contains(name.as_slice()) {
                mark_stale(&tx, &mut ids, &id)?;
                tx.prepare_cached("UPDATE tracks SET missing = 1, updated_at = ?2 WHERE id = ?1")?
                    .execute(params![id, now()])?;
            }
        }
        tx.prepare_cached("DELETE FROM folder_images WHERE folder_id = ?1")?.execute([folder])?;
        for img in &u.images {
            tx.prepare_cached("INSERT OR IGNORE INTO folder_images (folder_id, name) VALUES (?1, ?2)")?
                .execute(params![folder, img])?;
        }
        let playlists = if imports_playlists_from(library, &u.path) { &u.playlists[..] } else { &[] };
        for p in playlists {
            let mut source = u.path.clone();
            if !source.is_empty() {
                source.push(b'/');
            }
            source.extend_from_slice(&p.name);
            // A smart playlist's rules, stored as the broker writes them (a tree out of bounds
            // is stored as no rules: it matches nothing).
            let smart: Option<String> = p.smart.as_ref().map(|rules| match rules.check_bounds() {
                Ok(()) => crate::broker::userdata::smart::store_rules(rules),
                Err(why) => crate::broker::userdata::smart::store_rules(&crate::proto::smart::SmartRules {
                    root: crate::proto::smart::Rule::All(vec![crate::proto::smart::Rule::Invalid(why)]),
                    sort: Default::default(),
                    limit: None,
                }),
            });
            let existing: Option<String> = tx
                .prepare_cached("SELECT id FROM playlists WHERE source_root = ?1 AND source_path = ?2")?
                .query_row(params![root, source], |r| r.get(0))
                .optional()?;
            let id = match existing {
                Some(id) => {
                    tx.prepare_cached(
                        "UPDATE playlists SET name = ?2, updated_at = ?3, \
                         comment = CASE WHEN ?4 IS NULL THEN comment ELSE ?5 END WHERE id = ?1",
                    )?
                    .execute(params![id, p.title, now(), smart, p.comment])?;
                    id
                }
                None => {
                    let id = new_id();
                    let owner: Option<String> = tx
                        .query_row("SELECT id FROM users WHERE is_admin = 1 ORDER BY created_at LIMIT 1", [], |r| {
                            r.get(0)
                        })
                        .optional()?;
                    tx.prepare_cached(
                        "INSERT INTO playlists (id, name, owner_id, source_root, source_path, created_at, updated_at, \
                         comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
                    )?
                    .execute(params![id, p.title, owner, root, source, now(), p.comment])?;
                    id
                }
            };
            tx.prepare_cached("DELETE FROM playlist_entries WHERE playlist_id = ?1")?.execute([&id])?;
            match &smart {
                Some(rules) => tx
                    .prepare_cached(
                        "INSERT INTO smart_playlists (playlist_id, rules) VALUES (?1, ?2) \
                         ON CONFLICT (playlist_id) DO UPDATE SET rules = excluded.rules",
                    )?
                    .execute(params![id, rules])?,
                None => tx.prepare_cached("DELETE FROM smart_playlists WHERE playlist_id = ?1")?.execute([&id])?,
            };
            for (pos, e) in p.entries.iter().enumerate() {
                tx.prepare_cached(
                    "INSERT INTO playlist_entries (playlist_id, position, root, path) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![id, pos as i64, root, e])?;
            }
        }
        for (name, reason) in &u.problems {
            let mut path = u.path.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            tx.prepare_cached(
                "INSERT INTO scan_problems (music_folder_id, path, failures, reason, last_seen) VALUES (?1, ?2, 0, ?3, ?4) \
                 ON CONFLICT(music_folder_id, path) DO UPDATE SET reason = excluded.reason, last_seen = excluded.last_seen",
            )?
            .execute(params![root, path, reason, scan])?;
        }
    }
    ids.write_pending(&tx)?;
    tx.commit()?;
    Ok(stored)
}

/// A scan walked everything: folders it did not see are gone; moved files keep their ids;
/// with `purge` (Scanner.PurgeMissing, `redoubt scan --purge-missing`), what is still missing
/// once moves are matched is deleted; album figures and imported playlists are brought up to
/// date.
pub fn finish_scan(
    conn: &mut Connection,
    roots: &[i64],
    scan: i64,
    started: i64,
    unchanged: &[i64],
    purge: bool,
) -> rusqlite::Result<FinishStats> {
    let tx = conn.transaction()?;
    let mut stats = FinishStats::default();
    for id in unchanged {
        tx.prepare_cached("UPDATE folders SET last_scan = ?1 WHERE id = ?2")?.execute(params![scan, id])?;
    }
    for root in roots {
        let gone = "SELECT t.id FROM tracks t WHERE t.missing = 0 AND t.folder_id IN \
                    (SELECT id FROM folders WHERE music_folder_id = ?1 AND last_scan < ?2)";
        tx.execute(
            &format!("INSERT OR IGNORE INTO stale_albums (id) SELECT album_id FROM tracks WHERE id IN ({gone}) AND album_id IS NOT NULL"),
            params![root, scan],
        )?;
        tx.execute(
            &format!("INSERT OR IGNORE INTO stale_artists (id) SELECT artist_id FROM track_artists WHERE track_id IN ({gone})"),
            params![root, scan],
        )?;
        stats.missing += tx.execute(
            "UPDATE tracks SET missing = 1, updated_at = ?3 WHERE missing = 0 AND folder_id IN \
             (SELECT id FROM folders WHERE music_folder_id = ?1 AND last_scan < ?2)",
            params![root, scan, now()],
        )? as u64;
    }
    // Moves: a track that went missing and one that appeared in this scan, recognised as the
    // same recording, keep the old id (stars, plays and playlists point at it).
    let pairs: Vec<(String, String)> = tx
        .prepare(
            "SELECT old.id, new.id FROM tracks old JOIN tracks new ON new.created_scan = ?1 AND new.missing = 0 AND old.missing = 1 \
             AND ((old.mbz_track_id IS NOT NULL AND old.mbz_track_id = new.mbz_track_id) \
               OR (old.mbz_track_id IS NULL AND old.mbz_recording_id IS NOT NULL AND old.mbz_recording_id = new.mbz_recording_id) \
               OR (old.mbz_recording_id IS NULL AND old.size = new.size AND old.mtime = new.mtime AND old.title = new.title))",
        )?
        .query_map([scan], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut taken = std::collections::HashSet::new();
    let mut moved = Ids::default();
    for (old, new) in pairs {
        if !taken.insert(old.clone()) || !taken.insert(new.clone()) {
            continue;
        }
        mark_stale(&tx, &mut moved, &old)?;
        mark_stale(&tx, &mut moved, &new)?;
        // The new row's data moves into the old row, then the new row goes.
        let (folder, name): (i64, Vec<u8>) =
            tx.query_row("SELECT folder_id, file_name FROM tracks WHERE id = ?1", [&new], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        tx.execute("UPDATE track_artists SET track_id = ?1 WHERE track_id = ?2 AND NOT EXISTS (SELECT 1 FROM track_artists WHERE track_id = ?1)", params![old, new])?;
        tx.execute("DELETE FROM track_artists WHERE track_id = ?1", [&new])?;
        tx.execute("UPDATE playlist_tracks SET track_id = ?1 WHERE track_id = ?2", params![old, new])?;
        tx.execute(
            "DELETE FROM track_search WHERE rowid IN (SELECT rowid FROM tracks WHERE id IN (?1, ?2))",
            params![old, new],
        )?;
        tx.execute("DELETE FROM tracks WHERE id = ?1", [&new])?;
        tx.execute(
            "UPDATE tracks SET folder_id = ?2, file_name = ?3, missing = 0, updated_at = ?4 WHERE id = ?1",
            params![old, folder, name, now()],
        )?;
        tx.execute(
            "INSERT INTO track_search (rowid, text) SELECT t.rowid, t.title || ' ' || t.artist || ' ' || coalesce(a.name, '') \
             FROM tracks t LEFT JOIN albums a ON a.id = t.album_id WHERE t.id = ?1",
            [&old],
        )?;
        stats.moved += 1;
    }
    moved.write_pending(&tx)?;
    // Missing tracks leave the search index (a returning file is indexed again when stored).
    tx.execute("DELETE FROM track_search WHERE rowid IN (SELECT rowid FROM tracks WHERE missing = 1)", [])?;
    if purge {
        stats.purged = purge_missing(&tx)?;
    }
    if let Some(scope) = figures_scope(&tx)? {
        let began = std::time::Instant::now();
        update_figures(&tx, scope)?;
        tx.execute_batch("DELETE FROM stale_albums; DELETE FROM stale_artists;")?;
        tx.execute("DELETE FROM meta WHERE key = ?1", [FIGURES_STALE])?;
        let which = match scope {
            FiguresScope::All => "every album and artist",
            FiguresScope::Stale => "the albums and artists it touched",
        };
        tracing::info!("scan {scan}: album and artist figures in {} ms ({which})", began.elapsed().as_millis());
    }
    // Imported playlists: their lines resolved to tracks.
    tx.execute(
        "DELETE FROM playlist_tracks WHERE playlist_id IN (SELECT DISTINCT playlist_id FROM playlist_entries)",
        [],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO playlist_tracks (playlist_id, position, track_id) \
         SELECT e.playlist_id, e.position, t.id FROM playlist_entries e \
         JOIN folders f ON f.music_folder_id = e.root \
         JOIN tracks t ON t.folder_id = f.id AND t.missing = 0 \
           AND CAST(CASE WHEN length(f.path) = 0 THEN t.file_name ELSE f.path || X'2F' || t.file_name END AS BLOB) = e.path",
        [],
    )?;
    // Read errors not seen again in this scan are gone; crash records stay.
    tx.execute("DELETE FROM scan_problems WHERE failures = 0 AND last_seen < ?1", [started])?;
    stats.tracks = tx.query_row("SELECT count(*) FROM tracks WHERE missing = 0", [], |r| r.get(0))?;
    stats.folders = tx.query_row("SELECT count(*) FROM folders", [], |r| r.get(0))?;
    tx.commit()?;
    // What the scan wrote goes into the database file now, not at the next 64 MiB of log
    // (db::open); PASSIVE: readers in the middle of an answer are not waited for.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(stats)
}

/// Which albums' and artists' figures `update_figures` recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FiguresScope {
    /// Every one, in one pass over the tracks.
    All,
    /// Those in `stale_albums` and `stale_artists` (and the album artists of those albums).
    Stale,
}

/// The figures the end of a scan recomputes: None when nothing is stale.
fn figures_scope(tx: &Transaction<'_>) -> rusqlite::Result<Option<FiguresScope>> {
    if meta_get(tx, FIGURES_STALE)?.is_some() {
        return Ok(Some(FiguresScope::All));
    }
    let (albums, artists, all): (i64, i64, i64) = tx.query_row(
        "SELECT (SELECT count(*) FROM stale_albums), (SELECT count(*) FROM stale_artists), (SELECT count(*) FROM albums)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(if albums + artists == 0 {
        None
    } else if albums as f64 > all as f64 * WHOLE_FIGURES_ABOVE {
        Some(FiguresScope::All)
    } else {
        Some(FiguresScope::Stale)
    })
}

/// Album and artist figures (song counts, durations, years, the album fields, genres,
/// album counts), recomputed from the tracks: of every album and artist, or of the stale ones.
/// Both give the same figures (`ingest::tests::stale_figures_match_a_whole_recount`).
fn update_figures(tx: &Transaction<'_>, scope: FiguresScope) -> rusqlite::Result<()> {
    // Album and artist figures, each in one pass. An artist's album count is every album it
    // has a song on, as album artist or track artist (getArtist lists the same albums), plus
    // any album it is still the album artist of without a song on it (retagged); the same
    // pass finds the artists with a track present (live). `+ta.artist_id` keeps SQLite on
    // the track's own rows: through the artist index, that check cost 4.5 s for 100,000 tracks.
    //
    // An artist's count depends on the song counts of the albums it is the album artist of,
    // so a stale album makes its album artist stale.
    // The conditions that restrict each statement to the stale rows, by the alias it uses.
    let [albums, tracks, t_tracks, artists, links, album_artists] = match scope {
        FiguresScope::All => [""; 6],
        FiguresScope::Stale => {
            tx.execute(
                "INSERT OR IGNORE INTO stale_artists (id) SELECT artist_id FROM albums \
                 WHERE id IN (SELECT id FROM stale_albums) AND artist_id IS NOT NULL",
                [],
            )?;
            [
                " AND albums.id IN (SELECT id FROM stale_albums)",
                " AND album_id IN (SELECT id FROM stale_albums)",
                " AND t.album_id IN (SELECT id FROM stale_albums)",
                " AND artists.id IN (SELECT id FROM stale_artists)",
                " AND ta.artist_id IN (SELECT id FROM stale_artists)",
                " AND al.artist_id IN (SELECT id FROM stale_artists)",
            ]
        }
    };
    tx.execute_batch(&format!(
        "UPDATE albums SET song_count = 0, duration_ms = 0, genre_list = '' WHERE 1{albums}; \
         UPDATE albums SET song_count = a.n, duration_ms = a.d, year = a.y, folder_id = a.f FROM \
           (SELECT album_id, count(*) AS n, coalesce(sum(duration_ms), 0) AS d, max(year) AS y, min(folder_id) AS f \
            FROM tracks WHERE missing = 0 AND album_id IS NOT NULL{tracks} GROUP BY album_id) AS a WHERE albums.id = a.album_id; \
         UPDATE albums SET release_date = a.rd, original_date = a.od, release_types = a.rt, record_labels = a.rl, \
           moods = a.mo, explicit_status = a.ex, sort_name = coalesce(a.sn, albums.sort_name) FROM \
           (SELECT album_id, min(coalesce(release_date, date)) AS rd, min(original_date) AS od, max(sort_album) AS sn, \
              coalesce(min(nullif(release_types, '')), '') AS rt, coalesce(min(nullif(record_labels, '')), '') AS rl, \
              coalesce(min(nullif(moods, '')), '') AS mo, \
              CASE WHEN max(explicit_status = 'explicit') THEN 'explicit' WHEN max(explicit_status = 'clean') THEN 'clean' \
              ELSE '' END AS ex \
            FROM tracks WHERE missing = 0 AND album_id IS NOT NULL{tracks} GROUP BY album_id) AS a WHERE albums.id = a.album_id; \
         UPDATE albums SET genre_list = g.list FROM \
           (SELECT album_id, group_concat(name, char(31)) AS list FROM \
              (SELECT DISTINCT t.album_id, gn.name FROM tracks t JOIN track_genres tg ON tg.track_id = t.id \
               JOIN genres gn ON gn.id = tg.genre_id WHERE t.missing = 0 AND t.album_id IS NOT NULL{t_tracks}) GROUP BY album_id) AS g \
           WHERE albums.id = g.album_id; \
         UPDATE artists SET album_count = 0, live = 0 WHERE 1{artists}; \
         UPDATE artists SET album_count = c.n, live = 1 FROM \
           (SELECT ta.artist_id, count(DISTINCT t.album_id) AS n FROM track_artists ta JOIN tracks t ON t.id = ta.track_id \
            WHERE t.missing = 0{links} GROUP BY ta.artist_id) AS c WHERE artists.id = c.artist_id; \
         UPDATE artists SET album_count = album_count + c.n FROM \
           (SELECT al.artist_id, count(*) AS n FROM albums al WHERE al.song_count > 0{album_artists} AND NOT EXISTS \
              (SELECT 1 FROM tracks t JOIN track_artists ta ON ta.track_id = t.id AND +ta.artist_id = al.artist_id \
               WHERE t.album_id = al.id AND t.missing = 0) GROUP BY al.artist_id) AS c WHERE artists.id = c.artist_id;",
    ))
}

/// Deletes the songs still missing after this scan's moves were matched (a moved file kept
/// its row, so its stars, plays, playlist entries and bookmarks stay with it), then the
/// albums and artists left with nothing, and the annotations of what is gone.
/// Playlist entries, queue entries, bookmarks and share items of a deleted song go with it
/// (ON DELETE CASCADE). Returns the songs deleted.
fn purge_missing(tx: &Transaction<'_>) -> rusqlite::Result<u64> {
    let purged = tx.execute("DELETE FROM tracks WHERE missing = 1", [])? as u64;
    if purged == 0 {
        return Ok(0);
    }
    tx.execute_batch(
        "DELETE FROM album_search WHERE rowid IN \
           (SELECT rowid FROM albums al WHERE NOT EXISTS (SELECT 1 FROM tracks t WHERE t.album_id = al.id)); \
         DELETE FROM albums WHERE NOT EXISTS (SELECT 1 FROM tracks t WHERE t.album_id = albums.id); \
         DELETE FROM artist_search WHERE rowid IN \
           (SELECT rowid FROM artists ar WHERE NOT EXISTS (SELECT 1 FROM track_artists ta WHERE ta.artist_id = ar.id) \
            AND NOT EXISTS (SELECT 1 FROM albums al WHERE al.artist_id = ar.id)); \
         DELETE FROM artists WHERE NOT EXISTS (SELECT 1 FROM track_artists ta WHERE ta.artist_id = artists.id) \
           AND NOT EXISTS (SELECT 1 FROM albums al WHERE al.artist_id = artists.id); \
         DELETE FROM annotations WHERE kind = 'track' AND item_id NOT IN (SELECT id FROM tracks); \
         DELETE FROM annotations WHERE kind = 'album' AND item_id NOT IN (SELECT id FROM albums); \
         DELETE FROM annotations WHERE kind = 'artist' AND item_id NOT IN (SELECT id FROM artists);",
    )?;
    Ok(purged)
}

#[derive(Debug, Default, Clone, Copy)]
pub struct FinishStats {
    pub missing: u64,
    pub moved: u64,
    /// Missing songs deleted (PurgeMissing).
    pub purged: u64,
    pub tracks: i64,
    pub folders: i64,
}

/// Merges the search indexes after a scan that changed something. A scan stores its tracks a
/// batch at a time, one index segment per batch, which every search must visit: merged into
/// one, search3 for a common word costs a third less. After a scan that read at least a tenth
/// of the library, each index is merged whole ('optimize': 0.4 s for 100,000 tracks, seconds
/// at a million); after a smaller one, a bounded merge of the crowded levels only ('merge',
/// about 1,000 pages of work), so a rescan of a few changed albums does not rewrite the index
/// of a million tracks.
pub fn optimize_search(conn: &Connection, files_read: u64, tracks: i64) -> rusqlite::Result<()> {
    let whole = files_read.saturating_mul(10) >= tracks.max(0) as u64;
    for table in ["track_search", "album_search", "artist_search"] {
        if whole {
            conn.execute(&format!("INSERT INTO {table} ({table}) VALUES ('optimize')"), [])?;
        } else {
            conn.execute(&format!("INSERT INTO {table} ({table}, rank) VALUES ('merge', 1000)"), [])?;
        }
    }
    Ok(())
}

/// A file that crashed or hung the scanner: one more failure.
pub fn record_crash(conn: &Connection, roots: &[i64], root: u32, path: &[u8], scan: i64) -> rusqlite::Result<i64> {
    let Some(&root) = roots.get(root as usize) else { return Ok(0) };
    conn.execute(
        "INSERT INTO scan_problems (music_folder_id, path, failures, reason, last_seen) \
         VALUES (?1, ?2, 1, 'the scanner crashed or hung while reading this file', ?3) \
         ON CONFLICT(music_folder_id, path) DO UPDATE SET failures = failures + 1, \
           reason = 'the scanner crashed or hung while reading this file', last_seen = excluded.last_seen",
        params![root, path, scan],
    )?;
    conn.query_row(
        "SELECT failures FROM scan_problems WHERE music_folder_id = ?1 AND path = ?2",
        params![root, path],
        |r| r.get(0),
    )
}

/// Files skipped from now on: two or more crashes (or, with `suspects`, exactly one).
pub fn skip_list(conn: &Connection, roots: &[i64], suspects: bool) -> rusqlite::Result<Vec<(u32, Vec<u8>)>> {
    let index: HashMap<i64, u32> = roots.iter().enumerate().map(|(i, r)| (*r, i as u32)).collect();
    let sql = if suspects {
        "SELECT music_folder_id, path FROM scan_problems WHERE failures = 1"
    } else {
        "SELECT music_folder_id, path FROM scan_problems WHERE failures >= 2"
    };
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    Ok(rows.filter_map(Result::ok).filter_map(|(root, p)| index.get(&root).map(|i| (*i, p))).collect())
}

/// A recorded problem: (music folder path, file path, crashes caused, reason).
pub type Problem = (String, Vec<u8>, i64, String);

pub fn problems(conn: &Connection) -> rusqlite::Result<Vec<Problem>> {
    let mut st = conn.prepare(
        "SELECT m.path, p.path, p.failures, p.reason FROM scan_problems p JOIN music_folders m ON m.id = p.music_folder_id \
         ORDER BY m.path, p.path",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn untagged(name: &str, mtime: i64) -> ScannedFile {
        ScannedFile {
            name: name.as_bytes().to_vec(),
            size: 100,
            mtime,
            suffix: "mp3".into(),
            tags: TrackTags { codec: "MP3".into(), ..Default::default() },
            sidecar_lyrics: Vec::new(),
        }
    }

    fn album_of(conn: &Connection, name: &str) -> (String, String, String) {
        conn.query_row(
            "SELECT al.id, al.key, al.name FROM tracks t JOIN albums al ON al.id = t.album_id WHERE t.file_name = ?1",
            [name.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    }

    /// Songs without an album tag get their folder's "[Unknown Album]", whether stored now or
    /// before migration 0007 (which builds the same key), and keep it on rescans.
    #[test]
    fn untagged_songs_get_a_stable_unknown_album_per_folder() {
        let dir = std::env::temp_dir().join(format!("redoubt-library-{}", new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = super::super::db::path(&dir);
        let mut conn = super::super::db::open(&path).unwrap();
        let roots = sync_music_folders(&conn, &[PathBuf::from("/music")]).unwrap();
        let update = |folder: &str, files: Vec<ScannedFile>| FolderUpdate {
            path: folder.as_bytes().to_vec(),
            files,
            ..FolderUpdate::default()
        };
        store_folders(
            &mut conn,
            &roots,
            1,
            &[update("A", vec![untagged("1.mp3", 1), untagged("2.mp3", 1)])],
            &Default::default(),
        )
        .unwrap();
        store_folders(&mut conn, &roots, 1, &[update("B", vec![untagged("3.mp3", 1)])], &Default::default()).unwrap();
        let (a1, key, name) = album_of(&conn, "1.mp3");
        assert_eq!(name, UNKNOWN_ALBUM);
        assert!(key.starts_with("unknown\u{1f}"), "{key}");
        assert_eq!(album_of(&conn, "2.mp3").0, a1, "one album per folder");
        assert_ne!(album_of(&conn, "3.mp3").0, a1, "another folder, another album");
        store_folders(
            &mut conn,
            &roots,
            2,
            &[update("A", vec![untagged("1.mp3", 2), untagged("2.mp3", 2)])],
            &Default::default(),
        )
        .unwrap();
        assert_eq!(album_of(&conn, "1.mp3").0, a1, "a rescan keeps the id");

        // A library stored before 0007: no album at all. The migration gives one, with the key
        // the scanner uses, so the next store of that folder finds the same album.
        // (Its schema has none of 0011's changes either: they run again.)
        conn.execute_batch(
            "UPDATE tracks SET album_id = NULL; DELETE FROM album_search; DELETE FROM albums; \
             DROP TABLE track_lyrics; ALTER TABLE tracks ADD COLUMN sidecar_lyrics TEXT; \
             ALTER TABLE tracks DROP COLUMN release_types; ALTER TABLE tracks DROP COLUMN record_labels; \
             ALTER TABLE tracks DROP COLUMN moods; ALTER TABLE tracks DROP COLUMN explicit_status; \
             ALTER TABLE tracks DROP COLUMN tags_version; ALTER TABLE albums DROP COLUMN release_types; \
             ALTER TABLE albums DROP COLUMN record_labels; ALTER TABLE albums DROP COLUMN moods; \
             ALTER TABLE albums DROP COLUMN release_date; ALTER TABLE albums DROP COLUMN original_date; \
             ALTER TABLE albums DROP COLUMN explicit_status; PRAGMA user_version = 6;",
        )
        .unwrap();
        drop(conn);
        let mut conn = super::super::db::open(&path).unwrap();
        let (migrated, migrated_key, _) = album_of(&conn, "1.mp3");
        assert_eq!(migrated_key, key);
        assert_eq!(album_of(&conn, "2.mp3").0, migrated);
        let songs: i64 =
            conn.query_row("SELECT song_count FROM albums WHERE id = ?1", [&migrated], |r| r.get(0)).unwrap();
        assert_eq!(songs, 2, "its figures are there before the next scan");
        store_folders(
            &mut conn,
            &roots,
            3,
            &[update("A", vec![untagged("1.mp3", 3), untagged("2.mp3", 3)])],
            &Default::default(),
        )
        .unwrap();
        assert_eq!(album_of(&conn, "1.mp3").0, migrated, "the scanner finds the migrated album");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// PlaylistsPath: `.` is the music folder itself, `*` one name, `**` any depth; nothing
    /// at all without AutoImportPlaylists.
    #[test]
    fn playlists_path_patterns() {
        let lib = |paths: &[&str], on: bool| crate::proto::LibrarySettings {
            playlists_path: paths.iter().map(|p| p.to_string()).collect(),
            auto_import_playlists: on,
            ..Default::default()
        };
        let default = lib(&[".", "**/**"], true);
        for folder in ["", "a", "a/b/c"] {
            assert!(imports_playlists_from(&default, folder.as_bytes()), "{folder}");
        }
        assert!(!imports_playlists_from(&lib(&[".", "**/**"], false), b""));
        let root_only = lib(&["."], true);
        assert!(imports_playlists_from(&root_only, b""));
        assert!(!imports_playlists_from(&root_only, b"Playlists"));
        let named = lib(&["Playlists", "mixes/*"], true);
        assert!(imports_playlists_from(&named, b"Playlists"));
        assert!(!imports_playlists_from(&named, b"Playlists/old"));
        assert!(!imports_playlists_from(&named, b""));
        assert!(imports_playlists_from(&named, b"mixes/2024"));
        assert!(!imports_playlists_from(&named, b"mixes"));
        let deep = lib(&["lists/**"], true);
        assert!(imports_playlists_from(&deep, b"lists"));
        assert!(imports_playlists_from(&deep, b"lists/a/b"));
        assert!(!imports_playlists_from(&deep, b"other/lists"));
        assert!(imports_playlists_from(&lib(&["p*"], true), b"party"));
        assert!(!imports_playlists_from(&lib(&["p*"], true), b"rock"));
    }

    #[test]
    fn rows_of_an_older_tag_reading_are_read_again() {
        let dir = std::env::temp_dir().join(format!("redoubt-library-{}", new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut conn = super::super::db::open(&super::super::db::path(&dir)).unwrap();
        let roots = sync_music_folders(&conn, &[PathBuf::from("/music")]).unwrap();
        let update = FolderUpdate {
            path: b"A".to_vec(),
            files: vec![untagged("1.mp3", 1), untagged("2.mp3", 1)],
            ..FolderUpdate::default()
        };
        store_folders(&mut conn, &roots, 1, &[update], &Default::default()).unwrap();
        let seen = [FolderSeen { root: 0, path: b"A".to_vec(), fingerprint: [0; 16] }];
        let (to_read, unchanged) = check_folders(&conn, &roots, false, &seen).unwrap();
        assert!(to_read.is_empty() && unchanged.len() == 1, "stored now: unchanged");
        // One row stored before this reading (as migration 0011 leaves every row).
        conn.execute("UPDATE tracks SET tags_version = 0 WHERE file_name = CAST('1.mp3' AS BLOB)", []).unwrap();
        let (to_read, unchanged) = check_folders(&conn, &roots, false, &seen).unwrap();
        assert!(unchanged.is_empty(), "the same fingerprint, but a stale row: read the folder");
        let known: Vec<&[u8]> = to_read[0].known.iter().map(|k| k.name.as_slice()).collect();
        assert_eq!(known, [&b"2.mp3"[..]], "the stale file is not known: the scanner reads it");
        let update = FolderUpdate { path: b"A".to_vec(), files: vec![untagged("1.mp3", 1)], ..FolderUpdate::default() };
        store_folders(&mut conn, &roots, 2, &[update], &Default::default()).unwrap();
        let (to_read, _) = check_folders(&conn, &roots, false, &seen).unwrap();
        assert!(to_read.is_empty(), "read once, current again");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The album figures are recomputed by the scan that changed a track, also when the daemon
    /// stopped between the batch and the end of that scan, and left alone by one that changed
    /// nothing. The search index, written at the end of each batch, matches the tracks.
    #[test]
    fn figures_follow_changed_batches_and_the_search_index_matches() {
        let dir = std::env::temp_dir().join(format!("redoubt-library-{}", new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut conn = super::super::db::open(&super::super::db::path(&dir)).unwrap();
        let roots = sync_music_folders(&conn, &[PathBuf::from("/music")]).unwrap();
        let store = |conn: &mut Connection, scan: i64, files: Vec<ScannedFile>| {
            let update = FolderUpdate { path: b"A".to_vec(), files, ..FolderUpdate::default() };
            store_folders(conn, &roots, scan, &[update], &Default::default()).unwrap();
        };
        let songs = |conn: &Connection| -> i64 {
            conn.query_row("SELECT sum(song_count) FROM albums", [], |r| r.get(0)).unwrap()
        };
        let stale = |conn: &Connection| -> bool {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM stale_albums) OR EXISTS (SELECT 1 FROM stale_artists)",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        store(&mut conn, 1, vec![untagged("1.mp3", 1), untagged("2.mp3", 1)]);
        assert!(stale(&conn));
        finish_scan(&mut conn, &roots, 1, 0, &[], false).unwrap();
        assert_eq!((songs(&conn), stale(&conn)), (2, false));
        // Nothing changed: the figures stay as they are (a pass would have recomputed them).
        conn.execute("UPDATE albums SET song_count = 7", []).unwrap();
        let folder: i64 =
            conn.query_row("SELECT id FROM folders WHERE path = CAST('A' AS BLOB)", [], |r| r.get(0)).unwrap();
        finish_scan(&mut conn, &roots, 2, 0, &[folder], false).unwrap();
        assert_eq!(songs(&conn), 7, "a scan that changed nothing skips the figures");
        // A batch stored, then the daemon stops before the scan ends: the next end recomputes.
        store(&mut conn, 3, vec![untagged("1.mp3", 3), untagged("2.mp3", 3), untagged("3.mp3", 3)]);
        drop(conn);
        let mut conn = super::super::db::open(&super::super::db::path(&dir)).unwrap();
        finish_scan(&mut conn, &roots, 4, 0, &[folder], false).unwrap();
        assert_eq!((songs(&conn), stale(&conn)), (3, false));
        // The search tables hold one row per track (re-stored rows replaced, not added), and
        // FTS5's own check agrees with its content.
        store(&mut conn, 5, vec![untagged("1.mp3", 5)]);
        let indexed: i64 = conn.query_row("SELECT count(*) FROM track_search", [], |r| r.get(0)).unwrap();
        assert_eq!(indexed, 3);
        for table in ["track_search", "album_search", "artist_search"] {
            conn.execute(&format!("INSERT INTO {table} ({table}) VALUES ('integrity-check')"), []).unwrap();
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A song of the generated test library: album `album` by artist `artist` (every fifth a
    /// compilation with a guest), with genres, a year, a release date and the album fields.
    fn tagged(name: &str, album: usize, artist: usize, version: i64) -> ScannedFile {
        let compilation = album.is_multiple_of(5);
        let tags = TrackTags {
            codec: "MP3".into(),
            duration_ms: 1000 * (album as u64 + artist as u64 + version as u64),
            title: Some(format!("{name} v{version}")),
            artists: if compilation {
                vec![format!("Artist {artist}"), "Guest".into()]
            } else {
                vec![format!("Artist {artist}")]
            },
            album: Some(format!("Album {album}")),
            album_artists: if compilation { Vec::new() } else { vec![format!("Artist {}", album % 7)] },
            compilation,
            genres: (0..(album + version as usize) % 3).map(|g| format!("Genre {}", (album + g) % 4)).collect(),
            year: Some(1990 + ((album + version as usize) % 20) as i32),
            release_date: Some(format!("{}-01-0{}", 1990 + album % 20, 1 + version % 9)),
            release_types: vec![["album", "ep", "live"][(album + version as usize) % 3].into()],
            explicit_status: [None, Some("clean".into()), Some("explicit".into())][(artist + version as usize) % 3]
                .clone(),
            ..Default::default()
        };
        ScannedFile {
            name: name.as_bytes().to_vec(),
            size: 100,
            mtime: 1,
            suffix: "mp3".into(),
            tags,
            sidecar_lyrics: Vec::new(),
        }
    }

    /// Every album's and artist's figures, in a comparable form.
    fn figures(conn: &Connection) -> (Vec<String>, Vec<String>) {
        let rows = |sql: &str| -> Vec<String> {
            let mut st = conn.prepare(sql).unwrap();
            let n = st.column_count();
            st.query_map([], |r| {
                Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        (
            rows(
                "SELECT id, name, song_count, duration_ms, year, folder_id, genre_list, release_date, original_date, \
                 release_types, record_labels, moods, explicit_status, sort_name FROM albums ORDER BY id",
            ),
            rows("SELECT id, name, album_count, live FROM artists ORDER BY id"),
        )
    }

    /// The figures recomputed for the stale albums and artists only are the figures a whole
    /// recount gives, after retagged songs (another album, other artists, genres, years),
    /// songs gone from a folder, a folder gone, and a moved file; and they did change.
    #[test]
    fn stale_figures_match_a_whole_recount() {
        let dir = std::env::temp_dir().join(format!("redoubt-library-{}", new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut conn = super::super::db::open(&super::super::db::path(&dir)).unwrap();
        let roots = sync_music_folders(&conn, &[PathBuf::from("/music")]).unwrap();
        // 60 folders of 4 songs, one album per folder (album 3 spans folders 3 and 63).
        let folder = |i: usize, version: i64, skip: &[usize]| FolderUpdate {
            path: format!("F{i}").into_bytes(),
            files: (0..4)
                .filter(|n| !skip.contains(n))
                .map(|n| tagged(&format!("{n}.mp3"), if i == 63 { 3 } else { i }, (i * 4 + n) % 9, version))
                .collect(),
            ..FolderUpdate::default()
        };
        // Folder 6's album is known by its MusicBrainz id: retagged with another album artist,
        // its songs stay on it, and its first album artist (albums.artist_id) keeps it.
        let folder = |i: usize, version: i64, skip: &[usize]| {
            let mut f = folder(i, version, skip);
            if i == 6 {
                for t in &mut f.files {
                    t.tags.mbz_album_id = Some("mbz-6".into());
                    if version > 0 {
                        t.tags.album_artists = vec!["Renamed".into()];
                        t.tags.artists = vec!["Renamed".into()];
                    }
                }
            }
            f
        };
        let every: Vec<FolderUpdate> = (0..60).chain([63]).map(|i| folder(i, 0, &[])).collect();
        store_folders(&mut conn, &roots, 1, &every, &Default::default()).unwrap();
        finish_scan(&mut conn, &roots, 1, 0, &[], false).unwrap();
        let whole = |conn: &mut Connection| {
            let tx = conn.transaction().unwrap();
            update_figures(&tx, FiguresScope::All).unwrap();
            tx.commit().unwrap();
            figures(conn)
        };
        assert_eq!(figures(&conn), whole(&mut conn), "the first scan counted everything");
        let folder_ids: HashMap<usize, i64> = (0..60)
            .chain([63])
            .map(|i| {
                let path = format!("F{i}");
                (i, conn.query_row("SELECT id FROM folders WHERE path = ?1", [path.as_bytes()], |r| r.get(0)).unwrap())
            })
            .collect();
        let before = figures(&conn);
        // Scan 2: folders 1 and 2 retagged (album 1's songs now album 2's, other artists and
        // genres), and folder 6 (another album artist); folder 4 lost two songs and folder 5 one (the scanner sends only the names
        // of the unchanged ones); folder 63 is gone (album 3 shrinks).
        let mut retagged = folder(1, 1, &[]);
        for (n, f) in retagged.files.iter_mut().enumerate() {
            *f = tagged(&format!("{n}.mp3"), 2, 8 - n, 1);
        }
        let names = |n: &[usize]| n.iter().map(|n| format!("{n}.mp3").into_bytes()).collect::<Vec<_>>();
        let lost = |i: usize, kept: &[usize]| FolderUpdate {
            path: format!("F{i}").into_bytes(),
            unchanged: names(kept),
            ..FolderUpdate::default()
        };
        let changes = [retagged, folder(2, 2, &[]), folder(6, 1, &[]), lost(4, &[0, 2]), lost(5, &[1, 2, 3])];
        store_folders(&mut conn, &roots, 2, &changes, &Default::default()).unwrap();
        let unchanged: Vec<i64> = (0..60).filter(|i| ![1, 2, 4, 5, 6].contains(i)).map(|i| folder_ids[&i]).collect();
        {
            let tx = conn.transaction().unwrap();
            assert_eq!(figures_scope(&tx).unwrap(), Some(FiguresScope::Stale), "a few albums changed");
        }
        let stats = finish_scan(&mut conn, &roots, 2, 0, &unchanged, false).unwrap();
        // Folder 63's four (the batch itself marked folder 4's and 5's missing).
        assert_eq!((stats.missing, stats.moved), (4, 0));
        let after = figures(&conn);
        assert_ne!(after, before, "the changes changed figures");
        assert_eq!(after, whole(&mut conn), "the stale albums and artists were enough");
        // Scan 3: folder 5's lost song turns up in a new folder, tagged for another album: the
        // same recording (size, mtime, title), so its old row returns, counting for album 5.
        // Folder 6 is emptied: its album's first album artist, on none of its songs, loses it.
        let mut found = folder(70, 0, &[1, 2, 3]);
        found.files[0] = tagged("0.mp3", 50, 1, 0);
        found.files[0].tags.title = Some("0.mp3 v0".into());
        store_folders(&mut conn, &roots, 3, &[found, lost(6, &[])], &Default::default()).unwrap();
        let unchanged: Vec<i64> = (0..60).filter(|i| *i != 6).map(|i| folder_ids[&i]).collect();
        let stats = finish_scan(&mut conn, &roots, 3, 0, &unchanged, false).unwrap();
        assert_eq!(stats.moved, 1);
        assert_eq!(figures(&conn), whole(&mut conn), "after a move");
        // Scan 4: the retagged songs go back; folder 63 returns; purged what is still missing.
        let changes: Vec<FolderUpdate> = [1, 2, 63].iter().map(|&i| folder(i, 0, &[])).collect();
        store_folders(&mut conn, &roots, 4, &changes, &Default::default()).unwrap();
        let unchanged: Vec<i64> = (0..60).filter(|i| ![1, 2].contains(i)).map(|i| folder_ids[&i]).collect();
        let moved_to: i64 =
            conn.query_row("SELECT id FROM folders WHERE path = CAST('F70' AS BLOB)", [], |r| r.get(0)).unwrap();
        finish_scan(&mut conn, &roots, 4, 0, &[&unchanged[..], &[moved_to]].concat(), true).unwrap();
        assert_eq!(figures(&conn), whole(&mut conn), "after songs returned and a purge");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn parents() {
        assert_eq!(parent_path(b"a/b/c"), Some(&b"a/b"[..]));
        assert_eq!(parent_path(b"a"), Some(&b""[..]));
        assert_eq!(parent_path(b""), None);
    }
}
