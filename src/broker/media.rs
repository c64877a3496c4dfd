//! stream, download and getCoverArt: the broker authorises the request, resolves the song
//! from the database (no request ever names a path), chooses raw or a transcoding profile,
//! counts running transcodes, and asks the transcoder for an fd, which it passes on to the
//! front without reading from it.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use privsep::rpc::Client as RpcClient;
use rusqlite::{params, Connection, OptionalExtension};

use super::store::User;
use crate::proto::error::{code, internal, not_found};
use crate::proto::media::ProfileCheck;
use crate::proto::media::{
    FileInfo, Job, JobError, JobReply, MediaAdmin, MediaAdminAnswer, MediaAnswer, MediaCall, PlayerInfo, TranscodeInfo,
    TranscodingFields, TranscodingInfo,
};
use crate::proto::{ApiError, MediaSettings};

pub type TranscoderClient = RpcClient<Job, JobReply>;

/// Seconds a client over a transcoding cap is told to wait.
const RETRY_AFTER_SECS: u64 = 10;

pub struct Media {
    pub settings: MediaSettings,
    /// The running transcoder's channel (None while it is (re)starting).
    transcoder: Mutex<Option<TranscoderClient>>,
    slots: Arc<Mutex<Slots>>,
}

#[derive(Default)]
struct Slots {
    total: u32,
    per_user: HashMap<String, u32>,
    /// Transcodes admitted and refused since the start (the metrics endpoint).
    started: u64,
    refused_server_cap: u64,
    refused_user_cap: u64,
}

/// One running transcode; dropping it frees the slot.
struct Slot {
    slots: Arc<Mutex<Slots>>,
    user: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        s.total = s.total.saturating_sub(1);
        if let Some(n) = s.per_user.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.per_user.remove(&self.user);
            }
        }
    }
}

/// A song's file, as the database knows it.
#[derive(Debug, Clone)]
pub struct TrackFile {
    pub root: u32,
    pub path: Vec<u8>,
    pub file_name: Vec<u8>,
    pub suffix: String,
    pub size: u64,
    pub mtime: i64,
    pub bit_rate: u32,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub target_format: String,
    pub default_bit_rate: u32,
    pub command: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Player {
    pub id: String,
    /// A forced format (a profile's target format, or "raw").
    pub format: Option<String>,
    pub max_bit_rate: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Raw,
    Transcode { profile: Profile, bit_rate: u32 },
}

/// What to serve, Navidrome's rules made explicit:
/// - `format=raw`, or a player forced to raw: the file;
/// - a player's forced format wins over the request's `format`;
/// - without a format, a `maxBitRate` (or the player's cap) below the song's bit rate
///   downsamples to DefaultDownsamplingFormat;
/// - the bit rate is the profile's default, lowered to the client's or the player's cap;
/// - the same format at a bit rate no lower than the song's, or an unknown format: the file.
pub fn plan(
    source: &TrackFile,
    format: Option<&str>,
    max_bit_rate: u32,
    player: &Player,
    profiles: &[Profile],
    downsampling: &str,
) -> Plan {
    let cap = [max_bit_rate, player.max_bit_rate].into_iter().filter(|b| *b > 0).min().unwrap_or(0);
    let wanted = player.format.as_deref().or(format).map(str::to_ascii_lowercase).filter(|f| !f.is_empty());
    let format = match wanted.as_deref() {
        Some("raw") => return Plan::Raw,
        Some(f) => f.to_string(),
        None if cap > 0 && (source.bit_rate == 0 || cap < source.bit_rate) => downsampling.to_string(),
        None => return Plan::Raw,
    };
    let Some(profile) = profiles.iter().find(|p| p.target_format == format) else {
        return Plan::Raw;
    };
    let mut bit_rate = profile.default_bit_rate;
    if cap > 0 && (bit_rate == 0 || cap < bit_rate) {
        bit_rate = cap;
    }
    if format == source.suffix && (cap == 0 || cap >= source.bit_rate) {
        return Plan::Raw;
    }
    Plan::Transcode { profile: profile.clone(), bit_rate }
}

/// The MIME type of what a profile produces.
pub fn transcoded_content_type(format: &str) -> &'static str {
    match format {
        "mp3" => "audio/mpeg",
        "opus" | "ogg" | "oga" => "audio/ogg",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "m4a" => "audio/mp4",
        "wav" => "audio/x-wav",
        other => super::browse::content_type(other),
    }
}

/// The file of song `id`, if `user` may see it (super::access); None for any other id.
pub fn track_file(conn: &Connection, roots: &[i64], user: &str, id: &str) -> rusqlite::Result<Option<TrackFile>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT f.music_folder_id, f.path, t.file_name, t.suffix, t.size, t.mtime, t.bitrate, t.duration_ms \
         FROM tracks t JOIN folders f ON f.id = t.folder_id WHERE t.id = ?1 AND t.missing = 0 AND {}",
        super::access::track("t", "?2")
    ))?;
    let row = st
        .query_row([id, user], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })
        .optional()?;
    Ok(row.and_then(|(folder, dir, name, suffix, size, mtime, bit_rate, duration_ms)| {
        let root = roots.iter().position(|r| *r == folder)? as u32;
        Some(TrackFile {
            root,
            path: super::ingest::join_path(&dir, &name),
            file_name: name,
            suffix,
            size: size.max(0) as u64,
            mtime,
            bit_rate: bit_rate.clamp(0, u32::MAX as i64) as u32,
            duration_ms: duration_ms.max(0) as u64,
        })
    }))
}

pub fn profiles(conn: &Connection) -> rusqlite::Result<Vec<Profile>> {
    let mut st = conn
        .prepare_cached("SELECT id, name, target_format, default_bit_rate, command FROM transcodings ORDER BY name")?;
    let rows = st.query_map([], |r| {
        Ok(Profile {
            id: r.get(0)?,
            name: r.get(1)?,
            target_format: r.get(2)?,
            default_bit_rate: r.get::<_, i64>(3)?.clamp(0, u32::MAX as i64) as u32,
            command: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// The player for this user and client name, made on first use; its last-seen time and
/// address are updated, at most once a minute: every write invalidates the front's answer
/// cache, and a client streams a song every few minutes.
pub fn player(conn: &Connection, user_id: &str, client: &str, addr: &str) -> rusqlite::Result<Player> {
    let client = if client.is_empty() { "unknown" } else { client };
    let now = super::db::now();
    let known = conn
        .prepare_cached(
            "SELECT id, format, max_bit_rate, last_seen, last_addr FROM players WHERE user_id = ?1 AND client = ?2",
        )?
        .query_row(params![user_id, client], |r| {
            let player = Player {
                id: r.get(0)?,
                format: r.get::<_, Option<String>>(1)?.filter(|f| !f.is_empty()),
                max_bit_rate: r.get::<_, i64>(2)?.clamp(0, u32::MAX as i64) as u32,
            };
            Ok((player, r.get::<_, i64>(3)?, r.get::<_, String>(4)?))
        })
        .optional()?;
    if let Some((player, seen, last_addr)) = known {
        if now - seen < 60 && last_addr == addr {
            return Ok(player);
        }
    }
    conn.prepare_cached(
        "INSERT INTO players (id, user_id, client, last_seen, last_addr) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (user_id, client) DO UPDATE SET last_seen = excluded.last_seen, last_addr = excluded.last_addr \
         RETURNING id, format, max_bit_rate",
    )?
    .query_row(params![super::db::new_id(), user_id, client, now, addr], |r| {
        Ok(Player {
            id: r.get(0)?,
            format: r.get::<_, Option<String>>(1)?.filter(|f| !f.is_empty()),
            max_bit_rate: r.get::<_, i64>(2)?.clamp(0, u32::MAX as i64) as u32,
        })
    })
}

fn job_error(e: JobError) -> ApiError {
    match e {
        JobError::NotFound(why) => {
            tracing::warn!("a song's file is gone: {why}");
            ApiError::new(code::NOT_FOUND, "The song's file is missing")
        }
        JobError::Refused(why) => ApiError::new(code::GENERIC, format!("Refused: {why}")),
        JobError::Failed(why) => ApiError::new(code::GENERIC, format!("Transcoding failed: {why}")),
    }
}

/// The etag of a file: changes with its size or mtime.
fn file_etag(f: &TrackFile) -> String {
    format!("\"{:x}-{:x}\"", f.size, f.mtime)
}

impl Media {
    pub fn new(settings: MediaSettings) -> Media {
        Media { settings, transcoder: Mutex::new(None), slots: Arc::default() }
    }

    pub fn set_transcoder(&self, client: Option<TranscoderClient>) {
        *self.transcoder.lock().unwrap_or_else(|p| p.into_inner()) = client;
    }

    /// The transcoder's answer, `Failed` included; Err only when there is no transcoder to
    /// answer (it is restarting, or died on this job).
    pub async fn call(&self, job: &Job) -> Result<(JobReply, Vec<OwnedFd>), ApiError> {
        let client = self.transcoder.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(client) = client else {
            return Err(ApiError::new(code::GENERIC, "The transcoder is restarting; try again"));
        };
        match client.call(job, &[]).await {
            Ok(r) => Ok((r.body, r.fds)),
            Err(e) => Err(ApiError::new(code::GENERIC, format!("The transcoder failed: {e}"))),
        }
    }

    /// [`Media::call`], with a job the transcoder could not do as an error too.
    async fn ask(&self, job: &Job) -> Result<(JobReply, Vec<OwnedFd>), ApiError> {
        match self.call(job).await? {
            (JobReply::Failed(e), _) => Err(job_error(e)),
            done => Ok(done),
        }
    }

    /// Runs every profile once on a generated second of audio in the transcoder (at start,
    /// off the request path) and logs each result: a warning names a profile that fails on
    /// this host, so that its clients' errors are explained before anyone streams.
    pub async fn check_profiles(&self, profiles: Vec<Profile>) {
        if self.settings.ffmpeg.is_none() {
            return;
        }
        let mut failed = 0;
        for p in &profiles {
            let check = ProfileCheck {
                name: p.name.clone(),
                target_format: p.target_format.clone(),
                command: p.command.clone(),
                bit_rate: p.default_bit_rate,
            };
            let why = match self.call(&Job::Check(check)).await {
                Ok((JobReply::Checked { bytes }, _)) => {
                    tracing::debug!("transcoding profile {:?} ({}) works: {bytes} bytes", p.name, p.target_format);
                    continue;
                }
                Ok((JobReply::Failed(JobError::Failed(why) | JobError::Refused(why) | JobError::NotFound(why)), _)) => {
                    why
                }
                Ok(_) => "unexpected transcoder answer".into(),
                Err(e) => e.message,
            };
            failed += 1;
            let hint = if why.contains("redoubt doctor") { "" } else { "; `redoubt doctor` checks every profile" };
            tracing::warn!(
                "transcoding profile {:?} (format {}) does not work on this host, streams asking for it will fail: {why}{hint}",
                p.name,
                p.target_format
            );
        }
        if failed == 0 {
            tracing::info!("transcoding profiles checked: all {} work", profiles.len());
        } else {
            tracing::info!("transcoding profiles checked: {} of {} work", profiles.len() - failed, profiles.len());
        }
    }

    /// Transcodes running, admitted and refused, for the metrics endpoint.
    pub fn transcode_counts(&self) -> crate::proto::metrics::TranscodeMetrics {
        let s = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        crate::proto::metrics::TranscodeMetrics {
            running: s.total as u64,
            started: s.started,
            refused_server_cap: s.refused_server_cap,
            refused_user_cap: s.refused_user_cap,
        }
    }

    fn take_slot(&self, user: &User) -> Result<Slot, ApiError> {
        let mut s = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mine = s.per_user.get(&user.id).copied().unwrap_or(0);
        let why = if s.total >= self.settings.max_transcodes {
            s.refused_server_cap += 1;
            Some(format!("{} transcodes are running, the most this server runs at once", s.total))
        } else if mine >= self.settings.max_transcodes_per_user {
            s.refused_user_cap += 1;
            Some(format!("you have {mine} transcodes running, the most one user may"))
        } else {
            None
        };
        if let Some(why) = why {
            tracing::info!("transcode for {} refused: {why}", user.name);
            let mut e = ApiError::new(code::GENERIC, format!("Too many transcodes: {why}; try again later"));
            e.retry_after = Some(RETRY_AFTER_SECS);
            return Err(e);
        }
        s.total += 1;
        s.started += 1;
        *s.per_user.entry(user.id.clone()).or_insert(0) += 1;
        Ok(Slot { slots: self.slots.clone(), user: user.id.clone() })
    }

    /// stream and download. `conn` reads, `writer` records the player.
    pub async fn answer(
        &self,
        broker: &super::Broker,
        me: &User,
        client: &crate::proto::Client,
        call: &MediaCall,
    ) -> Result<(MediaAnswer, Vec<OwnedFd>), ApiError> {
        match call {
            MediaCall::Download { id } => {
                if !self.settings.enable_downloads {
                    return Err(ApiError::new(code::NOT_AUTHORIZED, "Downloads are disabled on this server"));
                }
                let (file, collection) = {
                    let conn = broker.reader();
                    match track_file(&conn, &broker.roots, &me.id, id).map_err(internal)? {
                        Some(f) => (Some(f), None),
                        None => (None, super::downloads::collection(&conn, &broker.roots, me, id)?),
                    }
                };
                let Some(file) = file else {
                    let (kind, name, tracks) =
                        collection.ok_or_else(|| not_found("Song, album, artist or playlist"))?;
                    return self.zip(&name, super::downloads::entries(&tracks, &kind)).await;
                };
                let name = String::from_utf8_lossy(&file.file_name).into_owned();
                self.raw(&file, Some(name)).await
            }
            MediaCall::Stream { id, max_bit_rate, format, time_offset, estimate_length } => {
                let (file, profiles) = {
                    let conn = broker.reader();
                    let file = track_file(&conn, &broker.roots, &me.id, id)
                        .map_err(internal)?
                        .ok_or_else(|| not_found("Song"))?;
                    (file, profiles(&conn).map_err(internal)?)
                };
                let player = player(&broker.store.conn(), &me.id, &client.name, &client.addr).map_err(internal)?;
                let plan = if self.settings.ffmpeg.is_none() {
                    Plan::Raw
                } else {
                    plan(
                        &file,
                        format.as_deref(),
                        max_bit_rate.unwrap_or(0),
                        &player,
                        &profiles,
                        &self.settings.default_downsampling_format,
                    )
                };
                let (mut answer, mut fds) = match plan {
                    Plan::Raw => self.raw(&file, None).await?,
                    Plan::Transcode { profile, bit_rate } => {
                        self.transcode(me, &file, &profile, bit_rate, time_offset.unwrap_or(0), *estimate_length)
                            .await?
                    }
                };
                // Now playing, for as long as the song lasts from here or the stream stays open.
                let offset_ms = match &answer {
                    MediaAnswer::Transcoded(_) => time_offset.unwrap_or(0) as i64 * 1000,
                    _ => 0,
                };
                let (closed, open) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                    .map_err(|e| internal(format!("pipe: {e}")))?;
                match &mut answer {
                    MediaAnswer::File(f) => f.playing = true,
                    MediaAnswer::Transcoded(t) => t.playing = true,
                    _ => {}
                }
                fds.push(open);
                let duration = file.duration_ms as i64;
                super::userdata::streaming(me, &client.name, id, duration, (duration - offset_ms).max(0), closed);
                Ok((answer, fds))
            }
            MediaCall::Avatar { username } => {
                let image = super::avatars::get(broker, username)?;
                Ok((MediaAnswer::Image(image), Vec::new()))
            }
            MediaCall::CoverArt { id, size } => {
                let image =
                    broker.art.answer(broker, me, id, *size, |job| async move { self.call(&job).await }).await?;
                Ok((MediaAnswer::Image(image), Vec::new()))
            }
        }
    }

    pub async fn raw(
        &self,
        file: &TrackFile,
        download: Option<String>,
    ) -> Result<(MediaAnswer, Vec<OwnedFd>), ApiError> {
        let (reply, fds) = self.ask(&Job::Open { root: file.root, path: file.path.clone() }).await?;
        let JobReply::Opened { size, mtime } = reply else { return Err(internal("unexpected transcoder answer")) };
        // The file as it is now (it may have changed since the last scan).
        let now = TrackFile { size, mtime, ..file.clone() };
        let info = FileInfo {
            content_type: super::browse::content_type(&file.suffix).to_string(),
            size,
            mtime,
            etag: file_etag(&now),
            duration_secs: file.duration_ms as f64 / 1000.0,
            download_name: download,
            playing: false,
        };
        Ok((MediaAnswer::File(info), fds))
    }

    /// A zip of these files, written by the transcoder into a pipe (see transcoder/zip.rs).
    pub async fn zip(
        &self,
        name: &str,
        entries: Vec<crate::proto::media::ZipEntry>,
    ) -> Result<(MediaAnswer, Vec<OwnedFd>), ApiError> {
        if entries.is_empty() {
            return Err(not_found("Songs to download"));
        }
        let count = entries.len() as u32;
        let (reply, fds) = self.ask(&Job::Zip { entries }).await?;
        let JobReply::Zipping = reply else { return Err(internal("unexpected transcoder answer")) };
        let download_name = format!("{}.zip", super::downloads::clean(name));
        Ok((MediaAnswer::Zip(crate::proto::media::ZipInfo { download_name, entries: count }), fds))
    }

    pub async fn transcode(
        &self,
        me: &User,
        file: &TrackFile,
        profile: &Profile,
        bit_rate: u32,
        offset: u32,
        estimate: bool,
    ) -> Result<(MediaAnswer, Vec<OwnedFd>), ApiError> {
        let total_secs = file.duration_ms as f64 / 1000.0;
        if offset > 0 && offset as f64 >= total_secs {
            return Err(ApiError::new(code::GENERIC, format!("timeOffset {offset} is past the song's end")));
        }
        let slot = self.take_slot(me)?;
        let job = Job::Transcode {
            root: file.root,
            path: file.path.clone(),
            command: profile.command.clone(),
            bit_rate,
            offset,
        };
        let (reply, mut fds) = self.ask(&job).await?;
        let JobReply::Running { head } = reply else { return Err(internal("unexpected transcoder answer")) };
        let done = fds.pop().expect("fd count checked by the channel");
        // The slot stays taken until ffmpeg has exited: the transcoder closes `done` then.
        tokio::spawn(async move {
            if let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(done) {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 16];
                while let Ok(1..) = pipe.read(&mut buf).await {}
            }
            drop(slot);
        });
        let duration_secs = (total_secs - offset as f64).max(0.0);
        let estimated_length = estimate.then(|| {
            if bit_rate > 0 {
                (duration_secs * bit_rate as f64 * 1000.0 / 8.0) as u64
            } else {
                // Lossless: about the source's size, scaled to what remains.
                (file.size as f64 * duration_secs / total_secs.max(0.001)) as u64
            }
        });
        let info = TranscodeInfo {
            content_type: transcoded_content_type(&profile.target_format).to_string(),
            suffix: profile.target_format.clone(),
            bit_rate,
            duration_secs,
            estimated_length,
            head,
            playing: false,
        };
        Ok((MediaAnswer::Transcoded(info), fds))
    }
}

fn denied(why: &str) -> ApiError {
    ApiError::new(code::NOT_AUTHORIZED, why.to_string())
}

fn bad(why: impl Into<String>) -> ApiError {
    ApiError::new(code::GENERIC, why.into())
}

fn transcoding_info(p: Profile) -> TranscodingInfo {
    TranscodingInfo {
        id: p.id,
        name: p.name,
        target_format: p.target_format,
        default_bit_rate: p.default_bit_rate,
        command: p.command,
    }
}

impl Media {
    /// Transcoding profiles and players. `conn` is the writer (changes are rare).
    pub fn admin(&self, conn: &Connection, me: &User, call: &MediaAdmin) -> Result<MediaAdminAnswer, ApiError> {
        match call {
            MediaAdmin::Transcodings => Ok(MediaAdminAnswer::Transcodings(
                profiles(conn).map_err(internal)?.into_iter().map(transcoding_info).collect(),
            )),
            MediaAdmin::CreateTranscoding(f) | MediaAdmin::UpdateTranscoding { fields: f, .. } => {
                self.may_edit_profiles(me, "change")?;
                let existing = match call {
                    MediaAdmin::UpdateTranscoding { id, .. } => Some(
                        profiles(conn)
                            .map_err(internal)?
                            .into_iter()
                            .find(|p| &p.id == id)
                            .ok_or_else(|| not_found("Transcoding profile"))?,
                    ),
                    _ => None,
                };
                let p = self.checked_profile(f, existing)?;
                conn.execute(
                    "INSERT INTO transcodings (id, name, target_format, default_bit_rate, command)                      VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET name = excluded.name,                      target_format = excluded.target_format, default_bit_rate = excluded.default_bit_rate,                      command = excluded.command",
                    params![p.id, p.name, p.target_format, p.default_bit_rate, p.command],
                )
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        bad("Another profile has that name or target format")
                    }
                    e => internal(e),
                })?;
                tracing::info!("{} saved transcoding profile {:?}: {}", me.name, p.name, p.command);
                Ok(MediaAdminAnswer::Transcoding(transcoding_info(p)))
            }
            MediaAdmin::DeleteTranscoding { id } => {
                self.may_edit_profiles(me, "delete")?;
                if conn.execute("DELETE FROM transcodings WHERE id = ?1", [id]).map_err(internal)? == 0 {
                    return Err(not_found("Transcoding profile"));
                }
                tracing::info!("{} deleted transcoding profile {id}", me.name);
                Ok(MediaAdminAnswer::Done)
            }
            MediaAdmin::Players => {
                let mut st = conn
                    .prepare_cached(
                        "SELECT p.id, u.name, p.client, p.format, p.max_bit_rate, p.last_seen, p.last_addr                          FROM players p JOIN users u ON u.id = p.user_id WHERE ?1 OR p.user_id = ?2                          ORDER BY u.name, p.client",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map(params![me.admin, me.id], |r| {
                        Ok(PlayerInfo {
                            id: r.get(0)?,
                            username: r.get(1)?,
                            client: r.get(2)?,
                            format: r.get(3)?,
                            max_bit_rate: r.get::<_, i64>(4)?.clamp(0, u32::MAX as i64) as u32,
                            last_seen: r.get(5)?,
                            last_addr: r.get(6)?,
                        })
                    })
                    .map_err(internal)?;
                Ok(MediaAdminAnswer::Players(rows.collect::<Result<_, _>>().map_err(internal)?))
            }
            MediaAdmin::UpdatePlayer { id, format, max_bit_rate } => {
                let owner: Option<String> = conn
                    .query_row("SELECT user_id FROM players WHERE id = ?1", [id], |r| r.get(0))
                    .optional()
                    .map_err(internal)?;
                match owner {
                    None => return Err(not_found("Player")),
                    Some(o) if o != me.id && !me.admin => return Err(not_found("Player")),
                    Some(_) => {}
                }
                if let Some(f) = format {
                    let f = f.trim().to_ascii_lowercase();
                    let known = f.is_empty()
                        || f == "raw"
                        || profiles(conn).map_err(internal)?.iter().any(|p| p.target_format == f);
                    if !known {
                        return Err(bad(format!("No transcoding profile has the format {f:?}")));
                    }
                    let value = (!f.is_empty()).then_some(f);
                    conn.execute("UPDATE players SET format = ?2 WHERE id = ?1", params![id, value])
                        .map_err(internal)?;
                }
                if let Some(b) = max_bit_rate {
                    conn.execute("UPDATE players SET max_bit_rate = ?2 WHERE id = ?1", params![id, b])
                        .map_err(internal)?;
                }
                Ok(MediaAdminAnswer::Done)
            }
        }
    }

    fn may_edit_profiles(&self, me: &User, what: &str) -> Result<(), ApiError> {
        if !me.admin {
            return Err(denied("Only admins may change transcoding profiles"));
        }
        if !self.settings.enable_transcoding_config {
            tracing::warn!(
                "refused: {} tried to {what} a transcoding profile, but EnableTranscodingConfig is false",
                me.name
            );
            return Err(denied("Transcoding profiles are read-only on this server (EnableTranscodingConfig = false)"));
        }
        Ok(())
    }

    /// A profile as it will be stored: every field checked, the command split and its
    /// program checked against the configured ffmpeg (docs/security.md T7).
    fn checked_profile(&self, f: &TranscodingFields, existing: Option<Profile>) -> Result<Profile, ApiError> {
        let new = existing.is_none();
        let base = existing.unwrap_or(Profile {
            id: super::db::new_id(),
            name: String::new(),
            target_format: String::new(),
            default_bit_rate: 0,
            command: String::new(),
        });
        let p = Profile {
            id: base.id,
            name: f.name.clone().map(|n| n.trim().to_string()).unwrap_or(base.name),
            target_format: f.target_format.clone().map(|t| t.trim().to_ascii_lowercase()).unwrap_or(base.target_format),
            default_bit_rate: f.default_bit_rate.unwrap_or(base.default_bit_rate),
            command: f.command.clone().map(|c| c.trim().to_string()).unwrap_or(base.command),
        };
        if p.name.is_empty() || p.name.chars().count() > 64 {
            return Err(bad(if new { "A profile needs a name (at most 64 characters)" } else { "Invalid name" }));
        }
        if p.target_format.is_empty()
            || p.target_format.len() > 10
            || !p.target_format.bytes().all(|b| b.is_ascii_alphanumeric())
            || p.target_format == "raw"
        {
            return Err(bad("targetFormat must be a short name of letters and digits (not raw)"));
        }
        if p.default_bit_rate > 5000 {
            return Err(bad("defaultBitRate is in kbps (at most 5000)"));
        }
        let Some(ffmpeg) = &self.settings.ffmpeg else {
            return Err(bad("No ffmpeg is configured (FFmpegPath)"));
        };
        if let Err(why) = crate::transcoder::command::validate(&p.command, ffmpeg) {
            tracing::warn!("refused a transcoding command {:?}: {why}", p.command);
            return Err(bad(format!("Invalid command: {why}")));
        }
        Ok(p)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn song(suffix: &str, bit_rate: u32) -> TrackFile {
        TrackFile {
            root: 0,
            path: b"a/b".to_vec(),
            file_name: b"b".to_vec(),
            suffix: suffix.into(),
            size: 1000,
            mtime: 1,
            bit_rate,
            duration_ms: 60_000,
        }
    }

    /// Four profiles the way a fresh database has them (the decision tests use them too).
    pub(in crate::broker) fn profiles() -> Vec<Profile> {
        [("mp3", 192), ("opus", 128), ("aac", 256), ("flac", 0)]
            .into_iter()
            .map(|(f, b)| Profile {
                id: f.into(),
                name: f.into(),
                target_format: f.into(),
                default_bit_rate: b,
                command: "ffmpeg -i %s -".into(),
            })
            .collect()
    }

    fn chosen(p: Plan) -> Option<(String, u32)> {
        match p {
            Plan::Raw => None,
            Plan::Transcode { profile, bit_rate } => Some((profile.target_format, bit_rate)),
        }
    }

    #[test]
    fn format_and_bit_rate_choice() {
        let none = Player::default();
        let p = profiles();
        let flac = song("flac", 900);
        let mp3 = song("mp3", 320);
        let t = |s: &TrackFile, f: Option<&str>, max: u32, pl: &Player| chosen(plan(s, f, max, pl, &p, "opus"));
        assert_eq!(t(&flac, None, 0, &none), None, "nothing asked: raw");
        assert_eq!(t(&flac, Some("raw"), 96, &none), None, "raw means raw");
        assert_eq!(t(&flac, Some("mp3"), 0, &none), Some(("mp3".into(), 192)));
        assert_eq!(t(&flac, Some("MP3"), 128, &none), Some(("mp3".into(), 128)));
        assert_eq!(t(&flac, None, 96, &none), Some(("opus".into(), 96)), "maxBitRate alone downsamples");
        assert_eq!(t(&mp3, None, 320, &none), None, "a cap at or over the song's rate: raw");
        assert_eq!(t(&mp3, Some("mp3"), 0, &none), None, "same format, no lower cap: raw");
        assert_eq!(t(&mp3, Some("mp3"), 128, &none), Some(("mp3".into(), 128)));
        assert_eq!(t(&flac, Some("wma"), 0, &none), None, "no such profile: raw");
        assert_eq!(t(&mp3, Some("flac"), 0, &none), Some(("flac".into(), 0)));
        let forced = Player { id: "p".into(), format: Some("aac".into()), max_bit_rate: 0 };
        assert_eq!(t(&flac, Some("mp3"), 0, &forced), Some(("aac".into(), 256)), "the player's format wins");
        let capped = Player { id: "p".into(), format: None, max_bit_rate: 64 };
        assert_eq!(t(&flac, None, 0, &capped), Some(("opus".into(), 64)), "the player's cap downsamples");
        assert_eq!(t(&flac, Some("mp3"), 128, &capped), Some(("mp3".into(), 64)), "the lower cap wins");
        let raw = Player { id: "p".into(), format: Some("raw".into()), max_bit_rate: 0 };
        assert_eq!(t(&flac, Some("mp3"), 96, &raw), None);
    }
}
