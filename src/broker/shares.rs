//! Public shares: the Subsonic share methods, the public page's contents, and the tokens its
//! links carry.
//!
//! A token is `<item>.<expires>.<mac>`: the item is a song's position in the share (or `all`),
//! `expires` the share's expiry (`-1`: never), and the MAC an HMAC-SHA256, under a key only
//! the vault holds, of the share id, the item, what the link fetches (stream, cover, zip, list)
//! and the expiry (docs/security.md T28). Every use checks the MAC, then that the share still
//! exists with that very expiry and has not expired (T29); the item is resolved through the
//! share's own rows, so nothing outside it can be named (T30).

use std::os::fd::OwnedFd;

use rusqlite::{params, Connection, OptionalExtension};
use subtle::ConstantTimeEq;

use super::downloads::{self, Collection};
use super::store::{Store, User};
use super::Broker;
use crate::proto::error::{code, internal, missing, not_found};
use crate::proto::media::MediaAnswer;
use crate::proto::share::{
    ShareAnswer, ShareCall, ShareInfo, ShareMediaRequest, SharePage, SharePageRequest, ShareRefusal, ShareTrack,
    ShareWhat,
};
use crate::proto::{ApiError, Client};

/// Songs one share may hold at most.
const MAX_SONGS: usize = 5000;
const MAX_DESCRIPTION: usize = 2000;

struct Row {
    id: String,
    user_id: String,
    username: String,
    description: String,
    created: i64,
    expires: Option<i64>,
    last_visited: Option<i64>,
    visit_count: i64,
    downloadable: bool,
    password_hash: Option<String>,
    max_plays: Option<i64>,
    plays: i64,
    transcode: bool,
}

const ROW: &str = "SELECT s.id, s.user_id, u.name, s.description, s.created_at, s.expires_at, s.last_visited, \
    s.visit_count, s.downloadable, s.password_hash, s.max_plays, s.plays, s.transcode FROM shares s JOIN users u ON u.id = s.user_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        user_id: r.get(1)?,
        username: r.get(2)?,
        description: r.get(3)?,
        created: r.get(4)?,
        expires: r.get(5)?,
        last_visited: r.get(6)?,
        visit_count: r.get(7)?,
        downloadable: r.get(8)?,
        password_hash: r.get(9)?,
        max_plays: r.get(10)?,
        plays: r.get(11)?,
        transcode: r.get(12)?,
    })
}

fn load(conn: &Connection, id: &str) -> Result<Option<Row>, ApiError> {
    conn.prepare_cached(&format!("{ROW} WHERE s.id = ?1"))
        .map_err(internal)?
        .query_row([id], row)
        .optional()
        .map_err(internal)
}

impl Row {
    fn expired(&self, now: i64) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }

    fn plays_used(&self) -> bool {
        self.max_plays.is_some_and(|m| self.plays >= m)
    }
}

fn track_ids(conn: &Connection, share: &str) -> Result<Vec<String>, ApiError> {
    conn.prepare_cached("SELECT track_id FROM share_tracks WHERE share_id = ?1 ORDER BY position")
        .map_err(internal)?
        .query_map([share], |r| r.get(0))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)
}

fn disabled() -> ApiError {
    ApiError::new(code::NOT_AUTHORIZED, "Sharing is disabled on this server (EnableSharing = false)")
}

fn bad(why: impl Into<String>) -> ApiError {
    ApiError::new(code::GENERIC, why.into())
}

fn hash_password(pw: &str) -> Result<String, ApiError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(internal)?;
    argon2::Argon2::default().hash_password(pw.as_bytes(), &salt).map(|h| h.to_string()).map_err(internal)
}

fn password_matches(hash: &str, pw: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// The songs the ids name, in order: songs, the songs of albums, of playlists `me` may see;
/// only songs in `me`'s folders (super::access): anything else is not found.
fn resolve(conn: &Connection, me: &User, ids: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    let visible = super::access::track("t", "?2");
    for id in ids {
        let song: Option<String> = conn
            .query_row(
                &format!("SELECT t.id FROM tracks t WHERE t.id = ?1 AND t.missing = 0 AND {visible}"),
                params![id, me.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(internal)?;
        if let Some(s) = song {
            out.push(s);
            continue;
        }
        let album: Vec<String> = conn
            .prepare_cached(&format!(
                "SELECT t.id FROM tracks t WHERE t.album_id = ?1 AND t.missing = 0 AND {visible} \
                 ORDER BY t.disc, t.track, t.title COLLATE NOCASE"
            ))
            .map_err(internal)?
            .query_map(params![id, me.id], |r| r.get(0))
            .map_err(internal)?
            .collect::<Result<_, _>>()
            .map_err(internal)?;
        if !album.is_empty() {
            out.extend(album);
            continue;
        }
        let playlist: Option<String> = conn
            .query_row(
                "SELECT id FROM playlists WHERE id = ?1 AND (owner_id = ?2 OR public = 1 OR ?3)",
                params![id, me.id, me.admin],
                |r| r.get(0),
            )
            .optional()
            .map_err(internal)?;
        if playlist.is_none() {
            return Err(ApiError::new(code::NOT_FOUND, format!("No song, album or playlist has the id {id:?}")));
        }
        let songs: Vec<String> = conn
            .prepare_cached(&format!(
                "SELECT pt.track_id FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id \
                 WHERE pt.playlist_id = ?1 AND t.missing = 0 AND {visible} ORDER BY pt.position"
            ))
            .map_err(internal)?
            .query_map(params![id, me.id], |r| r.get(0))
            .map_err(internal)?
            .collect::<Result<_, _>>()
            .map_err(internal)?;
        out.extend(songs);
    }
    if out.len() > MAX_SONGS {
        return Err(bad(format!("A share holds at most {MAX_SONGS} songs")));
    }
    Ok(out)
}

fn info(conn: &Connection, viewer: &User, r: Row) -> Result<ShareInfo, ApiError> {
    let entries = super::browse::songs_by_ids(conn, &viewer.id, &track_ids(conn, &r.id)?)?;
    Ok(ShareInfo {
        id: r.id,
        url: String::new(),
        description: r.description,
        username: r.username,
        created: r.created,
        expires: r.expires,
        last_visited: r.last_visited,
        visit_count: r.visit_count,
        downloadable: r.downloadable,
        has_password: r.password_hash.is_some(),
        max_plays: r.max_plays.map(|m| m.clamp(0, u32::MAX as i64) as u32),
        plays: r.plays,
        entries,
    })
}

/// The share, if `me` owns it or is an admin; "not found" otherwise, so that another user's
/// shares do not show that they exist.
fn editable(conn: &Connection, me: &User, id: &str) -> Result<Row, ApiError> {
    load(conn, id)?.filter(|r| r.user_id == me.id || me.admin).ok_or_else(|| not_found("Share"))
}

/// `expires` in ms (0: never), or `default` when not given.
fn expiry(ms: Option<i64>, default: Option<i64>, now: i64) -> Result<Option<i64>, ApiError> {
    match ms {
        Some(0) => Ok(None),
        Some(ms) if ms / 1000 <= now => Err(bad("expires is in the past")),
        Some(ms) => Ok(Some(ms / 1000)),
        None => Ok(default),
    }
}

/// getShares, createShare, updateShare, deleteShare. `conn` is the writer for the writes.
pub fn api(broker: &Broker, me: &User, call: &ShareCall) -> Result<ShareAnswer, ApiError> {
    let settings = &broker.shares;
    if !settings.enabled {
        return Err(disabled());
    }
    let now = super::db::now();
    match call {
        ShareCall::List => {
            let conn = broker.reader();
            let rows: Vec<Row> = conn
                .prepare_cached(&format!("{ROW} WHERE ?1 OR s.user_id = ?2 ORDER BY s.created_at, s.id"))
                .map_err(internal)?
                .query_map(params![me.admin, me.id], row)
                .map_err(internal)?
                .collect::<Result<_, _>>()
                .map_err(internal)?;
            let list = rows.into_iter().map(|r| info(&conn, me, r)).collect::<Result<_, _>>()?;
            Ok(ShareAnswer::Shares(list))
        }
        ShareCall::Create(f) => {
            if f.ids.is_empty() {
                return Err(missing("id"));
            }
            let description = f.description.as_deref().unwrap_or("").trim().to_string();
            if description.chars().count() > MAX_DESCRIPTION {
                return Err(bad(format!("description: at most {MAX_DESCRIPTION} characters")));
            }
            let default = (settings.default_expiration_secs > 0).then(|| now + settings.default_expiration_secs as i64);
            let expires = expiry(f.expires_ms, default, now)?;
            let password = match &f.password {
                Some(p) if !p.0.is_empty() => Some(hash_password(&p.0)?),
                _ => None,
            };
            let max_plays = f.max_plays.filter(|m| *m > 0);
            let id = super::db::new_id();
            let mut conn = broker.store.conn();
            let tx = conn.transaction().map_err(internal)?;
            let songs = resolve(&tx, me, &f.ids)?;
            if songs.is_empty() {
                return Err(bad("There is nothing to share: the ids name no song that is present"));
            }
            tx.execute(
                "INSERT INTO shares (id, user_id, description, created_at, expires_at, downloadable, password_hash, \
                 max_plays, transcode) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    me.id,
                    description,
                    now,
                    expires,
                    f.downloadable.unwrap_or(settings.default_downloadable),
                    password,
                    max_plays,
                    f.transcode.unwrap_or(false)
                ],
            )
            .map_err(internal)?;
            {
                let mut st = tx
                    .prepare_cached("INSERT INTO share_tracks (share_id, position, track_id) VALUES (?1, ?2, ?3)")
                    .map_err(internal)?;
                for (i, t) in songs.iter().enumerate() {
                    st.execute(params![id, i as i64, t]).map_err(internal)?;
                }
            }
            tx.commit().map_err(internal)?;
            tracing::info!("{} shared {} songs as share {id}", me.name, songs.len());
            let r = load(&conn, &id)?.ok_or_else(|| internal("the new share is gone"))?;
            Ok(ShareAnswer::Shares(vec![info(&conn, me, r)?]))
        }
        ShareCall::Update { id, fields: f } => {
            // Hashed before the writer is taken: argon2 takes a while.
            let password = match &f.password {
                Some(p) if !p.0.is_empty() => Some(Some(hash_password(&p.0)?)),
                Some(_) => Some(None),
                None => None,
            };
            let conn = broker.store.conn();
            editable(&conn, me, id)?;
            if let Some(d) = &f.description {
                let d = d.trim();
                if d.chars().count() > MAX_DESCRIPTION {
                    return Err(bad(format!("description: at most {MAX_DESCRIPTION} characters")));
                }
                conn.execute("UPDATE shares SET description = ?2 WHERE id = ?1", params![id, d]).map_err(internal)?;
            }
            if let Some(ms) = f.expires_ms {
                // Unlike a new share's, an edited expiry may be in the past: that ends the
                // share now (its page 410, its links dead) without deleting it.
                let e = (ms != 0).then_some(ms / 1000);
                conn.execute("UPDATE shares SET expires_at = ?2 WHERE id = ?1", params![id, e]).map_err(internal)?;
            }
            if let Some(d) = f.downloadable {
                conn.execute("UPDATE shares SET downloadable = ?2 WHERE id = ?1", params![id, d]).map_err(internal)?;
            }
            if let Some(h) = password {
                conn.execute("UPDATE shares SET password_hash = ?2 WHERE id = ?1", params![id, h]).map_err(internal)?;
            }
            if let Some(t) = f.transcode {
                conn.execute("UPDATE shares SET transcode = ?2 WHERE id = ?1", params![id, t]).map_err(internal)?;
            }
            if let Some(m) = f.max_plays {
                let m = (m > 0).then_some(m);
                conn.execute("UPDATE shares SET max_plays = ?2 WHERE id = ?1", params![id, m]).map_err(internal)?;
            }
            Ok(ShareAnswer::Done)
        }
        ShareCall::Delete { id } => {
            let conn = broker.store.conn();
            editable(&conn, me, id)?;
            conn.execute("DELETE FROM shares WHERE id = ?1", [id]).map_err(internal)?;
            tracing::info!("{} deleted share {id}", me.name);
            Ok(ShareAnswer::Done)
        }
    }
}

fn expires_field(e: Option<i64>) -> String {
    e.unwrap_or(-1).to_string()
}

/// A token for `item` of `share`, fetching `what`, valid while the share keeps `expires`.
pub fn mint(store: &Store, share: &str, item: &str, what: ShareWhat, expires: Option<i64>) -> String {
    let exp = expires_field(expires);
    let mac = store.share_mac(&[share.as_bytes(), item.as_bytes(), what.tag().as_bytes(), exp.as_bytes()]);
    format!("{item}.{exp}.{}", hex::encode(mac))
}

/// The item and expiry a token names, if its MAC is right for this share and `what`.
pub fn verify(store: &Store, share: &str, what: ShareWhat, token: &str) -> Option<(String, Option<i64>)> {
    let mut parts = token.splitn(3, '.');
    let (item, exp, mac) = (parts.next()?, parts.next()?, parts.next()?);
    let mac = hex::decode(mac).ok()?;
    let want = store.share_mac(&[share.as_bytes(), item.as_bytes(), what.tag().as_bytes(), exp.as_bytes()]);
    if mac.len() != want.len() || !bool::from(mac.ct_eq(&want)) {
        return None;
    }
    let exp: i64 = exp.parse().ok()?;
    Some((item.to_string(), (exp >= 0).then_some(exp)))
}

/// A share's public page, or why not.
pub fn page(broker: &Broker, client: &Client, req: &SharePageRequest) -> Result<SharePage, ShareRefusal> {
    if !broker.shares.enabled {
        return Err(ShareRefusal::NotFound);
    }
    let now = super::db::now();
    let r = {
        let conn = broker.reader();
        load(&conn, &req.id).ok().flatten().ok_or(ShareRefusal::NotFound)?
    };
    if r.expired(now) {
        return Err(ShareRefusal::Expired);
    }
    if r.plays_used() {
        return Err(ShareRefusal::PlaysUsed);
    }
    if let Some(hash) = &r.password_hash {
        let listed = req.list_token.as_ref().and_then(|t| verify(&broker.store, &r.id, ShareWhat::List, &t.0));
        let by_list = listed.is_some_and(|(item, exp)| item == "all" && exp == r.expires);
        if !by_list {
            let Some(pw) = &req.password else {
                return Err(ShareRefusal::Password { wrong: false, retry_after: None });
            };
            match broker.store.share_password(client, &r.id, || password_matches(hash, &pw.0)) {
                Ok(true) => {}
                Ok(false) => return Err(ShareRefusal::Password { wrong: true, retry_after: None }),
                Err(wait) => return Err(ShareRefusal::Password { wrong: true, retry_after: Some(wait) }),
            }
        }
    }
    if req.visit {
        let _ = broker.store.conn().execute(
            "UPDATE shares SET visit_count = visit_count + 1, last_visited = ?2 WHERE id = ?1",
            params![r.id, now],
        );
    }
    let conn = broker.reader();
    // What the owner may see now (super::access): a folder taken from them leaves the page.
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT st.position, t.title, t.artist, coalesce(al.name, ''), t.track, t.duration_ms, t.suffix \
             FROM share_tracks st JOIN tracks t ON t.id = st.track_id LEFT JOIN albums al ON al.id = t.album_id \
             WHERE st.share_id = ?1 AND t.missing = 0 AND {} ORDER BY st.position",
            super::access::track("t", "?2")
        ))
        .map_err(|_| ShareRefusal::NotFound)?;
    let store = &broker.store;
    let tracks: Vec<ShareTrack> = st
        .query_map([&r.id, &r.user_id], |row| {
            let pos: i64 = row.get(0)?;
            let item = pos.to_string();
            Ok(ShareTrack {
                title: row.get(1)?,
                artist: row.get(2)?,
                album: row.get(3)?,
                track: row.get(4)?,
                duration_secs: (row.get::<_, i64>(5)? + 500) / 1000,
                suffix: row.get(6)?,
                stream: mint(store, &r.id, &item, ShareWhat::Stream, r.expires),
                cover: mint(store, &r.id, &item, ShareWhat::Cover, r.expires),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|_| ShareRefusal::NotFound)?;
    let downloadable = r.downloadable && broker.media.settings.enable_downloads;
    Ok(SharePage {
        cover: tracks.first().map(|t| t.cover.clone()),
        download: downloadable.then(|| mint(store, &r.id, "all", ShareWhat::Zip, r.expires)),
        list: mint(store, &r.id, "all", ShareWhat::List, r.expires),
        id: r.id,
        description: r.description,
        username: r.username,
        expires: r.expires,
        tracks,
    })
}

fn refused() -> ApiError {
    not_found("Share link")
}

/// One link of a share's page: the token checked, then the song, cover or zip it names.
pub async fn media(
    broker: &Broker,
    client: &Client,
    req: &ShareMediaRequest,
) -> Result<(MediaAnswer, Vec<OwnedFd>), ApiError> {
    if !broker.shares.enabled || req.what == ShareWhat::List {
        return Err(refused());
    }
    let (item, exp) = verify(&broker.store, &req.share, req.what, &req.token.0).ok_or_else(refused)?;
    let (r, ids) = {
        let conn = broker.reader();
        let r = load(&conn, &req.share)?.ok_or_else(refused)?;
        let ids = track_ids(&conn, &r.id)?;
        (r, ids)
    };
    // The share as it is now: deleted, expired, or its expiry changed since the token was made.
    if r.expires != exp || r.expired(super::db::now()) {
        return Err(refused());
    }
    let song = || -> Result<String, ApiError> {
        let pos: usize = item.parse().map_err(|_| refused())?;
        ids.get(pos).cloned().ok_or_else(refused)
    };
    match req.what {
        ShareWhat::Stream => {
            let id = song()?;
            let file = {
                let conn = broker.reader();
                super::media::track_file(&conn, &broker.roots, &r.user_id, &id)
                    .map_err(internal)?
                    .ok_or_else(|| not_found("Song"))?
            };
            if req.from_start && r.max_plays.is_some() {
                let counted = broker
                    .store
                    .conn()
                    .execute(
                        "UPDATE shares SET plays = plays + 1 WHERE id = ?1 AND (max_plays IS NULL OR plays < max_plays)",
                        [&r.id],
                    )
                    .map_err(internal)?;
                if counted == 0 {
                    return Err(ApiError::new(
                        code::NOT_AUTHORIZED,
                        "This share has been played as often as it may be",
                    ));
                }
            } else if r.plays_used() {
                return Err(ApiError::new(code::NOT_AUTHORIZED, "This share has been played as often as it may be"));
            }
            if r.transcode && broker.media.settings.ffmpeg.is_some() {
                return transcoded(broker, client, &r, &file).await;
            }
            broker.media.raw(&file, None).await
        }
        ShareWhat::Cover => {
            let id = song()?;
            let owner =
                super::store::Store::user_by_id(&broker.reader(), &r.user_id).map_err(internal)?.ok_or_else(refused)?;
            let image = broker
                .art
                .answer(broker, &owner, &id, req.size, |job| async move { broker.media.call(&job).await })
                .await?;
            Ok((MediaAnswer::Image(image), Vec::new()))
        }
        ShareWhat::Zip => {
            if item != "all" {
                return Err(refused());
            }
            if !r.downloadable {
                return Err(ApiError::new(code::NOT_AUTHORIZED, "This share is not downloadable"));
            }
            if !broker.media.settings.enable_downloads {
                return Err(ApiError::new(code::NOT_AUTHORIZED, "Downloads are disabled on this server"));
            }
            let tracks = downloads::tracks_by_ids(&broker.reader(), &broker.roots, &r.user_id, &ids)?;
            let name = if r.description.is_empty() { format!("share {}", &r.id[..8]) } else { r.description.clone() };
            broker.media.zip(&name, downloads::entries(&tracks, &Collection::Playlist)).await
        }
        ShareWhat::List => Err(refused()),
    }
}

/// A stream of a share that transcodes: as the owner's player named `share` says (made on
/// first use, changed like any player with `updatePlayer`), counted against the owner's
/// transcoding caps.
async fn transcoded(
    broker: &Broker,
    client: &Client,
    r: &Row,
    file: &super::media::TrackFile,
) -> Result<(MediaAnswer, Vec<OwnedFd>), ApiError> {
    use super::media::{plan, player, profiles, Plan};
    let owner = Store::user_by_id(&broker.reader(), &r.user_id).map_err(internal)?.ok_or_else(refused)?;
    let profiles = profiles(&broker.reader()).map_err(internal)?;
    let player = player(&broker.store.conn(), &owner.id, "share", &client.addr).map_err(internal)?;
    let settings = &broker.media.settings;
    match plan(file, None, 0, &player, &profiles, &settings.default_downsampling_format) {
        Plan::Raw => broker.media.raw(file, None).await,
        Plan::Transcode { profile, bit_rate } => {
            broker.media.transcode(&owner, file, &profile, bit_rate, 0, false).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/security.md T28: a token is good only as the broker minted it: any field changed,
    /// another share, another kind of link, or a MAC under any other key is refused. The key
    /// is the vault's; a front speaking the channel has neither it nor a way to ask for it.
    #[test]
    fn tokens_are_the_brokers_alone_and_bound_to_every_field() {
        let dir = std::env::temp_dir().join(format!("redoubt-shares-{}", super::super::db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let broker = Broker::open(&crate::proto::BrokerInit::default(), &dir, &dir.join("cache"), &[]).unwrap();
        let store = &broker.store;
        let share = "0123456789abcdef0123456789abcdef";
        let t = mint(store, share, "3", ShareWhat::Stream, Some(1_900_000_000));
        assert_eq!(verify(store, share, ShareWhat::Stream, &t), Some(("3".into(), Some(1_900_000_000))));
        let never = mint(store, share, "all", ShareWhat::Zip, None);
        assert_eq!(verify(store, share, ShareWhat::Zip, &never), Some(("all".into(), None)));
        let (_, mac) = t.rsplit_once('.').unwrap();
        for forged in [
            t.replacen("3.", "4.", 1),
            t.replace("1900000000", "1900000001"),
            t.replace("1900000000", "-1"),
            format!("3.1900000000.{}", hex::encode([0u8; 32])),
            format!("3.1900000000.{}", &mac[..62]),
            format!("3.1900000000.{mac}00"),
            // The right MAC, under a key of the front's own choosing.
            format!(
                "3.1900000000.{}",
                hex::encode(super::super::vault::hmac_sha256(
                    &[7u8; 32],
                    &[share.as_bytes(), b"3", b"stream", b"1900000000"]
                ))
            ),
            String::new(),
            "3".into(),
        ] {
            assert_eq!(verify(store, share, ShareWhat::Stream, &forged), None, "{forged}");
        }
        assert_eq!(verify(store, "fedcba9876543210fedcba9876543210", ShareWhat::Stream, &t), None, "another share");
        assert_eq!(verify(store, share, ShareWhat::Cover, &t), None, "another kind of link");
        let _ = std::fs::remove_dir_all(dir);
    }
}
