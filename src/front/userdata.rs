//! The write side of the Subsonic API in the front: parameters to a typed [`UserDataCall`],
//! and its answer rendered (`nowPlaying`, `playlists`, `playlist`, `playQueue`,
//! `playQueueByIndex`, `bookmarks`, `internetRadioStations`). Methods this server does not
//! implement (podcasts, jukebox, chat, video, HLS) are answered here with an honest error.
#![forbid(unsafe_code)]

use super::render;
use super::subsonic::Node;
use super::{invalid, missing, Params};
use crate::dates::iso8601_signed as time;
use crate::proto::error::{code, not_implemented};
use crate::proto::userdata::*;
use crate::proto::ApiError;

/// Methods answered with "not implemented" (error 0), without asking the broker.
pub const NOT_IMPLEMENTED: &[&str] = &[
    "getPodcasts",
    "getNewestPodcasts",
    "refreshPodcasts",
    "createPodcastChannel",
    "deletePodcastChannel",
    "deletePodcastEpisode",
    "downloadPodcastEpisode",
    "getPodcastEpisode",
    "jukeboxControl",
    "getChatMessages",
    "addChatMessage",
    "getVideos",
    "getVideoInfo",
    "getCaptions",
    "hls",
    "hls.m3u8",
];

fn required(p: &Params, name: &str) -> Result<String, ApiError> {
    p.required(name).map(str::to_string)
}

fn optional(p: &Params, name: &str) -> Option<String> {
    p.get(name).filter(|v| !v.is_empty()).map(str::to_string)
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
    all(p, name)?.iter().map(|v| v.trim().parse().map_err(|_| super::invalid(name, v))).collect()
}

/// The typed call for a user-data method; None for a method that is not one.
pub fn call(method: &str, p: &Params) -> Result<Option<UserDataCall>, ApiError> {
    use UserDataCall as C;
    if NOT_IMPLEMENTED.contains(&method) {
        return Err(not_implemented(method));
    }
    Ok(Some(match method {
        "star" | "unstar" => {
            let (ids, album_ids, artist_ids) = (all(p, "id")?, all(p, "albumId")?, all(p, "artistId")?);
            if ids.is_empty() && album_ids.is_empty() && artist_ids.is_empty() {
                return Err(missing("id, albumId or artistId"));
            }
            if ids.len() + album_ids.len() + artist_ids.len() > MAX_IDS {
                return Err(ApiError::new(code::GENERIC, format!("At most {MAX_IDS} ids at once")));
            }
            C::Star { star: method == "star", ids, album_ids, artist_ids }
        }
        "setRating" => {
            let id = required(p, "id")?;
            let raw = required(p, "rating")?;
            let rating = raw.trim().parse::<u8>().ok().filter(|r| *r <= 5).ok_or_else(|| invalid("rating", &raw))?;
            C::SetRating { id, rating }
        }
        "scrobble" => {
            let ids = all(p, "id")?;
            if ids.is_empty() {
                return Err(missing("id"));
            }
            let times: Vec<i64> = all_ints(p, "time")?;
            C::Scrobble { ids, times, submission: p.boolean("submission")?.unwrap_or(true) }
        }
        "reportPlayback" => {
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
            C::ReportPlayback {
                id,
                position_ms,
                state,
                rate,
                ignore_scrobble: p.boolean("ignoreScrobble")?.unwrap_or(false),
            }
        }
        "getNowPlaying" => C::NowPlaying,
        "getPlaylists" => C::Playlists { username: optional(p, "username") },
        "getPlaylist" => C::Playlist { id: required(p, "id")? },
        "createPlaylist" => {
            let id = optional(p, "playlistId");
            let name = optional(p, "name");
            if id.is_none() && name.is_none() {
                return Err(missing("name or playlistId"));
            }
            C::CreatePlaylist { id, name, songs: all(p, "songId")? }
        }
        "updatePlaylist" => C::UpdatePlaylist {
            id: required(p, "playlistId")?,
            name: p.get("name").map(str::to_string),
            comment: p.get("comment").map(str::to_string),
            public: p.boolean("public")?,
            add: all(p, "songIdToAdd")?,
            remove: all_ints(p, "songIndexToRemove")?,
        },
        "deletePlaylist" => C::DeletePlaylist { id: required(p, "id")? },
        "getPlayQueue" => C::PlayQueue { by_index: false },
        "getPlayQueueByIndex" => C::PlayQueue { by_index: true },
        "savePlayQueue" => C::SavePlayQueue {
            ids: all(p, "id")?,
            current: optional(p, "current").map(QueueCurrent::Id).unwrap_or(QueueCurrent::None),
            position: p.int("position")?.unwrap_or(0),
        },
        "savePlayQueueByIndex" => {
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
            C::SavePlayQueue { ids, current, position: p.int("position")?.unwrap_or(0) }
        }
        "getBookmarks" => C::Bookmarks,
        "createBookmark" => C::CreateBookmark {
            id: required(p, "id")?,
            position: p.int("position")?.ok_or_else(|| missing("position"))?,
            comment: p.get("comment").unwrap_or("").to_string(),
        },
        "deleteBookmark" => C::DeleteBookmark { id: required(p, "id")? },
        "getInternetRadioStations" => C::RadioStations,
        "createInternetRadioStation" => C::CreateRadioStation {
            stream_url: required(p, "streamUrl")?,
            name: required(p, "name")?,
            homepage_url: p.get("homepageUrl").unwrap_or("").to_string(),
        },
        "updateInternetRadioStation" => C::UpdateRadioStation {
            id: required(p, "id")?,
            stream_url: required(p, "streamUrl")?,
            name: required(p, "name")?,
            homepage_url: p.get("homepageUrl").unwrap_or("").to_string(),
        },
        "deleteInternetRadioStation" => C::DeleteRadioStation { id: required(p, "id")? },
        _ => return Ok(None),
    }))
}

fn playlist(p: &PlaylistRec) -> Node<'_> {
    let mut n = Node::new("playlist")
        .attr("id", p.id.as_str())
        .attr("name", p.name.as_str())
        .attr("comment", p.comment.as_str());
    if !p.owner.is_empty() {
        n = n.attr("owner", p.owner.as_str());
    }
    n.attr("public", p.public)
        .attr("songCount", p.song_count)
        .attr("duration", p.duration_secs)
        .attr("created", time(p.created))
        .attr("changed", time(p.changed))
        .opt("coverArt", p.cover_art.as_deref())
        .attr("readonly", p.readonly)
}

fn now_playing(e: &NowPlayingRec) -> Node<'_> {
    let mut n = render::song("entry", &e.song)
        .attr("username", e.username.as_str())
        .attr("minutesAgo", e.minutes_ago)
        .attr("playerId", e.player_id)
        .attr("playerName", e.player_name.as_str());
    if let Some((state, position, rate)) = e.timeline {
        n = n.attr("state", state.name()).attr("positionMs", position).attr("playbackRate", rate);
    }
    n
}

fn play_queue(q: &PlayQueueRec) -> Node<'_> {
    let mut n = Node::new(if q.by_index { "playQueueByIndex" } else { "playQueue" });
    if let Some(c) = q.current {
        n = if q.by_index { n.attr("currentIndex", c as i64) } else { n.attr("current", q.songs[c].id.as_str()) };
        n = n.attr("position", q.position);
    }
    n.attr("username", q.username.as_str())
        .attr("changed", time(q.changed))
        .attr("changedBy", q.changed_by.as_str())
        .list("entry", q.songs.iter().map(|s| render::song("entry", s)).collect())
}

fn bookmark(b: &BookmarkRec) -> Node<'_> {
    Node::new("bookmark")
        .attr("position", b.position)
        .attr("username", b.username.as_str())
        .attr("comment", b.comment.as_str())
        .attr("created", time(b.created))
        .attr("changed", time(b.changed))
        .object(render::song("entry", &b.song))
}

fn radio(r: &RadioRec) -> Node<'_> {
    let n = Node::new("internetRadioStation")
        .attr("id", r.id.as_str())
        .attr("name", r.name.as_str())
        .attr("streamUrl", r.stream_url.as_str());
    if r.homepage_url.is_empty() {
        n
    } else {
        n.attr("homePageUrl", r.homepage_url.as_str())
    }
}

pub fn render(a: &UserDataAnswer) -> Option<Node<'_>> {
    Some(match a {
        UserDataAnswer::Done => return None,
        UserDataAnswer::NowPlaying(list) => {
            Node::new("nowPlaying").list("entry", list.iter().map(now_playing).collect())
        }
        UserDataAnswer::Playlists(list) => Node::new("playlists").list("playlist", list.iter().map(playlist).collect()),
        UserDataAnswer::Playlist(p, songs) => {
            playlist(p).list("entry", songs.iter().map(|s| render::song("entry", s)).collect())
        }
        UserDataAnswer::PlayQueue(q) => play_queue(q),
        UserDataAnswer::Bookmarks(list) => Node::new("bookmarks").list("bookmark", list.iter().map(bookmark).collect()),
        UserDataAnswer::RadioStations(list) => {
            Node::new("internetRadioStations").list("internetRadioStation", list.iter().map(radio).collect())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &[(&str, &str)]) -> Params {
        Params(q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn repeated_parameters_keep_their_order() {
        let p = params(&[("id", "a"), ("albumId", "b"), ("id", "c"), ("id", "")]);
        match call("star", &p).unwrap().unwrap() {
            UserDataCall::Star { star, ids, album_ids, artist_ids } => {
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
    fn unimplemented_methods_say_so_and_others_are_not_ours() {
        let e = call("getPodcasts", &params(&[])).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (0, "getPodcasts is not implemented by this server"));
        assert!(call("getAlbum", &params(&[])).unwrap().is_none());
    }
}
