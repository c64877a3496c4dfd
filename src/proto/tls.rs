//! HTTPS (TLSCert/TLSKey) across the process boundaries. The supervisor reads both files; the
//! front gets only the certificate chain ([`TlsChain`]), the broker only the private key
//! ([`TlsKey`]). The front's one use of the key is [`super::Request::TlsSign`]: a TLS 1.3
//! server CertificateVerify signature, which the broker checks is nothing else
//! ([`is_tls13_server_verify`]) before it signs (docs/security.md T31, T32).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The signature schemes TLS 1.3 allows in CertificateVerify that the ring provider signs
/// with (RFC 8446 4.2.3: no PKCS#1 v1.5, no SHA-1), as their TLS code points.
pub const TLS13_SCHEMES: [u16; 6] = [
    0x0403, // ecdsa_secp256r1_sha256
    0x0503, // ecdsa_secp384r1_sha384
    0x0807, // ed25519
    0x0804, // rsa_pss_rsae_sha256
    0x0805, // rsa_pss_rsae_sha384
    0x0806, // rsa_pss_rsae_sha512
];

/// What a TLS 1.3 server signs (RFC 8446 4.4.3): 64 spaces, this context string with its NUL,
/// then the transcript hash.
const SERVER_VERIFY_CONTEXT: &[u8] = b"TLS 1.3, server CertificateVerify\0";

/// Whether `message` is a TLS 1.3 server CertificateVerify input: the fixed prefix, then a
/// SHA-256 or SHA-384 transcript hash and nothing more. Anything else is refused, so the
/// broker's signing oracle cannot sign a TLS 1.2 handshake, a certificate, or any document.
pub fn is_tls13_server_verify(message: &[u8]) -> bool {
    let prefix = 64 + SERVER_VERIFY_CONTEXT.len();
    message.len() > prefix
        && message[..64].iter().all(|b| *b == b' ')
        && &message[64..prefix] == SERVER_VERIFY_CONTEXT
        && matches!(message.len() - prefix, 32 | 48)
}

/// The leaf certificate's SHA-256: names which key a signature must come from, so that a
/// reload never pairs a certificate with another one's key.
pub type LeafId = [u8; 32];

pub fn leaf_id(leaf_der: &[u8]) -> LeafId {
    Sha256::digest(leaf_der).into()
}

/// The public half, for the front: the chain (DER, leaf first) and the schemes its key signs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TlsChain {
    pub certs: Vec<serde_bytes::ByteBuf>,
    /// TLS code points, a subset of [`TLS13_SCHEMES`].
    pub schemes: Vec<u16>,
}

impl TlsChain {
    pub fn leaf(&self) -> LeafId {
        leaf_id(self.certs.first().map(|c| c.as_slice()).unwrap_or_default())
    }
}

/// How the private key's DER is wrapped.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyFormat {
    Pkcs8,
    /// `EC PRIVATE KEY`.
    Sec1,
    /// `RSA PRIVATE KEY`.
    Pkcs1,
}

/// The private half, for the broker only: the key and the leaf certificate it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TlsKey {
    pub leaf: LeafId,
    pub format: KeyFormat,
    pub der: SecretBytes,
}

/// Key bytes: never printed, zeroed when dropped.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecretBytes(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_input(hash_len: usize) -> Vec<u8> {
        let mut m = vec![b' '; 64];
        m.extend_from_slice(SERVER_VERIFY_CONTEXT);
        m.extend(std::iter::repeat_n(0xab, hash_len));
        m
    }

    #[test]
    fn only_tls13_server_verify_inputs_pass() {
        assert!(is_tls13_server_verify(&verify_input(32)));
        assert!(is_tls13_server_verify(&verify_input(48)));
        assert!(!is_tls13_server_verify(&verify_input(0)));
        assert!(!is_tls13_server_verify(&verify_input(33)), "a hash and something appended");
        let mut client = verify_input(32);
        client[64..64 + 11].copy_from_slice(b"TLS 1.3, cl");
        assert!(!is_tls13_server_verify(&client), "the client's context");
        let mut shifted = verify_input(32);
        shifted[0] = b'x';
        assert!(!is_tls13_server_verify(&shifted));
        assert!(!is_tls13_server_verify(b"any document at all"));
    }

    #[test]
    fn key_bytes_never_print() {
        let k = TlsKey { leaf: [0; 32], format: KeyFormat::Pkcs8, der: SecretBytes(b"PRIVATE".to_vec()) };
        assert!(!format!("{k:?}").contains("PRIVATE"));
    }
}
