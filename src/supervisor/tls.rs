//! TLSCert and TLSKey: read and checked by the supervisor, at start and on SIGHUP. The chain
//! goes to the front, the key to the broker; the supervisor keeps neither once sent.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::SignatureScheme;

use crate::config::TlsFiles;
use crate::proto::tls::{self, KeyFormat, SecretBytes, TlsChain, TlsKey};

/// A checked pair: the key parses, is one the ring provider signs TLS 1.3 with, and belongs to
/// the chain's first certificate.
pub struct Pair {
    pub chain: TlsChain,
    pub key: TlsKey,
}

impl Pair {
    /// SHA-256 of the leaf certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub fn fingerprint(&self) -> String {
        self.key.leaf.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
    }
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        let uid = nix::unistd::getuid();
        format!("{what} {}: cannot be read by uid {uid}: {e}", path.display())
    })
}

/// The folders the supervisor's landlock domain lets it read for SIGHUP: those holding each
/// file as named and as its links resolve (certbot's live/ links point into archive/).
pub fn folders(files: &TlsFiles) -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    for f in [&files.cert, &files.key] {
        let resolved = std::fs::canonicalize(f).ok();
        for p in std::iter::once(f.clone()).chain(resolved) {
            if let Some(parent) = p.parent().filter(|d| d.is_dir()) {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

pub fn load(files: &TlsFiles) -> Result<Pair, String> {
    let cert_pem = read("TLSCert", &files.cert)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("TLSCert {}: not a PEM certificate chain: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("TLSCert {}: no CERTIFICATE block in it", files.cert.display()));
    }
    let key_pem = zeroize::Zeroizing::new(read("TLSKey", &files.key)?);
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map(zeroize::Zeroizing::new).map_err(|e| {
        format!(
            "TLSKey {}: no private key in it ({e}); PKCS#8 (PRIVATE KEY), SEC1 (EC PRIVATE KEY) and PKCS#1 (RSA PRIVATE KEY) PEM are read",
            files.key.display()
        )
    })?;
    let (format, der) = match &*key_der {
        PrivateKeyDer::Pkcs8(k) => (KeyFormat::Pkcs8, k.secret_pkcs8_der()),
        PrivateKeyDer::Sec1(k) => (KeyFormat::Sec1, k.secret_sec1_der()),
        PrivateKeyDer::Pkcs1(k) => (KeyFormat::Pkcs1, k.secret_pkcs1_der()),
        _ => return Err(format!("TLSKey {}: an unknown kind of private key", files.key.display())),
    };
    let key = TlsKey { leaf: tls::leaf_id(&certs[0]), format, der: SecretBytes(der.to_vec()) };
    drop(key_der);
    let signing =
        crate::broker::signer::signing_key(&key).map_err(|e| format!("TLSKey {}: {e}", files.key.display()))?;
    let certified = rustls::sign::CertifiedKey::new(certs.clone(), signing.clone());
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(format!(
                "TLSKey {} is not the key of TLSCert {} (the first certificate's public key differs)",
                files.key.display(),
                files.cert.display()
            ))
        }
        Err(e) => return Err(format!("TLSCert {}: {e}", files.cert.display())),
    }
    let schemes: Vec<u16> = tls::TLS13_SCHEMES
        .into_iter()
        .filter(|s| signing.choose_scheme(&[SignatureScheme::from(*s)]).is_some())
        .collect();
    if schemes.is_empty() {
        return Err(format!("TLSKey {}: this key cannot sign any TLS 1.3 handshake", files.key.display()));
    }
    let chain = TlsChain { certs: certs.iter().map(|c| serde_bytes::ByteBuf::from(c.to_vec())).collect(), schemes };
    Ok(Pair { chain, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A throwaway folder with a self-signed certificate for `key_args` (openssl req -newkey),
    /// its key converted by `convert` (openssl subcommand and arguments), or as written.
    struct Made {
        dir: std::path::PathBuf,
    }

    impl Drop for Made {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn openssl(args: &[&str]) {
        let out = Command::new("openssl").args(args).output().expect("openssl CLI");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn make(name: &str, newkey: &[&str], convert: Option<&[&str]>) -> (Made, TlsFiles) {
        let dir = std::env::temp_dir().join(format!("redoubt-test-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-keyout", key.to_str().unwrap(), "-out", cert.to_str().unwrap()]);
        openssl(&args);
        if let Some(conv) = convert {
            let out = dir.join("converted.pem");
            let mut args = conv.to_vec();
            args.extend_from_slice(&["-in", key.to_str().unwrap(), "-out", out.to_str().unwrap()]);
            openssl(&args);
            std::fs::rename(&out, &key).unwrap();
        }
        (Made { dir }, TlsFiles { cert, key })
    }

    #[test]
    fn pkcs8_sec1_and_rsa_keys_load_with_their_schemes() {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let (_m, files) = make("p8", &ec, None);
        let pair = load(&files).unwrap();
        assert_eq!(pair.key.format, KeyFormat::Pkcs8);
        assert_eq!(pair.chain.schemes, vec![0x0403]);
        assert_eq!(pair.chain.leaf(), pair.key.leaf);

        let (_m, files) = make("sec1", &ec, Some(&["ec"]));
        assert!(std::fs::read_to_string(&files.key).unwrap().contains("BEGIN EC PRIVATE KEY"));
        assert_eq!(load(&files).unwrap().key.format, KeyFormat::Sec1);

        let rsa = ["-newkey", "rsa:2048"];
        let (_m, files) = make("rsa", &rsa, Some(&["rsa", "-traditional"]));
        assert!(std::fs::read_to_string(&files.key).unwrap().contains("BEGIN RSA PRIVATE KEY"));
        let pair = load(&files).unwrap();
        assert_eq!(pair.key.format, KeyFormat::Pkcs1);
        assert_eq!(pair.chain.schemes, vec![0x0804, 0x0805, 0x0806], "RSA-PSS only: TLS 1.3 has no PKCS#1 v1.5");
    }

    #[test]
    fn missing_garbled_and_mismatched_files_are_explained() {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let (_a, a) = make("mis-a", &ec, None);
        let (_b, b) = make("mis-b", &ec, None);
        let e = load(&TlsFiles { cert: a.cert.clone(), key: b.key.clone() }).err().unwrap();
        assert!(e.contains("is not the key of TLSCert"), "{e}");
        let e = load(&TlsFiles { cert: a.cert.clone(), key: a.dir().join("nope.pem") }).err().unwrap();
        assert!(e.starts_with("TLSKey") && e.contains("cannot be read"), "{e}");
        let e = load(&TlsFiles { cert: a.key.clone(), key: a.key.clone() }).err().unwrap();
        assert!(e.contains("no CERTIFICATE block"), "{e}");
        let e = load(&TlsFiles { cert: a.cert.clone(), key: a.cert.clone() }).err().unwrap();
        assert!(e.contains("no private key in it"), "{e}");
    }

    impl TlsFiles {
        fn dir(&self) -> &Path {
            self.cert.parent().unwrap()
        }
    }
}
