//! Subsonic errors, for both sides: the codes, the [`ApiError`] that carries one over the
//! channel, and the constructors the front and the broker share, so that each message is
//! written once.

use serde::{Deserialize, Serialize};

/// Subsonic error codes (the Subsonic API's `error` element; 41, 42 and 44 are OpenSubsonic's).
pub mod code {
    pub const GENERIC: i64 = 0;
    pub const MISSING_PARAMETER: i64 = 10;
    pub const CLIENT_MUST_UPGRADE: i64 = 20;
    pub const SERVER_MUST_UPGRADE: i64 = 30;
    pub const WRONG_CREDENTIALS: i64 = 40;
    pub const TOKEN_AUTH_DISABLED: i64 = 41;
    pub const MECHANISM_NOT_SUPPORTED: i64 = 42;
    pub const CONFLICTING_AUTH: i64 = 43;
    pub const INVALID_API_KEY: i64 = 44;
    pub const NOT_AUTHORIZED: i64 = 50;
    pub const NOT_FOUND: i64 = 70;
}

/// A Subsonic error: code and message, and for a rate-limited request the seconds to wait.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiError {
    pub code: i64,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: i64, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), retry_after: None }
    }
}

/// A failure the client cannot do anything about (the database, a cache file): logged here,
/// and answered without the details.
pub fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("internal error: {e}");
    ApiError::new(code::GENERIC, "Internal error.")
}

/// `?` on a database call in a function answering the client.
impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        internal(e)
    }
}

/// Error 70: `what` (an id the client named) does not exist.
pub fn not_found(what: &str) -> ApiError {
    ApiError::new(code::NOT_FOUND, format!("{what} not found"))
}

/// Error 50.
pub fn not_authorized() -> ApiError {
    ApiError::new(code::NOT_AUTHORIZED, "User is not authorized for the given operation.")
}

/// Error 40: wrong user name, password or token (which of them is not said).
pub fn wrong_credentials() -> ApiError {
    ApiError::new(code::WRONG_CREDENTIALS, "Wrong username or password.")
}

/// Error 40 for a web session that is unknown or has ended.
pub fn no_session() -> ApiError {
    ApiError::new(code::WRONG_CREDENTIALS, "Not logged in, or the session has ended.")
}

/// Error 50: a web session's request that changes state without its CSRF token, or with a
/// wrong one.
pub fn csrf_refused() -> ApiError {
    ApiError::new(code::NOT_AUTHORIZED, "This request changes something and needs the session's CSRF token.")
}

/// Error 10: a parameter that must be there and not empty.
pub fn missing(name: &str) -> ApiError {
    ApiError::new(code::MISSING_PARAMETER, format!("Required parameter is missing: {name}"))
}

/// Error 70 for a method name this server does not know.
pub fn unknown_method(method: &str) -> ApiError {
    ApiError::new(code::NOT_FOUND, format!("Unknown API method: {method}"))
}

/// Error 0 for a method this server knows but does not implement (podcasts, jukebox, …),
/// and why.
pub fn not_implemented(method: &str, why: &str) -> ApiError {
    ApiError::new(code::GENERIC, format!("{method} is not implemented by this server: {why}"))
}
