//! What users write and keep: stars, ratings, plays and now-playing, playlists, the play
//! queue, bookmarks, and (admins) internet radio stations. The front sends these calls; the
//! broker answers from the database as the authenticated user: no call carries a user id or
//! an owner, so nobody can act for somebody else by naming them (CVE-2024-32963).

use serde::{Deserialize, Serialize};

use super::library::SongRec;

/// Most ids one call may carry (a playlist built in one request, a play queue).
pub const MAX_IDS: usize = 10_000;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PlaybackState {
    Starting,
    Playing,
    Paused,
    Stopped,
}

impl PlaybackState {
    pub fn parse(s: &str) -> Option<PlaybackState> {
        Some(match s {
            "starting" => PlaybackState::Starting,
            "playing" => PlaybackState::Playing,
            "paused" => PlaybackState::Paused,
            "stopped" => PlaybackState::Stopped,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            PlaybackState::Starting => "starting",
            PlaybackState::Playing => "playing",
            PlaybackState::Paused => "paused",
            PlaybackState::Stopped => "stopped",
        }
    }
}

/// The current entry of a play queue being saved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum QueueCurrent {
    None,
    /// `savePlayQueue`: a song id (its first occurrence in the queue).
    Id(String),
    /// `savePlayQueueByIndex`: a 0-based index into the queue.
    Index(u32),
}

/// The calls, in families: the broker answers each family in its own file of
/// `broker/userdata/`, named in the comment that opens it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum UserDataCall {
    // Stars and ratings (annotations.rs).
    /// star (true) / unstar (false): songs, albums, artists. `ids` may name any of the three.
    Star {
        star: bool,
        ids: Vec<String>,
        album_ids: Vec<String>,
        artist_ids: Vec<String>,
    },
    /// 0 clears.
    SetRating {
        id: String,
        rating: u8,
    },
    // Plays and now playing (plays.rs).
    /// `times` in ms since the epoch, paired with `ids` by position.
    Scrobble {
        ids: Vec<String>,
        times: Vec<i64>,
        submission: bool,
    },
    /// OpenSubsonic playbackReport (songs only).
    ReportPlayback {
        id: String,
        position_ms: i64,
        state: PlaybackState,
        rate: f64,
        ignore_scrobble: bool,
    },
    NowPlaying,
    // Playlists (playlists.rs).
    /// `username`: admins only (another user's view).
    Playlists {
        username: Option<String>,
    },
    Playlist {
        id: String,
    },
    /// A new playlist (`name`), or `id`'s songs replaced (and renamed if `name` is given).
    CreatePlaylist {
        id: Option<String>,
        name: Option<String>,
        songs: Vec<String>,
    },
    UpdatePlaylist {
        id: String,
        name: Option<String>,
        comment: Option<String>,
        public: Option<bool>,
        add: Vec<String>,
        /// Indexes into the playlist as it was before this update.
        remove: Vec<u32>,
    },
    DeletePlaylist {
        id: String,
    },
    // Smart playlists (playlists.rs; the web UI's editor, no Subsonic method).
    /// A smart playlist's rules, for the editor.
    SmartPlaylist {
        id: String,
    },
    /// A new smart playlist (`id` None) or one of the caller's replaced.
    SaveSmartPlaylist {
        id: Option<String>,
        name: String,
        comment: String,
        public: bool,
        rules: super::smart::SmartRules,
    },
    DeleteSmartPlaylist {
        id: String,
    },
    // The play queue (play_queue.rs).
    PlayQueue {
        by_index: bool,
    },
    SavePlayQueue {
        ids: Vec<String>,
        current: QueueCurrent,
        position: i64,
    },
    // Bookmarks (bookmarks.rs).
    Bookmarks,
    CreateBookmark {
        id: String,
        position: i64,
        comment: String,
    },
    DeleteBookmark {
        id: String,
    },
    // Internet radio stations (radio.rs).
    RadioStations,
    CreateRadioStation {
        name: String,
        stream_url: String,
        homepage_url: String,
    },
    UpdateRadioStation {
        id: String,
        name: String,
        stream_url: String,
        homepage_url: String,
    },
    DeleteRadioStation {
        id: String,
    },
}

impl UserDataCall {
    /// Whether the call changes anything (and so needs the writer connection).
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            UserDataCall::NowPlaying
                | UserDataCall::Playlists { .. }
                | UserDataCall::Playlist { .. }
                | UserDataCall::SmartPlaylist { .. }
                | UserDataCall::PlayQueue { .. }
                | UserDataCall::Bookmarks
                | UserDataCall::RadioStations
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct PlaylistRec {
    pub id: String,
    pub name: String,
    pub comment: String,
    /// The owner's user name ("" when the owner is gone).
    pub owner: String,
    pub public: bool,
    pub song_count: i64,
    pub duration_secs: i64,
    pub created: i64,
    pub changed: i64,
    pub cover_art: Option<String>,
    /// The asking user may not change it (not theirs, or imported from a playlist file), or
    /// not through Subsonic (a smart playlist).
    pub readonly: bool,
    /// Its rules choose its songs.
    pub smart: bool,
}

/// A smart playlist as its editor shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SmartPlaylistRec {
    pub playlist: PlaylistRec,
    pub rules: super::smart::SmartRules,
    /// Imported from a `.nsp` file: the file is what changes it.
    pub imported: bool,
    /// Rules that match nothing, with the reason.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NowPlayingRec {
    pub song: SongRec,
    pub username: String,
    pub minutes_ago: i64,
    pub player_id: i64,
    pub player_name: String,
    /// From reportPlayback: state, estimated position (ms) and rate.
    pub timeline: Option<(PlaybackState, i64, f64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct PlayQueueRec {
    pub username: String,
    pub songs: Vec<SongRec>,
    /// Index into `songs`.
    pub current: Option<usize>,
    pub position: i64,
    pub changed: i64,
    pub changed_by: String,
    pub by_index: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BookmarkRec {
    pub song: SongRec,
    pub username: String,
    pub position: i64,
    pub comment: String,
    pub created: i64,
    pub changed: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct RadioRec {
    pub id: String,
    pub name: String,
    pub stream_url: String,
    pub homepage_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum UserDataAnswer {
    /// An empty `subsonic-response`.
    Done,
    NowPlaying(Vec<NowPlayingRec>),
    Playlists(Vec<PlaylistRec>),
    Playlist(Box<PlaylistRec>, Vec<SongRec>),
    SmartPlaylist(Box<SmartPlaylistRec>),
    PlayQueue(Box<PlayQueueRec>),
    Bookmarks(Vec<BookmarkRec>),
    RadioStations(Vec<RadioRec>),
}
