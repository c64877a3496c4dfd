//! getCoverArt: which picture an id stands for, and the artwork cache.
//!
//! The broker turns an id into an ordered list of candidate sources (image files in a folder,
//! by CoverArtPriority, and pictures embedded in audio files), and serves the first one it has
//! in the cache or the transcoder can render; it never decodes an image itself (that is
//! untrusted work, done in the transcoder's sandbox). A known object without any usable
//! picture gets a generated placeholder; an unknown id is error 70.
//!
//! Cache: `$CacheFolder/art/<key>`, one file per (source, size), where the key hashes the
//! source's identity as the last scan saw it (an image file: its folder's fingerprint, which
//! covers every image's size and mtime; an embedded picture: the audio file's size and mtime),
//! so a changed picture gets a new key, and the key is the etag. The cache is kept under
//! [`CACHE_CAP`] bytes by removing the least recently used files (by mtime, which a hit
//! refreshes at most once a day).

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::store::User;
use crate::proto::error::{internal, not_found};
use crate::proto::media::{ArtSource, ImageInfo, Job, JobReply};
use crate::proto::ApiError;
use crate::transcoder::art::MAX_OUT_SIDE;

/// The most bytes the artwork cache holds; past it the least recently used files go.
pub const CACHE_CAP: u64 = 100 * 1024 * 1024;
/// Eviction brings the cache down to this share of the cap, so it does not run on every write.
const EVICT_TO: u64 = CACHE_CAP / 10 * 8;
/// A hit refreshes the file's mtime (its place in the LRU order) when it is older than this.
const TOUCH_AFTER: Duration = Duration::from_secs(24 * 3600);
/// A source the transcoder could not render (a broken or hostile image, a file gone, or the
/// transcoder restarting: the answer does not tell) is not tried again for this long.
const FAILED_TTL: Duration = Duration::from_secs(120);
const MAX_FAILED: usize = 4096;
/// The placeholder's side when no size is asked for, and the largest drawn.
const PLACEHOLDER_SIDE: u32 = 600;
/// getAvatar's stand-in for a user without a picture.
pub const PLACEHOLDER_AVATAR_SIDE: u32 = 256;
const PLACEHOLDER_MAX: u32 = 1200;
const MAX_PLACEHOLDERS: usize = 32;
/// An artist's albums whose art may stand for the artist.
const ARTIST_ALBUMS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
enum Priority {
    /// A lower-cased glob on the file name (`*` and `?`).
    Pattern(Vec<u8>),
    Embedded,
}

fn parse_priority(list: &[String]) -> Vec<Priority> {
    list.iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.eq_ignore_ascii_case("embedded") {
                Priority::Embedded
            } else {
                Priority::Pattern(p.to_ascii_lowercase().into_bytes())
            }
        })
        .collect()
}

/// `*` matches any run of bytes, `?` one byte; ASCII case is ignored.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(c) if *c == b'?' || c.eq_ignore_ascii_case(&name[n]) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// One place a picture may come from, with what identifies its current version.
#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    source: ArtSource,
    identity: Vec<u8>,
}

impl Candidate {
    fn key(&self, size: Option<u32>) -> String {
        let mut h = Sha256::new();
        h.update(b"redoubt-art-1\0");
        h.update((self.identity.len() as u32).to_le_bytes());
        h.update(&self.identity);
        h.update(size.unwrap_or(0).to_le_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

fn identity(kind: u8, root: u32, path: &[u8], version: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend(root.to_le_bytes());
    v.extend((path.len() as u32).to_le_bytes());
    v.extend(path);
    v.extend(version);
    v
}

/// A track whose embedded pictures may be used.
fn embedded(root: u32, path: Vec<u8>, size: i64, mtime: i64) -> Candidate {
    let mut version = size.to_le_bytes().to_vec();
    version.extend(mtime.to_le_bytes());
    Candidate { identity: identity(b'e', root, &path, &version), source: ArtSource::Embedded { root, path } }
}

/// A folder: its music folder's index, its path in it, and its fingerprint at the last scan.
struct Place {
    root: u32,
    path: Vec<u8>,
    fingerprint: Vec<u8>,
}

struct Lookup<'a> {
    conn: &'a Connection,
    roots: &'a [i64],
    priority: &'a [Priority],
}

impl Lookup<'_> {
    fn root(&self, music_folder: i64) -> Option<u32> {
        self.roots.iter().position(|r| *r == music_folder).map(|i| i as u32)
    }

    /// A folder's place.
    fn folder(&self, id: i64) -> rusqlite::Result<Option<Place>> {
        let row = self
            .conn
            .prepare_cached("SELECT music_folder_id, path, coalesce(fingerprint, X'') FROM folders WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?)))
            .optional()?;
        Ok(row.and_then(|(mf, path, fingerprint)| Some(Place { root: self.root(mf)?, path, fingerprint })))
    }

    fn images(&self, folder: i64) -> rusqlite::Result<Vec<Vec<u8>>> {
        let mut st = self.conn.prepare_cached("SELECT name FROM folder_images WHERE folder_id = ?1 ORDER BY name")?;
        let rows = st.query_map([folder], |r| r.get::<_, Vec<u8>>(0))?;
        rows.collect()
    }

    /// Image files in `folder` whose names match `pattern`.
    fn matching(&self, folder: i64, patterns: &[&[u8]]) -> rusqlite::Result<Vec<Candidate>> {
        let Some(Place { root, path: dir, fingerprint }) = self.folder(folder)? else { return Ok(Vec::new()) };
        let images = self.images(folder)?;
        let mut out = Vec::new();
        for pattern in patterns {
            for name in images.iter().filter(|n| glob_match(pattern, n)) {
                let path = super::ingest::join_path(&dir, name);
                out.push(Candidate {
                    identity: identity(b'f', root, &path, &fingerprint),
                    source: ArtSource::File { root, path },
                });
            }
        }
        Ok(out)
    }

    /// A folder's images by priority, with `embedded` where the priority names it.
    fn by_priority(&self, folder: Option<i64>, embedded: Option<Candidate>) -> rusqlite::Result<Vec<Candidate>> {
        let mut out = Vec::new();
        for p in self.priority {
            match (p, folder) {
                (Priority::Pattern(glob), Some(f)) => out.extend(self.matching(f, &[glob])?),
                (Priority::Embedded, _) => out.extend(embedded.clone()),
                _ => {}
            }
        }
        Ok(out)
    }

    /// The first track (by disc, number, name) with an embedded picture, among those `filter`
    /// selects (a column and its value).
    fn first_embedded(&self, column: &str, value: &dyn rusqlite::ToSql) -> rusqlite::Result<Option<Candidate>> {
        let sql = format!(
            "SELECT f.music_folder_id, f.path, t.file_name, t.size, t.mtime FROM tracks t \
             JOIN folders f ON f.id = t.folder_id WHERE t.{column} = ?1 AND t.missing = 0 AND t.pictures != '' \
             ORDER BY t.disc, t.track, t.file_name LIMIT 1"
        );
        let row = self
            .conn
            .prepare_cached(&sql)?
            .query_row([value], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .optional()?;
        Ok(row.and_then(|(mf, dir, name, size, mtime)| {
            Some(embedded(self.root(mf)?, super::ingest::join_path(&dir, &name), size, mtime))
        }))
    }

    fn album(&self, id: &str) -> rusqlite::Result<Option<Vec<Candidate>>> {
        let folder = self
            .conn
            .prepare_cached("SELECT folder_id FROM albums WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, Option<i64>>(0))
            .optional()?;
        let Some(folder) = folder else { return Ok(None) };
        let embedded =
            if self.priority.contains(&Priority::Embedded) { self.first_embedded("album_id", &id)? } else { None };
        self.by_priority(folder, embedded).map(Some)
    }

    /// A song: its album's art, else its own folder's and its own picture.
    fn song(&self, id: &str) -> rusqlite::Result<Option<Vec<Candidate>>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT t.album_id, t.folder_id, f.music_folder_id, f.path, t.file_name, t.size, t.mtime, \
                 t.pictures != '' FROM tracks t JOIN folders f ON f.id = t.folder_id WHERE t.id = ?1 AND t.missing = 0",
            )?
            .query_row([id], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, bool>(7)?,
                ))
            })
            .optional()?;
        let Some((album, folder, mf, dir, name, size, mtime, has_pictures)) = row else { return Ok(None) };
        let mut out = match album {
            Some(a) => self.album(&a)?.unwrap_or_default(),
            None => Vec::new(),
        };
        let own = match self.root(mf) {
            Some(root) if has_pictures => Some(embedded(root, super::ingest::join_path(&dir, &name), size, mtime)),
            _ => None,
        };
        for c in self.by_priority(Some(folder), own)? {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Ok(Some(out))
    }

    /// An artist: an `artist.*` image beside or in their albums' folders, else their albums' art.
    fn artist(&self, id: &str) -> rusqlite::Result<Option<Vec<Candidate>>> {
        let known = self
            .conn
            .prepare_cached("SELECT 1 FROM artists WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some();
        if !known {
            return Ok(None);
        }
        let mut st = self.conn.prepare_cached(
            "SELECT a.id, a.folder_id, f.parent_id FROM albums a LEFT JOIN folders f ON f.id = a.folder_id \
             WHERE a.artist_id = ?1 AND a.song_count > 0 ORDER BY a.year, a.name, a.id",
        )?;
        let albums = st
            .query_map([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<i64>>(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut folders: Vec<i64> = albums.iter().filter_map(|a| a.2).collect();
        folders.extend(albums.iter().filter_map(|a| a.1));
        folders.dedup();
        let mut out = Vec::new();
        for f in folders {
            for c in self.matching(f, &[b"artist.*"])? {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        for (album, ..) in albums.iter().take(ARTIST_ALBUMS) {
            out.extend(self.album(album)?.unwrap_or_default());
        }
        Ok(Some(out))
    }

    fn folder_art(&self, id: i64) -> rusqlite::Result<Option<Vec<Candidate>>> {
        if self.folder(id)?.is_none() {
            return Ok(None);
        }
        let embedded =
            if self.priority.contains(&Priority::Embedded) { self.first_embedded("folder_id", &id)? } else { None };
        self.by_priority(Some(id), embedded).map(Some)
    }

    /// A playlist `me` may see: the art of its first song.
    fn playlist(&self, me: &User, id: &str) -> rusqlite::Result<Option<Vec<Candidate>>> {
        let row = self
            .conn
            .prepare_cached("SELECT owner_id, public FROM playlists WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, bool>(1)?)))
            .optional()?;
        let Some((owner, public)) = row else { return Ok(None) };
        if !(public || me.admin || owner.as_deref() == Some(me.id.as_str())) {
            // Someone else's private playlist: as if it did not exist.
            return Ok(None);
        }
        // Its first song `me` may see (the owner may see more).
        let first = self
            .conn
            .prepare_cached(&format!(
                "SELECT pt.track_id FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id AND t.missing = 0 \
                 WHERE pt.playlist_id = ?1 AND {} ORDER BY pt.position LIMIT 1",
                super::access::track("t", "?2")
            ))?
            .query_row([id, &me.id], |r| r.get::<_, String>(0))
            .optional()?;
        match first {
            Some(track) => self.song(&track).map(|c| Some(c.unwrap_or_default())),
            None => Ok(Some(Vec::new())),
        }
    }

    /// The candidates for a coverArt id, or None for an id that names nothing `me` may see
    /// (super::access: a folder, album, song or artist outside their folders names nothing).
    fn candidates(&self, me: &User, id: &str) -> rusqlite::Result<Option<Vec<Candidate>>> {
        use super::access;
        if let Some(n) = id.strip_prefix("fd").and_then(|n| n.parse::<i64>().ok()) {
            if !access::sees_dir(self.conn, &me.id, n)? {
                return Ok(None);
            }
            return self.folder_art(n);
        }
        let library_item = access::sees_album(self.conn, &me.id, id)?
            || access::sees_track(self.conn, &me.id, id)?
            || access::sees_artist(self.conn, &me.id, id)?;
        if !library_item {
            return self.playlist(me, id);
        }
        if let Some(c) = self.album(id)? {
            return Ok(Some(c));
        }
        if let Some(c) = self.song(id)? {
            return Ok(Some(c));
        }
        if let Some(c) = self.artist(id)? {
            return Ok(Some(c));
        }
        self.playlist(me, id)
    }
}

pub struct Art {
    dir: PathBuf,
    priority: Vec<Priority>,
    /// Bytes in the cache folder; None until first counted.
    used: Mutex<Option<u64>>,
    evicting: AtomicBool,
    failed: Mutex<HashMap<String, Instant>>,
    placeholders: Mutex<HashMap<u32, ImageInfo>>,
}

/// A source for the log.
fn shown(source: &ArtSource) -> String {
    match source {
        ArtSource::File { root, path } => format!("{root}:{}", String::from_utf8_lossy(path)),
        ArtSource::Embedded { root, path } => format!("embedded in {root}:{}", String::from_utf8_lossy(path)),
    }
}

/// What a cached file holds, from its first bytes (only formats the transcoder answers).
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

impl Art {
    pub fn new(cache_folder: &Path, priority: &[String]) -> Art {
        Art {
            dir: cache_folder.join("art"),
            priority: parse_priority(priority),
            used: Mutex::new(None),
            evicting: AtomicBool::new(false),
            failed: Mutex::default(),
            placeholders: Mutex::default(),
        }
    }

    /// getCoverArt. `ask` sends a job to the transcoder: its answer (`Failed` included), or
    /// Err when no transcoder could answer.
    pub async fn answer<F, Fut>(
        &self,
        broker: &super::Broker,
        me: &User,
        id: &str,
        size: Option<u32>,
        ask: F,
    ) -> Result<ImageInfo, ApiError>
    where
        F: Fn(Job) -> Fut,
        Fut: Future<Output = Result<(JobReply, Vec<OwnedFd>), ApiError>>,
    {
        // Sizes past the largest answer are all the same answer (and one cache file).
        let size = size.filter(|s| *s > 0 && *s < MAX_OUT_SIDE);
        let candidates = {
            let conn = broker.reader();
            // One read transaction for the few queries (not one each).
            let tx = conn.unchecked_transaction().map_err(internal)?;
            let lookup = Lookup { conn: &tx, roots: &broker.roots, priority: &self.priority };
            lookup.candidates(me, id).map_err(internal)?
        };
        let Some(candidates) = candidates else {
            return Err(not_found("Artwork"));
        };
        for c in candidates {
            let key = c.key(size);
            if let Some(hit) = self.cached(&key) {
                return Ok(hit);
            }
            if self.failed_recently(&key) {
                continue;
            }
            match ask(Job::Art { source: c.source.clone(), size }).await {
                Ok((JobReply::Image { content_type, bytes }, _)) => {
                    self.store(&key, &bytes);
                    return Ok(ImageInfo { content_type, etag: format!("\"{key}\""), bytes, placeholder: false });
                }
                // The picture itself is bad (or gone): not worth trying again for a while.
                Ok((JobReply::Failed(e), _)) => {
                    tracing::info!("artwork {} not used: {e}", shown(&c.source));
                    self.remember_failure(key);
                }
                Ok(_) => tracing::error!(
                    "artwork {}: the transcoder answered with something other than an image",
                    shown(&c.source)
                ),
                // No transcoder right now: nothing is wrong with the picture.
                Err(e) => tracing::info!("artwork {} not rendered now: {}", shown(&c.source), e.message),
            }
        }
        Ok(self.placeholder(size))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    fn cached(&self, key: &str) -> Option<ImageInfo> {
        let mut file = std::fs::File::open(self.path(key)).ok()?;
        let meta = file.metadata().ok()?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes).ok()?;
        let content_type = sniff(&bytes)?;
        let stale = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age > TOUCH_AFTER);
        if stale {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(ImageInfo {
            content_type: content_type.to_string(),
            etag: format!("\"{key}\""),
            bytes,
            placeholder: false,
        })
    }

    /// Writes a cache file (write, then rename: a reader never sees half of one) and keeps
    /// the cache under its cap.
    fn store(&self, key: &str, bytes: &[u8]) {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let tmp = self.dir.join(format!(".{key}.{}.tmp", super::db::new_id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, self.path(key)).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
        };
        if let Err(e) = write() {
            tracing::warn!("artwork cache {}: {e}", self.dir.display());
            return;
        }
        let over = {
            let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            let total = used.get_or_insert_with(|| folder_size(&self.dir).0);
            *total += bytes.len() as u64;
            *total > CACHE_CAP
        };
        // Rare (once per ~20 MB written) and quick (one directory listing).
        if over && !self.evicting.swap(true, Ordering::SeqCst) {
            let left = evict(&self.dir, EVICT_TO);
            *self.used.lock().unwrap_or_else(|p| p.into_inner()) = Some(left);
            self.evicting.store(false, Ordering::SeqCst);
        }
    }

    fn failed_recently(&self, key: &str) -> bool {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.get(key).is_some_and(|at| at.elapsed() < FAILED_TTL)
    }

    fn remember_failure(&self, key: String) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.len() >= MAX_FAILED {
            failed.retain(|_, at| at.elapsed() < FAILED_TTL);
            if failed.len() >= MAX_FAILED {
                failed.clear();
            }
        }
        failed.insert(key, Instant::now());
    }

    /// The generated stand-in, drawn once per size.
    pub(crate) fn placeholder(&self, size: Option<u32>) -> ImageInfo {
        let side = size.unwrap_or(PLACEHOLDER_SIDE).clamp(1, PLACEHOLDER_MAX);
        let mut cache = self.placeholders.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(&side) {
            return p.clone();
        }
        if cache.len() >= MAX_PLACEHOLDERS {
            cache.clear();
        }
        let info = ImageInfo {
            content_type: "image/png".into(),
            etag: format!("\"placeholder-1-{side}\""),
            bytes: draw_placeholder(side),
            placeholder: true,
        };
        cache.insert(side, info.clone());
        info
    }
}

/// (bytes, files) of the cache folder's files.
fn folder_size(dir: &Path) -> (u64, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, 0) };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .fold((0, 0), |(b, n), m| (b + m.len(), n + 1))
}

/// Removes the least recently used cache files until at most `target` bytes remain; returns
/// what remains.
fn evict(dir: &Path, target: u64) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            m.is_file().then(|| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    let mut removed = 0;
    for (_, len, path) in files {
        if total <= target {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
            removed += 1;
        }
    }
    tracing::info!("artwork cache: removed {removed} least recently used files, {total} bytes remain");
    total
}

/// A dark square with a record on it, as a PNG.
fn draw_placeholder(side: u32) -> Vec<u8> {
    let c = side as f32 / 2.0;
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - c, y as f32 + 0.5 - c);
        let r = (dx * dx + dy * dy).sqrt() / side as f32;
        let grey = match r {
            r if r < 0.02 => 0x2b,
            r if r < 0.14 => 0x6a,
            r if r < 0.42 => {
                // Faint grooves.
                if ((r * 200.0) as u32).is_multiple_of(2) {
                    0x3a
                } else {
                    0x36
                }
            }
            _ => 0x2b,
        };
        image::Rgb([grey, grey, grey + 4])
    });
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut out);
    img.write_with_encoder(encoder).expect("encoding to memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_ignore_case_and_match_whole_names() {
        assert!(glob_match(b"cover.*", b"Cover.JPG"));
        assert!(glob_match(b"cover.*", b"cover.png"));
        assert!(!glob_match(b"cover.*", b"cover"));
        assert!(!glob_match(b"cover.*", b"backcover.jpg"));
        assert!(glob_match(b"*front*", b"Album - Front.jpg"));
        assert!(glob_match(b"f?lder.jpg", b"FOLDER.jpg"));
        assert!(!glob_match(b"folder.jpg", b"folder.jpeg"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"aXXbYYbc"));
        assert!(!glob_match(b"a*b*c", b"aXXbYYb"));
    }

    #[test]
    fn priority_keeps_order_and_knows_embedded() {
        let list: Vec<String> =
            ["cover.*", " Folder.* ", "", "EMBEDDED", "front.*"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            parse_priority(&list),
            [
                Priority::Pattern(b"cover.*".to_vec()),
                Priority::Pattern(b"folder.*".to_vec()),
                Priority::Embedded,
                Priority::Pattern(b"front.*".to_vec()),
            ]
        );
    }

    /// Two albums' folders, images in priority order, embedded pictures where asked.
    #[test]
    fn candidates_follow_the_priority() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE folders (id INTEGER PRIMARY KEY, music_folder_id INTEGER, path BLOB, parent_id INTEGER, fingerprint BLOB);
             CREATE TABLE folder_images (folder_id INTEGER, name BLOB);
             CREATE TABLE albums (id TEXT PRIMARY KEY, folder_id INTEGER);
             CREATE TABLE tracks (id TEXT, folder_id INTEGER, file_name BLOB, size INTEGER, mtime INTEGER,
                                  album_id TEXT, disc INTEGER, track INTEGER, pictures TEXT, missing INTEGER);
             INSERT INTO folders VALUES (1, 7, CAST('A/One' AS BLOB), NULL, X'01'), (2, 7, CAST('A/Two' AS BLOB), NULL, X'02');
             INSERT INTO folder_images VALUES (1, CAST('back.jpg' AS BLOB)), (1, CAST('Folder.png' AS BLOB)),
                                              (1, CAST('cover.jpg' AS BLOB)), (2, CAST('scan.jpg' AS BLOB));
             INSERT INTO albums VALUES ('al1', 1), ('al2', 2);
             INSERT INTO tracks VALUES ('t1', 1, CAST('01.mp3' AS BLOB), 10, 20, 'al1', 1, 1, '3:image/jpeg', 0),
                                       ('t2', 2, CAST('01.flac' AS BLOB), 10, 20, 'al2', 1, 1, '', 0),
                                       ('t3', 2, CAST('02.flac' AS BLOB), 11, 21, 'al2', 1, 2, '3:image/png', 0);",
        )
        .unwrap();
        let priority = parse_priority(&["cover.*".into(), "folder.*".into(), "embedded".into()]);
        let lookup = Lookup { conn: &conn, roots: &[5, 7], priority: &priority };
        let shown = |c: Option<Vec<Candidate>>| -> Vec<String> {
            c.unwrap()
                .into_iter()
                .map(|c| match c.source {
                    ArtSource::File { root, path } => format!("file {root} {}", String::from_utf8_lossy(&path)),
                    ArtSource::Embedded { root, path } => format!("embedded {root} {}", String::from_utf8_lossy(&path)),
                })
                .collect()
        };
        assert_eq!(
            shown(lookup.album("al1").unwrap()),
            ["file 1 A/One/cover.jpg", "file 1 A/One/Folder.png", "embedded 1 A/One/01.mp3"]
        );
        assert_eq!(shown(lookup.album("al2").unwrap()), ["embedded 1 A/Two/02.flac"], "the first track with a picture");
        assert_eq!(lookup.album("nope").unwrap(), None);
        assert_eq!(shown(lookup.folder_art(2).unwrap()), ["embedded 1 A/Two/02.flac"]);
        let embedded_first = parse_priority(&["embedded".into(), "*.jpg".into()]);
        let lookup = Lookup { conn: &conn, roots: &[5, 7], priority: &embedded_first };
        assert_eq!(
            shown(lookup.album("al1").unwrap()),
            ["embedded 1 A/One/01.mp3", "file 1 A/One/back.jpg", "file 1 A/One/cover.jpg"]
        );
        // The key changes with the size and with the folder's fingerprint.
        let c = lookup.album("al1").unwrap().unwrap()[1].clone();
        assert_ne!(c.key(None), c.key(Some(100)));
        conn.execute("UPDATE folders SET fingerprint = X'09' WHERE id = 1", []).unwrap();
        assert_ne!(lookup.album("al1").unwrap().unwrap()[1].key(None), c.key(None));
    }

    #[test]
    fn the_placeholder_is_a_png_of_the_asked_size() {
        let art = Art::new(Path::new("/nonexistent"), &[]);
        let p = art.placeholder(Some(64));
        let img = image::load_from_memory(&p.bytes).unwrap();
        assert_eq!((img.width(), img.height()), (64, 64));
        assert_eq!(p.etag, "\"placeholder-1-64\"");
        assert_eq!(image::load_from_memory(&art.placeholder(None).bytes).unwrap().width(), PLACEHOLDER_SIDE);
    }

    #[test]
    fn eviction_removes_the_oldest_first() {
        let dir = std::env::temp_dir().join(format!("redoubt-art-evict-{}", super::super::db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, name) in ["old", "mid", "new"].iter().enumerate() {
            let f = std::fs::File::create(dir.join(name)).unwrap();
            f.set_len(100).unwrap();
            f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1000 * (i as u64 + 1))).unwrap();
        }
        assert_eq!(evict(&dir, 150), 100);
        assert!(dir.join("new").exists() && !dir.join("mid").exists() && !dir.join("old").exists());
        assert_eq!(folder_size(&dir), (100, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
