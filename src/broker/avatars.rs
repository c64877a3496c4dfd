//! Avatars: `getAvatar`, and the picture a user uploads in the web UI's settings. The upload
//! is decoded, bounded and re-encoded by the transcoder, in its sandbox, exactly like cover
//! art (`Job::Avatar`); the broker stores only what the transcoder drew, in the `avatars`
//! table, and never decodes an image itself. Users set only their own picture.

use rusqlite::{params, OptionalExtension};

use super::store::{Store, User};
use crate::proto::error::{code, internal};
use crate::proto::media::{ImageInfo, Job, JobReply};
use crate::proto::ApiError;

/// Sets (or, with None, removes) the caller's avatar.
pub async fn set(broker: &super::Broker, me: &User, image: Option<&[u8]>) -> Result<(), ApiError> {
    let Some(image) = image else {
        broker.store.conn().execute("DELETE FROM avatars WHERE user_id = ?1", [&me.id]).map_err(internal)?;
        tracing::info!("{} removed their avatar", super::names::for_log(&me.name));
        return Ok(());
    };
    if image.is_empty() {
        return Err(ApiError::new(code::MISSING_PARAMETER, "No image was sent"));
    }
    let (content_type, bytes) = match broker.media.call(&Job::Avatar { image: image.to_vec() }).await? {
        (JobReply::Image { content_type, bytes }, _) => (content_type, bytes),
        (JobReply::Failed(e), _) => {
            let why = match e {
                crate::proto::media::JobError::Failed(w)
                | crate::proto::media::JobError::Refused(w)
                | crate::proto::media::JobError::NotFound(w) => w,
            };
            tracing::info!("{}'s avatar upload refused: {why}", super::names::for_log(&me.name));
            return Err(ApiError::new(code::GENERIC, format!("That image cannot be used: {why}")));
        }
        _ => return Err(internal("unexpected transcoder answer")),
    };
    let etag = format!("\"avatar-{}\"", super::db::new_id());
    broker
        .store
        .conn()
        .execute(
            "INSERT INTO avatars (user_id, content_type, image, etag, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type, image = excluded.image, \
             etag = excluded.etag, updated_at = excluded.updated_at",
            params![me.id, content_type, bytes, etag, super::db::now()],
        )
        .map_err(internal)?;
    tracing::info!("{} set their avatar ({} bytes, {content_type})", super::names::for_log(&me.name), bytes.len());
    Ok(())
}

/// `getAvatar?username=`: the user's picture; for a user without one, a placeholder image
/// (as Navidrome answers without Gravatar); for no such user, error 70.
pub fn get(broker: &super::Broker, username: &str) -> Result<ImageInfo, ApiError> {
    let conn = broker.store.conn();
    let user = Store::user_by_name(&conn, username)
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(code::NOT_FOUND, "User not found"))?;
    let stored: Option<(String, Vec<u8>, String)> = conn
        .prepare_cached("SELECT content_type, image, etag FROM avatars WHERE user_id = ?1")
        .map_err(internal)?
        .query_row([&user.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(internal)?;
    drop(conn);
    Ok(match stored {
        // Cached briefly (as the placeholder is): the same URL answers a new picture later.
        Some((content_type, bytes, etag)) => ImageInfo { content_type, etag, bytes, placeholder: true },
        None => broker.art.placeholder(Some(super::art::PLACEHOLDER_AVATAR_SIDE)),
    })
}
