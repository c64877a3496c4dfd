//! HTTPS in the front without the private key: rustls (TLS 1.3 only) with a signing key whose
//! every signature is the broker's ([`crate::proto::Request::TlsSign`]). The front holds the
//! certificate chain, which is public; the supervisor hands it a new one after SIGHUP.
//!
//! rustls signs synchronously, in the middle of a handshake polled on a runtime worker. The
//! signature is one round trip to the broker, so the signer leaves the worker to the other
//! connections while it waits (`block_in_place`), and at most [`HANDSHAKES`] handshakes past
//! their ClientHello run at once, so that those waits never use up the runtime's blocking
//! threads. Reading a ClientHello takes no such place, and every step has a deadline
//! (Limits.RequestTimeout).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::{Acceptor, ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{ServerConfig, SignatureAlgorithm, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;

use super::Broker;
use crate::proto::tls::{LeafId, TlsChain};
use crate::proto::{Reply, Request};

/// Handshakes between ClientHello and Finished at once (the front's runtime has 8 blocking
/// threads; each waiting signature holds one).
pub const HANDSHAKES: usize = 4;

/// How long one signature may take the broker.
const SIGN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Tls {
    config: Arc<ServerConfig>,
    current: Arc<Current>,
    broker: Broker,
    runtime: tokio::runtime::Handle,
    handshakes: Semaphore,
    timeout: Duration,
}

/// The chain new handshakes are served, swapped whole on reload.
struct Current(RwLock<Arc<CertifiedKey>>);

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Current")
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

impl Tls {
    /// Must be called on the front's (multi-threaded) runtime.
    pub fn new(chain: &TlsChain, broker: Broker, timeout: Duration) -> Result<Arc<Tls>, String> {
        let runtime = tokio::runtime::Handle::current();
        let certified = certified(chain, &broker, &runtime)?;
        let current = Arc::new(Current(RwLock::new(certified)));
        let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(Tls {
            config: Arc::new(config),
            current,
            broker,
            runtime,
            handshakes: Semaphore::new(HANDSHAKES),
            timeout,
        }))
    }

    /// A new chain from the supervisor (SIGHUP): handshakes from now on are served it.
    pub fn replace(&self, chain: &TlsChain) -> Result<(), String> {
        let new = certified(chain, &self.broker, &self.runtime)?;
        *self.current.0.write().unwrap_or_else(|p| p.into_inner()) = new;
        Ok(())
    }

    /// The TLS handshake on an accepted connection.
    pub async fn accept<S>(&self, io: S) -> Result<TlsStream<S>, String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let start = tokio::time::timeout(self.timeout, LazyConfigAcceptor::new(Acceptor::default(), io))
            .await
            .map_err(|_| "no ClientHello in time".to_string())?
            .map_err(|e| format!("ClientHello: {e}"))?;
        let _place = self.handshakes.acquire().await.map_err(|e| e.to_string())?;
        tokio::time::timeout(self.timeout, start.into_stream(self.config.clone()))
            .await
            .map_err(|_| "handshake not finished in time".to_string())?
            .map_err(|e| format!("handshake: {e}"))
    }
}

fn certified(chain: &TlsChain, broker: &Broker, runtime: &tokio::runtime::Handle) -> Result<Arc<CertifiedKey>, String> {
    let certs: Vec<_> = chain.certs.iter().map(|c| rustls::pki_types::CertificateDer::from(c.to_vec())).collect();
    if certs.is_empty() {
        return Err("TLS: an empty certificate chain".into());
    }
    let schemes: Vec<SignatureScheme> = chain.schemes.iter().map(|s| SignatureScheme::from(*s)).collect();
    let algorithm = match schemes.first() {
        Some(SignatureScheme::ECDSA_NISTP256_SHA256 | SignatureScheme::ECDSA_NISTP384_SHA384) => {
            SignatureAlgorithm::ECDSA
        }
        Some(SignatureScheme::ED25519) => SignatureAlgorithm::ED25519,
        Some(_) => SignatureAlgorithm::RSA,
        None => return Err("TLS: the key signs with no TLS 1.3 scheme".into()),
    };
    let key = BrokerKey { leaf: chain.leaf(), schemes, algorithm, broker: broker.clone(), runtime: runtime.clone() };
    Ok(Arc::new(CertifiedKey::new(certs, Arc::new(key))))
}

/// The key as the front knows it: which certificate it belongs to and how it signs. Signing
/// is asking the broker.
#[derive(Clone)]
struct BrokerKey {
    leaf: LeafId,
    schemes: Vec<SignatureScheme>,
    algorithm: SignatureAlgorithm,
    broker: Broker,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for BrokerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerKey").field("schemes", &self.schemes).finish_non_exhaustive()
    }
}

impl SigningKey for BrokerKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = *self.schemes.iter().find(|s| offered.contains(s))?;
        Some(Box::new(BrokerSigner { key: self.clone(), scheme }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }
}

#[derive(Debug)]
struct BrokerSigner {
    key: BrokerKey,
    scheme: SignatureScheme,
}

impl Signer for BrokerSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let req = Request::TlsSign {
            leaf: self.key.leaf,
            scheme: u16::from(self.scheme),
            message: serde_bytes::ByteBuf::from(message.to_vec()),
        };
        let broker = &self.key.broker;
        // Off the worker: the runtime hands this thread's other tasks to another thread
        // while the broker answers.
        let answer = tokio::task::block_in_place(|| {
            self.key.runtime.block_on(tokio::time::timeout(SIGN_TIMEOUT, broker.call(&req, &[])))
        });
        let failed = |why: String| {
            tracing::warn!("TLS handshake: the broker did not sign: {why}");
            Err(rustls::Error::General(why))
        };
        match answer {
            Ok(Ok(r)) => match r.body {
                Reply::Signature(Ok(sig)) => Ok(sig.into_vec()),
                Reply::Signature(Err(why)) => failed(why),
                other => failed(format!("unexpected answer {}", variant(&other))),
            },
            Ok(Err(e)) => failed(e.to_string()),
            Err(_) => failed(format!("no answer within {} s", SIGN_TIMEOUT.as_secs())),
        }
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

fn variant(r: &Reply) -> String {
    let s = format!("{r:?}");
    s.split(['(', ' ', '{']).next().unwrap_or_default().to_string()
}
