//! What a user manages of their own account from the web UI: their password (the current one
//! is checked by the broker, not only asked for by a form) and their API keys. No call names a
//! user: the broker acts for the authenticated one, so nobody manages somebody else's keys by
//! naming them. Admins manage other users' keys with `redoubt apikey` (src/admin.rs).
//!
//! These calls have no row in the Subsonic method table: the UI's settings page builds them
//! (`front/ui/pages/settings.rs`), so `/rest` cannot reach them.

use serde::{Deserialize, Serialize};

use super::Secret;

/// The broker's refusal of a wrong current password (error 40, with this message, which the
/// settings page tells from an ended session).
pub const CURRENT_PASSWORD_WRONG: &str = "The current password is wrong.";

/// Longest name an API key may have (characters).
pub const MAX_KEY_NAME: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AccountCall {
    /// A new password for the caller, given the current one. It ends every web session of the
    /// user (this one included); API keys keep working.
    ChangeOwnPassword { current: Secret, new: Secret },
    /// The caller's API keys: name, created, last used; never the key.
    ApiKeys,
    /// A new API key for the caller, answered once with the key itself.
    CreateApiKey { name: String },
    /// Revokes one of the caller's keys; another user's key is "not found".
    RevokeApiKey { id: String },
    /// The caller's own avatar, from an uploaded image (the transcoder decodes and re-encodes
    /// it); None removes it. Nobody sets another user's.
    SetAvatar { image: Option<serde_bytes::ByteBuf> },
}

impl AccountCall {
    pub fn writes(&self) -> bool {
        !matches!(self, AccountCall::ApiKeys)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKeyRec {
    pub id: String,
    pub name: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub last_used: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AccountAnswer {
    Done,
    ApiKeys(Vec<ApiKeyRec>),
    /// The key, shown this once (the database keeps its SHA-256).
    NewApiKey {
        id: String,
        key: Secret,
    },
}
