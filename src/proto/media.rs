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

/// getLyrics and getLyricsBySongId (OpenSubsonic songLyrics; `enhanced` is version 2's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LyricsCall {
    ByTitle { artist: Option<String>, title: Option<String> },
    BySongId { id: String, enhanced: bool },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LyricLine {
    /// Milliseconds from the start, for synced lyrics.
    pub start: Option<i64>,
    pub value: String,
    /// Word (or syllable) timings within `value` (enhanced LRC, TTML spans); songLyrics v2's
    /// cueLine of this line.
    pub cues: Vec<Cue>,
    /// Where the line ends, when the source says (TTML, SRT): the cueLine's end.
    pub end: Option<i64>,
}

/// A word's timing: `value` is `line.value[byte_start..=byte_end]` (UTF-8 bytes, inclusive).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cue {
    pub start: i64,
    /// Present on all cues of a line or on none (the spec's rule).
    pub end: Option<i64>,
    pub byte_start: usize,
    pub byte_end: usize,
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
    /// "main", "translation" or "pronunciation" (songLyrics v2).
    pub kind: String,
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

/// OpenSubsonic `transcoding`: getTranscodeDecision for one song, with what the client says
/// it can play (its `ClientInfo`, parsed by the front from the JSON body; field names as the
/// spec spells them). Bit rates are in bits per second, as the spec has them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionRequest {
    pub id: String,
    pub client: ClientInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub platform: String,
    /// bps; 0: no limit.
    #[serde(default)]
    pub max_audio_bitrate: u32,
    /// bps; 0: no limit beyond `max_audio_bitrate`.
    #[serde(default)]
    pub max_transcoding_audio_bitrate: u32,
    #[serde(default)]
    pub direct_play_profiles: Vec<DirectPlayProfile>,
    /// In the client's order of preference.
    #[serde(default)]
    pub transcoding_profiles: Vec<ClientTranscodingProfile>,
    #[serde(default)]
    pub codec_profiles: Vec<CodecProfile>,
}

/// What the client plays as it is; an empty list means any.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectPlayProfile {
    pub containers: Vec<String>,
    pub audio_codecs: Vec<String>,
    pub protocols: Vec<Protocol>,
    #[serde(default)]
    pub max_audio_channels: Option<u32>,
}

/// A format the client would take a transcode in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientTranscodingProfile {
    pub container: String,
    pub audio_codec: String,
    pub protocol: Protocol,
    #[serde(default)]
    pub max_audio_channels: Option<u32>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    /// Named by the spec; this server streams over plain HTTP only.
    Hls,
}

/// Limits on one codec (`type` is always `AudioCodec`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CodecProfile {
    #[serde(rename = "type")]
    pub kind: CodecProfileKind,
    pub name: String,
    #[serde(default)]
    pub limitations: Vec<Limitation>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum CodecProfileKind {
    AudioCodec,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Limitation {
    pub name: LimitationName,
    pub comparison: Comparison,
    pub values: Vec<String>,
    /// A limitation that is not required only matters for direct play.
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum LimitationName {
    AudioChannels,
    AudioBitrate,
    AudioProfile,
    AudioSamplerate,
    AudioBitdepth,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Comparison {
    Equals,
    NotEquals,
    LessThanEqual,
    GreaterThanEqual,
}

/// The decision, as the spec's `TranscodeDecision`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TranscodeDecision {
    pub can_direct_play: bool,
    pub can_transcode: bool,
    /// Why the file cannot be played as it is (empty for direct play).
    pub transcode_reasons: Vec<String>,
    /// Why neither is possible.
    pub error_reason: Option<String>,
    /// What getTranscodeStream takes back (`transcode::params`); None when nothing can play.
    pub transcode_params: Option<String>,
    pub source: StreamDetails,
    pub transcode: Option<StreamDetails>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct StreamDetails {
    pub protocol: String,
    pub container: String,
    pub codec: String,
    pub channels: Option<u32>,
    /// bps.
    pub bit_rate: Option<u32>,
    pub sample_rate: Option<u32>,
    pub bit_depth: Option<u32>,
}

/// `transcodeParams`: what getTranscodeStream is to send, as plain text (`raw`, or a format
/// and a rate in kbps: `mp3:128`). They carry no authority: getTranscodeStream is answered
/// as `stream` with that format and cap, every check made again (docs/security.md T37).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscodeParams {
    Raw,
    Transcode { format: String, kbps: u32 },
}

impl TranscodeParams {
    pub fn encode(&self) -> String {
        match self {
            TranscodeParams::Raw => "v1:raw".into(),
            TranscodeParams::Transcode { format, kbps } => format!("v1:{format}:{kbps}"),
        }
    }

    pub fn parse(s: &str) -> Option<TranscodeParams> {
        let mut parts = s.strip_prefix("v1:")?.split(':');
        let params = match (parts.next()?, parts.next()) {
            ("raw", None) => TranscodeParams::Raw,
            (format, Some(kbps)) => {
                let ok = !format.is_empty() && format.len() <= 10 && format.bytes().all(|b| b.is_ascii_alphanumeric());
                let kbps: u32 = kbps.parse().ok().filter(|k| *k <= 5000)?;
                if !ok || format == "raw" {
                    return None;
                }
                TranscodeParams::Transcode { format: format.to_string(), kbps }
            }
            _ => return None,
        };
        parts.next().is_none().then_some(params)
    }
}
