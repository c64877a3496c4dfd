//! The write side of the Subsonic API: stars, ratings, plays and now-playing, playlists, the
//! play queue, bookmarks and internet radio stations, always as the authenticated user. Every
//! SQL text here is a constant with `?` parameters; the user id comes from the credentials the
//! broker checked, never from a request parameter, so that a playlist's owner cannot be named
//! by the caller (CVE-2024-32963).
//!
//! [`answer`] hands each call to its family, one file each, in the order `proto/userdata.rs`
//! lists the calls: `annotations.rs` (stars and ratings), `plays.rs` (scrobbles, playback
//! reports, now playing), `playlists.rs`, `play_queue.rs`, `bookmarks.rs`, `radio.rs`. What
//! more than one family needs (the checks that ids exist, names and comments are valid) is here.

mod annotations;
mod bookmarks;
mod play_queue;
mod playlists;
mod plays;
pub use plays::streaming;
mod radio;
pub(crate) mod smart;

use rusqlite::Connection;

use super::store::User;
use crate::proto::error::{code, internal, not_found};
use crate::proto::userdata::{UserDataAnswer, UserDataCall};
use crate::proto::ApiError;

/// What every call is answered with: the connection (the writer for a call that writes), the
/// authenticated user, and the Subsonic client's name (`c`: the player, for plays and the play
/// queue).
#[derive(Clone, Copy)]
struct Ctx<'a> {
    conn: &'a Connection,
    me: &'a User,
    client: &'a str,
}

pub fn answer(conn: &Connection, me: &User, client: &str, call: &UserDataCall) -> Result<UserDataAnswer, ApiError> {
    use UserDataCall as C;
    let cx = Ctx { conn, me, client };
    match call {
        C::Star { star, ids, album_ids, artist_ids } => annotations::star(cx, *star, ids, album_ids, artist_ids),
        C::SetRating { id, rating } => annotations::set_rating(cx, id, *rating),

        C::Scrobble { ids, times, submission } => plays::scrobble(cx, ids, times, *submission),
        C::ReportPlayback { id, position_ms, state, rate, ignore_scrobble } => {
            plays::report_playback(cx, id, *position_ms, *state, *rate, *ignore_scrobble)
        }
        C::NowPlaying => plays::now_playing(cx),

        C::Playlists { username } => playlists::list(cx, username.as_deref()),
        C::Playlist { id } => playlists::get(cx, id),
        C::CreatePlaylist { id, name, songs } => playlists::create(cx, id.as_deref(), name.as_deref(), songs),
        C::UpdatePlaylist { id, name, comment, public, add, remove } => {
            playlists::update(cx, id, name.as_deref(), comment.as_deref(), *public, add, remove)
        }
        C::DeletePlaylist { id } => playlists::delete(cx, id),
        C::SmartPlaylist { id } => playlists::smart(cx, id),
        C::SaveSmartPlaylist { id, name, comment, public, rules } => {
            playlists::save_smart(cx, id.as_deref(), name, comment, *public, rules)
        }
        C::DeleteSmartPlaylist { id } => playlists::delete_smart(cx, id),

        C::PlayQueue { by_index } => play_queue::get(cx, *by_index),
        C::SavePlayQueue { ids, current, position } => play_queue::save(cx, ids, current, *position),

        C::Bookmarks => bookmarks::list(cx),
        C::CreateBookmark { id, position, comment } => bookmarks::create(cx, id, *position, comment),
        C::DeleteBookmark { id } => bookmarks::delete(cx, id),

        C::RadioStations => radio::list(cx),
        C::CreateRadioStation { name, stream_url, homepage_url } => radio::create(cx, name, stream_url, homepage_url),
        C::UpdateRadioStation { id, name, stream_url, homepage_url } => {
            radio::update(cx, id, name, stream_url, homepage_url)
        }
        C::DeleteRadioStation { id } => radio::delete(cx, id),
    }
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(code::GENERIC, msg)
}

/// What an annotation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Track,
    Album,
    Artist,
}

impl Kind {
    fn column(self) -> &'static str {
        match self {
            Kind::Track => "track",
            Kind::Album => "album",
            Kind::Artist => "artist",
        }
    }
}

fn exists(conn: &Connection, sql: &str, id: &str) -> Result<bool, ApiError> {
    conn.prepare_cached(sql).map_err(internal)?.exists([id]).map_err(internal)
}

/// Whether `id` is a song, album or artist `me` may see (super::access): one outside their
/// folders is not found, like one that does not exist.
fn is(conn: &Connection, me: &User, kind: Kind, id: &str) -> Result<bool, ApiError> {
    use crate::broker::access;
    match kind {
        Kind::Track => access::sees_track(conn, &me.id, id).map_err(internal),
        Kind::Album => access::sees_album(conn, &me.id, id).map_err(internal),
        Kind::Artist => {
            // Starring an artist whose songs are all gone stays possible, as before.
            if access::sees_artist(conn, &me.id, id).map_err(internal)? {
                return Ok(true);
            }
            let sees_all = access::sees_every_folder(conn, &me.id).map_err(internal)?;
            Ok(sees_all && exists(conn, "SELECT 1 FROM artists WHERE id = ?1", id)?)
        }
    }
}

fn require_song(conn: &Connection, me: &User, id: &str) -> Result<(), ApiError> {
    if !is(conn, me, Kind::Track, id)? {
        return Err(not_found("Song"));
    }
    Ok(())
}

fn require_songs(conn: &Connection, me: &User, ids: &[String]) -> Result<(), ApiError> {
    for id in ids {
        require_song(conn, me, id)?;
    }
    Ok(())
}

/// A name as stored: given verbatim, but not blank, not over `max` characters, and without
/// control characters.
fn valid_name(what: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.trim().is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(invalid(format!("Invalid {what}: 1 to {max} characters, no control characters")));
    }
    Ok(())
}

/// Free text (comments): up to `max` characters; line breaks and tabs, but no other control
/// characters (XML cannot carry them).
fn valid_text(what: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.chars().count() > max || s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(invalid(format!("Invalid {what}: up to {max} characters, no control characters")));
    }
    Ok(())
}

/// An http(s) URL with a host, no spaces or control characters, at most 2048 bytes.
pub fn valid_http_url(u: &str) -> bool {
    let lower = u.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    u.len() <= 2048
        && !host.is_empty()
        && !host.starts_with(':')
        && !u.chars().any(|c| c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radio_urls_are_http_or_https_with_a_host() {
        for ok in ["http://radio.example/stream", "HTTPS://r.example:8000/a?b=c", "https://u@h/"] {
            assert!(valid_http_url(ok), "{ok}");
        }
        for bad in [
            "",
            "ftp://x/",
            "javascript:alert(1)",
            "http://",
            "http:///path",
            "https://:80/",
            "http://a b/",
            "http://x/\n",
            "file:///etc/passwd",
            "data:text/html,x",
        ] {
            assert!(!valid_http_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn names_are_kept_verbatim_but_not_blank_or_with_control_characters() {
        assert!(valid_name("n", "'; DROP TABLE playlists; --", 500).is_ok());
        assert!(valid_name("n", "  ", 500).is_err());
        assert!(valid_name("n", "a\u{0}b", 500).is_err());
        assert!(valid_text("c", "line\nline", 10).is_ok());
        assert!(valid_text("c", "bell\u{7}", 10).is_err());
    }
}
