//! Public shares: the Subsonic share methods (inside `Request::Api`), and what the public
//! `/share/…` pages ask the broker without any user's credentials ([`SharePageRequest`],
//! [`ShareMediaRequest`] inside `Request::SharePage` and `Request::ShareMedia`).
//!
//! A share's page lists its songs with links that carry a token the broker minted: it names
//! the share, the item and what it fetches, and the share's expiry, under an HMAC key only the
//! broker holds (docs/security.md T28). The broker checks the token, and that the share still
//! exists and has not expired, on every use (T29). Nothing here carries a file path, and a
//! share's page names no id beyond the share's own and its songs' tokens (T30).

use serde::{Deserialize, Serialize};

use super::library::SongRec;
use super::Secret;

/// getShares, createShare, updateShare, deleteShare.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShareCall {
    /// The caller's shares (an admin: everyone's).
    List,
    Create(ShareFields),
    /// Only the owner, or an admin.
    Update {
        id: String,
        fields: ShareFields,
    },
    Delete {
        id: String,
    },
}

impl ShareCall {
    pub fn writes(&self) -> bool {
        match self {
            ShareCall::List => false,
            ShareCall::Create(_) | ShareCall::Update { .. } | ShareCall::Delete { .. } => true,
        }
    }
}

/// What createShare and updateShare may set; None leaves a value as it is (or the default).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ShareFields {
    /// Songs, albums or playlists (createShare only), in order.
    pub ids: Vec<String>,
    pub description: Option<String>,
    /// Milliseconds since the epoch; Some(0) clears it (never expires).
    pub expires_ms: Option<i64>,
    pub downloadable: Option<bool>,
    /// Empty clears it.
    pub password: Option<Secret>,
    /// The most plays the share allows (0 clears the cap).
    pub max_plays: Option<u32>,
    /// Streams are transcoded as the owner's player named `share` says (its format and
    /// bit-rate cap, `updatePlayer`); off: the original files.
    pub transcode: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShareInfo {
    pub id: String,
    /// The public link; the broker leaves it empty and the front fills it in (it knows the
    /// public address: ShareURL, or the request).
    pub url: String,
    pub description: String,
    pub username: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub expires: Option<i64>,
    pub last_visited: Option<i64>,
    pub visit_count: i64,
    pub downloadable: bool,
    pub has_password: bool,
    pub max_plays: Option<u32>,
    pub plays: i64,
    pub entries: Vec<SongRec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShareAnswer {
    Shares(Vec<ShareInfo>),
    Done,
}

/// The public page of a share (`/share/<id>`), with the password its form sent, if any.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharePageRequest {
    pub id: String,
    pub password: Option<Secret>,
    /// A list token from the page (the m3u link): stands in for the password.
    pub list_token: Option<Secret>,
    /// Count this as a visit (the page itself, not its m3u).
    pub visit: bool,
}

/// What a share's page shows: no path, no internal id, tokens for every link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SharePage {
    pub id: String,
    pub description: String,
    pub username: String,
    pub expires: Option<i64>,
    /// The cover of the first song (a token), if there is a song.
    pub cover: Option<String>,
    /// The zip of every song, when the share is downloadable (a token).
    pub download: Option<String>,
    /// For the m3u link (`/share/<id>/m3u?t=<token>`), which a password-protected share needs.
    pub list: String,
    pub tracks: Vec<ShareTrack>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShareTrack {
    pub title: String,
    pub artist: String,
    pub album: String,
    pub track: Option<i64>,
    pub duration_secs: i64,
    pub suffix: String,
    /// Tokens for `/share/<id>/stream/<token>` and `/share/<id>/cover/<token>`.
    pub stream: String,
    pub cover: String,
}

/// Why a share's page is not shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ShareRefusal {
    /// Unknown, deleted, or sharing is off: 404.
    NotFound,
    /// 410.
    Expired,
    /// The share has a password: none was given, or a wrong one (`wrong`); `retry_after`
    /// when the limiter refused the attempt.
    Password { wrong: bool, retry_after: Option<u64> },
    /// The share's play cap is reached.
    PlaysUsed,
}

/// What a token fetches; part of what the token's MAC covers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ShareWhat {
    Stream,
    Cover,
    Zip,
    /// The m3u list of a password-protected share.
    List,
}

impl ShareWhat {
    pub fn tag(self) -> &'static str {
        match self {
            ShareWhat::Stream => "stream",
            ShareWhat::Cover => "cover",
            ShareWhat::Zip => "zip",
            ShareWhat::List => "list",
        }
    }
}

/// One link of a share's page: the share named in the path and the token from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareMediaRequest {
    pub share: String,
    pub what: ShareWhat,
    pub token: Secret,
    /// Covers: the longest side wanted.
    pub size: Option<u32>,
    /// Streams: a request from the start of the file (counted as a play).
    pub from_start: bool,
}
