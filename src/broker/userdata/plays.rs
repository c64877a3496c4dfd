//! Plays and now playing: scrobbles, OpenSubsonic playback reports, play counts, and the
//! players' current songs (kept in memory only: they matter while they last). A song is
//! playing from its stream's start until its end, or until the stream closes if later, and
//! from a player's report (scrobble without submission, playbackReport) until it stops.

use std::os::fd::OwnedFd;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::{require_song, require_songs, Ctx, Kind};
use crate::broker::browse::songs_by_ids;
use crate::broker::db::now;
use crate::broker::store::User;
use crate::proto::error::internal;
use crate::proto::userdata::{NowPlayingRec, PlaybackState, UserDataAnswer as A};
use crate::proto::ApiError;

pub(super) fn scrobble(cx: Ctx<'_>, ids: &[String], times: &[i64], submission: bool) -> Result<A, ApiError> {
    let Ctx { conn, me, client } = cx;
    require_songs(conn, me, ids)?;
    if submission {
        let tx = conn.unchecked_transaction().map_err(internal)?;
        let current = now();
        for (i, id) in ids.iter().enumerate() {
            // Plays reported for the future count as now.
            let at = times.get(i).map(|ms| ms / 1000).filter(|s| *s > 0).unwrap_or(current).min(current);
            count_play(&tx, &me.id, id, at)?;
        }
        tx.commit().map_err(internal)?;
    } else if let Some(id) = ids.last() {
        let duration = duration_ms(conn, id)?;
        playing().start(me, client, id, duration, None);
    }
    Ok(A::Done)
}

/// OpenSubsonic playbackReport.
pub(super) fn report_playback(
    cx: Ctx<'_>,
    id: &str,
    position_ms: i64,
    state: PlaybackState,
    rate: f64,
    ignore_scrobble: bool,
) -> Result<A, ApiError> {
    let Ctx { conn, me, client } = cx;
    require_song(conn, me, id)?;
    let duration = duration_ms(conn, id)?;
    let timeline = Timeline { state, position_ms, rate, at_ms: now_ms() };
    if state == PlaybackState::Stopped {
        // A play counts when the session that started it stops far enough in: half the
        // song, or four minutes (what last.fm asks), and only once.
        let session = playing().stop(me, client, id);
        let threshold = if duration > 0 { (duration / 2).min(240_000) } else { 240_000 };
        if session && !ignore_scrobble && position_ms >= threshold {
            let tx = conn.unchecked_transaction().map_err(internal)?;
            count_play(&tx, &me.id, id, now())?;
            tx.commit().map_err(internal)?;
        }
    } else {
        playing().start(me, client, id, duration, Some(timeline));
    }
    Ok(A::Done)
}

pub(super) fn now_playing(cx: Ctx<'_>) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    let list = playing().list();
    let mut out = Vec::with_capacity(list.len());
    let (t, t_ms) = (now(), now_ms());
    for p in list {
        let Some(song) = songs_by_ids(conn, &me.id, std::slice::from_ref(&p.track_id))?.pop() else { continue };
        let timeline = p.timeline.map(|tl| {
            let mut pos = tl.position_ms;
            if tl.state == PlaybackState::Playing {
                pos += ((t_ms - tl.at_ms).max(0) as f64 * tl.rate) as i64;
                if p.duration_ms > 0 {
                    pos = pos.min(p.duration_ms);
                }
            }
            (tl.state, pos, tl.rate)
        });
        out.push(NowPlayingRec {
            song,
            username: p.username,
            minutes_ago: (t - p.since).max(0) / 60,
            player_id: p.player_id,
            player_name: p.player,
            timeline,
        });
    }
    Ok(A::NowPlaying(out))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn duration_ms(conn: &Connection, id: &str) -> Result<i64, ApiError> {
    conn.prepare_cached("SELECT duration_ms FROM tracks WHERE id = ?1")
        .map_err(internal)?
        .query_row([id], |r| r.get(0))
        .optional()
        .map_err(internal)
        .map(Option::unwrap_or_default)
}

/// One play of a song at `at` (unix seconds): counted for the song, its album and each of
/// its artists (track and album artists, once each). The last-played time only moves forward.
fn count_play(conn: &Connection, user: &str, track: &str, at: i64) -> Result<(), ApiError> {
    let album: Option<String> = conn
        .prepare_cached("SELECT album_id FROM tracks WHERE id = ?1")
        .map_err(internal)?
        .query_row([track], |r| r.get(0))
        .optional()
        .map_err(internal)?
        .flatten();
    let artists: Vec<String> = conn
        .prepare_cached("SELECT DISTINCT artist_id FROM track_artists WHERE track_id = ?1")
        .map_err(internal)?
        .query_map([track], |r| r.get(0))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let items = std::iter::once((Kind::Track, track.to_string()))
        .chain(album.map(|a| (Kind::Album, a)))
        .chain(artists.into_iter().map(|a| (Kind::Artist, a)));
    for (kind, id) in items {
        conn.prepare_cached(
            "INSERT INTO annotations (user_id, kind, item_id, play_count, played_at) VALUES (?1, ?2, ?3, 1, ?4) \
             ON CONFLICT (user_id, kind, item_id) DO UPDATE SET play_count = annotations.play_count + 1, \
             played_at = max(coalesce(annotations.played_at, 0), excluded.played_at)",
        )
        .map_err(internal)?
        .execute(params![user, kind.column(), id, at])
        .map_err(internal)?;
    }
    Ok(())
}

/// Streams handed out so far: each stream's entry is named by its number.
static STREAMS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A stream of `track` began for `me` on `player`: the song is playing until its end
/// (`remaining_ms` from now: the song's duration, less a transcode's time offset) or, if that
/// is later, until the stream closes, which `closed` tells by reaching end-of-file (the front
/// holds the pipe's write end while it sends the stream).
pub fn streaming(me: &User, player: &str, track: &str, duration_ms: i64, remaining_ms: i64, closed: OwnedFd) {
    let stream = STREAMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    let entry = Streamed { number: stream, open: true, ends_ms: now_ms() + remaining_ms };
    playing().start_entry(me, player, track, duration_ms, None, Some(entry));
    tokio::spawn(async move {
        if let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(closed) {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 16];
            while let Ok(1..) = pipe.read(&mut buf).await {}
        }
        playing().stream_closed(stream);
    });
}

/// An entry a stream made: shown while the stream is open and until `ends_ms`.
#[derive(Debug, Clone, Copy)]
struct Streamed {
    number: u64,
    open: bool,
    ends_ms: i64,
}

/// What players report playing, in memory: it matters only while it lasts.
#[derive(Debug, Clone)]
struct Playing {
    user_id: String,
    username: String,
    player: String,
    player_id: i64,
    track_id: String,
    duration_ms: i64,
    /// Unix seconds of the last report.
    since: i64,
    timeline: Option<Timeline>,
    /// Made by a stream rather than reported by the player.
    streamed: Option<Streamed>,
}

#[derive(Debug, Clone, Copy)]
struct Timeline {
    state: PlaybackState,
    position_ms: i64,
    rate: f64,
    /// When it was reported, ms since the epoch.
    at_ms: i64,
}

#[derive(Default)]
struct NowPlaying {
    entries: Vec<Playing>,
    next_player: i64,
}

/// Most entries kept (the oldest go first): players are named by clients.
const MAX_PLAYING: usize = 1000;

static NOW_PLAYING: Mutex<NowPlaying> = Mutex::new(NowPlaying { entries: Vec::new(), next_player: 0 });

fn playing() -> std::sync::MutexGuard<'static, NowPlaying> {
    NOW_PLAYING.lock().unwrap_or_else(|p| p.into_inner())
}

impl NowPlaying {
    /// Entries last reported longer ago than their song lasts, plus ten minutes, are gone; a
    /// stream's, once it has closed and the song's end has passed.
    fn expire(&mut self) {
        let (t, t_ms) = (now(), now_ms());
        self.entries.retain(|p| match p.streamed {
            Some(s) => s.open || t_ms <= s.ends_ms,
            None => t - p.since <= p.duration_ms / 1000 + 600,
        });
    }

    fn stream_closed(&mut self, stream: u64) {
        for p in &mut self.entries {
            if let Some(s) = p.streamed.as_mut().filter(|s| s.number == stream) {
                s.open = false;
            }
        }
        self.expire();
    }

    fn start(&mut self, me: &User, player: &str, track: &str, duration_ms: i64, timeline: Option<Timeline>) {
        self.start_entry(me, player, track, duration_ms, timeline, None)
    }

    fn start_entry(
        &mut self,
        me: &User,
        player: &str,
        track: &str,
        duration_ms: i64,
        timeline: Option<Timeline>,
        streamed: Option<Streamed>,
    ) {
        self.expire();
        let existing = self.entries.iter().position(|p| p.user_id == me.id && p.player == player);
        let player_id = match existing {
            Some(i) => self.entries.remove(i).player_id,
            None => {
                self.next_player += 1;
                self.next_player
            }
        };
        if self.entries.len() >= MAX_PLAYING {
            self.entries.remove(0);
        }
        self.entries.push(Playing {
            user_id: me.id.clone(),
            username: me.name.clone(),
            player: player.to_string(),
            player_id,
            track_id: track.to_string(),
            duration_ms,
            since: now(),
            timeline,
            streamed,
        });
    }

    /// Ends a player's session on `track`; whether there was one.
    fn stop(&mut self, me: &User, player: &str, track: &str) -> bool {
        self.expire();
        let found = self.entries.iter().position(|p| p.user_id == me.id && p.player == player && p.track_id == track);
        found.map(|i| self.entries.remove(i)).is_some()
    }

    /// Newest first.
    fn list(&mut self) -> Vec<Playing> {
        self.expire();
        self.entries.iter().rev().cloned().collect()
    }
}
