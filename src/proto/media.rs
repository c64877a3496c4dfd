//! Streaming, downloads and artwork. Bytes never pass through the broker: it authorises the
//! request and resolves the song from the database, the transcoder opens the file or runs
//! ffmpeg and hands back a file descriptor, and the broker passes that fd on to the front,
//! which copies it to the client.
//!
//! - front -> broker: [`MediaCall`] (inside `Request::Media`), answered by [`MediaAnswer`]
//!   with at most two fds (a stream's second is its now-playing pipe).
//! - broker -> transcoder (the one channel where the broker calls): [`Job`], answered by
//!   [`JobReply`]. The transcoder checks every job itself (paths stay inside a music folder,
//!   the program is the configured ffmpeg), so a confused broker cannot make it run anything
//!   else.

use privsep::channel::Message;
use serde::{Deserialize, Serialize};

use super::RelPath;

/// What the front asks for; the broker authenticates the credentials that come with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MediaCall {
    /// `stream`: raw or transcoded.
    Stream {
        id: String,
        /// kbps; 0 or absent: no limit.
        max_bit_rate: Option<u32>,
        /// `raw`, a profile's target format (`mp3`, `opus`, …), or absent.
        format: Option<String>,
        /// Seconds into the song to start a transcode at.
        time_offset: Option<u32>,
        estimate_length: bool,
    },
    /// `download`: the original file.
    Download { id: String },
    /// `getCoverArt`: `size` is the longest side wanted, in pixels.
    CoverArt { id: String, size: Option<u32> },
    /// `getAvatar`: a user's picture (a placeholder when they have none).
    Avatar { username: String },
}

/// How the front should serve what the broker sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MediaAnswer {
    /// The original file; one fd, opened read-only (and the `playing` pipe for a stream).
    /// The front answers Range requests.
    File(FileInfo),
    /// ffmpeg's output; one fd (a pipe), and the `playing` pipe. Not seekable.
    Transcoded(TranscodeInfo),
    /// An encoded image (artwork is small: it travels in the message).
    Image(ImageInfo),
    /// A zip of original files the transcoder is writing; one fd (a pipe). Not seekable.
    Zip(ZipInfo),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ZipInfo {
    /// The file name offered to the client (Content-Disposition).
    pub download_name: String,
    pub entries: u32,
}

/// One file of a zip: where it is, and its name inside the zip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ZipEntry {
    pub root: u32,
    pub path: RelPath,
    pub name: String,
}

impl MediaAnswer {
    pub fn fd_count(&self) -> usize {
        match self {
            MediaAnswer::File(f) => 1 + f.playing as usize,
            MediaAnswer::Transcoded(t) => 1 + t.playing as usize,
            MediaAnswer::Zip(_) => 1,
            MediaAnswer::Image(_) => 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileInfo {
    pub content_type: String,
    pub size: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Strong validator: changes whenever the file does.
    pub etag: String,
    pub duration_secs: f64,
    /// For downloads: the file name offered to the client (Content-Disposition).
    pub download_name: Option<String>,
    /// A second fd follows: see [`TranscodeInfo::playing`].
    pub playing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TranscodeInfo {
    pub content_type: String,
    pub suffix: String,
    pub bit_rate: u32,
    /// What remains after `timeOffset`.
    pub duration_secs: f64,
    /// Only when the client asked for `estimateContentLength`.
    pub estimated_length: Option<u64>,
    /// What ffmpeg wrote first (the transcoder reads it to tell a failed start from a good
    /// one); the front sends it before the rest of the pipe.
    #[serde(with = "serde_bytes")]
    pub head: Vec<u8>,
    /// A stream: a second fd follows, the write end of a pipe the front holds until it has
    /// sent the stream (or the client went away), so that the broker, holding the read end,
    /// sees the stream close (getNowPlaying). Nothing is ever written to it.
    pub playing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageInfo {
    pub content_type: String,
    pub etag: String,
    /// As one byte string (serde's default for `Vec<u8>` is a sequence, a call per byte).
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    /// The generated stand-in: clients may cache it only briefly (art may appear later).
    pub placeholder: bool,
}

/// Where a piece of artwork comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ArtSource {
    /// An image file in a music folder.
    File { root: u32, path: RelPath },
    /// The front cover (or else the first picture) embedded in an audio file.
    Embedded { root: u32, path: RelPath },
}

/// What the broker asks the transcoder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Job {
    /// Open a music file read-only. Answered by [`JobReply::Opened`] with the fd.
    Open { root: u32, path: RelPath },
    /// Run a transcoding command on a music file. `command` is the profile's text; the
    /// transcoder splits it, checks the program, and substitutes per argument: `%s` the
    /// file's absolute path, `%b` the bit rate (kbps), `%t` the offset (seconds).
    /// Answered by [`JobReply::Running`] with two fds: ffmpeg's output (a pipe), and a pipe
    /// that reaches end-of-file when ffmpeg has exited (the broker counts running
    /// transcodes with it).
    Transcode { root: u32, path: RelPath, command: String, bit_rate: u32, offset: u32 },
    /// Decode an image, scale it to fit `size` (None: as it is, if it is already a
    /// web-safe format), and encode it.
    Art { source: ArtSource, size: Option<u32> },
    /// Decode an uploaded avatar within the artwork bounds, scale it to fit 256 pixels and
    /// encode it afresh. Answered by [`JobReply::Image`].
    Avatar {
        #[serde(with = "serde_bytes")]
        image: Vec<u8>,
    },
    /// Run a profile's command on a generated second of audio (a WAV on ffmpeg's standard
    /// input: `%s` is `pipe:0`), to its end. Answered by [`JobReply::Checked`], or `Failed`
    /// with the reason. The daemon checks every profile this way once at start.
    Check(ProfileCheck),
    /// Write one zip of these files, in order, stored, to a pipe (no temporary file; see
    /// transcoder/zip.rs). Every path is checked before the first byte. Answered by
    /// [`JobReply::Zipping`] with the pipe's read end; the zip ends when the pipe does.
    Zip { entries: Vec<ZipEntry> },
    /// Are you there? Answered [`JobReply::Pong`]: the broker asks once per transcoder start,
    /// so that the supervisor knows the transcoder is sandboxed and answering.
    Ping,
}

/// A transcoding profile to check: what it is called (for the report) and how it runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileCheck {
    pub name: String,
    pub target_format: String,
    pub command: String,
    pub bit_rate: u32,
}

impl Message for Job {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum JobReply {
    Opened {
        size: u64,
        mtime: i64,
    },
    Running {
        head: Vec<u8>,
    },
    Image {
        content_type: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The profile ran to its end and wrote this many bytes.
    Checked {
        bytes: u64,
    },
    /// The job could not be done; the text says why (for the log and the client).
    Failed(JobError),
    /// The answer to [`Job::Ping`], with the transcoder's sandbox as it measured it.
    Pong(Box<super::admin::SandboxFacts>),
    /// The answer to [`Job::Zip`]: one fd, the pipe the zip comes out of.
    Zipping,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum JobError {
    /// The file is gone or unreadable.
    NotFound(String),
    /// The job was refused (a path outside the music folders, a program that is not ffmpeg).
    Refused(String),
    /// ffmpeg or the image decoder failed.
    Failed(String),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::NotFound(s) => write!(f, "not found: {s}"),
            JobError::Refused(s) => write!(f, "refused: {s}"),
            JobError::Failed(s) => write!(f, "failed: {s}"),
        }
    }
}

impl Message for JobReply {
    fn fd_count(&self) -> usize {
        match self {
            JobReply::Opened { .. } | JobReply::Zipping => 1,
            JobReply::Running { .. } => 2,
            JobReply::Image { .. } | JobReply::Checked { .. } | JobReply::Failed(_) | JobReply::Pong(_) => 0,
        }
    }
}

/// Transcoding profiles and players: redoubt's own methods, in the Subsonic envelope.
/// Changing profiles needs an admin and EnableTranscodingConfig; a player belongs to its
/// user (admins see and change all).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MediaAdmin {
    Transcodings,
    CreateTranscoding(TranscodingFields),
    UpdateTranscoding {
        id: String,
        fields: TranscodingFields,
    },
    DeleteTranscoding {
        id: String,
    },
    Players,
    /// `format`: a profile's target format, `raw`, or empty to clear; `max_bit_rate` 0 clears.
    UpdatePlayer {
        id: String,
        format: Option<String>,
        max_bit_rate: Option<u32>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TranscodingFields {
    pub name: Option<String>,
    pub target_format: Option<String>,
    pub default_bit_rate: Option<u32>,
    pub command: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TranscodingInfo {
    pub id: String,
    pub name: String,
    pub target_format: String,
    pub default_bit_rate: u32,
    pub command: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlayerInfo {
    pub id: String,
    pub username: String,
    pub client: String,
    pub format: Option<String>,
    pub max_bit_rate: u32,
    pub last_seen: i64,
    pub last_addr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MediaAdminAnswer {
    Transcodings(Vec<TranscodingInfo>),
    Transcoding(TranscodingInfo),
    Players(Vec<PlayerInfo>),
    Done,
}

/// getLyrics and getLyricsBySongId (OpenSubsonic songLyrics).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LyricsCall {
    ByTitle { artist: Option<String>, title: Option<String> },
    BySongId { id: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LyricLine {
    /// Milliseconds from the start, for synced lyrics.
    pub start: Option<i64>,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lyrics {
    pub display_artist: String,
    pub display_title: String,
    pub lang: String,
    pub synced: bool,
    /// LRC `[offset:]`, milliseconds.
    pub offset: Option<i64>,
    pub lines: Vec<LyricLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LyricsAnswer {
    /// getLyrics: artist, title and plain text (empty when nothing was found).
    Plain {
        artist: String,
        title: String,
        text: String,
    },
    Structured(Vec<Lyrics>),
}
