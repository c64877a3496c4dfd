//! The scanner's channel to the broker: everything the scanner may tell or ask the broker
//! ([`ScannerRequest`]), what the broker answers, and the data they carry.
//!
//! Read this file to answer "what can the scanner tell the broker?", as `proto/mod.rs`
//! answers it for the front. The permit table ([`permit`](super::permit)) lets the scanner
//! send these requests and [`Request::Ping`](super::Request::Ping), and nothing else; no
//! other role may send any of them. The scanner never opens the database: whatever it read
//! from a file reaches the library only as the values below, which the broker stores with
//! constant SQL (`broker/ingest.rs`).
//!
//! A scan, as the scanner sees it (the broker's side is `broker/scan_jobs.rs`):
//!
//! | the scanner sends | the broker answers |
//! |---|---|
//! | [`ScannerRequest::NextScan`], a long poll | [`Reply::Scan`](super::Reply::Scan) with a [`ScanJob`] and one fd: the breadcrumb page |
//! | [`ScannerRequest::CheckFolders`], 256 folders' fingerprints at a time | [`Reply::FoldersToRead`](super::Reply::FoldersToRead): the changed ones, with the files the library holds there |
//! | [`ScannerRequest::StoreFolders`], about 1,000 files' tags at a time | [`Reply::Done`](super::Reply::Done) |
//! | [`ScannerRequest::ScanFinished`] | [`Reply::Done`](super::Reply::Done) |
//! | [`ScannerRequest::WatcherTriggered`], at any time | [`Reply::Done`](super::Reply::Done) |
//!
//! The scanner's settings ([`ScannerInit`](super::ScannerInit)) come from the supervisor with
//! its [`RoleInit`](super::RoleInit), not from the broker.

use serde::{Deserialize, Serialize};

use super::RelPath;

/// Everything the scanner may send the broker, besides `Ping`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ScannerRequest {
    /// Wait for the next scan to run (a long poll: answered when one is due).
    NextScan,
    /// The folders seen, with their fingerprints. The answer names the ones whose content
    /// changed, with the files the library holds for each.
    CheckFolders { scan: u64, folders: Vec<FolderSeen> },
    /// What changed folders contain now. One transaction per message.
    StoreFolders { scan: u64, folders: Vec<FolderUpdate> },
    /// The scanner's watcher saw changes settle; scan (incrementally) when convenient.
    WatcherTriggered,
    /// Every folder has been walked.
    ScanFinished { scan: u64, files: u64 },
}

impl ScannerRequest {
    pub fn kind(&self) -> &'static str {
        match self {
            ScannerRequest::NextScan => "NextScan",
            ScannerRequest::CheckFolders { .. } => "CheckFolders",
            ScannerRequest::StoreFolders { .. } => "StoreFolders",
            ScannerRequest::ScanFinished { .. } => "ScanFinished",
            ScannerRequest::WatcherTriggered => "WatcherTriggered",
        }
    }
}

/// What the scanner is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanJob {
    pub scan: u64,
    /// Read every file, not only changed ones.
    pub full: bool,
    /// Files that crashed or hung the scanner twice: (music folder index, path).
    pub skip: Vec<(u32, RelPath)>,
    /// Files it was reading when it crashed once: read these one at a time, so that a second
    /// crash names exactly one file (another worker's file is not blamed twice).
    pub suspects: Vec<(u32, RelPath)>,
}

/// A folder as the scanner sees it. The fingerprint covers the names, sizes and mtimes of
/// the files that matter (audio, images, lyrics, playlists, ignore files).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FolderSeen {
    pub root: u32,
    pub path: RelPath,
    pub fingerprint: [u8; 16],
}

/// A folder to read again, with what the library knows of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FolderToRead {
    /// Index into the CheckFolders request.
    pub index: u32,
    pub known: Vec<KnownFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KnownFile {
    pub name: Vec<u8>,
    pub size: u64,
    pub mtime: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct FolderUpdate {
    pub root: u32,
    pub path: RelPath,
    pub fingerprint: [u8; 16],
    /// Audio files read now (new or changed).
    pub files: Vec<ScannedFile>,
    /// Audio files the library already has and that did not change.
    pub unchanged: Vec<Vec<u8>>,
    /// Image files in the folder (cover art candidates).
    pub images: Vec<Vec<u8>>,
    /// `.m3u`/`.m3u8` playlists and `.nsp` smart playlists found in the folder.
    pub playlists: Vec<PlaylistFile>,
    /// Files that could not be read, with the reason.
    pub problems: Vec<(Vec<u8>, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ScannedFile {
    pub name: Vec<u8>,
    pub size: u64,
    pub mtime: i64,
    pub suffix: String,
    pub tags: TrackTags,
    /// Sidecar lyrics files with the same stem: (suffix, text), one per suffix of
    /// [`LYRICS_SUFFIXES`]; the broker orders them by LyricsPriority.
    pub sidecar_lyrics: Vec<(String, String)>,
}

/// Everything read from one audio file. Strings are as tagged (no markup added), capped.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct TrackTags {
    pub codec: String,
    pub duration_ms: u64,
    pub bitrate_kbps: u32,
    pub sample_rate: u32,
    pub bit_depth: u8,
    pub channels: u8,
    pub title: Option<String>,
    pub artists: Vec<String>,
    pub album: Option<String>,
    pub album_artists: Vec<String>,
    pub track: Option<u32>,
    pub track_total: Option<u32>,
    pub disc: Option<u32>,
    pub disc_total: Option<u32>,
    pub disc_subtitle: Option<String>,
    pub year: Option<i32>,
    pub date: Option<String>,
    pub original_date: Option<String>,
    pub release_date: Option<String>,
    pub genres: Vec<String>,
    pub compilation: bool,
    pub comment: Option<String>,
    pub lyrics: Option<String>,
    pub bpm: Option<u32>,
    pub sort_title: Option<String>,
    pub sort_artist: Option<String>,
    pub sort_album: Option<String>,
    pub sort_album_artist: Option<String>,
    pub mbz_recording_id: Option<String>,
    pub mbz_track_id: Option<String>,
    pub mbz_album_id: Option<String>,
    pub mbz_artist_id: Option<String>,
    pub mbz_album_artist_id: Option<String>,
    pub mbz_release_group_id: Option<String>,
    pub rg_track_gain: Option<f32>,
    pub rg_track_peak: Option<f32>,
    pub rg_album_gain: Option<f32>,
    pub rg_album_peak: Option<f32>,
    /// Embedded pictures: (picture type, MIME type).
    pub pictures: Vec<(String, String)>,
    /// Album fields: release types (album, ep, compilation, live, ...), labels, moods.
    pub release_types: Vec<String>,
    pub record_labels: Vec<String>,
    pub moods: Vec<String>,
    /// "explicit", "clean", or None (ITUNESADVISORY / MP4 rtng).
    pub explicit_status: Option<String>,
}

/// The sidecar lyrics files the scanner reads, by suffix (enhanced LRC is `.lrc`).
pub const LYRICS_SUFFIXES: &[&str] = &["lrc", "ttml", "srt", "txt"];

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PlaylistFile {
    pub name: Vec<u8>,
    pub title: String,
    /// Entries resolved against the playlist's folder, relative to the music folder; entries
    /// outside the music folder are dropped.
    pub entries: Vec<RelPath>,
    /// A `.nsp` file's rules (then `entries` is empty) and comment.
    pub smart: Option<super::smart::SmartRules>,
    pub comment: String,
}
