//! The library as the front asks for it and the broker answers: typed records that the front
//! renders as Subsonic XML or JSON. Every field is data from the database; no request text
//! reaches SQL.

use serde::{Deserialize, Serialize};

/// getTopSongs: by artist name, or (OpenSubsonic topSongsByArtistId) by artist id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum TopSongsBy {
    Name(String),
    Id(String),
}

/// Read-only Subsonic library calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LibraryCall {
    MusicFolders,
    Indexes { folder: Option<i64>, if_modified_since: Option<i64> },
    MusicDirectory { id: String },
    Genres,
    Artists { folder: Option<i64> },
    Artist { id: String },
    Album { id: String },
    Song { id: String },
    ArtistInfo { id: String, v2: bool },
    AlbumInfo { id: String, v2: bool },
    SimilarSongs { id: String, count: u32, v2: bool },
    TopSongs { by: TopSongsBy, count: u32 },
    AlbumList { kind: ListKind, size: u32, offset: u32, folder: Option<i64>, v2: bool },
    RandomSongs { size: u32, genre: Option<String>, from_year: Option<i32>, to_year: Option<i32>, folder: Option<i64> },
    SongsByGenre { genre: String, count: u32, offset: u32, folder: Option<i64> },
    Starred { folder: Option<i64>, v2: bool },
    Search(Search),
}

impl LibraryCall {
    /// Whether the answer is a function of the database alone (for this user): nothing random
    /// and nothing that depends on the clock. Only these may be answered from the front's
    /// cache (see `Request::CachedApi`). Exhaustive on purpose: a new call does not compile
    /// until it says whether it may be cached.
    pub fn deterministic(&self) -> bool {
        use LibraryCall as L;
        match self {
            L::MusicFolders
            | L::Indexes { .. }
            | L::MusicDirectory { .. }
            | L::Genres
            | L::Artists { .. }
            | L::Artist { .. }
            | L::Album { .. }
            | L::Song { .. }
            | L::ArtistInfo { .. }
            | L::AlbumInfo { .. }
            | L::TopSongs { .. }
            | L::SongsByGenre { .. }
            | L::Starred { .. }
            | L::Search(_) => true,
            L::RandomSongs { .. } | L::SimilarSongs { .. } => false,
            L::AlbumList { kind, .. } => match kind {
                ListKind::Random => false,
                ListKind::Newest
                | ListKind::Highest
                | ListKind::Frequent
                | ListKind::Recent
                | ListKind::AlphabeticalByName
                | ListKind::AlphabeticalByArtist
                | ListKind::Starred
                | ListKind::ByYear { .. }
                | ListKind::ByGenre(_) => true,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Search {
    pub query: String,
    pub artist_count: u32,
    pub artist_offset: u32,
    pub album_count: u32,
    pub album_offset: u32,
    pub song_count: u32,
    pub song_offset: u32,
    pub folder: Option<i64>,
    /// 2 (folder-style records) or 3 (ID3 records).
    pub version: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ListKind {
    Random,
    Newest,
    Highest,
    Frequent,
    Recent,
    AlphabeticalByName,
    AlphabeticalByArtist,
    Starred,
    ByYear { from: i32, to: i32 },
    ByGenre(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

/// What one user has done with an item.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Annotation {
    pub starred: Option<i64>,
    pub rating: u8,
    pub play_count: i64,
    pub played: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct SongRec {
    pub id: String,
    /// The folder, as a directory id.
    pub parent: String,
    pub title: String,
    pub album: String,
    pub album_id: Option<String>,
    pub artist: String,
    pub artist_id: Option<String>,
    pub album_artist: String,
    pub artists: Vec<IdName>,
    pub album_artists: Vec<IdName>,
    pub track: Option<i64>,
    pub disc: Option<i64>,
    pub year: Option<i64>,
    pub genres: Vec<String>,
    pub size: i64,
    pub suffix: String,
    pub content_type: String,
    pub duration_secs: i64,
    pub bitrate: i64,
    pub sample_rate: i64,
    pub bit_depth: i64,
    pub channels: i64,
    pub path: String,
    pub created: i64,
    pub bpm: Option<i64>,
    pub comment: Option<String>,
    pub sort_title: Option<String>,
    pub mbz_id: Option<String>,
    pub rg_track_gain: Option<f64>,
    pub rg_track_peak: Option<f64>,
    pub rg_album_gain: Option<f64>,
    pub rg_album_peak: Option<f64>,
    pub has_cover: bool,
    pub annotation: Annotation,
    /// "explicit", "clean" or "".
    pub explicit_status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct AlbumRec {
    pub id: String,
    pub name: String,
    pub artist: String,
    pub artist_id: Option<String>,
    pub song_count: i64,
    pub duration_secs: i64,
    pub created: i64,
    pub year: Option<i64>,
    pub genres: Vec<String>,
    pub compilation: bool,
    pub sort_name: Option<String>,
    pub mbz_id: Option<String>,
    /// The album's folder, for folder-style (v1) records.
    pub parent: Option<String>,
    /// (disc number, subtitle) where discs have subtitles (getAlbum only).
    pub disc_titles: Vec<(i64, String)>,
    /// The earliest original release date of its tracks, as tagged.
    pub original_date: Option<String>,
    pub annotation: Annotation,
    pub release_types: Vec<String>,
    pub record_labels: Vec<String>,
    pub moods: Vec<String>,
    /// The earliest release date of its tracks (the release date tag, else the date).
    pub release_date: Option<String>,
    /// "explicit" when a track is, "clean" when a track is and none explicit, else "".
    pub explicit_status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ArtistRec {
    pub id: String,
    pub name: String,
    pub album_count: i64,
    pub sort_name: Option<String>,
    pub mbz_id: Option<String>,
    pub annotation: Annotation,
}

/// A folder in folder-style browsing.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct DirRec {
    pub id: String,
    pub parent: Option<String>,
    pub name: String,
    pub annotation: Annotation,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct GenreRec {
    pub name: String,
    pub song_count: i64,
    pub album_count: i64,
}

/// Which Subsonic element a list of songs is wrapped in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum SongList {
    SimilarSongs,
    SimilarSongs2,
    TopSongs,
    RandomSongs,
    SongsByGenre,
}

/// `Indexes::songs` are those directly in a music folder (no folder of their own to be listed in).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LibraryAnswer {
    MusicFolders(Vec<(i64, String)>),
    Indexes { last_modified: i64, ignored_articles: String, index: Vec<(String, Vec<DirRec>)>, songs: Vec<SongRec> },
    Directory { dir: Box<DirRec>, dirs: Vec<DirRec>, songs: Vec<SongRec> },
    Genres(Vec<GenreRec>),
    Artists { ignored_articles: String, index: Vec<(String, Vec<ArtistRec>)> },
    Artist { artist: Box<ArtistRec>, albums: Vec<AlbumRec> },
    Album { album: Box<AlbumRec>, songs: Vec<SongRec> },
    Song(Box<SongRec>),
    ArtistInfo { v2: bool, similar: Vec<ArtistRec> },
    AlbumInfo { v2: bool },
    Songs(SongList, Vec<SongRec>),
    AlbumList { v2: bool, albums: Vec<AlbumRec> },
    Starred { v2: bool, artists: Vec<ArtistRec>, albums: Vec<AlbumRec>, songs: Vec<SongRec> },
    Search { version: u8, artists: Vec<ArtistRec>, albums: Vec<AlbumRec>, songs: Vec<SongRec> },
}
