//! The front's HTTP layer: which path is answered by what, and the tower-http layers every
//! answer passes through.
//!
//! | path (below BaseUrl) | answered by | authentication |
//! |---|---|---|
//! | `/rest/<method>` | `rest.rs` through the method table (`methods.rs`) | its parameters (or ExtAuth); never the web session cookie |
//! | `/auth/<what>` | `auth.rs` | the session cookie and the CSRF token |
//! | `/app/…` | the web UI (`ui/`) | the session cookie (a credential the broker checks), and the CSRF token for every change |
//! | `/share/…` | public shares (`share.rs`) | none: the broker checks the share, and the token on each link |
//! | `/`, `/index.html`, `/login`, `/app` | a redirect to `/app/` | |
//! | Prometheus.MetricsPath (`/metrics`), only with Prometheus.Enabled | `metrics.rs` | its own credential (Basic or bearer), never a Subsonic one |
//! | anything else | 404 | |
//!
//! `/rest` is the hot path and already has its own table, so it is not routed by axum: it
//! runs on a fixed tower stack (security headers, compression, CORS) around the method table,
//! which costs the front about a third of what the same layers cost behind axum's router
//! (bench figures in docs/architecture.md). Every other path goes to an axum `Router` with
//! the same security headers and compression, and no CORS.
//!
//! `/rest` may allow every origin because its credentials travel in parameters, which a
//! foreign page cannot learn; the cookie-authenticated `/auth` and `/app` have no CORS at all.
//! The UI's pages set their own, strict Content-Security-Policy (`ui::csp`); the default
//! below is for everything else.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body as AxumBody, HttpBody};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::{Extension, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tower::util::{MapResponse, MapResponseLayer};
use tower::{Layer, Service, ServiceExt};
use tower_http::compression::predicate::{And, Predicate, SizeAbove};
use tower_http::compression::{Compression, CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowHeaders, Any, Cors, CorsLayer};

use super::methods::{self, CLIENT_INFO};
use super::{plain, Front, HttpResponse, Params, MAX_BODY};

/// What the accept loop knows about a connection, handed to every request on it.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    /// The TCP peer; None for a unix-socket peer.
    pub peer: Option<IpAddr>,
}

/// Headers a player reads from a cross-origin answer.
const EXPOSED: [HeaderName; 5] = [
    header::CONTENT_RANGE,
    header::CONTENT_LENGTH,
    header::ACCEPT_RANGES,
    HeaderName::from_static("x-content-duration"),
    header::RETRY_AFTER,
];

/// Set on every answer that does not set its own (the UI's pages set their own policy).
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    // API answers are data, never a page: nothing in them may run or be framed.
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
];

type Compressible = And<SizeAbove, fn(StatusCode, axum::http::Version, &HeaderMap, &axum::http::Extensions) -> bool>;
type RestStack =
    MapResponse<Compression<Cors<RestEndpoint>, Compressible>, fn(Response<RestBody>) -> Response<RestBody>>;
type RestBody = tower_http::compression::CompressionBody<super::Body>;

/// The whole site: cloned for each request (a few reference counts).
#[derive(Clone)]
pub struct App {
    rest: RestStack,
    site: Router,
    rest_prefix: Arc<str>,
}

impl App {
    pub fn new(front: Arc<Front>) -> App {
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::POST, Method::HEAD])
            // Whatever the client's preflight asks for: no header carries credentials on /rest.
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(EXPOSED)
            .max_age(Duration::from_secs(86400));
        let rest = MapResponseLayer::new(finish_rest as fn(Response<RestBody>) -> Response<RestBody>)
            .layer(compression().layer(cors.layer(RestEndpoint { front: front.clone() })));
        let to_app = |State(front): State<Arc<Front>>| async move { super::ui::to_app(&front).map(AxumBody::new) };
        let routes = Router::new()
            .route("/auth/{*what}", any(auth))
            .route("/app/", any(app_root))
            .route("/app/{*rest}", any(app))
            .route("/app", any(to_app))
            .route("/share/{*rest}", any(share))
            .route("/index.html", any(to_app))
            .route("/login", any(to_app));
        let routes = match &front.metrics {
            Some(m) => routes.route(&m.path, any(metrics)),
            None => routes,
        };
        let routes = if front.base_url.is_empty() {
            routes.route("/", any(to_app))
        } else {
            // `/` and `<BaseUrl>/` both lead to the UI.
            Router::new().nest(&front.base_url, routes.route("/", any(to_app))).route("/", any(to_app))
        };
        let site = routes
            .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found\n").map(AxumBody::new) })
            .layer(compression())
            .layer(MapResponseLayer::new(secure::<AxumBody>))
            .with_state(front.clone());
        App { rest, site, rest_prefix: format!("{}/rest/", front.base_url).into() }
    }

    /// One request, from a connection whose peer is `conn`.
    pub async fn serve(mut self, mut req: hyper::Request<Incoming>, conn: Conn) -> Result<Response, Infallible> {
        req.extensions_mut().insert(conn);
        if req.uri().path().starts_with(&*self.rest_prefix) {
            let r = self.rest.ready().await?.call(req).await?;
            return Ok(r.map(AxumBody::new));
        }
        self.site.oneshot(req).await
    }
}

fn compression() -> CompressionLayer<Compressible> {
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .no_deflate()
        .no_zstd()
        // Brotli's default (11) is for files compressed once, not for every answer.
        .quality(CompressionLevel::Precise(4))
        .compress_when(SizeAbove::new(super::cache::COMPRESS_ABOVE as u64).and(compressible as _))
}

/// Text answers are compressed; audio, images and anything else are sent as they are.
fn compressible(_: StatusCode, _: axum::http::Version, headers: &HeaderMap, _: &axum::http::Extensions) -> bool {
    let Some(ctype) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    super::cache::compressible(ctype)
}

fn secure<B>(mut r: Response<B>) -> Response<B> {
    let h = r.headers_mut();
    // Room for all of them at once: each growth of the map is a reallocation.
    h.reserve(SECURITY_HEADERS.len());
    for (name, value) in SECURITY_HEADERS {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    r
}

/// tower-http answers a preflight 200; the usual answer, and what clients expect, is 204.
/// (Only a preflight answer carries Access-Control-Allow-Methods.)
fn finish_rest(mut r: Response<RestBody>) -> Response<RestBody> {
    if r.status() == StatusCode::OK && r.headers().contains_key(header::ACCESS_CONTROL_ALLOW_METHODS) {
        *r.status_mut() = StatusCode::NO_CONTENT;
    }
    secure(r)
}

/// `/rest/<method>`, below the CORS and compression layers.
#[derive(Clone)]
pub struct RestEndpoint {
    front: Arc<Front>,
}

impl Service<hyper::Request<Incoming>> for RestEndpoint {
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: hyper::Request<Incoming>) -> Self::Future {
        let front = self.front.clone();
        Box::pin(async move {
            let Some(metrics) = &front.metrics else { return Ok(front.rest_request(req).await) };
            let started = std::time::Instant::now();
            let method = req.uri().path().get(front.base_url.len() + "/rest/".len()..).unwrap_or("").to_string();
            let r = front.rest_request(req).await;
            metrics.record(&method, &r, started.elapsed());
            Ok(r)
        })
    }
}

async fn auth(
    State(front): State<Arc<Front>>,
    Path(what): Path<String>,
    Extension(conn): Extension<Conn>,
    req: Request,
) -> Response {
    let peer = front.peer(conn.peer, req.headers());
    front.auth(what, req, &peer).await.map(AxumBody::new)
}

/// Prometheus.MetricsPath (only routed when Prometheus.Enabled): see metrics.rs.
async fn metrics(State(front): State<Arc<Front>>, Extension(conn): Extension<Conn>, req: Request) -> Response {
    let Some(m) = &front.metrics else { return plain(StatusCode::NOT_FOUND, "not found\n").map(AxumBody::new) };
    let peer = front.peer(conn.peer, req.headers());
    m.serve(&front, req.method(), req.headers(), &peer.addr).await.map(AxumBody::new)
}

async fn app(
    State(front): State<Arc<Front>>,
    Path(rest): Path<String>,
    Extension(conn): Extension<Conn>,
    req: Request,
) -> Response {
    front.app(&rest, req, conn.peer).await.map(AxumBody::new)
}

async fn share(
    State(front): State<Arc<Front>>,
    Path(rest): Path<String>,
    Extension(conn): Extension<Conn>,
    req: Request,
) -> Response {
    front.share(&rest, req, conn.peer).await.map(AxumBody::new)
}

async fn app_root(State(front): State<Arc<Front>>, Extension(conn): Extension<Conn>, req: Request) -> Response {
    front.app("", req, conn.peer).await.map(AxumBody::new)
}

impl Front {
    /// A `/rest/<method>` request: parameters from the query and a form body, then
    /// [`Front::rest`].
    async fn rest_request(&self, req: hyper::Request<Incoming>) -> HttpResponse {
        let conn = req.extensions().get::<Conn>().copied().unwrap_or(Conn { peer: None });
        let peer = self.peer(conn.peer, req.headers());
        // Behind a trusted proxy, one forwarded client may not hold every request slot.
        let _in_flight = if peer.trusted {
            match self.limits.request(&peer.addr) {
                Ok(f) => Some(f),
                Err(why) => {
                    self.limits.refused(&peer.addr, &why);
                    return busy();
                }
            }
        } else {
            None
        };
        // Split, so that the headers are borrowed (not copied) while a form body is read.
        let (parts, body) = req.into_parts();
        let method = parts.uri.path().get(self.base_url.len() + "/rest/".len()..).unwrap_or("");
        let mut params = Params(
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        );
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let is_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let head = parts.method == Method::HEAD;
        // The OpenSubsonic spec defines getTranscodeDecision for POST only (its ClientInfo is
        // a body); Navidrome answers other methods 405, and so does this.
        if parts.method != Method::POST && methods::is_post_only(method) {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "POST the ClientInfo as a JSON body\n");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return r;
        }
        // Any body is read whole, within the deadline, so a client trickling one is cut off.
        if !body.is_end_stream() {
            match self.read_body(body).await {
                Ok(body) if parts.method == Method::POST && is_form => params.extend_form(&body),
                // OpenSubsonic getTranscodeDecision: the ClientInfo as a JSON body, passed to
                // the method's parser as its `clientInfo` parameter (which a form may give too).
                Ok(body) if parts.method == Method::POST && is_json => {
                    params.0.push((CLIENT_INFO.into(), String::from_utf8_lossy(&body).into_owned()))
                }
                Ok(_) => {}
                Err(r) => return r,
            }
        }
        self.rest(method, &params, &parts.headers, &peer, head).await
    }

    /// A request body, at most [`MAX_BODY`] bytes, arriving within `Limits.RequestTimeout`.
    pub async fn read_body<B>(&self, body: B) -> Result<Bytes, HttpResponse>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.read_body_up_to(body, MAX_BODY).await
    }

    /// [`Front::read_body`] with another cap (an upload's).
    pub async fn read_body_up_to<B>(&self, body: B, cap: usize) -> Result<Bytes, HttpResponse>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match tokio::time::timeout(self.request_timeout, Limited::new(body, cap).collect()).await {
            Ok(Ok(b)) => Ok(b.to_bytes()),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                Err(closing(plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")))
            }
            Ok(Err(_)) => Err(closing(plain(StatusCode::BAD_REQUEST, "the request body could not be read\n"))),
            Err(_) => Err(closing(plain(StatusCode::REQUEST_TIMEOUT, "the request took too long to arrive\n"))),
        }
    }
}

/// The connection ends after this answer (its request was not read to the end).
fn closing(mut r: HttpResponse) -> HttpResponse {
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn busy() -> HttpResponse {
    let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "too many requests from this client at once\n");
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}
