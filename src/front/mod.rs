//! The front: the only process facing the network. It parses HTTP, asks the broker (one
//! round trip per request), and renders answers. It holds no files (landlock grants it no
//! path), cannot create sockets or run programs (seccomp), and never decides who a user is:
//! it forwards credentials and the broker answers. The one exception is ExtAuth, where a
//! proxy listed in ExtAuth.TrustedSources vouches for the user in a header.
//!
//! `/rest/<method>` is answered as the method table in `methods.rs` says; `/auth/*` by `auth.rs`.

pub mod auth;
pub mod body;
pub mod cache;
pub mod media;
pub mod methods;
pub mod params;
pub mod render;
pub mod rest;
pub mod subsonic;
pub mod userdata;

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use privsep::channel::AsyncChannel;
use privsep::rpc::Client;
use privsep::spawn::take_layout_fd;

use crate::net::Source;
use crate::proto::{fds, Reply, Request, Role};
use crate::role::Started;
pub use body::Body;
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
    drop(started.control);
    let broker_fd = crate::role::broker_channel()?;
    let listener_fd = take_layout_fd(fds::LISTENER).ok_or("no listening socket at fd 5")?;
    let trusted = init.front.trusted_sources.iter().map(|s| Source::parse(s)).collect::<Result<Vec<_>, _>>()?;
    // Two workers: with repeated reads answered from the front's cache, the front is the
    // busier side (bench/api.sh: 32,000 -> 38,000 album lists a second on two cores).
    let rt = crate::role::runtime(Role::Front, 2).map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let chan = AsyncChannel::new(broker_fd).map_err(|e| e.to_string())?;
        let (broker, reader) = Broker::start(chan);
        let front = Arc::new(Front {
            broker,
            cache: cache::Cache::default(),
            base_url: init.base_url.clone(),
            trusted,
            user_header: init.front.user_header.to_ascii_lowercase(),
        });
        #[cfg(feature = "test-hooks")]
        {
            let (init, front) = (init.clone(), front.clone());
            tokio::spawn(async move { crate::hooks::front_vouches(&init, &front.broker).await });
        }
        let accept = async {
            if init.listener_is_unix {
                let std = std::os::unix::net::UnixListener::from(listener_fd);
                std.set_nonblocking(true).map_err(|e| e.to_string())?;
                let listener = tokio::net::UnixListener::from_std(std).map_err(|e| e.to_string())?;
                loop {
                    match listener.accept().await {
                        Ok((s, _)) => serve_connection(front.clone(), TokioIo::new(s), None),
                        Err(e) => accept_error(e).await,
                    }
                }
            } else {
                let std = std::net::TcpListener::from(listener_fd);
                std.set_nonblocking(true).map_err(|e| e.to_string())?;
                let listener = tokio::net::TcpListener::from_std(std).map_err(|e| e.to_string())?;
                loop {
                    match listener.accept().await {
                        Ok((s, peer)) => {
                            let _ = s.set_nodelay(true);
                            serve_connection(front.clone(), TokioIo::new(s), Some(peer.ip()))
                        }
                        Err(e) => accept_error(e).await,
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

async fn accept_error(e: std::io::Error) {
    // EMFILE and friends: back off briefly instead of spinning.
    tracing::warn!("accept: {e}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

fn serve_connection<S>(front: Arc<Front>, io: TokioIo<S>, peer: Option<IpAddr>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let svc = service_fn(move |req| {
            let front = front.clone();
            async move { Ok::<_, Infallible>(front.handle(req, peer).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(std::time::Duration::from_secs(30))
            .serve_connection(io, svc)
            .await;
    });
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

impl Front {
    /// The peer as the rules of docs/security.md T18 see it: forwarded headers count only from a
    /// trusted peer.
    pub fn peer(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Peer {
        let trusted = self.trusted.iter().any(|s| s.contains(peer));
        let direct = peer.map(|p| p.to_string()).unwrap_or_else(|| "unix".into());
        if !trusted {
            return Peer { addr: direct, trusted, https: false };
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
        let https = header(headers, "x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
        Peer { addr, trusted, https }
    }

    async fn handle(&self, req: hyper::Request<Incoming>, peer: Option<IpAddr>) -> HttpResponse {
        let Some(rest) = req.uri().path().strip_prefix(self.base_url.as_str()) else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let peer = self.peer(peer, req.headers());
        if let Some(method) = rest.strip_prefix("/rest/") {
            let method = method.to_string();
            // Split, so that the headers are borrowed (not copied) while a form body is read.
            let (parts, body) = req.into_parts();
            let mut params = Params(
                form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            );
            let is_form = header(&parts.headers, "content-type")
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let head = parts.method == Method::HEAD;
            if parts.method == Method::POST && is_form {
                match read_body(body).await {
                    Ok(body) => params.extend_form(&body),
                    Err(r) => return r,
                }
            }
            return self.rest(&method, &params, &parts.headers, &peer, head).await;
        }
        if let Some(what) = rest.strip_prefix("/auth/") {
            let what = what.to_string();
            return self.auth(what, req, &peer).await;
        }
        plain(StatusCode::NOT_FOUND, "not found\n")
    }
}

pub async fn read_body(body: Incoming) -> Result<Bytes, HttpResponse> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")),
    }
}
