//! The front: the only process facing the network. It parses HTTP, asks the broker (one
//! round trip per request), and renders answers. It holds no files (landlock grants it no
//! path), cannot create sockets or run programs (seccomp), and never decides who a user is:
//! it forwards credentials and the broker answers. The one exception is ExtAuth, where a
//! proxy listed in ExtAuth.TrustedSources vouches for the user in a header.
//!
//! `/rest/<method>` is answered as the method table in `methods.rs` says; `/auth/*` by
//! `auth.rs`; the web UI, `/app/…`, by `ui/`.

pub mod auth;
pub mod body;
pub mod cache;
pub mod http;
pub mod limits;
pub mod media;
pub mod methods;
pub mod metrics;
pub mod params;
pub mod render;
pub mod rest;
pub mod share;
pub mod subsonic;
pub mod tls;
pub mod ui;
pub mod userdata;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use privsep::channel::AsyncChannel;
use privsep::rpc::Client;
use privsep::spawn::take_layout_fd;

use crate::net::Source;
use crate::proto::{fds, Reply, Request, Role};
use crate::role::Started;
pub use body::Body;
use limits::{Admission, Limits, Throttle};
pub use params::Params;

/// Largest request body accepted (Subsonic form POSTs, /auth JSON).
pub const MAX_BODY: usize = 64 * 1024;

pub type Broker = Client<Request, Reply>;
pub type HttpResponse = Response<Body>;

pub struct Front {
    pub broker: Broker,
    pub cache: cache::Cache,
    pub base_url: String,
    pub trusted: Vec<Source>,
    pub user_header: String,
    pub limits: Arc<Limits>,
    /// Limits.RequestTimeout: a request's body must arrive within this.
    pub request_timeout: Duration,
    /// ExtAuth.LogoutURL ("" for none): where the UI's logout goes behind a trusted proxy.
    pub logout_url: String,
    /// TLSCert/TLSKey: the listener itself serves HTTPS.
    pub https: bool,
    /// Prometheus.Enabled: the counters and the endpoint (`metrics.rs`); None: nothing counted.
    pub metrics: Option<metrics::Metrics>,
    /// EnableSharing: `/share/` is served, users have shareRole.
    pub sharing: bool,
    /// ShareURL ("" to derive share links from the request).
    pub share_url: String,
    /// DefaultShareExpiration (0: never), DefaultDownloadableShare: the UI's share form's defaults.
    pub share_expiration_secs: u64,
    pub share_downloadable: bool,
}

/// What the front knows about the peer of one request.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's address for logs and rate limits: the TCP peer, or what a trusted proxy
    /// says in X-Forwarded-For; "unix" for a unix-socket peer.
    pub addr: String,
    /// The TCP/unix peer is in ExtAuth.TrustedSources.
    pub trusted: bool,
    /// Served over HTTPS (a trusted proxy said so in X-Forwarded-Proto).
    pub https: bool,
}

pub fn run(started: Started) -> Result<(), String> {
    let init = started.init;
    // With HTTPS, the supervisor sends new certificate chains on it (SIGHUP).
    let control = init.front.tls.is_some().then(|| started.control.into_fd());
    let broker_fd = crate::role::broker_channel()?;
    let listener_fd = take_layout_fd(fds::LISTENER).ok_or("no listening socket at fd 5")?;
    let trusted = init.front.trusted_sources.iter().map(|s| Source::parse(s)).collect::<Result<Vec<_>, _>>()?;
    // Two workers: with repeated reads answered from the front's cache, the front is the
    // busier side (bench/api.sh: 32,000 -> 38,000 album lists a second on two cores).
    let rt = crate::role::runtime(Role::Front, 2).map_err(|e| e.to_string())?;
    let idle = Duration::from_millis(init.front.idle_timeout_ms);
    rt.block_on(async move {
        let chan = AsyncChannel::new(broker_fd).map_err(|e| e.to_string())?;
        let (broker, reader) = Broker::start(chan);
        let front = Arc::new(Front {
            broker,
            cache: cache::Cache::default(),
            base_url: init.base_url.clone(),
            trusted,
            user_header: init.front.user_header.to_ascii_lowercase(),
            limits: Limits::new(limits::Caps::from_init(&init.front)),
            request_timeout: Duration::from_millis(init.front.request_timeout_ms),
            logout_url: init.front.logout_url.clone(),
            https: init.front.tls.is_some(),
            metrics: init.front.metrics.clone().map(metrics::Metrics::new),
            sharing: init.front.enable_sharing,
            share_url: init.front.share_url.clone(),
            share_expiration_secs: init.front.default_share_expiration_secs,
            share_downloadable: init.front.default_downloadable_share,
        });
        let tls = match &init.front.tls {
            Some(chain) => {
                let tls = tls::Tls::new(chain, front.broker.clone(), front.request_timeout)?;
                if let Some(fd) = control {
                    let chan = AsyncChannel::new(fd).map_err(|e| e.to_string())?;
                    tokio::spawn(new_chains(chan, tls.clone()));
                }
                Some(tls)
            }
            None => None,
        };
        // The UI's catalogue and assets are compiled in; parse and hash them now, so that a
        // broken catalogue stops the front at start rather than failing a page.
        ui::warm_up();
        #[cfg(feature = "test-hooks")]
        {
            let (init, front) = (init.clone(), front.clone());
            tokio::spawn(async move { crate::hooks::front_vouches(&init, &front.broker).await });
        }
        let app = http::App::new(front.clone());
        let accept = async {
            let mut backoff = Backoff::default();
            if init.listener_is_unix {
                let std = std::os::unix::net::UnixListener::from(listener_fd);
                std.set_nonblocking(true).map_err(|e| e.to_string())?;
                let listener = tokio::net::UnixListener::from_std(std).map_err(|e| e.to_string())?;
                loop {
                    match listener.accept().await {
                        Ok((s, _)) => {
                            backoff.reset();
                            match front.limits.admit(None, front.is_trusted(None)) {
                                Ok(a) => serve_connection(app.clone(), tls.clone(), s, None, a, idle),
                                Err(why) => {
                                    refuse(&s);
                                    front.limits.refused("unix", &why);
                                }
                            }
                        }
                        Err(e) => backoff.wait(e).await,
                    }
                }
            } else {
                let std = std::net::TcpListener::from(listener_fd);
                std.set_nonblocking(true).map_err(|e| e.to_string())?;
                let listener = tokio::net::TcpListener::from_std(std).map_err(|e| e.to_string())?;
                loop {
                    match listener.accept().await {
                        Ok((s, peer)) => {
                            backoff.reset();
                            let ip = Some(peer.ip());
                            match front.limits.admit(ip, front.is_trusted(ip)) {
                                Ok(a) => {
                                    let _ = s.set_nodelay(true);
                                    serve_connection(app.clone(), tls.clone(), s, ip, a, idle)
                                }
                                Err(why) => {
                                    refuse(&s);
                                    front.limits.refused(&peer.ip().to_string(), &why);
                                }
                            }
                        }
                        Err(e) => backoff.wait(e).await,
                    }
                }
            }
        };
        tokio::select! {
            r = accept => r,
            end = reader => Err(format!("broker channel ended: {}", end.map(|e| e.to_string()).unwrap_or_default())),
        }
    })
}

/// A connection over a cap: one short answer if the socket takes it at once, then closed.
fn refuse<S: TryWrite>(s: &S) {
    let _ = s.try_write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
    );
}

trait TryWrite {
    fn try_write_all(&self, b: &[u8]) -> std::io::Result<usize>;
}

impl TryWrite for tokio::net::TcpStream {
    fn try_write_all(&self, b: &[u8]) -> std::io::Result<usize> {
        self.try_write(b)
    }
}

impl TryWrite for tokio::net::UnixStream {
    fn try_write_all(&self, b: &[u8]) -> std::io::Result<usize> {
        self.try_write(b)
    }
}

/// Accept errors (EMFILE and friends): wait 50 ms, doubling to 1 s while they last, instead of
/// spinning; logged at most once a second with a count.
#[derive(Default)]
struct Backoff {
    delay_ms: u64,
}

static ACCEPT_ERRORS: Throttle = Throttle::new();

impl Backoff {
    fn reset(&mut self) {
        self.delay_ms = 0;
    }

    async fn wait(&mut self, e: std::io::Error) {
        ACCEPT_ERRORS.note(|held| {
            if held == 0 {
                tracing::warn!("accept: {e}");
            } else {
                tracing::warn!("accept: {e} (and {held} more errors since the last line)");
            }
        });
        self.delay_ms = (self.delay_ms * 2).clamp(50, 1000);
        tokio::time::sleep(Duration::from_millis(self.delay_ms)).await;
    }
}

/// The supervisor's messages after start: a new certificate chain after each SIGHUP reload.
async fn new_chains(chan: AsyncChannel, tls: Arc<tls::Tls>) {
    let mut buf = vec![0u8; privsep::channel::MAX_FRAME];
    loop {
        match chan.recv::<crate::proto::Control>(&mut buf).await.map(|m| m.body) {
            Ok(crate::proto::Control::TlsChain(chain)) => match tls.replace(&chain) {
                Ok(()) => tracing::info!("serving a new certificate chain"),
                Err(e) => tracing::error!("new certificate chain refused: {e}"),
            },
            Ok(other) => tracing::warn!("unexpected control message {other:?}"),
            Err(e) => {
                tracing::debug!("control channel: {e}");
                return;
            }
        }
    }
}

fn serve_connection<S>(
    app: http::App,
    tls: Option<Arc<tls::Tls>>,
    stream: S,
    peer: Option<IpAddr>,
    admission: Admission,
    idle: Duration,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let _admission = admission;
        match tls {
            None => serve_http(app, TokioIo::new(stream), peer, idle).await,
            Some(tls) => match tls.accept(stream).await {
                Ok(stream) => serve_http(app, TokioIo::new(stream), peer, idle).await,
                Err(e) => tracing::debug!("TLS from {}: {e}", peer.map(|p| p.to_string()).unwrap_or("unix".into())),
            },
        }
    });
}

async fn serve_http<S>(app: http::App, io: TokioIo<S>, peer: Option<IpAddr>, idle: Duration)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    {
        let svc =
            service_fn(move |req: hyper::Request<hyper::body::Incoming>| app.clone().serve(req, http::Conn { peer }));
        // hyper's header timer runs whenever the connection waits for a request's headers,
        // so it is also the keep-alive idle timeout (Limits.IdleTimeout). It never runs while
        // an answer (a song) is being sent.
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(idle)
            .serve_connection(io, svc)
            .await;
    }
}

pub fn plain(status: StatusCode, text: &str) -> HttpResponse {
    let mut r = Response::new(Body::full(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A browser's request made by a page of another site (login CSRF, or a page using a proxy's
/// ExtAuth cookie). Browsers send `Sec-Fetch-Site`, and `Origin` on POSTs; clients that send
/// neither are not browsers, and a page cannot forge either.
pub fn cross_site(h: &HeaderMap) -> bool {
    if let Some(site) = header(h, "sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header(h, "origin"), header(h, "host")) {
        (None, _) => false,
        (Some(origin), Some(host)) => {
            let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("null");
            !authority.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
    }
}

impl Front {
    pub fn is_trusted(&self, peer: Option<IpAddr>) -> bool {
        self.trusted.iter().any(|s| s.contains(peer))
    }

    /// The peer as the rules of docs/security.md T18 see it: forwarded headers count only from a
    /// trusted peer.
    pub fn peer(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Peer {
        let trusted = self.is_trusted(peer);
        let direct = peer.map(|p| p.to_string()).unwrap_or_else(|| "unix".into());
        if !trusted {
            return Peer { addr: direct, trusted, https: self.https };
        }
        // The client is the rightmost X-Forwarded-For entry that is not itself a trusted proxy.
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        let addr = forwarded
            .iter()
            .rev()
            .find(|a| !self.trusted.iter().any(|s| s.contains(Some(**a))))
            .or(forwarded.first())
            .map(|a| a.to_string())
            .unwrap_or(direct);
        let https = self.https || header(headers, "x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
        Peer { addr, trusted, https }
    }
}
