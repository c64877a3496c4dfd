//! The answers to the write side of the Subsonic API (its calls are parsed in `methods`),
//! rendered: `nowPlaying`, `playlists`, `playlist`, `playQueue`, `playQueueByIndex`,
//! `bookmarks`, `internetRadioStations`.

use super::render;
use super::subsonic::Node;
use crate::dates::iso8601_signed as time;
use crate::proto::userdata::*;

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
        // The web UI's editor only: no Subsonic method answers it.
        UserDataAnswer::Done | UserDataAnswer::SmartPlaylist(_) => return None,
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
