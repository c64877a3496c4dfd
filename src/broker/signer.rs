//! The HTTPS private key (TLSKey) and the one thing the front may do with it: have a TLS 1.3
//! server handshake signed ([`crate::proto::Request::TlsSign`]). The front holds only the
//! certificate chain; a compromised front can still complete handshakes while it runs, but
//! never reads the key, and the broker signs nothing but a TLS 1.3 server CertificateVerify
//! input (docs/security.md T31, T32).

use std::sync::{Arc, Mutex};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use rustls::sign::SigningKey;
use rustls::SignatureScheme;

use crate::proto::tls::{self, KeyFormat, LeafId, TlsKey};

/// Keys kept: the current one, and the one before it, for handshakes the front began with
/// the old chain while a SIGHUP reload was under way.
const KEPT: usize = 2;

struct Held {
    leaf: LeafId,
    key: Arc<dyn SigningKey>,
    /// The key's DER as the supervisor sent it (zeroed when dropped). The broker is the key
    /// holder; tests/tls.rs finds these bytes in its memory, which shows that the search that
    /// finds nothing in the front's memory would have found them there.
    _der: tls::SecretBytes,
}

#[derive(Default)]
pub struct Signer {
    /// Newest first, at most [`KEPT`].
    keys: Mutex<Vec<Held>>,
}

/// The PEM-decoded key in the form rustls reads. Borrowed: no copy of the bytes is made.
pub fn private_key_der(key: &TlsKey) -> PrivateKeyDer<'_> {
    match key.format {
        KeyFormat::Pkcs8 => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.der.0.as_slice())),
        KeyFormat::Sec1 => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(key.der.0.as_slice())),
        KeyFormat::Pkcs1 => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(key.der.0.as_slice())),
    }
}

/// The key as a rustls signing key (the ring provider's RSA, ECDSA P-256/P-384, Ed25519).
pub fn signing_key(key: &TlsKey) -> Result<Arc<dyn SigningKey>, String> {
    rustls::crypto::ring::sign::any_supported_type(&private_key_der(key))
        .map_err(|e| format!("unsupported or malformed private key: {e}"))
}

impl Signer {
    /// Takes a new key (at start, and after each SIGHUP reload); the oldest beyond [`KEPT`]
    /// is dropped and zeroed.
    pub fn install(&self, key: TlsKey) -> Result<(), String> {
        let signing = signing_key(&key)?;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.retain(|h| h.leaf != key.leaf);
        keys.insert(0, Held { leaf: key.leaf, key: signing, _der: key.der.clone() });
        keys.truncate(KEPT);
        Ok(())
    }

    /// Signs `message` with the key of the certificate `leaf`, if it is a TLS 1.3 server
    /// CertificateVerify input and `scheme` a TLS 1.3 scheme that key signs with.
    pub fn sign(&self, leaf: &LeafId, scheme: u16, message: &[u8]) -> Result<Vec<u8>, String> {
        if !tls::TLS13_SCHEMES.contains(&scheme) {
            return Err(format!("signature scheme {scheme:#06x} is not a TLS 1.3 one"));
        }
        if !tls::is_tls13_server_verify(message) {
            return Err("not a TLS 1.3 server CertificateVerify input".into());
        }
        let key = {
            let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            keys.iter().find(|h| &h.leaf == leaf).map(|h| h.key.clone())
        };
        let key = key.ok_or("no key for that certificate (HTTPS is off, or it was replaced twice since)")?;
        let signer = key
            .choose_scheme(&[SignatureScheme::from(scheme)])
            .ok_or_else(|| format!("the key does not sign with scheme {scheme:#06x}"))?;
        signer.sign(message).map_err(|e| format!("signing: {e}"))
    }
}
