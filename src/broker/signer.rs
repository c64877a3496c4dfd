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

#[cfg(test)]
mod tests {
    use super::*;

    /// A real P-256 key and its self-signed certificate, made by the openssl CLI and loaded as
    /// the supervisor loads them.
    fn pair(name: &str) -> crate::supervisor::tls::Pair {
        let dir = std::env::temp_dir().join(format!("redoubt-test-signer-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = crate::config::TlsFiles { cert: dir.join("c.pem"), key: dir.join("k.pem") };
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:P-256", "-keyout"])
            .arg(&files.key)
            .arg("-out")
            .arg(&files.cert)
            .output()
            .expect("the openssl CLI");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let pair = crate::supervisor::tls::load(&files).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        pair
    }

    fn verify_input() -> Vec<u8> {
        let mut m = vec![b' '; 64];
        m.extend_from_slice(b"TLS 1.3, server CertificateVerify\0");
        m.extend_from_slice(&[7; 32]);
        m
    }

    /// docs/security.md T32: the oracle signs a TLS 1.3 server CertificateVerify input with the
    /// named certificate's key, and nothing else.
    #[test]
    fn signs_tls13_server_handshakes_and_nothing_else() {
        let (old, new) = (pair("old"), pair("new"));
        let signer = Signer::default();
        assert!(signer.sign(&old.key.leaf, 0x0403, &verify_input()).is_err(), "no key yet");
        signer.install(old.key.clone()).unwrap();
        let sig = signer.sign(&old.key.leaf, 0x0403, &verify_input()).unwrap();
        assert!(sig.len() > 64 && sig[0] == 0x30, "a DER ECDSA signature");
        let e = signer.sign(&old.key.leaf, 0x0403, b"a certificate to sign, or any document").unwrap_err();
        assert!(e.contains("not a TLS 1.3 server CertificateVerify"), "{e}");
        let mut client = verify_input();
        client[64..64 + 16].copy_from_slice(b"TLS 1.3, client ");
        assert!(signer.sign(&old.key.leaf, 0x0403, &client).is_err(), "the client's context");
        let e = signer.sign(&old.key.leaf, 0x0401, &verify_input()).unwrap_err();
        assert!(e.contains("not a TLS 1.3 one"), "rsa_pkcs1_sha256: {e}");
        assert!(signer.sign(&old.key.leaf, 0x0503, &verify_input()).is_err(), "a P-256 key has no P-384 scheme");
        assert!(signer.sign(&new.key.leaf, 0x0403, &verify_input()).is_err(), "another certificate");
        // A reload: both keys serve (handshakes begun on the old chain finish), then the
        // oldest goes.
        signer.install(new.key.clone()).unwrap();
        assert!(signer.sign(&old.key.leaf, 0x0403, &verify_input()).is_ok());
        assert!(signer.sign(&new.key.leaf, 0x0403, &verify_input()).is_ok());
        signer.install(pair("third").key).unwrap();
        assert!(signer.sign(&old.key.leaf, 0x0403, &verify_input()).is_err(), "two reloads ago");
        assert!(signer.sign(&new.key.leaf, 0x0403, &verify_input()).is_ok());
    }
}
