//! The password vault. Subsonic token auth needs each password in the clear
//! (token = md5(password + salt)), so passwords are stored AES-256-GCM-encrypted: a random
//! nonce per password, the user id as associated data (a ciphertext moved to another row does
//! not decrypt).
//!
//! The key is, in order:
//! - derived with argon2id (and a stored random salt) from `PasswordEncryptionKey`, or from
//!   the systemd credential `password-encryption-key` when that option is unset;
//! - otherwise 32 random bytes in `<DataFolder>/redoubt.key` (0600), made at first start.
//!
//! A fingerprint of the key in use is stored. At start the configured key must match it, with
//! two deliberate transitions, each one transaction that re-encrypts every password:
//! - first-time set: the database uses the key file and `PasswordEncryptionKey` is now set;
//! - rotation: `PreviousPasswordEncryptionKey` matches the fingerprint and
//!   `PasswordEncryptionKey` is the new key (also `redoubt key rotate`).
//!
//! Anything else stops the broker with an explanation and changes nothing.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use privsep::secret::{Protected, SecretKey, KEY_LEN};
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::db;

pub const KEY_FILE: &str = "redoubt.key";
const META_FINGERPRINT: &str = "key_fingerprint";
const META_SOURCE: &str = "key_source";
const META_SALT: &str = "key_salt";
/// The argon2id parameters a passphrase key was derived with ("m=… t=… p=…"), so that a
/// change of defaults never makes the right passphrase look wrong.
const META_KDF: &str = "key_kdf";

/// A passphrase shorter than this is refused when a key is made from it (an existing key
/// made from a shorter one keeps working, with a warning).
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// argon2id for keys made now: 64 MiB, 3 passes, 1 lane (above OWASP's minimum of 19 MiB
/// and 2 passes; RFC 9106's second recommendation). It runs once at start.
pub const KDF: Kdf = Kdf { m_kib: 64 * 1024, t: 3, p: 1 };
/// What keys made before the parameters were stored used: the argon2 crate's defaults.
const KDF_BEFORE_0_2: Kdf = Kdf { m_kib: 19 * 1024, t: 2, p: 1 };

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kdf {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Kdf {
    fn encode(&self) -> String {
        format!("argon2id m={} t={} p={}", self.m_kib, self.t, self.p)
    }

    fn decode(s: &str) -> Option<Kdf> {
        let mut it = s.strip_prefix("argon2id ")?.split(' ');
        let mut field = |name: &str| it.next()?.strip_prefix(name)?.parse::<u32>().ok();
        Some(Kdf { m_kib: field("m=")?, t: field("t=")?, p: field("p=")? })
    }
}

/// Where the key comes from, as configured.
#[derive(Clone, Default)]
pub struct KeyConfig {
    pub data_folder: PathBuf,
    /// PasswordEncryptionKey (or the systemd credential).
    pub passphrase: Option<Zeroizing<String>>,
    /// PreviousPasswordEncryptionKey, for a rotation.
    pub previous: Option<Zeroizing<String>>,
    /// False while a daemon holds the data folder: a first key, a first-time set or a
    /// rotation would leave the daemon with a key the database no longer uses.
    pub may_transition: bool,
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("data_folder", &self.data_folder)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<set>"))
            .field("previous", &self.previous.as_ref().map(|_| "<set>"))
            .field("may_transition", &self.may_transition)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{0}")]
    WrongKey(String),
    #[error("key file {0}: {1}")]
    KeyFile(PathBuf, String),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{0}")]
    Corrupt(String),
    /// A key transition was needed, but this opening may not make one (a daemon holds the
    /// data folder and its key).
    #[error("{0}")]
    TransitionForbidden(String),
    #[error("{0}")]
    WeakPassphrase(String),
}

/// The key in use: one AES-256-GCM cipher (its round keys) in protected memory, made once,
/// and the key's fingerprint. The raw key is not kept.
pub struct Vault {
    cipher: Protected<Aes256Gcm>,
    fingerprint: [u8; 32],
    /// HMAC-SHA256 key of share tokens (docs/security.md T28), derived from the key: it never
    /// leaves the broker, so no other process can mint a token.
    share_key: Protected<[u8; 32]>,
}

/// HMAC-SHA256 (RFC 2104) of `parts`, each length-prefixed so that no two lists of parts
/// give the same input.
pub fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut msg = Vec::new();
    for p in parts {
        msg.extend((p.len() as u64).to_be_bytes());
        msg.extend(*p);
    }
    hmac(key, &msg)
}

fn hmac(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let mut inner = Sha256::new();
    inner.update(ipad);
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(opad);
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn fingerprint(key: &[u8; KEY_LEN]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"redoubt key fingerprint v1");
    h.update(key);
    h.finalize().into()
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("the kernel's random source");
    b
}

/// The key derived from a passphrase with argon2id.
pub fn derive(passphrase: &str, salt: &[u8], kdf: Kdf) -> Result<SecretKey, VaultError> {
    let params = argon2::Params::new(kdf.m_kib, kdf.t, kdf.p, Some(KEY_LEN))
        .map_err(|e| VaultError::Corrupt(format!("argon2 parameters {}: {e}", kdf.encode())))?;
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| VaultError::Corrupt(format!("argon2: {e}")))?;
    SecretKey::new(&out).map_err(|e| VaultError::Corrupt(format!("key memory: {e}")))
}

/// A passphrase a new key may be made from.
fn strong_enough(passphrase: &str, what: &str) -> Result<(), VaultError> {
    let n = passphrase.chars().count();
    if n < MIN_PASSPHRASE_CHARS {
        return Err(VaultError::WeakPassphrase(format!(
            "{what} has {n} characters; a new key needs a passphrase of at least {MIN_PASSPHRASE_CHARS}. \
             Nothing was changed."
        )));
    }
    Ok(())
}

fn key_file_path(data: &Path) -> PathBuf {
    data.join(KEY_FILE)
}

fn read_key_file(path: &Path) -> Result<Option<SecretKey>, VaultError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(VaultError::KeyFile(path.into(), e.to_string())),
    };
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(text.trim(), bytes.as_mut())
        .map_err(|_| VaultError::KeyFile(path.into(), "not 64 hex digits".into()))?;
    SecretKey::new(&bytes).map(Some).map_err(|e| VaultError::KeyFile(path.into(), e.to_string()))
}

fn create_key_file(path: &Path) -> Result<SecretKey, VaultError> {
    let mut raw = Zeroizing::new(random::<KEY_LEN>());
    let mut text = Zeroizing::new(hex::encode(raw.as_ref()));
    text.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| VaultError::KeyFile(path.into(), e.to_string()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| VaultError::KeyFile(path.into(), e.to_string()))?;
    let key = SecretKey::new(&raw).map_err(|e| VaultError::KeyFile(path.into(), e.to_string()));
    raw.zeroize();
    key
}

impl Vault {
    /// Builds the cipher from `key`, once; `key` is zeroed when it is dropped here.
    pub fn from_key(key: SecretKey) -> Result<Vault, VaultError> {
        let cipher = Protected::new(Aes256Gcm::new_from_slice(key.bytes()).expect("32-byte key"))
            .map_err(|e| VaultError::Corrupt(format!("key memory: {e}")))?;
        let derived = hmac_sha256(key.bytes(), &[b"redoubt share tokens v1"]);
        let share_key = Protected::new(derived).map_err(|e| VaultError::Corrupt(format!("key memory: {e}")))?;
        Ok(Vault { cipher, fingerprint: fingerprint(key.bytes()), share_key })
    }

    /// The MAC of a share token's fields.
    pub fn share_mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac_sha256(self.share_key.get(), parts)
    }

    fn cipher(&self) -> &Aes256Gcm {
        self.cipher.get()
    }

    pub fn fingerprint_hex(&self) -> String {
        hex::encode(&self.fingerprint[..8])
    }

    fn matches(&self, stored: &[u8]) -> bool {
        self.fingerprint.ct_eq(stored).into()
    }

    /// nonce (12 bytes) || ciphertext and tag; the user id is bound as associated data.
    pub fn encrypt(&self, user_id: &str, password: &str) -> Vec<u8> {
        let nonce = random::<12>();
        let ct = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: password.as_bytes(), aad: user_id.as_bytes() })
            .expect("AES-GCM encryption cannot fail for these sizes");
        let mut out = nonce.to_vec();
        out.extend(ct);
        out
    }

    pub fn decrypt(&self, user_id: &str, blob: &[u8]) -> Option<Zeroizing<String>> {
        if blob.len() < 12 + 16 {
            return None;
        }
        let pt = self
            .cipher()
            .decrypt(Nonce::from_slice(&blob[..12]), Payload { msg: &blob[12..], aad: user_id.as_bytes() })
            .ok()?;
        String::from_utf8(pt).ok().map(Zeroizing::new)
    }
}

/// What opening the vault did, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    Existing,
    Created,
    Reencrypted { users: usize, why: &'static str },
}

fn explain_mismatch(data: &Path) -> String {
    format!(
        "the configured password-encryption key does not match the key this database was encrypted with. \
         Nothing was changed. To fix it: if you changed PasswordEncryptionKey on purpose, put the old \
         value in PreviousPasswordEncryptionKey and start again (every password is re-encrypted once, \
         in one transaction), or run `redoubt key rotate`; otherwise restore the previous value. If the \
         database used the key file {} before, that file must still be there.",
        key_file_path(data).display()
    )
}

/// Opens the vault for `conn`, creating, checking, setting or rotating the key as described
/// in the module documentation.
pub fn open(conn: &mut Connection, cfg: &KeyConfig) -> Result<(Vault, Opened), VaultError> {
    let data = &cfg.data_folder;
    let stored = db::meta_get(conn, META_FINGERPRINT)?;
    let source = db::meta_get(conn, META_SOURCE)?.map(|s| String::from_utf8_lossy(&s).into_owned());
    let salt = db::meta_get(conn, META_SALT)?;
    let kdf = match db::meta_get(conn, META_KDF)? {
        Some(text) => Kdf::decode(&String::from_utf8_lossy(&text)).ok_or_else(|| {
            VaultError::Corrupt(format!("unreadable key parameters {:?}", String::from_utf8_lossy(&text)))
        })?,
        None => KDF_BEFORE_0_2,
    };
    let passphrase = cfg.passphrase.as_ref().filter(|p| !p.is_empty());
    let may_change = |what: &str| {
        if cfg.may_transition {
            Ok(())
        } else {
            Err(VaultError::TransitionForbidden(format!(
                "{what} is needed, but a running redoubt daemon holds this data folder and the key in use: stop \
                 it first, then run this again (or start the daemon with the new settings). Nothing was changed."
            )))
        }
    };

    let Some(stored) = stored else {
        // A new database: establish the key.
        may_change("a new password-encryption key")?;
        let (vault, src, salt) = match passphrase {
            Some(p) => {
                strong_enough(p, "PasswordEncryptionKey")?;
                let salt = random::<16>().to_vec();
                (Vault::from_key(derive(p, &salt, KDF)?)?, "passphrase", Some(salt))
            }
            None => {
                let path = key_file_path(data);
                let key = match read_key_file(&path)? {
                    Some(k) => k,
                    None => create_key_file(&path)?,
                };
                (Vault::from_key(key)?, "file", None)
            }
        };
        let tx = conn.transaction()?;
        let users: i64 = tx.query_row("SELECT count(*) FROM users WHERE password IS NOT NULL", [], |r| r.get(0))?;
        if users > 0 {
            return Err(VaultError::Corrupt("passwords exist but no key fingerprint is stored".into()));
        }
        store_key_meta(&tx, &vault, src, salt.as_deref())?;
        tx.commit()?;
        return Ok((vault, Opened::Created));
    };

    // The current configuration, when it matches.
    let current = match (passphrase, source.as_deref()) {
        (Some(p), _) => {
            // With a passphrase source, the stored salt; otherwise (first-time set) it cannot
            // match and a new salt is made below.
            match (source.as_deref(), &salt) {
                (Some("passphrase"), Some(salt)) => Some(Vault::from_key(derive(p, salt, kdf)?)?),
                _ => None,
            }
        }
        (None, Some("file")) => match read_key_file(&key_file_path(data))? {
            Some(k) => Some(Vault::from_key(k)?),
            None => {
                return Err(VaultError::WrongKey(format!(
                    "the key file {} is missing, and this database's passwords are encrypted with it. \
                     Nothing was changed. Restore the file from a backup (it is 64 hex digits, mode 0600); \
                     without it every user needs a new password (`redoubt user passwd NAME`).",
                    key_file_path(data).display()
                )))
            }
        },
        (None, _) => {
            return Err(VaultError::WrongKey(
                "this database's passwords are encrypted with a PasswordEncryptionKey, which is not set now. \
                 Nothing was changed. Set it again (configuration file, REDOUBT_PASSWORDENCRYPTIONKEY, or the \
                 systemd credential password-encryption-key)."
                    .into(),
            ))
        }
    };
    if let Some(v) = current {
        if v.matches(&stored) {
            if passphrase.is_some_and(|p| p.chars().count() < MIN_PASSPHRASE_CHARS) || kdf != KDF {
                tracing::warn!(
                    "the password-encryption key was made from a passphrase shorter than {MIN_PASSPHRASE_CHARS} \
                     characters or with weaker argon2id parameters ({}); rotate it (`redoubt key rotate`) to one \
                     of at least {MIN_PASSPHRASE_CHARS} characters",
                    kdf.encode()
                );
            }
            return Ok((v, Opened::Existing));
        }
    }

    // Not the current key: one of the two transitions, or a mismatch.
    let Some(new_pass) = passphrase else {
        return Err(VaultError::WrongKey(explain_mismatch(data)));
    };
    let (old, why) = if source.as_deref() == Some("file") {
        match read_key_file(&key_file_path(data))? {
            Some(k) => (Vault::from_key(k)?, "PasswordEncryptionKey set for the first time"),
            None => return Err(VaultError::WrongKey(explain_mismatch(data))),
        }
    } else {
        match (cfg.previous.as_ref().filter(|p| !p.is_empty()), &salt) {
            (Some(prev), Some(salt)) => {
                (Vault::from_key(derive(prev, salt, kdf)?)?, "rotated from PreviousPasswordEncryptionKey")
            }
            _ => return Err(VaultError::WrongKey(explain_mismatch(data))),
        }
    };
    if !old.matches(&stored) {
        return Err(VaultError::WrongKey(explain_mismatch(data)));
    }
    may_change(&format!("re-encrypting every password ({why})"))?;
    strong_enough(new_pass, "PasswordEncryptionKey")?;
    let new_salt = random::<16>().to_vec();
    let new = Vault::from_key(derive(new_pass, &new_salt, KDF)?)?;
    let users = reencrypt(conn, &old, &new, "passphrase", Some(&new_salt))?;
    erase_old_pages(conn)?;
    if source.as_deref() == Some("file") {
        // The database no longer needs it; a stale key file is only a liability. The new
        // ciphertexts are in the database file itself by now (erase_old_pages checkpointed).
        let _ = std::fs::remove_file(key_file_path(data));
    }
    Ok((new, Opened::Reencrypted { users, why }))
}

/// After a re-encryption: the old ciphertexts must not linger in free pages or in the WAL.
/// `secure_delete` zeroes what is freed, VACUUM rewrites the file without free pages, and a
/// truncating checkpoint moves everything into the database file and empties the WAL.
fn erase_old_pages(conn: &Connection) -> Result<(), VaultError> {
    conn.pragma_update(None, "secure_delete", true)?;
    conn.execute_batch("VACUUM")?;
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    if busy != 0 {
        return Err(VaultError::Corrupt(
            "could not checkpoint the database after re-encrypting (another connection is reading it); the \
             passwords are re-encrypted and safe, start again to finish"
                .into(),
        ));
    }
    Ok(())
}

fn store_key_meta(conn: &Connection, vault: &Vault, source: &str, salt: Option<&[u8]>) -> rusqlite::Result<()> {
    db::meta_set(conn, META_FINGERPRINT, &vault.fingerprint)?;
    db::meta_set(conn, META_SOURCE, source.as_bytes())?;
    match salt {
        Some(s) => {
            db::meta_set(conn, META_SALT, s)?;
            db::meta_set(conn, META_KDF, KDF.encode().as_bytes())
        }
        None => conn.execute("DELETE FROM meta WHERE key IN (?1, ?2)", [META_SALT, META_KDF]).map(drop),
    }
}

/// Re-encrypts every password from `old` to `new` in one transaction.
pub fn reencrypt(
    conn: &mut Connection,
    old: &Vault,
    new: &Vault,
    source: &str,
    salt: Option<&[u8]>,
) -> Result<usize, VaultError> {
    // Freed cell space is zeroed: an old ciphertext does not survive beside its replacement.
    conn.pragma_update(None, "secure_delete", true)?;
    let tx = conn.transaction()?;
    let rows: Vec<(String, Vec<u8>)> = {
        let mut st = tx.prepare("SELECT id, password FROM users WHERE password IS NOT NULL")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        rows
    };
    for (id, blob) in &rows {
        let pw = old.decrypt(id, blob).ok_or_else(|| {
            VaultError::Corrupt(format!(
                "the password of user id {id} does not decrypt with the old key; nothing was changed"
            ))
        })?;
        tx.execute("UPDATE users SET password = ?1 WHERE id = ?2", rusqlite::params![new.encrypt(id, &pw), id])?;
    }
    store_key_meta(&tx, new, source, salt)?;
    tx.commit()?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (PathBuf, Connection) {
        let dir = std::env::temp_dir().join(format!("redoubt-vault-{}", db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = db::open(&db::path(&dir)).unwrap();
        (dir, conn)
    }

    fn cfg(dir: &Path, pass: Option<&str>, prev: Option<&str>) -> KeyConfig {
        KeyConfig {
            data_folder: dir.to_path_buf(),
            passphrase: pass.map(|p| Zeroizing::new(p.to_string())),
            previous: prev.map(|p| Zeroizing::new(p.to_string())),
            may_transition: true,
        }
    }

    fn blob(conn: &Connection, id: &str) -> Vec<u8> {
        conn.query_row("SELECT password FROM users WHERE id = ?1", [id], |r| r.get(0)).unwrap()
    }

    /// The database file and its WAL, as bytes on disk.
    fn on_disk(dir: &Path) -> Vec<u8> {
        let mut all = std::fs::read(db::path(dir)).unwrap();
        all.extend(std::fs::read(dir.join("redoubt.db-wal")).unwrap_or_default());
        all
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn add_user(conn: &Connection, v: &Vault, id: &str, pw: &str) {
        conn.execute(
            "INSERT INTO users (id, name, password, created_at, updated_at) VALUES (?1, ?1, ?2, 0, 0)",
            rusqlite::params![id, v.encrypt(id, pw)],
        )
        .unwrap();
    }

    fn pw(conn: &Connection, v: &Vault, id: &str) -> String {
        let blob: Vec<u8> = conn.query_row("SELECT password FROM users WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        v.decrypt(id, &blob).unwrap().to_string()
    }

    /// RFC 4231 test case 2 ("Jefe"): HMAC pads a key to the block with zeros, so the key
    /// padded to 32 bytes gives the RFC's MAC.
    #[test]
    fn hmac_is_rfc_4231() {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac(&key, b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_ne!(hmac_sha256(&key, &[b"ab", b"c"]), hmac_sha256(&key, &[b"a", b"bc"]), "parts are framed");
    }

    #[test]
    fn ciphertexts_are_bound_to_their_user() {
        let v = Vault::from_key(SecretKey::new(&[1; 32]).unwrap()).unwrap();
        let c = v.encrypt("alice", "secret");
        assert_eq!(v.decrypt("alice", &c).unwrap().as_str(), "secret");
        assert!(v.decrypt("bob", &c).is_none());
        assert_ne!(v.encrypt("alice", "secret"), c, "random nonce");
    }

    #[test]
    fn key_file_is_random_private_and_checked() {
        let (dir, mut conn) = setup();
        let (v, how) = open(&mut conn, &cfg(&dir, None, None)).unwrap();
        assert_eq!(how, Opened::Created);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode() & 0o777, 0o600);
        add_user(&conn, &v, "u1", "pw1");
        let (v2, how) = open(&mut conn, &cfg(&dir, None, None)).unwrap();
        assert_eq!(how, Opened::Existing);
        assert_eq!(pw(&conn, &v2, "u1"), "pw1");
        // Another install gets another key (CVE-2023-51442: no built-in secret).
        let (dir2, mut conn2) = setup();
        let (other, _) = open(&mut conn2, &cfg(&dir2, None, None)).unwrap();
        assert_ne!(other.fingerprint_hex(), v.fingerprint_hex());
        // A replaced key file is refused.
        std::fs::write(dir.join(KEY_FILE), format!("{}\n", "ab".repeat(32))).unwrap();
        assert!(matches!(open(&mut conn, &cfg(&dir, None, None)), Err(VaultError::WrongKey(_))));
    }

    #[test]
    fn first_time_set_then_two_rotations_keep_every_password() {
        let (dir, mut conn) = setup();
        let (v, _) = open(&mut conn, &cfg(&dir, None, None)).unwrap();
        add_user(&conn, &v, "u1", "pw1");
        add_user(&conn, &v, "u2", "pw2");
        let (v, how) = open(&mut conn, &cfg(&dir, Some("first passphrase"), None)).unwrap();
        assert_eq!(how, Opened::Reencrypted { users: 2, why: "PasswordEncryptionKey set for the first time" });
        assert!(!dir.join(KEY_FILE).exists());
        assert_eq!(pw(&conn, &v, "u2"), "pw2");
        // Wrong passphrase: refused, nothing changed.
        assert!(matches!(open(&mut conn, &cfg(&dir, Some("nope nope nope"), None)), Err(VaultError::WrongKey(_))));
        assert!(matches!(open(&mut conn, &cfg(&dir, None, None)), Err(VaultError::WrongKey(_))));
        let (v1, _) = open(&mut conn, &cfg(&dir, Some("first passphrase"), None)).unwrap();
        assert_eq!(pw(&conn, &v1, "u1"), "pw1");
        for (old, new) in [("first passphrase", "second passphrase"), ("second passphrase", "third passphrase")] {
            let (v, how) = open(&mut conn, &cfg(&dir, Some(new), Some(old))).unwrap();
            assert!(matches!(how, Opened::Reencrypted { users: 2, .. }));
            assert_eq!(pw(&conn, &v, "u1"), "pw1");
            assert_eq!(pw(&conn, &v, "u2"), "pw2");
            // Starting again with the same settings is a no-op.
            assert_eq!(open(&mut conn, &cfg(&dir, Some(new), Some(old))).unwrap().1, Opened::Existing);
        }
    }

    #[test]
    fn argon2_parameters_are_explicit_stored_and_old_ones_still_open() {
        const { assert!(KDF.m_kib >= 19 * 1024 && KDF.t >= 2, "at or above OWASP's floor") };
        const { assert!(KDF.m_kib > KDF_BEFORE_0_2.m_kib) };
        let (dir, mut conn) = setup();
        let (v, _) = open(&mut conn, &cfg(&dir, Some("a long enough passphrase"), None)).unwrap();
        let kdf = db::meta_get(&conn, META_KDF).unwrap().unwrap();
        assert_eq!(Kdf::decode(&String::from_utf8(kdf).unwrap()), Some(KDF));
        add_user(&conn, &v, "u1", "pw1");
        // A database from before the parameters were stored: the old defaults, found again.
        let (dir2, mut old) = setup();
        let salt = random::<16>().to_vec();
        let legacy = Vault::from_key(derive("an older passphrase", &salt, KDF_BEFORE_0_2).unwrap()).unwrap();
        store_key_meta(&old, &legacy, "passphrase", Some(&salt)).unwrap();
        old.execute("DELETE FROM meta WHERE key = ?1", [META_KDF]).unwrap();
        add_user(&old, &legacy, "u1", "pw1");
        let (v, how) = open(&mut old, &cfg(&dir2, Some("an older passphrase"), None)).unwrap();
        assert_eq!(how, Opened::Existing, "a change of defaults is not a wrong key");
        assert_eq!(pw(&old, &v, "u1"), "pw1");
    }

    #[test]
    fn short_passphrases_make_no_key_and_change_nothing() {
        let (dir, mut conn) = setup();
        assert!(matches!(open(&mut conn, &cfg(&dir, Some("short"), None)), Err(VaultError::WeakPassphrase(_))));
        assert!(db::meta_get(&conn, META_FINGERPRINT).unwrap().is_none());
        let (v, _) = open(&mut conn, &cfg(&dir, None, None)).unwrap();
        add_user(&conn, &v, "u1", "pw1");
        let e = open(&mut conn, &cfg(&dir, Some("elevenchars"), None)).err().unwrap();
        assert!(e.to_string().contains("at least 12"), "{e}");
        assert!(dir.join(KEY_FILE).exists(), "the key file is still in use");
        let (v, _) = open(&mut conn, &cfg(&dir, None, None)).unwrap();
        assert_eq!(pw(&conn, &v, "u1"), "pw1");
    }

    #[test]
    fn transitions_are_refused_while_a_daemon_holds_the_key() {
        let (dir, mut conn) = setup();
        let (v, _) = open(&mut conn, &cfg(&dir, None, None)).unwrap();
        add_user(&conn, &v, "u1", "pw1");
        let mut held = cfg(&dir, Some("a new passphrase here"), None);
        held.may_transition = false;
        let e = open(&mut conn, &held).err().unwrap();
        assert!(matches!(e, VaultError::TransitionForbidden(_)) && e.to_string().contains("stop it first"), "{e}");
        assert!(dir.join(KEY_FILE).exists());
        // Opening with the key in use is fine.
        held.passphrase = None;
        assert_eq!(open(&mut conn, &held).unwrap().1, Opened::Existing);
    }

    #[test]
    fn re_encryption_leaves_no_old_ciphertext_on_disk_and_the_key_file_goes_last() {
        let (dir, mut conn) = setup();
        let (v, _) = open(&mut conn, &cfg(&dir, None, None)).unwrap();
        // Enough rows to spread over pages, some freed along the way.
        for i in 0..200 {
            add_user(&conn, &v, &format!("u{i}"), &format!("password number {i} {}", "x".repeat(i % 50)));
        }
        let old: Vec<Vec<u8>> = (0..200).map(|i| blob(&conn, &format!("u{i}"))).collect();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        assert!(contains(&on_disk(&dir), &old[7]), "the test can see ciphertexts on disk");
        let (v1, _) = open(&mut conn, &cfg(&dir, Some("the first passphrase"), None)).unwrap();
        // The key file is gone only once the new ciphertexts are in the database file.
        assert!(!dir.join(KEY_FILE).exists());
        assert_eq!(std::fs::metadata(dir.join("redoubt.db-wal")).map(|m| m.len()).unwrap_or(0), 0);
        let main = std::fs::read(db::path(&dir)).unwrap();
        assert!(contains(&main, &blob(&conn, "u7")));
        let mid: Vec<Vec<u8>> = (0..200).map(|i| blob(&conn, &format!("u{i}"))).collect();
        assert_eq!(pw(&conn, &v1, "u3"), "password number 3 xxx");
        let (v2, _) = open(&mut conn, &cfg(&dir, Some("the second passphrase"), Some("the first passphrase"))).unwrap();
        assert_eq!(pw(&conn, &v2, "u3"), "password number 3 xxx");
        let disk = on_disk(&dir);
        for (i, c) in old.iter().chain(mid.iter()).enumerate() {
            assert!(!contains(&disk, c), "ciphertext {i} of an old key is still on disk");
        }
    }
}
