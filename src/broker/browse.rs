//! Read-side library queries for the Subsonic API. Every SQL text here is built from
//! constant pieces only; values always travel as `?` parameters.

use std::sync::LazyLock;

use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};

use crate::proto::error::{code, internal, not_found};
use crate::proto::library::*;
use crate::proto::ApiError;

use super::access;
use super::album_order::{AlbumOrders, Order};

/// Runs `f` in one read transaction: one snapshot for the whole answer, and the WAL read lock
/// taken once instead of once per statement (measurable at thousands of answers a second).
pub fn in_read_transaction<T>(conn: &Connection, f: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    if !conn.is_autocommit() {
        // Left open by an earlier failure: never answer from an old snapshot.
        conn.execute_batch("ROLLBACK").map_err(internal)?;
    }
    conn.prepare_cached("BEGIN").and_then(|mut st| st.execute([])).map_err(internal)?;
    let r = f();
    // Nothing was written: COMMIT only ends the snapshot.
    conn.prepare_cached("COMMIT").and_then(|mut st| st.execute([])).map_err(internal)?;
    r
}

/// Directory ids for folders ("fd<rowid>"); albums, artists and tracks use their own ids.
pub fn folder_id(n: i64) -> String {
    // Not format!: this runs for every song of every answer.
    let mut s = String::with_capacity(22);
    s.push_str("fd");
    s.push_str(itoa::Buffer::new().format(n));
    s
}

fn parse_folder_id(s: &str) -> Option<i64> {
    s.strip_prefix("fd").and_then(|n| n.parse().ok())
}

pub fn content_type(suffix: &str) -> &'static str {
    match suffix {
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "oga" | "opus" | "spx" => "audio/ogg",
        "m4a" | "m4b" | "mp4" | "aac" | "alac" => "audio/mp4",
        "wav" => "audio/x-wav",
        "aiff" | "aif" => "audio/x-aiff",
        "wma" => "audio/x-ms-wma",
        "ape" => "audio/x-ape",
        "mpc" => "audio/x-musepack",
        "wv" => "audio/x-wavpack",
        "dsf" | "dff" => "audio/x-dsf",
        "tak" => "audio/x-tak",
        "mka" => "audio/x-matroska",
        _ => "application/octet-stream",
    }
}

const SEP_ITEM: char = '\u{1f}';
const SEP_FIELD: char = '\u{1e}';

fn split_list(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split(SEP_ITEM).filter(|x| !x.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

fn split_pairs(s: Option<&str>) -> Vec<IdName> {
    s.map(|s| {
        s.split(SEP_ITEM)
            .filter_map(|p| p.split_once(SEP_FIELD).map(|(id, name)| IdName { id: id.into(), name: name.into() }))
            .collect()
    })
    .unwrap_or_default()
}

/// A text column borrowed from the row (lists are split from it without an owned copy first).
fn text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    r.get_ref(i)?
        .as_str_or_null()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// Columns of a song; `?1` is the user id (for annotations).
const SONG_COLUMNS: &str = "t.id, t.folder_id, t.title, coalesce(al.name, ''), t.album_id, t.artist, t.album_artist, t.track, \
    t.disc, t.year, t.size, t.suffix, t.duration_ms, t.bitrate, t.sample_rate, t.bit_depth, t.channels, f.path, t.file_name, \
    t.created_at, t.bpm, t.comment, t.sort_title, t.mbz_recording_id, t.rg_track_gain, t.rg_track_peak, t.rg_album_gain, \
    t.rg_album_peak, (t.pictures != '' OR EXISTS (SELECT 1 FROM folder_images fi WHERE fi.folder_id = t.folder_id)), \
    t.genre_list, t.artist_list, t.album_artist_list, \
    an.starred_at, an.rating, an.play_count, an.played_at, t.explicit_status";

const SONG_FROM: &str = "FROM tracks t JOIN folders f ON f.id = t.folder_id LEFT JOIN albums al ON al.id = t.album_id \
    LEFT JOIN annotations an ON an.user_id = ?1 AND an.kind = 'track' AND an.item_id = t.id";

fn annotation(r: &Row<'_>, first: usize) -> rusqlite::Result<Annotation> {
    Ok(Annotation {
        starred: r.get(first)?,
        rating: r.get::<_, Option<i64>>(first + 1)?.unwrap_or(0).clamp(0, 5) as u8,
        play_count: r.get::<_, Option<i64>>(first + 2)?.unwrap_or(0),
        played: r.get(first + 3)?,
    })
}

fn song(r: &Row<'_>) -> rusqlite::Result<SongRec> {
    let mut path: Vec<u8> = r.get(17)?;
    let file = r.get_ref(18)?.as_bytes()?;
    path.reserve_exact(file.len() + 1);
    if !path.is_empty() {
        path.push(b'/');
    }
    path.extend_from_slice(file);
    let suffix: String = r.get(11)?;
    let artists = split_pairs(text(r, 30)?);
    Ok(SongRec {
        id: r.get(0)?,
        parent: folder_id(r.get(1)?),
        title: r.get(2)?,
        album: r.get(3)?,
        album_id: r.get(4)?,
        artist: r.get(5)?,
        artist_id: artists.first().map(|a| a.id.clone()),
        album_artist: r.get(6)?,
        track: r.get(7)?,
        disc: r.get(8)?,
        year: r.get(9)?,
        size: r.get(10)?,
        content_type: content_type(&suffix).into(),
        suffix,
        duration_secs: (r.get::<_, i64>(12)? + 500) / 1000,
        bitrate: r.get(13)?,
        sample_rate: r.get(14)?,
        bit_depth: r.get(15)?,
        channels: r.get(16)?,
        path: String::from_utf8(path).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        created: r.get(19)?,
        bpm: r.get(20)?,
        comment: r.get(21)?,
        sort_title: r.get(22)?,
        mbz_id: r.get(23)?,
        rg_track_gain: r.get(24)?,
        rg_track_peak: r.get(25)?,
        rg_album_gain: r.get(26)?,
        rg_album_peak: r.get(27)?,
        has_cover: r.get(28)?,
        genres: split_list(text(r, 29)?),
        artists,
        album_artists: split_pairs(text(r, 31)?),
        annotation: annotation(r, 32)?,
        explicit_status: r.get(36)?,
    })
}

/// Songs matching `filter` (a constant SQL condition on t, f, al, an), in `order`.
/// Parameters: ?1 is the user; the filter's own start at ?2.
fn songs(
    conn: &Connection,
    user: &str,
    filter: &str,
    order: &str,
    extra: &[&dyn rusqlite::ToSql],
) -> Result<Vec<SongRec>, ApiError> {
    let mut st = conn.prepare_cached(&songs_sql(filter, order)).map_err(internal)?;
    let mut args: Vec<&dyn rusqlite::ToSql> = vec![&user];
    args.extend_from_slice(extra);
    let rows = st.query_map(params_from_iter(args), song).map_err(internal)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(internal)
}

fn songs_sql(filter: &str, order: &str) -> String {
    let visible = access::track("t", "?1");
    format!("SELECT {SONG_COLUMNS} {SONG_FROM} WHERE t.missing = 0 AND {visible} AND ({filter}) ORDER BY {order}")
}

/// The songs of an album, with the disc subtitles and the earliest original release date
/// read from the same rows (a second pass over the album's tracks cost 12% of getAlbum).
/// Sorted here, as `ORDER BY t.disc, t.track, t.title COLLATE NOCASE` would (no disc or
/// track first, titles by ASCII case-folded bytes): SQLite's sort opened a temporary b-tree
/// for every album, 5% of getAlbum's time in the broker.
fn album_songs(conn: &Connection, user: &str, album: &mut AlbumRec) -> Result<Vec<SongRec>, ApiError> {
    // The album's name is the album row's: not looked up again for every song.
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let columns = SONG_COLUMNS.replacen("coalesce(al.name, '')", "''", 1);
        let from = SONG_FROM.replacen(" LEFT JOIN albums al ON al.id = t.album_id", "", 1);
        assert!(columns != SONG_COLUMNS && from != SONG_FROM, "album_songs: SONG_COLUMNS or SONG_FROM changed");
        format!(
            "SELECT {columns}, t.disc_subtitle, t.original_date {from} \
             WHERE t.missing = 0 AND t.album_id = ?2 AND {} ORDER BY t.rowid",
            access::track("t", "?1")
        )
    });
    let mut st = conn.prepare_cached(&SQL).map_err(internal)?;
    let mut rows = st.query(rusqlite::params![user, album.id]).map_err(internal)?;
    let (mut songs, mut discs, mut original) = (Vec::new(), Vec::new(), None::<String>);
    while let Some(r) = rows.next().map_err(internal)? {
        let mut s = song(r).map_err(internal)?;
        s.album.clone_from(&album.name);
        if let Some(subtitle) = text(r, 37).map_err(internal)? {
            discs.push((s.disc.unwrap_or(1), subtitle.to_string()));
        }
        if let Some(o) = text(r, 38).map_err(internal)? {
            if original.as_deref().is_none_or(|x| o < x) {
                original = Some(o.to_string());
            }
        }
        songs.push(s);
    }
    songs
        .sort_by(|a, b| (a.disc, a.track).cmp(&(b.disc, b.track)).then_with(|| nocase(&a.title).cmp(nocase(&b.title))));
    discs.sort();
    discs.dedup();
    album.disc_titles = discs;
    album.original_date = original;
    Ok(songs)
}

/// SQLite's NOCASE collation: ASCII letters folded, every other byte as it is.
fn nocase(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|c| c.to_ascii_lowercase())
}

/// Songs by id, in the order given (ids that are unknown or missing are left out). For
/// playlists, play queues, bookmarks and the like.
pub fn songs_by_ids(conn: &Connection, user: &str, ids: &[String]) -> Result<Vec<SongRec>, ApiError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(s) = song_by_id(conn, user, id)? {
            out.push(s);
        }
    }
    Ok(out)
}

/// One song by id, if `user` sees it. The SQL text is built once: formatting it cost more
/// than the statement-cache lookup it keys.
fn song_by_id(conn: &Connection, user: &str, id: &str) -> Result<Option<SongRec>, ApiError> {
    static SQL: LazyLock<String> = LazyLock::new(|| songs_sql("t.id = ?2", "t.id"));
    let mut st = conn.prepare_cached(&SQL).map_err(internal)?;
    st.query_row([user, id], song).optional().map_err(internal)
}

/// Columns of an album; `?1` is the user (annotations, and the figures of what they see).
fn album_columns() -> String {
    format!(
        "al.id, al.name, al.artist_name, al.artist_id, {}, al.created_at, al.year, \
         al.compilation, al.sort_name, al.mbz_id, al.genre_list, al.folder_id, \
         an.starred_at, an.rating, an.play_count, an.played_at, \
         al.release_types, al.record_labels, al.moods, al.release_date, al.original_date, al.explicit_status",
        access::album_figures("al", "?1")
    )
}

/// An album's annotations by `?1`, joined to `albums al`.
macro_rules! album_annotations {
    () => {
        "LEFT JOIN annotations an ON an.user_id = ?1 AND an.kind = 'album' AND an.item_id = al.id"
    };
}

const ALBUM_FROM: &str = concat!("FROM albums al ", album_annotations!());

fn album(r: &Row<'_>) -> rusqlite::Result<AlbumRec> {
    Ok(AlbumRec {
        id: r.get(0)?,
        name: r.get(1)?,
        artist: r.get(2)?,
        artist_id: r.get(3)?,
        song_count: r.get(4)?,
        duration_secs: (r.get::<_, i64>(5)? + 500) / 1000,
        created: r.get(6)?,
        year: r.get(7)?,
        compilation: r.get(8)?,
        sort_name: r.get(9)?,
        mbz_id: r.get(10)?,
        genres: split_list(text(r, 11)?),
        parent: r.get::<_, Option<i64>>(12)?.map(folder_id),
        disc_titles: Vec::new(),
        annotation: annotation(r, 13)?,
        release_types: split_list(text(r, 17)?),
        record_labels: split_list(text(r, 18)?),
        moods: split_list(text(r, 19)?),
        release_date: r.get(20)?,
        original_date: r.get(21)?,
        explicit_status: r.get(22)?,
    })
}

fn albums_sql(filter: &str, order: &str) -> String {
    let visible = access::album("al", "?1");
    format!(
        "SELECT {} {ALBUM_FROM} WHERE al.song_count > 0 AND {visible} AND ({filter}) ORDER BY {order}",
        album_columns()
    )
}

/// One album by id, if `user` sees it (its SQL text built once, as for [`song_by_id`]).
fn album_by_id(conn: &Connection, user: &str, id: &str) -> Result<Option<AlbumRec>, ApiError> {
    static SQL: LazyLock<String> = LazyLock::new(|| albums_sql("al.id = ?2", "al.id"));
    let mut st = conn.prepare_cached(&SQL).map_err(internal)?;
    st.query_row([user, id], album).optional().map_err(internal)
}

/// The albums whose rowids `?2` lists (a JSON array), each with its place in the array
/// (the last column), for a user (`?1`) who sees every folder; the visibility condition is
/// kept anyway. The array drives the join (CROSS JOIN keeps it outside), so each album is one
/// rowid lookup. No ORDER BY: SQLite would copy every row into a sorter to put them in the
/// order they already come in; [`albums_by_rowid`] sorts by that column instead.
static ALBUMS_BY_ROWID: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, pg.key FROM json_each(?2) pg CROSS JOIN albums al ON al.rowid = pg.value {} \
         WHERE al.song_count > 0 AND {}",
        album_columns(),
        album_annotations!(),
        access::album("al", "?1")
    )
});

fn albums_by_rowid(conn: &Connection, user: &str, rowids: &[i64]) -> Result<Vec<AlbumRec>, ApiError> {
    let mut list = String::with_capacity(rowids.len() * 8 + 2);
    list.push('[');
    for (i, r) in rowids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(itoa::Buffer::new().format(*r));
    }
    list.push(']');
    let mut st = conn.prepare_cached(&ALBUMS_BY_ROWID).map_err(internal)?;
    let place = st.column_count() - 1;
    let rows = st.query_map(rusqlite::params![user, list], |r| Ok((r.get::<_, i64>(place)?, album(r)?)));
    let mut rows = rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>()).map_err(internal)?;
    // In the array's order already (the join's outer loop); a stable sort of a sorted list
    // is one pass, and keeps the answer right should a later SQLite loop otherwise.
    rows.sort_by_key(|(place, _)| *place);
    Ok(rows.into_iter().map(|(_, album)| album).collect())
}

fn albums(
    conn: &Connection,
    user: &str,
    filter: &str,
    order: &str,
    extra: &[&dyn rusqlite::ToSql],
) -> Result<Vec<AlbumRec>, ApiError> {
    let mut st = conn.prepare_cached(&albums_sql(filter, order)).map_err(internal)?;
    let mut args: Vec<&dyn rusqlite::ToSql> = vec![&user];
    args.extend_from_slice(extra);
    let rows = st.query_map(params_from_iter(args), album).map_err(internal)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(internal)
}

/// Columns of an artist; `?1` is the user (annotations, and the albums they see).
fn artist_columns() -> String {
    format!(
        "ar.id, ar.name, ar.sort_name, ar.mbz_id, {}, an.starred_at, an.rating, an.play_count, an.played_at",
        access::artist_album_count("ar", "?1")
    )
}

const ARTIST_FROM: &str =
    "FROM artists ar LEFT JOIN annotations an ON an.user_id = ?1 AND an.kind = 'artist' AND an.item_id = ar.id";

/// An artist's albums (`?2`): those it is the album artist of, then those it has songs on
/// (as a track artist, or a second album artist). Their number is the artist's album_count.
const ARTIST_ALBUMS: &str = "al.artist_id = ?2 OR al.id IN (SELECT t.album_id FROM track_artists ta \
    JOIN tracks t ON t.id = ta.track_id WHERE ta.artist_id = ?2 AND t.missing = 0)";
const ARTIST_ALBUMS_ORDER: &str = "al.artist_id IS NOT ?2, al.year, al.name COLLATE NOCASE";

/// Artists with at least one track present.
const ARTIST_LIVE: &str = "ar.live = 1";

/// search3's empty query for a user who sees every folder: a page of the present songs in
/// rowid order, its offset skipped in the `tracks_present_in_order` index (migration 0017),
/// whose condition `missing IS 0` no other statement writes. `?2` the page size, `?3` the offset.
const PRESENT_SONGS_PAGE: &str =
    "t.rowid IN (SELECT rowid FROM tracks WHERE missing IS 0 ORDER BY rowid LIMIT ?2 OFFSET ?3)";

fn artist(r: &Row<'_>) -> rusqlite::Result<ArtistRec> {
    Ok(ArtistRec {
        id: r.get(0)?,
        name: r.get(1)?,
        sort_name: r.get(2)?,
        mbz_id: r.get(3)?,
        album_count: r.get(4)?,
        annotation: annotation(r, 5)?,
    })
}

fn artists(
    conn: &Connection,
    user: &str,
    filter: &str,
    order: &str,
    extra: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ArtistRec>, ApiError> {
    let visible = access::artist("ar", "?1");
    let sql = format!(
        "SELECT {} {ARTIST_FROM} WHERE {ARTIST_LIVE} AND {visible} AND ({filter}) ORDER BY {order}",
        artist_columns()
    );
    let mut st = conn.prepare_cached(&sql).map_err(internal)?;
    let mut args: Vec<&dyn rusqlite::ToSql> = vec![&user];
    args.extend_from_slice(extra);
    let rows = st.query_map(params_from_iter(args), artist).map_err(internal)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(internal)
}

/// The index letter of a name, ignoring leading articles ("The Beatles" → "B").
pub fn index_key(name: &str, articles: &[String]) -> (String, String) {
    let mut n = name.trim();
    // Compared char by char, lower-cased on the fly: getArtists keys every artist, and two
    // strings allocated per article and artist were a seventh of its time in the broker.
    let same_letters =
        |a: &str, b: &str| a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase));
    for a in articles {
        // The space after it first: most names have none where an article would end.
        let Some(rest) = n.get(a.len()..).filter(|r| r.starts_with(' ')) else { continue };
        if same_letters(&n[..a.len()], a) {
            n = rest.trim_start();
            break;
        }
    }
    let first = n.chars().next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    let letter = if first.chars().all(char::is_alphabetic) && !first.is_empty() { first } else { "#".into() };
    (letter, n.to_lowercase())
}

fn group<T>(items: Vec<T>, name: impl Fn(&T) -> &str, articles: &[String]) -> Vec<(String, Vec<T>)> {
    let mut keyed: Vec<(String, String, T)> = items
        .into_iter()
        .map(|i| {
            let (letter, sort) = index_key(name(&i), articles);
            (letter, sort, i)
        })
        .collect();
    keyed.sort_by(|a, b| (a.0 == "#").cmp(&(b.0 == "#")).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    for (letter, _, item) in keyed {
        match out.last_mut() {
            Some((l, v)) if *l == letter => v.push(item),
            _ => out.push((letter, vec![item])),
        }
    }
    out
}

/// FTS5 query for word-prefix matching: every word must start a word of the text.
pub fn fts_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

pub struct Library<'a> {
    pub conn: &'a Connection,
    pub user: &'a str,
    pub articles: &'a [String],
    /// Music folder ids that exist.
    pub roots: &'a [i64],
    /// getAlbumList2's library-wide orders, kept between requests.
    pub orders: &'a AlbumOrders,
}

impl Library<'_> {
    /// A `musicFolderId` parameter: -1 for none; a folder that does not exist, or that the
    /// caller may not see, is not found alike.
    fn folder_filter(&self, folder: Option<i64>) -> Result<i64, ApiError> {
        match folder {
            None => Ok(-1),
            Some(f) if self.roots.contains(&f) && self.sees_music_folder(f)? => Ok(f),
            Some(_) => Err(not_found("Music folder")),
        }
    }

    fn sees_music_folder(&self, f: i64) -> Result<bool, ApiError> {
        Ok(access::music_folders(self.conn, self.user)?.iter().any(|(id, _)| *id == f))
    }

    pub fn answer(&self, call: &LibraryCall) -> Result<LibraryAnswer, ApiError> {
        let c = self.conn;
        let u = self.user;
        Ok(match call {
            LibraryCall::MusicFolders => LibraryAnswer::MusicFolders(access::music_folders(c, u)?),
            LibraryCall::Indexes { folder, if_modified_since } => {
                let f = self.folder_filter(*folder)?;
                let last_modified: i64 = c
                    .query_row("SELECT coalesce(max(updated_at), 0) * 1000 FROM tracks", [], |r| r.get(0))
                    .map_err(internal)?;
                let unchanged = if_modified_since.is_some_and(|s| s >= last_modified);
                let dirs = if unchanged {
                    Vec::new()
                } else {
                    // The top-level folders of each music folder the caller may see.
                    let sql = format!(
                        "SELECT d.id, d.path FROM folders d JOIN folders r ON r.id = d.parent_id AND length(r.path) = 0 \
                         WHERE (?1 = -1 OR d.music_folder_id = ?1) AND {} \
                         AND EXISTS (SELECT 1 FROM folders x JOIN tracks t ON t.folder_id = x.id AND t.missing = 0 \
                                     WHERE x.music_folder_id = d.music_folder_id AND (x.id = d.id OR substr(x.path, 1, length(d.path) + 1) = CAST(d.path || X'2F' AS BLOB)))",
                        access::music_folder("d.music_folder_id", "?2")
                    );
                    let mut st = c.prepare_cached(&sql).map_err(internal)?;
                    let rows = st
                        .query_map(rusqlite::params![f, u], |r| {
                            let path: Vec<u8> = r.get(1)?;
                            Ok(DirRec {
                                id: folder_id(r.get(0)?),
                                parent: None,
                                name: String::from_utf8_lossy(&path).into_owned(),
                                annotation: Annotation::default(),
                            })
                        })
                        .map_err(internal)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(internal)?
                };
                // Songs directly in a music folder are listed beside the index (`child`).
                let loose = if unchanged {
                    Vec::new()
                } else {
                    songs(
                        c,
                        u,
                        "t.folder_id IN (SELECT x.id FROM music_folders m JOIN folders x ON x.music_folder_id = m.id \
                         AND x.path = X'' WHERE ?2 = -1 OR m.id = ?2)",
                        "t.file_name",
                        &[&f],
                    )?
                };
                LibraryAnswer::Indexes {
                    last_modified,
                    ignored_articles: self.articles.join(" "),
                    index: group(dirs, |d| &d.name, self.articles),
                    songs: loose,
                }
            }
            LibraryCall::MusicDirectory { id } => self.directory(id)?,
            LibraryCall::Genres => {
                // Counted over the caller's songs only.
                let sql = format!(
                    "SELECT g.name, count(DISTINCT t.id), count(DISTINCT t.album_id) FROM genres g \
                     JOIN track_genres tg ON tg.genre_id = g.id JOIN tracks t ON t.id = tg.track_id AND t.missing = 0 \
                     WHERE {} GROUP BY g.id ORDER BY g.name COLLATE NOCASE",
                    access::track("t", "?1")
                );
                let mut st = c.prepare_cached(&sql).map_err(internal)?;
                let rows = st
                    .query_map([u], |r| Ok(GenreRec { name: r.get(0)?, song_count: r.get(1)?, album_count: r.get(2)? }))
                    .map_err(internal)?;
                LibraryAnswer::Genres(rows.collect::<Result<_, _>>().map_err(internal)?)
            }
            LibraryCall::Artists { folder } => {
                let f = self.folder_filter(*folder)?;
                let folder_arg: &[&dyn rusqlite::ToSql] = &[&f];
                let list = artists(
                    c,
                    u,
                    // Album artists (track-only artists are reached through their songs and
                    // albums; getArtist lists the albums they appear on).
                    // Without a folder asked for, the albums' folders are not read: a row
                    // lookup per artist.
                    if f == -1 {
                        "ar.album_count > 0 AND EXISTS (SELECT 1 FROM albums al WHERE al.artist_id = ar.id AND al.song_count > 0)"
                    } else {
                        "ar.album_count > 0 AND EXISTS (SELECT 1 FROM albums al JOIN folders fo ON fo.id = al.folder_id \
                         WHERE al.artist_id = ar.id AND al.song_count > 0 AND fo.music_folder_id = ?2)"
                    },
                    "ar.name COLLATE NOCASE",
                    if f == -1 { &[] } else { folder_arg },
                )?;
                LibraryAnswer::Artists {
                    ignored_articles: self.articles.join(" "),
                    index: group(list, |a| &a.name, self.articles),
                }
            }
            LibraryCall::Artist { id } => {
                let a = artists(c, u, "ar.id = ?2", "ar.id", &[id])?.pop().ok_or_else(|| not_found("Artist"))?;
                let albums = albums(c, u, ARTIST_ALBUMS, ARTIST_ALBUMS_ORDER, &[id])?;
                LibraryAnswer::Artist { artist: Box::new(a), albums }
            }
            LibraryCall::Album { id } => {
                let mut a = album_by_id(c, u, id)?.ok_or_else(|| not_found("Album"))?;
                let songs = album_songs(c, u, &mut a)?;
                LibraryAnswer::Album { album: Box::new(a), songs }
            }
            LibraryCall::Song { id } => {
                LibraryAnswer::Song(Box::new(song_by_id(c, u, id)?.ok_or_else(|| not_found("Song"))?))
            }
            LibraryCall::ArtistInfo { id, v2 } => {
                artists(c, u, "ar.id = ?2", "ar.id", &[id])?.pop().ok_or_else(|| not_found("Artist"))?;
                LibraryAnswer::ArtistInfo { v2: *v2, similar: Vec::new() }
            }
            LibraryCall::AlbumInfo { id, v2 } => {
                album_by_id(c, u, id)?.ok_or_else(|| not_found("Album"))?;
                LibraryAnswer::AlbumInfo { v2: *v2 }
            }
            LibraryCall::SimilarSongs { id, count, v2 } => {
                // Similar to what? Only to something the caller may see: any other id is not found.
                let seen = (|| {
                    Ok::<_, rusqlite::Error>(
                        access::sees_track(c, u, id)?
                            || access::sees_album(c, u, id)?
                            || access::sees_artist(c, u, id)?,
                    )
                })()
                .map_err(internal)?;
                if !seen {
                    return Err(not_found("Song"));
                }
                // Local data only: songs by the same artists, or sharing a genre, in random order.
                let list = songs(
                    c,
                    u,
                    "t.id != ?2 AND (EXISTS (SELECT 1 FROM track_artists x JOIN track_artists y ON y.artist_id = x.artist_id \
                       WHERE y.track_id = t.id AND (x.track_id = ?2 OR x.artist_id = ?2 OR x.track_id IN (SELECT id FROM tracks WHERE album_id = ?2))) \
                     OR EXISTS (SELECT 1 FROM track_genres x JOIN track_genres y ON y.genre_id = x.genre_id WHERE y.track_id = t.id AND x.track_id = ?2))",
                    "random() LIMIT ?3",
                    &[id, &(*count).min(500)],
                )?;
                LibraryAnswer::Songs(if *v2 { SongList::SimilarSongs2 } else { SongList::SimilarSongs }, list)
            }
            LibraryCall::TopSongs { by, count } => {
                let order = "(SELECT coalesce(sum(x.play_count), 0) FROM annotations x WHERE x.kind = 'track' AND x.item_id = t.id) DESC, t.title COLLATE NOCASE LIMIT ?3";
                let list = match by {
                    TopSongsBy::Name(artist) => songs(
                        c,
                        u,
                        "EXISTS (SELECT 1 FROM track_artists ta JOIN artists a ON a.id = ta.artist_id WHERE ta.track_id = t.id AND a.name = ?2 COLLATE NOCASE)",
                        order,
                        &[artist, &(*count).min(500)],
                    )?,
                    TopSongsBy::Id(id) => {
                        artists(c, u, "ar.id = ?2", "ar.id", &[id])?.pop().ok_or_else(|| not_found("Artist"))?;
                        songs(
                            c,
                            u,
                            "EXISTS (SELECT 1 FROM track_artists ta WHERE ta.track_id = t.id AND ta.artist_id = ?2)",
                            order,
                            &[id, &(*count).min(500)],
                        )?
                    }
                };
                LibraryAnswer::Songs(SongList::TopSongs, list)
            }
            LibraryCall::AlbumList { kind, size, offset, folder, v2 } => {
                let f = self.folder_filter(*folder)?;
                LibraryAnswer::AlbumList { v2: *v2, albums: self.album_list(kind, (*size).min(500), *offset, f)? }
            }
            LibraryCall::RandomSongs { size, genre, from_year, to_year, folder } => {
                let f = self.folder_filter(*folder)?;
                LibraryAnswer::Songs(
                    SongList::RandomSongs,
                    self.random_songs((*size).min(500), genre.as_deref(), *from_year, *to_year, f)?,
                )
            }
            LibraryCall::SongsByGenre { genre, count, offset, folder } => {
                let f = self.folder_filter(*folder)?;
                let list = songs(
                    c,
                    u,
                    // The page is chosen on the bare tables; only its rows are decorated.
                    &format!(
                        "t.rowid IN (SELECT tg.rowid_t FROM (SELECT t2.rowid AS rowid_t FROM genres g JOIN track_genres tg2 ON tg2.genre_id = g.id \
                           JOIN tracks t2 ON t2.id = tg2.track_id AND t2.missing = 0 JOIN folders f2 ON f2.id = t2.folder_id \
                           WHERE g.name = ?2 COLLATE NOCASE AND (?3 = -1 OR f2.music_folder_id = ?3) AND {} ORDER BY t2.rowid LIMIT ?4 OFFSET ?5) AS tg)",
                        access::track("t2", "?1")
                    ),
                    "t.rowid",
                    &[genre, &f, &(*count).min(500), offset],
                )?;
                LibraryAnswer::Songs(SongList::SongsByGenre, list)
            }
            LibraryCall::Starred { folder, v2 } => {
                let f = self.folder_filter(*folder)?;
                LibraryAnswer::Starred {
                    v2: *v2,
                    artists: artists(c, u, "an.starred_at IS NOT NULL", "an.starred_at DESC", &[])?,
                    albums: albums(
                        c,
                        u,
                        "an.starred_at IS NOT NULL AND (?2 = -1 OR EXISTS (SELECT 1 FROM tracks t JOIN folders fo ON fo.id = t.folder_id WHERE t.album_id = al.id AND fo.music_folder_id = ?2))",
                        "an.starred_at DESC",
                        &[&f],
                    )?,
                    songs: songs(c, u, "an.starred_at IS NOT NULL AND (?2 = -1 OR f.music_folder_id = ?2)", "an.starred_at DESC", &[&f])?,
                }
            }
            LibraryCall::Search(s) => self.search(s)?,
        })
    }

    /// Random songs: random rowids drawn here and looked up (cheap), instead of sorting the
    /// whole table by random(); with filters that few songs pass, falls back to SQL.
    fn random_songs(
        &self,
        size: u32,
        genre: Option<&str>,
        from: Option<i32>,
        to: Option<i32>,
        f: i64,
    ) -> Result<Vec<SongRec>, ApiError> {
        let (c, u) = (self.conn, self.user);
        let filter = "(?2 IS NULL OR EXISTS (SELECT 1 FROM track_genres tg JOIN genres g ON g.id = tg.genre_id WHERE tg.track_id = t.id AND g.name = ?2 COLLATE NOCASE)) \
             AND (?3 IS NULL OR t.year >= ?3) AND (?4 IS NULL OR t.year <= ?4) AND (?5 = -1 OR f.music_folder_id = ?5)";
        let max: i64 = c.query_row("SELECT coalesce(max(rowid), 0) FROM tracks", [], |r| r.get(0)).map_err(internal)?;
        let mut found: Vec<SongRec> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..4 {
            if found.len() >= size as usize || max == 0 {
                break;
            }
            let mut bytes = vec![0u8; 8 * 4 * size as usize];
            getrandom::getrandom(&mut bytes).map_err(|_| ApiError::new(code::GENERIC, "no randomness"))?;
            let picks: Vec<i64> =
                bytes.chunks(8).map(|b| (u64::from_le_bytes(b.try_into().unwrap()) % max as u64) as i64 + 1).collect();
            for rowid in picks {
                if found.len() >= size as usize {
                    break;
                }
                if !seen.insert(rowid) {
                    continue;
                }
                let cond = format!("t.rowid = ?6 AND {filter}");
                if let Some(s) = songs(c, u, &cond, "t.rowid", &[&genre, &from, &to, &f, &rowid])?.pop() {
                    found.push(s);
                }
            }
        }
        if found.len() < size as usize {
            // Sparse matches (a rare genre, a narrow year range): let SQL find them.
            let cond = format!("{filter} AND t.rowid IN (SELECT x.rowid FROM tracks x WHERE x.missing = 0 ORDER BY random() LIMIT 100000)");
            let more = songs(c, u, &cond, "random() LIMIT ?6", &[&genre, &from, &to, &f, &(size as i64 * 2)])?;
            for s in more {
                if found.len() < size as usize && !found.iter().any(|x| x.id == s.id) {
                    found.push(s);
                }
            }
        }
        Ok(found)
    }

    fn album_list(&self, kind: &ListKind, size: u32, offset: u32, f: i64) -> Result<Vec<AlbumRec>, ApiError> {
        let (c, u) = (self.conn, self.user);
        let kept = match kind {
            ListKind::AlphabeticalByName => Some(Order::ByName),
            ListKind::AlphabeticalByArtist => Some(Order::ByArtist),
            ListKind::Newest => Some(Order::Newest),
            _ => None,
        };
        if let Some(order) = kept {
            // The kept order lists every album with songs: only right for someone who sees them all.
            if f == -1 && access::sees_every_folder(c, u).map_err(internal)? {
                let rowids = self.orders.page(c, order, offset, size).map_err(internal)?;
                return albums_by_rowid(c, u, &rowids);
            }
        }
        let in_folder = "(?2 = -1 OR EXISTS (SELECT 1 FROM tracks t JOIN folders fo ON fo.id = t.folder_id WHERE t.album_id = al.id AND fo.music_folder_id = ?2))";
        let page = " LIMIT ?3 OFFSET ?4";
        let (filter, order): (String, &str) = match kind {
            ListKind::Random => (in_folder.into(), "random()"),
            ListKind::Newest => (in_folder.into(), Order::Newest.sql()),
            ListKind::Highest => (format!("an.rating > 0 AND {in_folder}"), "an.rating DESC, al.name COLLATE NOCASE"),
            ListKind::Frequent => (format!("an.play_count > 0 AND {in_folder}"), "an.play_count DESC, al.name COLLATE NOCASE"),
            ListKind::Recent => (format!("an.played_at IS NOT NULL AND {in_folder}"), "an.played_at DESC"),
            ListKind::AlphabeticalByName => (in_folder.into(), Order::ByName.sql()),
            ListKind::AlphabeticalByArtist => (in_folder.into(), Order::ByArtist.sql()),
            ListKind::Starred => (format!("an.starred_at IS NOT NULL AND {in_folder}"), "an.starred_at DESC"),
            ListKind::ByYear { from, to } => {
                let order = if from <= to { "al.year ASC, al.name COLLATE NOCASE" } else { "al.year DESC, al.name COLLATE NOCASE" };
                (format!("al.year BETWEEN ?5 AND ?6 AND {in_folder}"), order)
            }
            ListKind::ByGenre(_) => (
                format!(
                    "EXISTS (SELECT 1 FROM tracks t JOIN track_genres tg ON tg.track_id = t.id JOIN genres g ON g.id = tg.genre_id \
                     WHERE t.album_id = al.id AND t.missing = 0 AND g.name = ?5 COLLATE NOCASE) AND {in_folder}"
                ),
                "al.name COLLATE NOCASE, al.id",
            ),
        };
        let order = format!("{order}{page}");
        match kind {
            ListKind::ByYear { from, to } => {
                let (lo, hi) = if from <= to { (*from, *to) } else { (*to, *from) };
                albums(c, u, &filter, &order, &[&f, &size, &offset, &lo, &hi])
            }
            ListKind::ByGenre(g) => albums(c, u, &filter, &order, &[&f, &size, &offset, g]),
            _ => albums(c, u, &filter, &order, &[&f, &size, &offset]),
        }
    }

    fn search(&self, s: &Search) -> Result<LibraryAnswer, ApiError> {
        let (c, u) = (self.conn, self.user);
        let f = self.folder_filter(s.folder)?;
        let q = fts_query(&s.query);
        // The matches of a page, in index (rowid) order: FTS5 yields them in that order and
        // stops after the page. For a user who sees every folder the index alone answers; for
        // anyone else each match is checked against their folders (`x`, the matched row). A
        // deep page costs a row lookup per match skipped that way: a tenth of a page's time at
        // 100,000 tracks, and most of it at a million.
        let sees_all = f == -1 && access::sees_every_folder(c, u).map_err(internal)?;
        let matches = |index: &str, table: &str, visible: String| {
            if sees_all {
                format!("SELECT rowid FROM {index} WHERE {index} MATCH ?2 ORDER BY rowid LIMIT ?3 OFFSET ?4")
            } else {
                format!(
                    "SELECT s.rowid FROM {index} s JOIN {table} x ON x.rowid = s.rowid \
                     WHERE {index} MATCH ?2 AND {visible} ORDER BY s.rowid LIMIT ?3 OFFSET ?4"
                )
            }
        };
        let (artist_list, album_list, song_list) = match &q {
            Some(q) => (
                // Missing tracks leave the index at the end of each scan; an album or artist
                // without tracks left is dropped by the outer query.
                artists(
                    c,
                    u,
                    &format!("ar.rowid IN ({})", matches("artist_search", "artists", access::artist("x", "?1"))),
                    "ar.name COLLATE NOCASE",
                    &[q, &s.artist_count.min(500), &s.artist_offset],
                )?,
                if f == -1 {
                    albums(
                        c,
                        u,
                        &format!("al.rowid IN ({})", matches("album_search", "albums", access::album("x", "?1"))),
                        "al.name COLLATE NOCASE",
                        &[q, &s.album_count.min(500), &s.album_offset],
                    )?
                } else {
                    albums(
                        c,
                        u,
                        &format!(
                            "al.rowid IN (SELECT x.rowid FROM album_search s JOIN albums x ON x.rowid = s.rowid LEFT JOIN folders fo ON fo.id = x.folder_id \
                             WHERE album_search MATCH ?2 AND x.song_count > 0 AND fo.music_folder_id = ?5 AND {} ORDER BY x.rowid LIMIT ?3 OFFSET ?4)",
                            access::album("x", "?1")
                        ),
                        "al.name COLLATE NOCASE",
                        &[q, &s.album_count.min(500), &s.album_offset, &f],
                    )?
                },
                if f == -1 {
                    songs(
                        c,
                        u,
                        &format!("t.rowid IN ({})", matches("track_search", "tracks", access::track("x", "?1"))),
                        "t.title COLLATE NOCASE, t.id",
                        &[q, &s.song_count.min(500), &s.song_offset],
                    )?
                } else {
                    songs(
                        c,
                        u,
                        &format!(
                            "t.rowid IN (SELECT x.rowid FROM track_search s JOIN tracks x ON x.rowid = s.rowid JOIN folders fx ON fx.id = x.folder_id \
                             WHERE track_search MATCH ?2 AND x.missing = 0 AND fx.music_folder_id = ?5 AND {} ORDER BY x.rowid LIMIT ?3 OFFSET ?4)",
                            access::track("x", "?1")
                        ),
                        "t.title COLLATE NOCASE, t.id",
                        &[q, &s.song_count.min(500), &s.song_offset, &f],
                    )?
                },
            ),
            // The empty query lists everything, paged: clients sync whole libraries this way.
            None => (
                artists(
                    c,
                    u,
                    &format!(
                        "ar.rowid IN (SELECT x.rowid FROM artists x WHERE x.live = 1 AND {} ORDER BY x.rowid LIMIT ?2 OFFSET ?3)",
                        access::artist("x", "?1")
                    ),
                    "ar.rowid",
                    &[&s.artist_count.min(500), &s.artist_offset],
                )?,
                albums(
                    c,
                    u,
                    &format!(
                        "al.rowid IN (SELECT x.rowid FROM albums x LEFT JOIN folders fo ON fo.id = x.folder_id WHERE x.song_count > 0 \
                         AND (?4 = -1 OR fo.music_folder_id = ?4) AND {} ORDER BY x.rowid LIMIT ?2 OFFSET ?3)",
                        access::album("x", "?1")
                    ),
                    "al.rowid",
                    &[&s.album_count.min(500), &s.album_offset, &f],
                )?,
                // The outer query checks every song of the page against the user's folders
                // either way; a user who sees them all skips the rows before it in an index.
                if sees_all {
                    songs(c, u, PRESENT_SONGS_PAGE, "t.rowid", &[&s.song_count.min(500), &s.song_offset])?
                } else {
                    songs(
                        c,
                        u,
                        &format!(
                            "t.rowid IN (SELECT x.rowid FROM tracks x JOIN folders fx ON fx.id = x.folder_id WHERE x.missing = 0 \
                             AND (?4 = -1 OR fx.music_folder_id = ?4) AND {} ORDER BY x.rowid LIMIT ?2 OFFSET ?3)",
                            access::track("x", "?1")
                        ),
                        "t.rowid",
                        &[&s.song_count.min(500), &s.song_offset, &f],
                    )?
                },
            ),
        };
        Ok(LibraryAnswer::Search { version: s.version, artists: artist_list, albums: album_list, songs: song_list })
    }

    /// Folder-style browsing: a folder ("fd…"), an artist (its albums) or an album (its songs).
    fn directory(&self, id: &str) -> Result<LibraryAnswer, ApiError> {
        let (c, u) = (self.conn, self.user);
        if let Some(n) = parse_folder_id(id) {
            let row: Option<(Vec<u8>, Option<i64>)> = c
                .query_row("SELECT path, parent_id FROM folders WHERE id = ?1", [n], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(internal)?;
            let (path, parent) = row.ok_or_else(|| not_found("Directory"))?;
            if !access::sees_dir(c, u, n).map_err(internal)? {
                return Err(not_found("Directory"));
            }
            let name = String::from_utf8_lossy(path.rsplit(|b| *b == b'/').next().unwrap_or(&path)).into_owned();
            let mut st = c
                .prepare_cached("SELECT id, path FROM folders WHERE parent_id = ?1 ORDER BY path")
                .map_err(internal)?;
            let dirs = st
                .query_map([n], |r| {
                    let p: Vec<u8> = r.get(1)?;
                    let name = String::from_utf8_lossy(p.rsplit(|b| *b == b'/').next().unwrap_or(&p)).into_owned();
                    Ok(DirRec {
                        id: folder_id(r.get(0)?),
                        parent: Some(id.to_string()),
                        name,
                        annotation: Annotation::default(),
                    })
                })
                .map_err(internal)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(internal)?;
            let songs = songs(c, u, "t.folder_id = ?2", "t.disc, t.track, t.file_name", &[&n])?;
            let dir =
                DirRec { id: id.to_string(), parent: parent.map(folder_id), name, annotation: Annotation::default() };
            return Ok(LibraryAnswer::Directory { dir: Box::new(dir), dirs, songs });
        }
        if let Some(a) = album_by_id(c, u, id)? {
            let songs = songs(c, u, "t.album_id = ?2", "t.disc, t.track, t.title COLLATE NOCASE", &[&id])?;
            let dir = DirRec {
                id: a.id.clone(),
                parent: a.artist_id.clone(),
                name: a.name.clone(),
                annotation: a.annotation.clone(),
            };
            return Ok(LibraryAnswer::Directory { dir: Box::new(dir), dirs: Vec::new(), songs });
        }
        if let Some(ar) = artists(c, u, "ar.id = ?2", "ar.id", &[&id])?.pop() {
            let dirs = albums(c, u, ARTIST_ALBUMS, ARTIST_ALBUMS_ORDER, &[&id])?
                .into_iter()
                .map(|al| DirRec { id: al.id, parent: Some(ar.id.clone()), name: al.name, annotation: al.annotation })
                .collect();
            let dir =
                DirRec { id: ar.id.clone(), parent: None, name: ar.name.clone(), annotation: ar.annotation.clone() };
            return Ok(LibraryAnswer::Directory { dir: Box::new(dir), dirs, songs: Vec::new() });
        }
        Err(not_found("Directory"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_ignore_articles() {
        let arts: Vec<String> = "The El La Los Las Le Les Os As O A".split(' ').map(String::from).collect();
        assert_eq!(index_key("The Beatles", &arts).0, "B");
        assert_eq!(index_key("the cure", &arts).0, "C");
        assert_eq!(index_key("Theatre", &arts).0, "T");
        assert_eq!(index_key("ÄBBA", &arts).0, "Ä");
        assert_eq!(index_key("2Pac", &arts).0, "#");
        assert_eq!(index_key("  LOS   Lobos ", &arts), ("L".into(), "lobos".into()));
        assert_eq!(index_key("The", &arts), ("T".into(), "the".into()));
        assert_eq!(index_key("Ölen", &["Öl".into()]).0, "Ö", "no space after the article");
        assert_eq!(index_key("öL Band", &["Öl".into()]).0, "B");
        assert_eq!(index_key("Éa b", &["a".into()]).0, "É", "an article's length never cuts a character");
    }

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let unbound = vec![rusqlite::types::Null; st.parameter_count()];
        let rows = st.query_map(params_from_iter(unbound), |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    }

    /// The empty query's page skips its offset in `tracks_present_in_order`, and no statement
    /// that asks for `missing = 0` beside another indexed column may take that index instead
    /// of the selective one: with an index on `missing = 0`, the scan's per-folder queries and
    /// the access checks' per-album ones read every present track (a first scan of 100,000
    /// tracks stalled). Every index of `tracks` is tried, as the planner sees a fresh library
    /// (no statistics).
    #[test]
    fn only_the_empty_query_page_uses_the_present_index() {
        let dir = std::env::temp_dir().join(format!("redoubt-plans-{}", super::super::db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = super::super::db::open(&super::super::db::path(&dir)).unwrap();
        let page = plan(&conn, &format!("SELECT t.id FROM tracks t WHERE {PRESENT_SONGS_PAGE}"));
        assert!(page.contains("COVERING INDEX tracks_present_in_order (missing=?)"), "{page}");
        assert!(!page.contains("TEMP B-TREE"), "{page}");
        let mut columns: Vec<String> = conn
            .prepare(
                "SELECT ii.name FROM pragma_index_list('tracks') il, pragma_index_info(il.name) ii \
                 WHERE ii.seqno = 0 AND ii.name != 'missing'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(columns.iter().any(|c| c == "folder_id") && columns.iter().any(|c| c == "album_id"), "{columns:?}");
        columns.push("rowid".into());
        for column in &columns {
            for sql in [
                format!("SELECT id, file_name FROM tracks WHERE {column} = ?1 AND missing = 0"),
                format!("SELECT 1 FROM albums al JOIN tracks vt ON vt.{column} = al.id AND vt.missing = 0"),
            ] {
                let p = plan(&conn, &sql);
                assert!(!p.contains("tracks_present_in_order"), "{sql}: {p}");
            }
        }
        let all = plan(&conn, "SELECT rowid FROM tracks WHERE missing = 0 ORDER BY rowid");
        assert!(!all.contains("tracks_present_in_order"), "{all}");
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A kept page's albums are read by rowid, driven by the page's list: not by walking
    /// an index or the table (which would cost what the kept order saves).
    #[test]
    fn a_kept_page_reads_its_albums_by_rowid() {
        let dir = std::env::temp_dir().join(format!("redoubt-plans-{}", super::super::db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = super::super::db::open(&super::super::db::path(&dir)).unwrap();
        let page = plan(&conn, &ALBUMS_BY_ROWID);
        assert!(page.contains("SEARCH al USING INTEGER PRIMARY KEY (rowid=?)"), "{page}");
        assert!(page.contains("SCAN pg VIRTUAL TABLE"), "{page}");
        assert!(!page.contains("SCAN al"), "{page}");
        assert!(!page.contains("TEMP B-TREE"), "{page}");
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn search_words_become_quoted_prefixes() {
        assert_eq!(fts_query("Beat it").unwrap(), "\"Beat\"* \"it\"*");
        assert_eq!(fts_query("a\"b OR c").unwrap(), "\"a\"* \"b\"* \"OR\"* \"c\"*");
        assert!(fts_query("  \"\" ").is_none());
    }
}
