//! Every Subsonic method this server knows, in one table, the way OpenSSH's `monitor.c` lists
//! its requests: the name, where it comes from (Subsonic, OpenSubsonic, or redoubt's own), and
//! how it is answered: parsed into a typed call the broker answers once it has checked the
//! credentials ([`Kind::Call`], [`Kind::Media`]), answered by the front alone without a user
//! ([`Kind::Public`]), or honestly refused ([`Kind::NotImplemented`]). A name that is not here
//! is error 70, "Unknown API method". The OpenSubsonic extensions list ([`EXTENSIONS`]) is
//! here too, and README.md's method lists are checked against this table by a test.
//!
//! Each parser turns parameters into a typed call and nothing else: no parser sees the
//! credentials, and none may reach the broker on its own.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::params::{decode_password, invalid, missing, Params};
use crate::proto::error::{code, unknown_method};
use crate::proto::library::{LibraryCall as L, ListKind, Search, TopSongsBy};
use crate::proto::media::{
    ClientInfo, DecisionRequest, LyricsCall, MediaAdmin, MediaCall, TranscodeParams, TranscodingFields,
};
use crate::proto::share::{ShareCall, ShareFields};
use crate::proto::userdata::{PlaybackState, QueueCurrent, UserDataCall as U, MAX_IDS};
use crate::proto::{ApiError, Call, Secret, UserFields};

/// Where a method is specified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The Subsonic API (1.16.1).
    Subsonic,
    /// OpenSubsonic: its base (`getOpenSubsonicExtensions`) or one of [`EXTENSIONS`].
    OpenSubsonic,
    /// redoubt's own, in the Subsonic envelope (README.md, "redoubt's own methods").
    Redoubt,
}

/// How a method is answered.
pub enum Kind {
    /// Parsed into a call; the broker answers it after checking the credentials (a user is
    /// needed). Deterministic library reads go through the front's cache.
    Call(fn(&Params) -> Result<Call, ApiError>),
    /// stream, download, getCoverArt: parsed into a media call; the broker checks the
    /// credentials (a user is needed) and answers with a file, ffmpeg's pipe or an image.
    Media(fn(&Params) -> Result<MediaCall, ApiError>),
    /// Answered by the front alone, without credentials.
    Public(Public),
    /// Answered "… is not implemented by this server: <why>" (error 0), without credentials.
    NotImplemented(&'static str),
    /// Answered HTTP 410 Gone, as Navidrome does: the method was removed from the API.
    Gone,
}

/// What the front answers by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Public {
    /// getOpenSubsonicExtensions: [`EXTENSIONS`] (public by the OpenSubsonic spec).
    Extensions,
}

pub struct Method {
    pub name: &'static str,
    pub origin: Origin,
    pub kind: Kind,
    /// It changes something (a row written for the user, a scan started): the web UI's
    /// bridge (`ui/bridge.rs`) takes it only as a POST with the session's CSRF token, and the
    /// broker refuses it from a web session without one (`Call::changes_state`, which a test
    /// keeps in agreement with this flag).
    pub changes_state: bool,
}

impl Method {
    /// Whether the method needs credentials (and so a user the broker knows).
    pub fn needs_user(&self) -> bool {
        matches!(self.kind, Kind::Call(_) | Kind::Media(_))
    }
}

/// An OpenSubsonic extension this server implements: its versions, and the methods it adds.
pub struct Extension {
    pub name: &'static str,
    pub versions: &'static [i64],
    pub methods: &'static [&'static str],
}

pub const EXTENSIONS: &[Extension] = &[
    Extension { name: "apiKeyAuthentication", versions: &[1], methods: &["tokenInfo"] },
    Extension { name: "formPost", versions: &[1], methods: &[] },
    Extension { name: "indexBasedQueue", versions: &[1], methods: &["getPlayQueueByIndex", "savePlayQueueByIndex"] },
    Extension { name: "playbackReport", versions: &[1], methods: &["reportPlayback"] },
    Extension { name: "songLyrics", versions: &[1, 2], methods: &["getLyricsBySongId"] },
    Extension { name: "topSongsByArtistId", versions: &[1], methods: &[] },
    Extension { name: "transcodeOffset", versions: &[1], methods: &[] },
    Extension { name: "transcoding", versions: &[1], methods: &["getTranscodeDecision", "getTranscodeStream"] },
];

const fn m(name: &'static str, origin: Origin, kind: Kind) -> Method {
    Method { name, origin, kind, changes_state: false }
}

impl Method {
    /// Marks a row as one that changes state.
    const fn changes(mut self) -> Method {
        self.changes_state = true;
        self
    }
}

use Kind::{Call as C, Gone, Media, NotImplemented as No, Public as Pub};
use Origin::{OpenSubsonic as Os, Redoubt as Own, Subsonic as Ss};

/// The table. Names are matched exactly, after one `.view` suffix is taken off.
pub static METHODS: &[Method] = &[
    // System and users.
    m("ping", Ss, C(|_| Ok(Call::Ping))),
    m("getLicense", Ss, C(|_| Ok(Call::GetLicense))),
    m("getOpenSubsonicExtensions", Os, Pub(Public::Extensions)),
    m("tokenInfo", Os, C(|_| Ok(Call::TokenInfo))),
    m("getUser", Ss, C(|p| Ok(Call::GetUser { username: required(p, "username")? }))),
    m("getUsers", Ss, C(|_| Ok(Call::GetUsers))),
    m("createUser", Ss, C(|p| user_fields(p, true).map(Call::CreateUser))).changes(),
    m("updateUser", Ss, C(|p| user_fields(p, false).map(Call::UpdateUser))).changes(),
    m("deleteUser", Ss, C(|p| Ok(Call::DeleteUser { username: required(p, "username")? }))).changes(),
    m("changePassword", Ss, C(change_password)).changes(),
    // Scanning.
    m("getScanStatus", Ss, C(|_| Ok(Call::GetScanStatus))),
    m("startScan", Ss, C(|p| Ok(Call::StartScan { full: p.boolean("fullScan")?.unwrap_or(false) }))).changes(),
    // Browsing.
    m("getMusicFolders", Ss, C(|_| lib(L::MusicFolders))),
    m("getIndexes", Ss, C(|p| lib(L::Indexes { folder: folder(p)?, if_modified_since: p.int("ifModifiedSince")? }))),
    m("getMusicDirectory", Ss, C(|p| lib(L::MusicDirectory { id: required(p, "id")? }))),
    m("getGenres", Ss, C(|_| lib(L::Genres))),
    m("getArtists", Ss, C(|p| lib(L::Artists { folder: folder(p)? }))),
    m("getArtist", Ss, C(|p| lib(L::Artist { id: required(p, "id")? }))),
    m("getAlbum", Ss, C(|p| lib(L::Album { id: required(p, "id")? }))),
    m("getSong", Ss, C(|p| lib(L::Song { id: required(p, "id")? }))),
    m("getArtistInfo", Ss, C(|p| lib(L::ArtistInfo { id: required(p, "id")?, v2: false }))),
    m("getArtistInfo2", Ss, C(|p| lib(L::ArtistInfo { id: required(p, "id")?, v2: true }))),
    m("getAlbumInfo", Ss, C(|p| lib(L::AlbumInfo { id: required(p, "id")?, v2: false }))),
    m("getAlbumInfo2", Ss, C(|p| lib(L::AlbumInfo { id: required(p, "id")?, v2: true }))),
    m("getSimilarSongs", Ss, C(|p| similar_songs(p, false))),
    m("getSimilarSongs2", Ss, C(|p| similar_songs(p, true))),
    m("getTopSongs", Ss, C(top_songs)),
    // Lists and search.
    m("getAlbumList", Ss, C(|p| album_list(p, false))),
    m("getAlbumList2", Ss, C(|p| album_list(p, true))),
    m("getRandomSongs", Ss, C(random_songs)),
    m("getSongsByGenre", Ss, C(songs_by_genre)),
    m("getNowPlaying", Ss, C(|_| user_data(U::NowPlaying))),
    m("getStarred", Ss, C(|p| lib(L::Starred { folder: folder(p)?, v2: false }))),
    m("getStarred2", Ss, C(|p| lib(L::Starred { folder: folder(p)?, v2: true }))),
    m("search2", Ss, C(|p| search(p, 2))),
    m("search3", Ss, C(|p| search(p, 3))),
    // Deprecated since 1.4.0 for search2; Navidrome answers 410 too.
    m("search", Ss, Gone),
    // Annotation.
    m("star", Ss, C(|p| star(p, true))).changes(),
    m("unstar", Ss, C(|p| star(p, false))).changes(),
    m("setRating", Ss, C(set_rating)).changes(),
    m("scrobble", Ss, C(scrobble)).changes(),
    m("reportPlayback", Os, C(report_playback)).changes(),
    // Playlists.
    m("getPlaylists", Ss, C(|p| user_data(U::Playlists { username: optional(p, "username") }))),
    m("getPlaylist", Ss, C(|p| user_data(U::Playlist { id: required(p, "id")? }))),
    m("createPlaylist", Ss, C(create_playlist)).changes(),
    m("updatePlaylist", Ss, C(update_playlist)).changes(),
    m("deletePlaylist", Ss, C(|p| user_data(U::DeletePlaylist { id: required(p, "id")? }))).changes(),
    // Play queue.
    m("getPlayQueue", Ss, C(|_| user_data(U::PlayQueue { by_index: false }))),
    m("savePlayQueue", Ss, C(save_play_queue)).changes(),
    m("getPlayQueueByIndex", Os, C(|_| user_data(U::PlayQueue { by_index: true }))),
    m("savePlayQueueByIndex", Os, C(save_play_queue_by_index)).changes(),
    // Bookmarks.
    m("getBookmarks", Ss, C(|_| user_data(U::Bookmarks))),
    m("createBookmark", Ss, C(create_bookmark)).changes(),
    m("deleteBookmark", Ss, C(|p| user_data(U::DeleteBookmark { id: required(p, "id")? }))).changes(),
    // Internet radio.
    m("getInternetRadioStations", Ss, C(|_| user_data(U::RadioStations))),
    m("createInternetRadioStation", Ss, C(create_radio_station)).changes(),
    m("updateInternetRadioStation", Ss, C(update_radio_station)).changes(),
    m("deleteInternetRadioStation", Ss, C(|p| user_data(U::DeleteRadioStation { id: required(p, "id")? }))).changes(),
    // Sharing.
    m("getShares", Ss, C(|_| Ok(Call::Share(ShareCall::List)))),
    m("createShare", Ss, C(create_share)).changes(),
    m("updateShare", Ss, C(update_share)).changes(),
    m("deleteShare", Ss, C(|p| Ok(Call::Share(ShareCall::Delete { id: required(p, "id")? })))).changes(),
    // Media: answered with a file, a pipe or an image.
    m("stream", Ss, Media(stream)),
    m("download", Ss, Media(|p| Ok(MediaCall::Download { id: required(p, "id")? }))),
    m("getCoverArt", Ss, Media(cover_art)),
    m("getAvatar", Ss, Media(|p| Ok(MediaCall::Avatar { username: required(p, "username")? }))),
    // OpenSubsonic transcoding: the decision in the broker, the stream as `stream`.
    m("getTranscodeDecision", Os, C(transcode_decision)),
    m("getTranscodeStream", Os, Media(transcode_stream)),
    // Lyrics.
    m(
        "getLyrics",
        Ss,
        C(|p| Ok(Call::Lyrics(LyricsCall::ByTitle { artist: text(p, "artist"), title: text(p, "title") }))),
    ),
    m(
        "getLyricsBySongId",
        Os,
        C(|p| {
            Ok(Call::Lyrics(LyricsCall::BySongId {
                id: required(p, "id")?,
                enhanced: p.boolean("enhanced")?.unwrap_or(false),
            }))
        }),
    ),
    // redoubt's own: transcoding profiles and players.
    m("getTranscodings", Own, C(|_| admin(MediaAdmin::Transcodings))),
    m("createTranscoding", Own, C(create_transcoding)).changes(),
    m(
        "updateTranscoding",
        Own,
        C(|p| admin(MediaAdmin::UpdateTranscoding { id: required(p, "id")?, fields: transcoding_fields(p)? })),
    )
    .changes(),
    m("deleteTranscoding", Own, C(|p| admin(MediaAdmin::DeleteTranscoding { id: required(p, "id")? }))).changes(),
    m("getPlayers", Own, C(|_| admin(MediaAdmin::Players))),
    m("updatePlayer", Own, C(update_player)).changes(),
    // Not implemented: podcasts, jukebox, chat, video, HLS, sonic similarity.
    m("getPodcasts", Ss, No(PODCASTS)),
    m("getNewestPodcasts", Ss, No(PODCASTS)),
    m("getPodcastEpisode", Ss, No(PODCASTS)),
    m("refreshPodcasts", Ss, No(PODCASTS)),
    m("createPodcastChannel", Ss, No(PODCASTS)),
    m("deletePodcastChannel", Ss, No(PODCASTS)),
    m("deletePodcastEpisode", Ss, No(PODCASTS)),
    m("downloadPodcastEpisode", Ss, No(PODCASTS)),
    m("jukeboxControl", Ss, No("it plays to clients only, and has no audio output of its own")),
    m("getChatMessages", Ss, No(CHAT)),
    m("addChatMessage", Ss, No(CHAT)),
    m("getVideos", Ss, No(VIDEO)),
    m("getVideoInfo", Ss, No(VIDEO)),
    m("getCaptions", Ss, No(VIDEO)),
    m("hls", Ss, No(HLS)),
    m("hls.m3u8", Ss, No(HLS)),
    m("getSonicSimilarTracks", Os, No(SONIC)),
    m("findSonicPath", Os, No(SONIC)),
];

// Why each family is not implemented, as the error message says.
const PODCASTS: &str = "podcasts need fetching feeds from the internet, which this server never does";
const CHAT: &str = "it keeps no chat";
const VIDEO: &str = "it serves music only";
const HLS: &str = "it streams over plain HTTP only";
const SONIC: &str =
    "sonic similarity needs audio analysis (acoustic features of every song), which this server does not do";

/// The parameter getTranscodeDecision's ClientInfo comes in: a JSON body is passed to the
/// parser under this name (`http.rs`), and a form may give it as a field.
pub const CLIENT_INFO: &str = "clientInfo";

static BY_NAME: LazyLock<HashMap<&'static str, &'static Method>> =
    LazyLock::new(|| METHODS.iter().map(|m| (m.name, m)).collect());

/// Whether the method a request path names is defined for POST only (getTranscodeDecision).
pub fn is_post_only(requested: &str) -> bool {
    requested.strip_suffix(".view").unwrap_or(requested) == "getTranscodeDecision"
}

/// The method a request path names (`/rest/<name>` or `/rest/<name>.view`), or error 70.
pub fn find(requested: &str) -> Result<&'static Method, ApiError> {
    let name = requested.strip_suffix(".view").unwrap_or(requested);
    BY_NAME.get(name).copied().ok_or_else(|| unknown_method(name))
}

// The parsers.

fn required(p: &Params, name: &str) -> Result<String, ApiError> {
    p.required(name).map(str::to_string)
}

/// A parameter, if given and not empty.
fn optional(p: &Params, name: &str) -> Option<String> {
    p.get(name).filter(|v| !v.is_empty()).map(str::to_string)
}

/// A parameter as given (possibly empty).
fn text(p: &Params, name: &str) -> Option<String> {
    p.get(name).map(str::to_string)
}

/// Every value of a repeated parameter, in order (empty values left out).
fn all(p: &Params, name: &str) -> Result<Vec<String>, ApiError> {
    let v: Vec<String> = p.0.iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.clone()).collect();
    if v.len() > MAX_IDS {
        return Err(ApiError::new(code::GENERIC, format!("Too many {name} parameters (at most {MAX_IDS})")));
    }
    Ok(v)
}

fn all_ints<T: std::str::FromStr>(p: &Params, name: &str) -> Result<Vec<T>, ApiError> {
    all(p, name)?.iter().map(|v| v.trim().parse().map_err(|_| invalid(name, v))).collect()
}

fn folder(p: &Params) -> Result<Option<i64>, ApiError> {
    p.int("musicFolderId")
}

fn lib(call: L) -> Result<Call, ApiError> {
    Ok(Call::Library(call))
}

fn user_data(call: U) -> Result<Call, ApiError> {
    Ok(Call::UserData(call))
}

fn admin(call: MediaAdmin) -> Result<Call, ApiError> {
    Ok(Call::MediaAdmin(call))
}

fn user_fields(p: &Params, create: bool) -> Result<UserFields, ApiError> {
    Ok(UserFields {
        username: required(p, "username")?,
        password: match p.get("password") {
            Some(pw) => Some(Secret(decode_password(pw)?)),
            None if create => return Err(missing("password")),
            None => None,
        },
        email: p.get("email").map(str::to_string),
        admin: p.boolean("adminRole")?,
        folders: music_folder_ids(p)?,
    })
}

/// `musicFolderId`, once per folder (createUser, updateUser); None when not given.
fn music_folder_ids(p: &Params) -> Result<Option<crate::proto::FolderAccess>, ApiError> {
    let given: Vec<&str> = p.0.iter().filter(|(n, _)| n == "musicFolderId").map(|(_, v)| v.as_str()).collect();
    if given.is_empty() {
        return Ok(None);
    }
    let ids =
        given.iter().map(|v| v.trim().parse().map_err(|_| invalid("musicFolderId", v))).collect::<Result<_, _>>()?;
    Ok(Some(crate::proto::FolderAccess::Only(ids)))
}

fn change_password(p: &Params) -> Result<Call, ApiError> {
    Ok(Call::ChangePassword {
        username: required(p, "username")?,
        password: Secret(decode_password(p.required("password")?)?),
    })
}

fn similar_songs(p: &Params, v2: bool) -> Result<Call, ApiError> {
    lib(L::SimilarSongs { id: required(p, "id")?, count: p.int_or("count", 50)?, v2 })
}

/// OpenSubsonic topSongsByArtistId: `id` (an artist id) takes precedence over `artist`.
fn top_songs(p: &Params) -> Result<Call, ApiError> {
    let by = match optional(p, "id") {
        Some(id) => TopSongsBy::Id(id),
        None => TopSongsBy::Name(optional(p, "artist").ok_or_else(|| missing("artist or id"))?),
    };
    lib(L::TopSongs { by, count: p.int_or("count", 50)? })
}

fn album_list(p: &Params, v2: bool) -> Result<Call, ApiError> {
    let kind = match p.required("type")? {
        "random" => ListKind::Random,
        "newest" => ListKind::Newest,
        "highest" => ListKind::Highest,
        "frequent" => ListKind::Frequent,
        "recent" => ListKind::Recent,
        "alphabeticalByName" => ListKind::AlphabeticalByName,
        "alphabeticalByArtist" => ListKind::AlphabeticalByArtist,
        "starred" => ListKind::Starred,
        "byYear" => ListKind::ByYear {
            from: p.int("fromYear")?.ok_or_else(|| missing("fromYear"))?,
            to: p.int("toYear")?.ok_or_else(|| missing("toYear"))?,
        },
        "byGenre" => ListKind::ByGenre(required(p, "genre")?),
        other => return Err(ApiError::new(code::GENERIC, format!("Invalid list type: {other:?}"))),
    };
    lib(L::AlbumList { kind, size: p.int_or("size", 10)?, offset: p.int_or("offset", 0)?, folder: folder(p)?, v2 })
}

fn random_songs(p: &Params) -> Result<Call, ApiError> {
    lib(L::RandomSongs {
        size: p.int_or("size", 10)?,
        genre: optional(p, "genre"),
        from_year: p.int("fromYear")?,
        to_year: p.int("toYear")?,
        folder: folder(p)?,
    })
}

fn songs_by_genre(p: &Params) -> Result<Call, ApiError> {
    lib(L::SongsByGenre {
        genre: required(p, "genre")?,
        count: p.int_or("count", 10)?,
        offset: p.int_or("offset", 0)?,
        folder: folder(p)?,
    })
}

fn search(p: &Params, version: u8) -> Result<Call, ApiError> {
    lib(L::Search(Search {
        // search3's query may be empty (or ""): then everything is listed, paged.
        query: p.get("query").unwrap_or("").trim_matches('"').to_string(),
        artist_count: p.int_or("artistCount", 20)?,
        artist_offset: p.int_or("artistOffset", 0)?,
        album_count: p.int_or("albumCount", 20)?,
        album_offset: p.int_or("albumOffset", 0)?,
        song_count: p.int_or("songCount", 20)?,
        song_offset: p.int_or("songOffset", 0)?,
        folder: folder(p)?,
        version,
    }))
}

fn star(p: &Params, star: bool) -> Result<Call, ApiError> {
    let (ids, album_ids, artist_ids) = (all(p, "id")?, all(p, "albumId")?, all(p, "artistId")?);
    if ids.is_empty() && album_ids.is_empty() && artist_ids.is_empty() {
        return Err(missing("id, albumId or artistId"));
    }
    if ids.len() + album_ids.len() + artist_ids.len() > MAX_IDS {
        return Err(ApiError::new(code::GENERIC, format!("At most {MAX_IDS} ids at once")));
    }
    user_data(U::Star { star, ids, album_ids, artist_ids })
}

fn set_rating(p: &Params) -> Result<Call, ApiError> {
    let id = required(p, "id")?;
    let raw = required(p, "rating")?;
    let rating = raw.trim().parse::<u8>().ok().filter(|r| *r <= 5).ok_or_else(|| invalid("rating", &raw))?;
    user_data(U::SetRating { id, rating })
}

fn scrobble(p: &Params) -> Result<Call, ApiError> {
    let ids = all(p, "id")?;
    if ids.is_empty() {
        return Err(missing("id"));
    }
    let times: Vec<i64> = all_ints(p, "time")?;
    user_data(U::Scrobble { ids, times, submission: p.boolean("submission")?.unwrap_or(true) })
}

fn report_playback(p: &Params) -> Result<Call, ApiError> {
    let id = required(p, "mediaId")?;
    match required(p, "mediaType")?.as_str() {
        "song" => {}
        "podcast" => return Err(ApiError::new(code::GENERIC, "Podcasts are not implemented by this server")),
        other => return Err(invalid("mediaType", other)),
    }
    let position_ms: i64 = p.int("positionMs")?.ok_or_else(|| missing("positionMs"))?;
    if position_ms < 0 {
        return Err(invalid("positionMs", &position_ms.to_string()));
    }
    let raw = required(p, "state")?;
    let state = PlaybackState::parse(&raw).ok_or_else(|| invalid("state", &raw))?;
    let rate: f64 = p.int("playbackRate")?.unwrap_or(1.0);
    if !(rate.is_finite() && rate > 0.0 && rate <= 16.0) {
        return Err(invalid("playbackRate", &rate.to_string()));
    }
    user_data(U::ReportPlayback {
        id,
        position_ms,
        state,
        rate,
        ignore_scrobble: p.boolean("ignoreScrobble")?.unwrap_or(false),
    })
}

fn create_playlist(p: &Params) -> Result<Call, ApiError> {
    let id = optional(p, "playlistId");
    let name = optional(p, "name");
    if id.is_none() && name.is_none() {
        return Err(missing("name or playlistId"));
    }
    user_data(U::CreatePlaylist { id, name, songs: all(p, "songId")? })
}

fn update_playlist(p: &Params) -> Result<Call, ApiError> {
    user_data(U::UpdatePlaylist {
        id: required(p, "playlistId")?,
        name: text(p, "name"),
        comment: text(p, "comment"),
        public: p.boolean("public")?,
        add: all(p, "songIdToAdd")?,
        remove: all_ints(p, "songIndexToRemove")?,
    })
}

fn save_play_queue(p: &Params) -> Result<Call, ApiError> {
    user_data(U::SavePlayQueue {
        ids: all(p, "id")?,
        current: optional(p, "current").map(QueueCurrent::Id).unwrap_or(QueueCurrent::None),
        position: p.int("position")?.unwrap_or(0),
    })
}

fn save_play_queue_by_index(p: &Params) -> Result<Call, ApiError> {
    let ids = all(p, "id")?;
    let index: Option<u32> = p.int("currentIndex")?;
    // OpenSubsonic: currentIndex is required with ids, refused without, and in range (10).
    let current = match index {
        Some(i) if (i as usize) < ids.len() => QueueCurrent::Index(i),
        Some(_) if ids.is_empty() => {
            return Err(ApiError::new(code::MISSING_PARAMETER, "currentIndex must not be set without id"))
        }
        Some(_) => return Err(ApiError::new(code::MISSING_PARAMETER, "currentIndex is out of range")),
        None if ids.is_empty() => QueueCurrent::None,
        None => return Err(missing("currentIndex")),
    };
    user_data(U::SavePlayQueue { ids, current, position: p.int("position")?.unwrap_or(0) })
}

fn create_bookmark(p: &Params) -> Result<Call, ApiError> {
    user_data(U::CreateBookmark {
        id: required(p, "id")?,
        position: p.int("position")?.ok_or_else(|| missing("position"))?,
        comment: p.get("comment").unwrap_or("").to_string(),
    })
}

fn create_radio_station(p: &Params) -> Result<Call, ApiError> {
    user_data(U::CreateRadioStation {
        stream_url: required(p, "streamUrl")?,
        name: required(p, "name")?,
        homepage_url: p.get("homepageUrl").unwrap_or("").to_string(),
    })
}

fn update_radio_station(p: &Params) -> Result<Call, ApiError> {
    user_data(U::UpdateRadioStation {
        id: required(p, "id")?,
        stream_url: required(p, "streamUrl")?,
        name: required(p, "name")?,
        homepage_url: p.get("homepageUrl").unwrap_or("").to_string(),
    })
}

/// The optional fields of createShare and updateShare (`password` and `maxPlays` are
/// redoubt's additions; `enc:` hex passwords are decoded as for users).
fn share_fields(p: &Params) -> Result<ShareFields, ApiError> {
    let expires: Option<i64> = p.int("expires")?;
    if expires.is_some_and(|e| e < 0) {
        return Err(invalid("expires", &expires.unwrap_or(0).to_string()));
    }
    Ok(ShareFields {
        ids: Vec::new(),
        description: text(p, "description"),
        expires_ms: expires,
        downloadable: p.boolean("downloadable")?,
        password: p.get("password").map(decode_password).transpose()?.map(Secret),
        max_plays: p.int("maxPlays")?,
        transcode: p.boolean("transcode")?,
    })
}

fn create_share(p: &Params) -> Result<Call, ApiError> {
    let ids = all(p, "id")?;
    if ids.is_empty() {
        return Err(missing("id"));
    }
    Ok(Call::Share(ShareCall::Create(ShareFields { ids, ..share_fields(p)? })))
}

fn update_share(p: &Params) -> Result<Call, ApiError> {
    Ok(Call::Share(ShareCall::Update { id: required(p, "id")?, fields: share_fields(p)? }))
}

fn stream(p: &Params) -> Result<MediaCall, ApiError> {
    Ok(MediaCall::Stream {
        id: required(p, "id")?,
        max_bit_rate: p.int("maxBitRate")?,
        format: optional(p, "format"),
        time_offset: p.int("timeOffset")?,
        estimate_length: p.boolean("estimateContentLength")?.unwrap_or(false),
    })
}

/// `mediaType`: songs only (podcasts are not implemented).
fn media_type(p: &Params) -> Result<(), ApiError> {
    match p.required("mediaType")? {
        "song" => Ok(()),
        "podcast" => {
            Err(ApiError::new(code::GENERIC, format!("Podcasts are not implemented by this server: {PODCASTS}")))
        }
        other => Err(invalid("mediaType", other)),
    }
}

fn transcode_decision(p: &Params) -> Result<Call, ApiError> {
    let id = required(p, "mediaId")?;
    media_type(p)?;
    if p.count(CLIENT_INFO) > 1 {
        return Err(ApiError::new(code::GENERIC, "The ClientInfo is given twice (a JSON body and a clientInfo field)"));
    }
    let body = p.get(CLIENT_INFO).filter(|b| !b.trim().is_empty()).ok_or_else(|| {
        ApiError::new(code::MISSING_PARAMETER, "Required parameter is missing: the ClientInfo (a JSON body)")
    })?;
    let client: ClientInfo = serde_json::from_str(body)
        .map_err(|e| ApiError::new(code::GENERIC, format!("The ClientInfo is not valid: {e}")))?;
    Ok(Call::TranscodeDecision(Box::new(DecisionRequest { id, client })))
}

/// getTranscodeStream: `stream` with the format and cap the decision named.
fn transcode_stream(p: &Params) -> Result<MediaCall, ApiError> {
    let id = required(p, "mediaId")?;
    media_type(p)?;
    let raw = p.required("transcodeParams")?;
    let params = TranscodeParams::parse(raw).ok_or_else(|| invalid("transcodeParams", raw))?;
    let (format, max_bit_rate) = match params {
        TranscodeParams::Raw => ("raw".to_string(), None),
        TranscodeParams::Transcode { format, kbps } => (format, Some(kbps)),
    };
    Ok(MediaCall::Stream {
        id,
        max_bit_rate,
        format: Some(format),
        time_offset: p.int("offset")?.filter(|o: &u32| *o > 0),
        estimate_length: false,
    })
}

fn cover_art(p: &Params) -> Result<MediaCall, ApiError> {
    Ok(MediaCall::CoverArt { id: required(p, "id")?, size: p.int("size")?.filter(|s: &u32| *s > 0) })
}

fn transcoding_fields(p: &Params) -> Result<TranscodingFields, ApiError> {
    Ok(TranscodingFields {
        name: text(p, "name"),
        target_format: text(p, "targetFormat"),
        default_bit_rate: p.int("defaultBitRate")?,
        command: text(p, "command"),
    })
}

fn create_transcoding(p: &Params) -> Result<Call, ApiError> {
    for k in ["name", "targetFormat", "command"] {
        p.required(k)?;
    }
    admin(MediaAdmin::CreateTranscoding(transcoding_fields(p)?))
}

fn update_player(p: &Params) -> Result<Call, ApiError> {
    admin(MediaAdmin::UpdatePlayer {
        id: required(p, "id")?,
        format: text(p, "format"),
        max_bit_rate: p.int("maxBitRate")?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn params(q: &[(&str, &str)]) -> Params {
        Params(q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// The typed call the table's parser makes for `name`.
    fn call(name: &str, p: &Params) -> Result<Call, ApiError> {
        match find(name).unwrap().kind {
            Kind::Call(parse) => parse(p),
            _ => panic!("{name} is not parsed into a call"),
        }
    }

    #[test]
    fn repeated_parameters_keep_their_order() {
        let p = params(&[("id", "a"), ("albumId", "b"), ("id", "c"), ("id", "")]);
        match call("star", &p).unwrap() {
            Call::UserData(U::Star { star, ids, album_ids, artist_ids }) => {
                assert!(star);
                assert_eq!(ids, ["a", "c"]);
                assert_eq!(album_ids, ["b"]);
                assert!(artist_ids.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(call("unstar", &params(&[])).unwrap_err().code, 10);
    }

    #[test]
    fn ratings_and_queue_indexes_are_checked() {
        assert_eq!(call("setRating", &params(&[("id", "x"), ("rating", "6")])).unwrap_err().code, 0);
        assert_eq!(call("setRating", &params(&[("id", "x"), ("rating", "-1")])).unwrap_err().code, 0);
        assert!(call("setRating", &params(&[("id", "x"), ("rating", "0")])).is_ok());
        let q = |v: &[(&str, &str)]| call("savePlayQueueByIndex", &params(v));
        assert_eq!(q(&[("id", "a"), ("currentIndex", "1")]).unwrap_err().code, 10);
        assert_eq!(q(&[("id", "a")]).unwrap_err().code, 10);
        assert_eq!(q(&[("currentIndex", "0")]).unwrap_err().code, 10);
        assert!(q(&[]).is_ok());
        assert!(q(&[("id", "a"), ("id", "a"), ("currentIndex", "1")]).is_ok());
    }

    #[test]
    fn transcode_decisions_need_a_valid_client_info_and_streams_valid_params() {
        let d = |q: &[(&str, &str)]| call("getTranscodeDecision", &params(q));
        let base = [("mediaId", "s"), ("mediaType", "song")];
        let with = |body: &'static str| {
            let mut q = base.to_vec();
            q.push((CLIENT_INFO, body));
            d(&q)
        };
        assert_eq!(d(&base).unwrap_err().code, 10, "no body");
        assert_eq!(with("  ").unwrap_err().code, 10, "an empty body");
        assert_eq!(with("{invalid").unwrap_err().code, 0);
        let bad_protocol = r#"{"directPlayProfiles":[{"containers":[],"audioCodecs":[],"protocols":["ftp"]}]}"#;
        assert_eq!(with(bad_protocol).unwrap_err().code, 0);
        let bad_comparison = r#"{"codecProfiles":[{"type":"AudioCodec","name":"mp3","limitations":[{"name":"audioBitrate","comparison":"Less","values":["1"]}]}]}"#;
        assert_eq!(with(bad_comparison).unwrap_err().code, 0);
        assert_eq!(with(r#"{"maxAudioBitrate":-1}"#).unwrap_err().code, 0);
        assert_eq!(d(&[("mediaType", "song"), (CLIENT_INFO, "{}")]).unwrap_err().code, 10);
        assert_eq!(d(&[("mediaId", "s"), ("mediaType", "video"), (CLIENT_INFO, "{}")]).unwrap_err().code, 0);
        let podcast = d(&[("mediaId", "s"), ("mediaType", "podcast"), (CLIENT_INFO, "{}")]).unwrap_err();
        assert!(podcast.message.contains("not implemented"), "{}", podcast.message);
        let twice = d(&[("mediaId", "s"), ("mediaType", "song"), (CLIENT_INFO, "{}"), (CLIENT_INFO, "{}")]);
        assert_eq!(twice.unwrap_err().code, 0);
        match with(r#"{"name":"n","platform":"p","maxAudioBitrate":128000,"directPlayProfiles":[{"containers":["mp3"],"audioCodecs":["mp3"],"protocols":["http"]}]}"#).unwrap() {
            Call::TranscodeDecision(r) => {
                assert_eq!((r.id.as_str(), r.client.max_audio_bitrate), ("s", 128_000));
                assert_eq!(r.client.direct_play_profiles[0].containers, ["mp3"]);
            }
            other => panic!("{other:?}"),
        }

        let s = |q: &[(&str, &str)]| match find("getTranscodeStream").unwrap().kind {
            Kind::Media(parse) => parse(&params(q)),
            _ => unreachable!(),
        };
        match s(&[("mediaId", "s"), ("mediaType", "song"), ("transcodeParams", "v1:mp3:128"), ("offset", "5")]).unwrap()
        {
            MediaCall::Stream { id, max_bit_rate, format, time_offset, .. } => {
                assert_eq!(
                    (id.as_str(), max_bit_rate, format.as_deref(), time_offset),
                    ("s", Some(128), Some("mp3"), Some(5))
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s(&[("mediaId", "s"), ("mediaType", "song")]).unwrap_err().code, 10);
        assert_eq!(s(&[("mediaId", "s"), ("mediaType", "song"), ("transcodeParams", "mp3")]).unwrap_err().code, 0);
    }

    /// The table's "changes state" flag and the broker's `Call::changes_state` agree for every
    /// method parsed into a call; media, public and unimplemented methods change nothing.
    #[test]
    fn the_changes_state_flag_agrees_with_the_calls() {
        let all = params(&[
            ("id", "x"),
            ("username", "u"),
            ("password", "p"),
            ("name", "n"),
            ("playlistId", "1"),
            ("rating", "1"),
            ("type", "newest"),
            ("genre", "g"),
            ("fromYear", "1"),
            ("toYear", "2"),
            ("mediaId", "m"),
            ("mediaType", "song"),
            ("positionMs", "0"),
            ("state", "playing"),
            ("songId", "s"),
            ("streamUrl", "http://radio.example/"),
            ("position", "0"),
            ("targetFormat", "mp3"),
            ("command", "ffmpeg -i %s -f mp3 -"),
            ("artist", "a"),
            ("title", "t"),
            ("query", "q"),
            ("currentIndex", "0"),
            (CLIENT_INFO, "{}"),
        ]);
        for m in METHODS {
            match m.kind {
                Kind::Call(parse) => {
                    let call = parse(&all).unwrap_or_else(|e| panic!("{}: {e:?}", m.name));
                    assert_eq!(m.changes_state, call.changes_state(), "{}: the table and the call disagree", m.name);
                }
                _ => assert!(!m.changes_state, "{} reaches no broker call", m.name),
            }
        }
    }

    #[test]
    fn unimplemented_methods_say_so_and_unknown_ones_are_70() {
        let m = find("getPodcasts").unwrap();
        assert!(matches!(m.kind, Kind::NotImplemented(_)) && !m.needs_user());
        let Kind::NotImplemented(why) = m.kind else { unreachable!() };
        let e = crate::proto::error::not_implemented(m.name, why);
        assert_eq!(e.code, 0);
        assert!(e.message.starts_with("getPodcasts is not implemented by this server: podcasts need"), "{}", e.message);
        assert!(matches!(find("search").unwrap().kind, Kind::Gone));
        assert!(matches!(find("getAlbum.view").unwrap().kind, Kind::Call(_)));
        assert_eq!(find("hls.m3u8.view").unwrap().name, "hls.m3u8");
        let e = find("getAlbum.view.view").err().unwrap();
        assert_eq!((e.code, e.message.as_str()), (70, "Unknown API method: getAlbum.view"));
        assert_eq!(find("nonsense").err().unwrap().code, 70);
    }

    #[test]
    fn names_are_unique_and_extensions_name_opensubsonic_methods() {
        let mut seen = BTreeSet::new();
        for m in METHODS {
            assert!(seen.insert(m.name), "{} twice", m.name);
            assert!(!m.name.ends_with(".view"), "{}", m.name);
        }
        let mut by_extension = BTreeSet::new();
        for e in EXTENSIONS {
            for name in e.methods {
                let m = find(name).unwrap();
                assert_eq!(m.origin, Origin::OpenSubsonic, "{name} of {}", e.name);
                assert!(
                    !matches!(m.kind, Kind::NotImplemented(_)),
                    "{} is advertised but {name} is not implemented",
                    e.name
                );
                by_extension.insert(*name);
            }
        }
        for m in METHODS.iter().filter(|m| m.origin == Origin::OpenSubsonic) {
            assert!(
                by_extension.contains(m.name)
                    || matches!(m.kind, Kind::Public(Public::Extensions) | Kind::NotImplemented(_)),
                "{} is OpenSubsonic but in no extension",
                m.name
            );
        }
    }

    /// The methods README.md names in a section: names in backticks outside parentheses
    /// (parameters and settings are written inside them, or hold characters no method name
    /// has); `` `getAlbumList`/`2` `` names getAlbumList and getAlbumList2.
    fn named(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut depth = 0i32;
        let mut last: Option<(String, usize)> = None;
        let mut rest = text;
        let mut pos = 0;
        while let Some(open) = rest.find('`') {
            let before = &rest[..open];
            depth += before.matches('(').count() as i32 - before.matches(')').count() as i32;
            let Some(close) = rest[open + 1..].find('`') else { break };
            let word = &rest[open + 1..open + 1 + close];
            let start = pos + open;
            let is_name = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
            if depth == 0 && is_name {
                match &last {
                    // `getAlbumList`/`2`
                    Some((prev, end)) if word.chars().all(|c| c.is_ascii_digit()) && &text[*end..start] == "/" => {
                        out.insert(format!("{prev}{word}"));
                    }
                    _ => {
                        out.insert(word.to_string());
                    }
                }
                last = Some((word.to_string(), start + close + 2));
            }
            pos += open + close + 2;
            rest = &rest[open + close + 2..];
        }
        out
    }

    fn table(f: impl Fn(&Method) -> bool) -> BTreeSet<String> {
        METHODS.iter().filter(|m| f(m)).map(|m| m.name.to_string()).collect()
    }

    /// README.md's method lists and this table name the same methods: the "What works today"
    /// table the implemented Subsonic and OpenSubsonic ones, the paragraph on redoubt's own
    /// methods those, and the "Not implemented" paragraph the ones answered so.
    #[test]
    fn readme_lists_every_method_of_the_table_and_no_other() {
        let readme = include_str!("../../README.md");
        let section = |start: &str, end: &str| {
            let a = readme.find(start).unwrap_or_else(|| panic!("README.md has no {start:?}"));
            let b = readme[a..].find(end).map_or(readme.len(), |b| a + b);
            readme[a..b].to_string()
        };
        let works = section("| area | state |", "\n\n");
        // Only the second column of each row is the state; methods are named in the first.
        let works: String = works
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .map(|l| l.rsplit_once(" | ").map_or(l, |(area, _)| area))
            .collect::<Vec<_>>()
            .join("\n");
        let own = section("redoubt's own methods", "\n\n");
        let not_implemented = section("Not implemented, and answered honestly", "\n\n");

        let implemented =
            table(|m| m.origin != Origin::Redoubt && !matches!(m.kind, Kind::NotImplemented(_) | Kind::Gone));
        let redoubt = table(|m| m.origin == Origin::Redoubt);
        let refused = table(|m| matches!(m.kind, Kind::NotImplemented(_) | Kind::Gone));
        assert!(redoubt.iter().all(|n| !refused.contains(n)));
        for (what, readme, table) in [
            ("What works today", named(&works), implemented),
            ("redoubt's own methods", named(&own), redoubt),
            ("Not implemented", named(&not_implemented), refused),
        ] {
            let missing: Vec<_> = table.difference(&readme).collect();
            let unknown: Vec<_> = readme.difference(&table).collect();
            assert!(missing.is_empty(), "README.md's {what:?} does not name {missing:?}");
            assert!(
                unknown.is_empty(),
                "README.md's {what:?} names {unknown:?}, which the method table lists otherwise or not at all"
            );
        }
    }

    #[test]
    fn backticked_names_outside_parentheses_are_methods() {
        let n =
            named("a: `ping`, `getAlbumList`/`2` (`format`, `id`), `search2`/`search3`, `redoubt scan`, `hls.m3u8`");
        let want: BTreeSet<String> =
            ["ping", "getAlbumList", "getAlbumList2", "search2", "search3", "hls.m3u8"].map(String::from).into();
        assert_eq!(n, want);
    }
}
