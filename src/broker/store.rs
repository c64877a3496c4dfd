//! The broker's state: users and their encrypted passwords, API keys, web sessions, the
//! first-admin setup code, and the credential checks (docs/security.md T3, T16, T17). Every SQL
//! statement here is a constant with `?` parameters: no request text ever becomes SQL.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use md5::Md5;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::db::{self, new_id, now};
use super::limiter::{Attempt, Limiter, Ticket};
use super::names;
use super::vault::{self, KeyConfig, Opened, Vault};
use crate::proto::account::{AccountAnswer, AccountCall, ApiKeyRec, CURRENT_PASSWORD_WRONG, MAX_KEY_NAME};
use crate::proto::admin::EventKind;
use crate::proto::error::{
    code, csrf_refused, internal, missing, no_session, not_authorized, not_found, wrong_credentials as wrong,
};
use crate::proto::{Answer, ApiError, Call, Client, Credentials, Secret, SessionGrant, UserFields, UserInfo};

#[derive(Debug, Clone)]
pub struct Settings {
    pub auth_limit: u32,
    pub auth_window: Duration,
    pub session_timeout: Duration,
    /// A session ends this long after login, however active it is.
    pub session_max_age: Duration,
    /// Subsonic `p` and `t`+`s`; false leaves API keys (and ExtAuth) as the only ways in.
    pub password_auth: bool,
    /// ExtAuth is configured: only then are proxy-vouched identities accepted (the permit
    /// table closes a front's channel that sends one otherwise; this is the second check).
    pub ext_auth: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auth_limit: 5,
            auth_window: Duration::from_secs(20),
            session_timeout: Duration::from_secs(48 * 3600),
            session_max_age: Duration::from_secs(30 * 24 * 3600),
            password_auth: true,
            ext_auth: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub admin: bool,
    password: Option<Vec<u8>>,
}

impl User {
    /// As shown to clients, with the music folders the user may see now (broker::access).
    pub fn info(&self, conn: &Connection) -> UserInfo {
        // Unreadable (a broken database answers everything else with errors too): none.
        let folders = super::access::folder_ids(conn, &self.id).unwrap_or_default();
        let all_folders = super::access::sees_every_folder(conn, &self.id).unwrap_or(false);
        UserInfo { username: self.name.clone(), email: self.email.clone(), admin: self.admin, folders, all_folders }
    }
}

/// An API key as listed: who and when, never the key.
#[derive(Debug, Clone)]
pub struct ApiKeyInfo {
    pub id: String,
    pub user: String,
    pub name: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

pub struct Store {
    /// A read-only connection for checking web sessions and Subsonic credentials, which every
    /// UI page and API call does: they need the writer only when a session's expiry slides
    /// (once a minute at most) or an attempt fails, so requests do not wait behind a scan's
    /// write batches. Declared first: it closes first.
    check_reader: Mutex<Connection>,
    conn: Mutex<Connection>,
    /// Bumped whenever a use of the writer changed a row (see [`Writer`]): answers computed
    /// at an older generation may be stale, answers at the current one are not.
    generation: std::sync::atomic::AtomicU64,
    /// The writer's `total_changes()` when the generation was last bumped.
    changes_seen: std::sync::atomic::AtomicU64,
    vault: Vault,
    limiter: Mutex<Limiter>,
    /// SHA-256 of the one-time setup code, while no user exists.
    setup: Mutex<Option<[u8; 32]>>,
    pub settings: Settings,
}

/// The writer, borrowed. On release, if `total_changes()` moved (a statement changed rows,
/// committed or not), the generation is bumped: so every write, whatever code made it,
/// invalidates the answers cached before it. Bumping after the commit is what makes this safe:
/// a reader that saw the new generation starts its read after the write was committed.
pub struct Writer<'a> {
    conn: std::sync::MutexGuard<'a, Connection>,
    store: &'a Store,
}

impl std::ops::Deref for Writer<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Writer<'_> {
    /// Runs writes that no cached answer reads (a session's sliding expiry, an expired
    /// session's removal): they do not bump the generation, so an active web session does
    /// not empty the front's answer cache once a minute. Writes made earlier through this
    /// borrow still bump it on release.
    fn untracked<T>(&mut self, f: impl FnOnce(&Connection) -> T) -> T {
        use std::sync::atomic::Ordering;
        let before = self.conn.total_changes();
        let out = f(&self.conn);
        let after = self.conn.total_changes();
        let _ = self.store.changes_seen.compare_exchange(before, after, Ordering::AcqRel, Ordering::Acquire);
        out
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        let now = self.conn.total_changes();
        if self.store.changes_seen.swap(now, Ordering::AcqRel) != now {
            self.store.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).expect("the kernel's random source");
    hex::encode(b)
}

/// Error 70 for a user name (the user management calls' wording, with its full stop).
fn no_such_user() -> ApiError {
    ApiError::new(code::NOT_FOUND, "User not found.")
}

fn limited(wait: Duration) -> ApiError {
    let secs = wait.as_secs().max(1);
    ApiError {
        code: code::GENERIC,
        message: format!("Too many failed authentication attempts; try again in {secs} s."),
        retry_after: Some(secs),
    }
}

pub fn valid_password(pw: &str) -> Result<(), String> {
    if pw.is_empty() || pw.chars().count() > 256 {
        return Err("a password has 1 to 256 characters".into());
    }
    Ok(())
}

/// Constant-time equality of two secrets of any length (compares their hashes).
fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    sha256(a).ct_eq(&sha256(b)).into()
}

impl Store {
    /// Opens the database and the vault. Returns log lines worth showing at start.
    pub fn open(key: &KeyConfig, settings: Settings) -> Result<(Store, Vec<String>), String> {
        let path = db::path(&key.data_folder);
        let mut conn = db::open(&path).map_err(|e| e.to_string())?;
        fill_name_keys(&conn)?;
        let (vault, opened) = vault::open(&mut conn, key).map_err(|e| e.to_string())?;
        let mut log = Vec::new();
        match opened {
            Opened::Created => {
                log.push(format!("password-encryption key created (fingerprint {})", vault.fingerprint_hex()))
            }
            Opened::Existing => log.push(format!("password-encryption key fingerprint {}", vault.fingerprint_hex())),
            Opened::Reencrypted { users, why } => log.push(format!(
                "{why}: re-encrypted {users} passwords in one transaction (new fingerprint {})",
                vault.fingerprint_hex()
            )),
        }
        let limiter = Mutex::new(Limiter::new(settings.auth_limit, settings.auth_window));
        let changes_seen = std::sync::atomic::AtomicU64::new(conn.total_changes());
        let check_reader = db::open_reader(&path).map_err(|e| e.to_string())?;
        let store = Store {
            check_reader: Mutex::new(check_reader),
            conn: Mutex::new(conn),
            generation: std::sync::atomic::AtomicU64::new(1),
            changes_seen,
            vault,
            limiter,
            setup: Mutex::new(None),
            settings,
        };
        Ok((store, log))
    }

    /// The one writable connection. Every write to the database goes through it (the other
    /// connections are read-only), and releasing it bumps the generation if a row changed.
    pub(crate) fn conn(&self) -> Writer<'_> {
        Writer { conn: self.conn.lock().unwrap_or_else(|p| p.into_inner()), store: self }
    }

    /// The read-only connection of credential and session checks.
    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.check_reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The database generation: read it *before* reading the database for an answer.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn user_count(&self) -> i64 {
        self.conn().query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap_or(0)
    }

    /// While no user exists: a fresh one-time setup code (to be logged), else None.
    pub fn new_setup_code(&self) -> Option<String> {
        if self.user_count() > 0 {
            return None;
        }
        let raw = random_hex(10).to_uppercase();
        let code = format!("{}-{}-{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12], &raw[12..16], &raw[16..20]);
        *self.setup.lock().unwrap() = Some(sha256(code.as_bytes()));
        Some(code)
    }

    /// The setup code still creates the first admin: one was logged and no user exists.
    pub fn setup_open(&self) -> bool {
        self.setup.lock().unwrap().is_some() && self.user_count() == 0
    }

    // Cached statements: these run on every API request, and parsing them cost more than running them.
    /// The user whose name has this name's key (names.rs), however it is spelled.
    pub(crate) fn user_by_name(conn: &Connection, name: &str) -> rusqlite::Result<Option<User>> {
        Self::user_by_key(conn, &names::key(name))
    }

    /// The user with this name key (already [`names::key`]ed: the credential checks compute it
    /// once, for the limiter and the lookup alike).
    fn user_by_key(conn: &Connection, key: &str) -> rusqlite::Result<Option<User>> {
        conn.prepare_cached("SELECT id, name, email, is_admin, password FROM users WHERE name_key = ?1")?
            .query_row([key], |r| {
                Ok(User { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, admin: r.get(3)?, password: r.get(4)? })
            })
            .optional()
    }

    /// The user with this id (a share's owner).
    pub fn user_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<User>> {
        conn.prepare_cached("SELECT id, name, email, is_admin, password FROM users WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(User { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, admin: r.get(3)?, password: r.get(4)? })
            })
            .optional()
    }

    /// The stored password of `user`, or None (no such user, or no password).
    fn password_of(&self, user: Option<&User>) -> Option<Zeroizing<String>> {
        let u = user?;
        let blob = u.password.as_ref()?;
        let pw = self.vault.decrypt(&u.id, blob);
        if pw.is_none() {
            tracing::error!(
                "the stored password of user {} failed its integrity check (AES-GCM tag mismatch): the row \
                 was altered or moved outside redoubt; set a new one with `redoubt user passwd`",
                names::for_log(&u.name)
            );
        }
        pw
    }

    /// Checks credentials; counts failures; refuses while limited, even the right password.
    pub fn authenticate(&self, client: &Client, creds: &Credentials) -> Result<User, ApiError> {
        match creds {
            Credentials::Password { user, password } => {
                if !self.settings.password_auth {
                    return Err(ApiError::new(
                        code::MECHANISM_NOT_SUPPORTED,
                        "Password authentication is disabled; use an API key.",
                    ));
                }
                self.verify_password(client, user, password)
            }
            Credentials::Token { user, token, salt } => {
                if !self.settings.password_auth {
                    return Err(ApiError::new(
                        code::TOKEN_AUTH_DISABLED,
                        "Token authentication is not supported; use an API key.",
                    ));
                }
                let key = names::key(user);
                let ticket = self.begin(client, Attempt::User(&key), user)?;
                let found = Self::user_by_key(&self.reader(), &key).map_err(internal)?;
                let stored = self.password_of(found.as_ref());
                let mut h = Md5::new();
                h.update(stored.as_ref().map(|s| s.as_bytes()).unwrap_or(b""));
                h.update(salt.0.as_bytes());
                let expected = hex::encode(h.finalize());
                let given = token.0.to_ascii_lowercase();
                let ok = secret_eq(expected.as_bytes(), given.as_bytes())
                    && stored.as_ref().is_some_and(|s| !s.is_empty())
                    && !salt.0.is_empty();
                self.conclude(client, user, found, ok, ticket)
            }
            Credentials::ApiKey { key } => {
                let ticket = self.begin(client, Attempt::ApiKey, "(an API key)")?;
                let conn = self.conn();
                let hit: Option<(String, String, Option<i64>)> = conn
                    .prepare_cached("SELECT id, user_id, last_used FROM api_keys WHERE hash = ?1")
                    .and_then(|mut st| {
                        st.query_row([&sha256(key.0.as_bytes())[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                            .optional()
                    })
                    .map_err(internal)?;
                let Some((key_id, user_id, last_used)) = hit else {
                    drop(conn);
                    let _ = self.limiter.lock().unwrap().failed(ticket);
                    tracing::info!("invalid API key from {}", client.addr);
                    self.event(EventKind::FailedLogin, "", client, "invalid API key");
                    return Err(ApiError::new(code::INVALID_API_KEY, "Invalid API key."));
                };
                self.limiter.lock().unwrap().succeeded(ticket);
                let t = db::now();
                if last_used.is_none_or(|l| t - l > 60) {
                    let _ = conn.execute("UPDATE api_keys SET last_used = ?1 WHERE id = ?2", params![t, key_id]);
                }
                Self::user_by_id(&conn, &user_id)
                    .map_err(internal)?
                    .ok_or_else(|| ApiError::new(code::INVALID_API_KEY, "Invalid API key."))
            }
            Credentials::External { user } => {
                if !self.settings.ext_auth {
                    tracing::warn!(
                        "refused a proxy-vouched login as {} from {}: ExtAuth is not configured",
                        names::for_log(user),
                        client.addr
                    );
                    return Err(wrong());
                }
                self.external_user(user)
            }
            Credentials::Session { token, csrf } => match self.session_user(token) {
                None => Err(no_session()),
                Some((user, csrf_hash)) => match csrf {
                    Some(c) if !bool::from(sha256(c.0.as_bytes()).ct_eq(&csrf_hash[..])) => Err(csrf_refused()),
                    _ => Ok(user),
                },
            },
        }
    }

    fn verify_password(&self, client: &Client, user: &str, password: &Secret) -> Result<User, ApiError> {
        let key = names::key(user);
        let ticket = self.begin(client, Attempt::User(&key), user)?;
        let found = Self::user_by_key(&self.reader(), &key).map_err(internal)?;
        let stored = self.password_of(found.as_ref());
        // An unknown user, a user without a password, and an empty password never match
        // (CVE-2025-27112); the comparison runs either way.
        let ok = secret_eq(stored.as_ref().map(|s| s.as_bytes()).unwrap_or(b"\0no password"), password.0.as_bytes())
            && stored.is_some()
            && !password.0.is_empty();
        self.conclude(client, user, found, ok, ticket)
    }

    /// Checks the limiter and counts the attempt in the same step (see limiter.rs).
    fn begin(&self, client: &Client, attempt: Attempt, shown: &str) -> Result<Ticket, ApiError> {
        self.limiter.lock().unwrap().begin(&client.addr, attempt, Instant::now()).map_err(|r| {
            tracing::warn!(
                "authentication refused for {} from {}: too many failures{}",
                names::for_log(shown),
                client.addr,
                if r.user_locked { " for this user (`redoubt user unlock` lifts it)" } else { "" }
            );
            limited(r.wait)
        })
    }

    fn conclude(
        &self,
        client: &Client,
        user: &str,
        found: Option<User>,
        ok: bool,
        ticket: Ticket,
    ) -> Result<User, ApiError> {
        match found {
            Some(u) if ok => {
                self.limiter.lock().unwrap().succeeded(ticket);
                Ok(u)
            }
            _ => {
                let lockout = self.limiter.lock().unwrap().failed(ticket);
                tracing::info!("failed authentication for {} from {}", names::for_log(user), client.addr);
                self.event(EventKind::FailedLogin, user, client, "wrong password or token");
                if let Some(d) = lockout {
                    let detail = format!("password and token logins refused for {} s", d.as_secs());
                    self.event(EventKind::Lockout, user, client, &detail);
                    tracing::warn!(
                        "user {} is locked out of password and token logins for {} s after too many failures \
                         from any address; API keys and open sessions keep working (`redoubt user unlock` lifts it)",
                        names::for_log(user),
                        d.as_secs()
                    );
                }
                Err(wrong())
            }
        }
    }

    /// A security event (see broker/security.rs), with the writer for a moment.
    fn event(&self, kind: EventKind, user: &str, client: &Client, detail: &str) {
        self.security_event(kind, user, &client.addr, detail);
    }

    /// Records a security event. No cached answer reads them (the admin page asks each time),
    /// so they leave the generation alone: a client retrying a wrong password, or a scan of
    /// refused ExtAuth headers, must not empty the front's answer cache for everyone.
    pub fn security_event(&self, kind: EventKind, user: &str, source: &str, detail: &str) {
        self.conn().untracked(|c| super::security::record(c, kind, user, source, detail));
    }

    /// Failed credential checks, refusals and lockouts so far (the metrics endpoint).
    pub fn auth_counts(&self) -> crate::proto::metrics::AuthMetrics {
        self.limiter.lock().unwrap().counts()
    }

    /// The MAC of a share token (see shares.rs): the key stays in the vault.
    pub fn share_mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.vault.share_mac(parts)
    }

    /// A share's password check, limited like logins (docs/security.md T3): Err(seconds to
    /// wait) when the limiter refuses the attempt (right password or not).
    pub fn share_password(&self, client: &Client, share: &str, check: impl FnOnce() -> bool) -> Result<bool, u64> {
        let ticket =
            self.limiter.lock().unwrap().begin(&client.addr, Attempt::Share(share), Instant::now()).map_err(|r| {
                tracing::warn!("share {share}: password refused for {}: too many failures", client.addr);
                r.wait.as_secs().max(1)
            })?;
        let ok = check();
        let mut limiter = self.limiter.lock().unwrap();
        if ok {
            limiter.succeeded(ticket);
        } else {
            let _ = limiter.failed(ticket);
            tracing::info!("share {share}: wrong password from {}", client.addr);
        }
        Ok(ok)
    }

    /// Lifts the rate limit on a user's password and token logins (`redoubt user unlock`,
    /// delivered through the `unlocks` table: see [`Store::apply_unlocks`]).
    pub fn unlock(&self, name: &str) {
        self.limiter.lock().unwrap().unlock(&names::key(name), Instant::now());
    }

    /// Applies the unlocks `redoubt user unlock` left in the database, and removes them.
    pub fn apply_unlocks(&self) -> rusqlite::Result<usize> {
        let conn = self.conn();
        let keys: Vec<String> = {
            let mut st = conn.prepare_cached("SELECT name_key FROM unlocks")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        if keys.is_empty() {
            return Ok(0);
        }
        let mut limiter = self.limiter.lock().unwrap();
        for k in &keys {
            limiter.unlock(k, Instant::now());
            tracing::warn!("user {} unlocked by an admin (redoubt user unlock)", names::for_log(k));
        }
        drop(limiter);
        conn.execute("DELETE FROM unlocks", [])?;
        Ok(keys.len())
    }

    /// ExtAuth: the proxy vouches for the name. Unknown users are created; the very first
    /// user of the server becomes admin (Navidrome's documented behaviour).
    fn external_user(&self, name: &str) -> Result<User, ApiError> {
        let mut conn = self.conn();
        if let Some(u) = Self::user_by_name(&conn, name).map_err(internal)? {
            return Ok(u);
        }
        let (name, key) = names::for_new_user(name).map_err(|e| {
            tracing::warn!("ExtAuth: refused to create user {}: {e}", names::for_log(name));
            ApiError::new(code::WRONG_CREDENTIALS, e)
        })?;
        let tx = conn.transaction().map_err(internal)?;
        let first: bool = tx.query_row("SELECT count(*) = 0 FROM users", [], |r| r.get(0)).map_err(internal)?;
        let id = new_id();
        let t = now();
        tx.execute(
            "INSERT INTO users (id, name, name_key, password, is_admin, created_at, updated_at) \
             VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?5)",
            params![id, name, key, first, t],
        )
        .map_err(internal)?;
        tx.commit().map_err(internal)?;
        if first {
            self.setup.lock().unwrap().take();
            tracing::warn!("ExtAuth: created {name:?} as the first user, and made it admin");
        } else {
            tracing::info!("ExtAuth: created user {name:?}");
        }
        Self::user_by_id(&conn, &id).map_err(internal)?.ok_or_else(|| internal("user vanished"))
    }

    /// One Subsonic call: authenticate, then answer.
    pub fn api(&self, client: &Client, creds: &Credentials, call: &Call) -> Result<Answer, ApiError> {
        let me = self.authenticate(client, creds)?;
        match call {
            Call::Ping => Ok(Answer::Empty),
            Call::GetLicense => Ok(Answer::License),
            Call::TokenInfo => Ok(Answer::TokenInfo { username: me.name.clone() }),
            Call::GetUser { username } => {
                let u = self.target(&me, username)?;
                Ok(Answer::User(u.info(&self.conn())))
            }
            Call::GetUsers => {
                if !me.admin {
                    return Err(not_authorized());
                }
                Ok(Answer::Users(self.list_users().map_err(internal)?))
            }
            Call::CreateUser(f) => {
                if !me.admin {
                    return Err(not_authorized());
                }
                let pw = f.password.as_ref().ok_or_else(|| missing("password"))?;
                if let Some(crate::proto::FolderAccess::Only(folders)) = &f.folders {
                    // Checked before the user exists: a wrong folder makes no user.
                    super::access::check_folders(&self.conn(), folders)?;
                }
                let id = self
                    .add_user(&f.username, Some(&pw.0), f.admin.unwrap_or(false), f.email.as_deref())
                    .map_err(|e| ApiError::new(code::GENERIC, e))?;
                if let Some(folders) = &f.folders {
                    super::access::set_grants(&self.conn(), &id, folders)?;
                }
                Ok(Answer::Empty)
            }
            Call::UpdateUser(f) => {
                if !me.admin {
                    return Err(not_authorized());
                }
                self.update_user(f).map(|_| Answer::Empty)
            }
            Call::DeleteUser { username } => {
                if !me.admin {
                    return Err(not_authorized());
                }
                if self.target(&me, username)?.id == me.id {
                    return Err(ApiError::new(code::GENERIC, "You cannot delete your own user."));
                }
                self.delete_user(username).map(|_| Answer::Empty)
            }
            Call::GetScanStatus
            | Call::StartScan { .. }
            | Call::Library(_)
            | Call::UserData(_)
            | Call::MediaAdmin(_)
            | Call::Lyrics(_)
            | Call::TranscodeDecision(_)
            | Call::Admin(_)
            | Call::Share(_) => {
                unreachable!("answered by the broker")
            }
            Call::ChangePassword { username, password } => {
                let u = self.target(&me, username)?;
                self.set_password_of(&u, &password.0).map(|_| Answer::Empty)
            }
            Call::Account(a) => self.account(client, &me, a).map(|a| Answer::Account(Box::new(a))),
        }
    }

    /// The caller's own password and API keys (the web UI's settings page).
    fn account(&self, client: &Client, me: &User, call: &AccountCall) -> Result<AccountAnswer, ApiError> {
        match call {
            AccountCall::ChangeOwnPassword { current, new } => {
                // Checked here, not only by the form: a session alone (a browser left open)
                // does not change the password. A wrong one counts as a failed login.
                let checked = self.verify_password(client, &me.name, current).map_err(|e| {
                    if e.code == code::WRONG_CREDENTIALS && e.retry_after.is_none() {
                        ApiError::new(code::WRONG_CREDENTIALS, CURRENT_PASSWORD_WRONG)
                    } else {
                        e
                    }
                })?;
                if checked.id != me.id {
                    return Err(not_authorized());
                }
                self.set_password_of(me, &new.0)?;
                tracing::info!("{} changed their password from the web UI ({})", names::for_log(&me.name), client.addr);
                Ok(AccountAnswer::Done)
            }
            AccountCall::ApiKeys => {
                let conn = self.conn();
                let mut st = conn
                    .prepare_cached(
                        "SELECT id, name, created_at, last_used FROM api_keys WHERE user_id = ?1 ORDER BY created_at, name",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map([&me.id], |r| {
                        Ok(ApiKeyRec { id: r.get(0)?, name: r.get(1)?, created: r.get(2)?, last_used: r.get(3)? })
                    })
                    .map_err(internal)?;
                Ok(AccountAnswer::ApiKeys(rows.collect::<Result<_, _>>().map_err(internal)?))
            }
            AccountCall::CreateApiKey { name } => {
                let name = name.trim();
                if name.is_empty() {
                    return Err(missing("name"));
                }
                if name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control) {
                    return Err(ApiError::new(
                        code::GENERIC,
                        format!("An API key's name has 1 to {MAX_KEY_NAME} characters and no control characters."),
                    ));
                }
                let key = format!("rdt_{}", random_hex(32));
                let id = new_id();
                self.conn()
                    .execute(
                        "INSERT INTO api_keys (id, user_id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![id, me.id, name, &sha256(key.as_bytes())[..], now()],
                    )
                    .map_err(internal)?;
                tracing::info!("{} created API key {id} from the web UI", names::for_log(&me.name));
                Ok(AccountAnswer::NewApiKey { id, key: Secret(key) })
            }
            AccountCall::RevokeApiKey { id } => {
                // Only one's own: another user's key is not found (admins use `redoubt apikey`).
                let n = self
                    .conn()
                    .execute("DELETE FROM api_keys WHERE id = ?1 AND user_id = ?2", params![id, me.id])
                    .map_err(internal)?;
                if n == 0 {
                    return Err(not_found("API key"));
                }
                tracing::info!("{} revoked API key {id} from the web UI", names::for_log(&me.name));
                Ok(AccountAnswer::Done)
            }
            // Answered by the broker (broker::avatars): the transcoder decodes the image.
            AccountCall::SetAvatar { .. } => Err(internal("avatars are set through the broker")),
        }
    }

    /// The user a call names, resolved first so that permissions compare ids, never two
    /// spellings of a name: yourself, or anyone for an admin. A non-admin naming anyone else
    /// (existing or not) is not authorized.
    fn target(&self, me: &User, username: &str) -> Result<User, ApiError> {
        let u = Self::user_by_name(&self.conn(), username).map_err(internal)?;
        match u {
            Some(u) if u.id == me.id || me.admin => Ok(u),
            _ if !me.admin => Err(not_authorized()),
            _ => Err(no_such_user()),
        }
    }

    pub fn list_users(&self) -> rusqlite::Result<Vec<UserInfo>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id, name, email, is_admin FROM users ORDER BY name COLLATE NOCASE")?;
        let rows = st.query_map([], |r| {
            let info = UserInfo {
                username: r.get(1)?,
                email: r.get(2)?,
                admin: r.get(3)?,
                folders: vec![],
                all_folders: false,
            };
            Ok((r.get::<_, String>(0)?, info))
        })?;
        rows.map(|row| {
            let (id, mut info) = row?;
            info.folders = super::access::folder_ids(&conn, &id)?;
            info.all_folders = super::access::sees_every_folder(&conn, &id)?;
            Ok(info)
        })
        .collect()
    }

    pub fn add_user(
        &self,
        name: &str,
        password: Option<&str>,
        admin: bool,
        email: Option<&str>,
    ) -> Result<String, String> {
        let (name, key) = names::for_new_user(name)?;
        if let Some(p) = password {
            valid_password(p)?;
        }
        let conn = self.conn();
        if let Some(existing) = Self::user_by_name(&conn, &name).map_err(|e| e.to_string())? {
            return Err(if existing.name == name {
                format!("user {name:?} already exists")
            } else {
                format!(
                    "user {name:?} would be the same user as {:?} (names compare without case, width or accents forms)",
                    existing.name
                )
            });
        }
        let id = new_id();
        let t = now();
        conn.execute(
            "INSERT INTO users (id, name, name_key, password, email, is_admin, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![id, name, key, password.map(|p| self.vault.encrypt(&id, p)), email.unwrap_or(""), admin, t],
        )
        .map_err(|e| e.to_string())?;
        self.setup.lock().unwrap().take();
        Ok(id)
    }

    fn admins(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM users WHERE is_admin = 1", [], |r| r.get(0)).unwrap_or(0)
    }

    fn update_user(&self, f: &UserFields) -> Result<(), ApiError> {
        let conn = self.conn();
        let u = Self::user_by_name(&conn, &f.username).map_err(internal)?.ok_or_else(no_such_user)?;
        if f.admin == Some(false) && u.admin && Self::admins(&conn) <= 1 {
            return Err(ApiError::new(code::GENERIC, "The last admin cannot lose the admin role."));
        }
        if let Some(crate::proto::FolderAccess::Only(folders)) = &f.folders {
            super::access::check_folders(&conn, folders)?;
        }
        if let Some(p) = &f.password {
            valid_password(&p.0).map_err(|e| ApiError::new(code::GENERIC, e))?;
        }
        let t = now();
        if let Some(p) = &f.password {
            conn.execute(
                "UPDATE users SET password = ?1, updated_at = ?2 WHERE id = ?3",
                params![self.vault.encrypt(&u.id, &p.0), t, u.id],
            )
            .map_err(internal)?;
            // A reset password ends the user's web sessions, as a changed one does.
            conn.execute("DELETE FROM sessions WHERE user_id = ?1", [&u.id]).map_err(internal)?;
        }
        if let Some(e) = &f.email {
            conn.execute("UPDATE users SET email = ?1, updated_at = ?2 WHERE id = ?3", params![e, t, u.id])
                .map_err(internal)?;
        }
        if let Some(a) = f.admin {
            conn.execute("UPDATE users SET is_admin = ?1, updated_at = ?2 WHERE id = ?3", params![a, t, u.id])
                .map_err(internal)?;
        }
        if let Some(folders) = &f.folders {
            super::access::set_grants(&conn, &u.id, folders)?;
        }
        Ok(())
    }

    pub fn set_password(&self, name: &str, password: &str) -> Result<(), ApiError> {
        let u = Self::user_by_name(&self.conn(), name).map_err(internal)?.ok_or_else(no_such_user)?;
        self.set_password_of(&u, password)
    }

    fn set_password_of(&self, u: &User, password: &str) -> Result<(), ApiError> {
        valid_password(password).map_err(|e| ApiError::new(code::GENERIC, e))?;
        let conn = self.conn();
        conn.execute(
            "UPDATE users SET password = ?1, updated_at = ?2 WHERE id = ?3",
            params![self.vault.encrypt(&u.id, password), now(), u.id],
        )
        .map_err(internal)?;
        // A new password ends the user's web sessions.
        conn.execute("DELETE FROM sessions WHERE user_id = ?1", [&u.id]).map_err(internal)?;
        Ok(())
    }

    pub fn set_admin(&self, name: &str, admin: bool) -> Result<(), ApiError> {
        self.update_user(&UserFields { username: name.into(), admin: Some(admin), ..Default::default() })
    }

    pub fn delete_user(&self, name: &str) -> Result<(), ApiError> {
        let conn = self.conn();
        let u = Self::user_by_name(&conn, name).map_err(internal)?.ok_or_else(no_such_user)?;
        if u.admin && Self::admins(&conn) <= 1 {
            return Err(ApiError::new(code::GENERIC, "The last admin cannot be deleted."));
        }
        conn.execute("DELETE FROM users WHERE id = ?1", [&u.id]).map_err(internal)?;
        Ok(())
    }

    /// A new API key for `user`: (id, key). The key is returned only here; the database keeps
    /// its SHA-256.
    pub fn add_api_key(&self, user: &str, name: &str) -> Result<(String, String), String> {
        let conn = self.conn();
        let u = Self::user_by_name(&conn, user).map_err(|e| e.to_string())?.ok_or(format!("no user {user:?}"))?;
        let key = format!("rdt_{}", random_hex(32));
        let id = new_id();
        conn.execute(
            "INSERT INTO api_keys (id, user_id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, u.id, name, &sha256(key.as_bytes())[..], now()],
        )
        .map_err(|e| e.to_string())?;
        Ok((id, key))
    }

    /// Every API key, or one user's (never the keys themselves).
    pub fn list_api_keys(&self, user: Option<&str>) -> Result<Vec<ApiKeyInfo>, String> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT k.id, u.name, k.name, k.created_at, k.last_used FROM api_keys k JOIN users u ON u.id = k.user_id \
                 WHERE ?1 IS NULL OR u.name_key = ?1 ORDER BY u.name, k.created_at",
            )
            .map_err(|e| e.to_string())?;
        let rows = st
            .query_map([user.map(names::key)], |r| {
                Ok(ApiKeyInfo {
                    id: r.get(0)?,
                    user: r.get(1)?,
                    name: r.get(2)?,
                    created: r.get(3)?,
                    last_used: r.get(4)?,
                })
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
    }

    pub fn revoke_api_key(&self, id: &str) -> Result<(), String> {
        match self.conn().execute("DELETE FROM api_keys WHERE id = ?1", [id]).map_err(|e| e.to_string())? {
            0 => Err(format!("no API key with id {id}")),
            _ => Ok(()),
        }
    }

    fn new_session(&self, user: &User) -> Result<SessionGrant, ApiError> {
        let token = random_hex(32);
        let csrf = random_hex(32);
        let timeout = self.settings.session_timeout.as_secs() as i64;
        let t = now();
        self.conn()
            .execute(
                "INSERT INTO sessions (token_hash, csrf_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![&sha256(token.as_bytes())[..], &sha256(csrf.as_bytes())[..], user.id, t, t + timeout],
            )
            .map_err(internal)?;
        Ok(SessionGrant {
            token: Secret(token),
            csrf: Secret(csrf),
            user: user.info(&self.conn()),
            expires_in_secs: timeout as u64,
        })
    }

    /// The web UI behind a trusted ExtAuth proxy: a session for the user it names (created if
    /// new, as for any vouched request). Refused unless ExtAuth is configured.
    pub fn proxy_login(&self, client: &Client, user: &str) -> Result<SessionGrant, ApiError> {
        let user = self.authenticate(client, &Credentials::External { user: user.to_string() })?;
        tracing::info!(
            "web session for {} on the word of a trusted proxy ({})",
            names::for_log(&user.name),
            client.addr
        );
        self.new_session(&user)
    }

    /// Web UI login. The password check ignores `password_auth` (that option is about
    /// Subsonic clients keeping a reusable secret) but is counted and limited the same way.
    pub fn login(&self, client: &Client, username: &str, password: &Secret) -> Result<SessionGrant, ApiError> {
        let user = self.verify_password(client, username, password)?;
        self.new_session(&user)
    }

    /// First admin, with the setup code. Closed as soon as any user exists.
    pub fn setup(
        &self,
        client: &Client,
        code: &Secret,
        username: &str,
        password: &Secret,
    ) -> Result<SessionGrant, ApiError> {
        let ticket = self.begin(client, Attempt::Setup, "(the setup code)")?;
        let expected = *self.setup.lock().unwrap();
        let ok = expected.is_some_and(|h| bool::from(h.ct_eq(&sha256(code.0.trim().to_uppercase().as_bytes()))));
        if !ok {
            let _ = self.limiter.lock().unwrap().failed(ticket);
            tracing::info!("wrong or expired setup code from {}", client.addr);
            self.event(EventKind::FailedLogin, username, client, "wrong or expired setup code");
            return Err(ApiError::new(code::WRONG_CREDENTIALS, "Wrong or expired setup code."));
        }
        self.limiter.lock().unwrap().succeeded(ticket);
        let (name, key) = names::for_new_user(username).map_err(|e| ApiError::new(code::GENERIC, e))?;
        valid_password(&password.0).map_err(|e| ApiError::new(code::GENERIC, e))?;
        let id = new_id();
        {
            let mut conn = self.conn();
            // One transaction: two concurrent setups cannot both see an empty table.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(internal)?;
            let empty: bool = tx.query_row("SELECT count(*) = 0 FROM users", [], |r| r.get(0)).map_err(internal)?;
            if !empty {
                return Err(ApiError::new(code::GENERIC, "Setup is closed: a user exists."));
            }
            let t = now();
            tx.execute(
                "INSERT INTO users (id, name, name_key, password, is_admin, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
                params![id, name, key, self.vault.encrypt(&id, &password.0), t],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)?;
        }
        self.setup.lock().unwrap().take();
        tracing::warn!("first admin {} created with the setup code from {}", names::for_log(&name), client.addr);
        let user = Self::user_by_id(&self.conn(), &id).map_err(internal)?.ok_or_else(|| internal("user vanished"))?;
        self.new_session(&user)
    }

    /// The user of a live session (sliding its expiry); with `csrf`, only if it matches.
    pub fn session(&self, token: &Secret, csrf: Option<&Secret>) -> Option<UserInfo> {
        let (user, csrf_hash) = self.session_user(token)?;
        if let Some(c) = csrf {
            if !bool::from(sha256(c.0.as_bytes()).ct_eq(&csrf_hash[..])) {
                return None;
            }
        }
        Some(user.info(&self.reader()))
    }

    /// The user of a live session and the hash of its CSRF token, sliding its expiry.
    fn session_user(&self, token: &Secret) -> Option<(User, Vec<u8>)> {
        let hash = sha256(token.0.as_bytes());
        let (user, csrf_hash, created, expires) = {
            let read = self.reader();
            let (csrf_hash, user_id, created, expires): (Vec<u8>, String, i64, i64) = read
                .prepare_cached("SELECT csrf_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = ?1")
                .and_then(|mut st| st.query_row([&hash[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))))
                .optional()
                .ok()??;
            (Self::user_by_id(&read, &user_id).ok()??, csrf_hash, created, expires)
        };
        let t = now();
        // Sliding expiry, and an absolute one however active the session is.
        let max_age = self.settings.session_max_age.as_secs() as i64;
        if expires <= t || (max_age > 0 && created + max_age <= t) {
            self.conn().untracked(|c| c.execute("DELETE FROM sessions WHERE token_hash = ?1", [&hash[..]]).ok());
            return None;
        }
        let timeout = self.settings.session_timeout.as_secs() as i64;
        let slid = if max_age > 0 { (t + timeout).min(created + max_age) } else { t + timeout };
        if expires < slid - 60 {
            self.conn().untracked(|c| {
                c.execute("UPDATE sessions SET expires_at = ?1 WHERE token_hash = ?2", params![slid, &hash[..]]).ok()
            });
        }
        Some((user, csrf_hash))
    }

    pub fn logout(&self, token: &Secret, csrf: &Secret) -> bool {
        if self.session(token, Some(csrf)).is_none() {
            return false;
        }
        let hash = sha256(token.0.as_bytes());
        self.conn().execute("DELETE FROM sessions WHERE token_hash = ?1", [&hash[..]]).is_ok()
    }
}

/// Gives every user a name key (names.rs) where it has none: users made before migration
/// 0006. Two names with one key would be one account to every lookup, so that stops the
/// start, naming both, until an admin renames one (`redoubt user rename`, daemon stopped).
pub fn fill_name_keys(conn: &Connection) -> Result<(), String> {
    let err = |e: rusqlite::Error| format!("database: {e}");
    let todo: Vec<(String, String)> = {
        let mut st = conn.prepare("SELECT id, name FROM users WHERE name_key IS NULL").map_err(err)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)?
    };
    let mut clashes = Vec::new();
    for (id, name) in todo {
        let key = names::key(&name);
        let taken: Option<(String, String)> = conn
            .query_row("SELECT id, name FROM users WHERE name_key = ?1", [&key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(err)?;
        match taken {
            Some((other_id, other)) => clashes.push(format!(
                "{} (id {id}) and {} (id {other_id})",
                names::for_log(&name),
                names::for_log(&other)
            )),
            None => {
                conn.execute("UPDATE users SET name_key = ?1 WHERE id = ?2", params![key, id]).map_err(err)?;
            }
        }
    }
    if clashes.is_empty() {
        return Ok(());
    }
    Err(format!(
        "these user names differ only in case, width or Unicode form, so every login would treat each pair as \
         one account: {}. Nothing was changed. Rename one of each pair with `redoubt user rename ID NEW-NAME` \
         (while the daemon is stopped), then start again.",
        clashes.join("; ")
    ))
}

/// Renames a user by id (`redoubt user rename`): the way out of a name clash that stops the
/// start (see [`fill_name_keys`]), so it needs no key and no other user's row.
pub fn rename_user(conn: &Connection, id: &str, new_name: &str) -> Result<String, String> {
    let (name, key) = names::for_new_user(new_name)?;
    let taken: Option<String> = conn
        .query_row("SELECT id FROM users WHERE name_key = ?1 AND id != ?2", params![key, id], |r| r.get(0))
        .optional()
        .map_err(|e| e.to_string())?;
    if taken.is_some() {
        return Err(format!("another user already has the name {name:?} (or one that differs only in case or form)"));
    }
    match conn
        .execute(
            "UPDATE users SET name = ?1, name_key = ?2, updated_at = ?3 WHERE id = ?4",
            params![name, key, now(), id],
        )
        .map_err(|e| e.to_string())?
    {
        0 => Err(format!("no user has the id {id} (`redoubt user list --ids` shows them)")),
        _ => Ok(name),
    }
}
