//! The front's HTTP layer: axum routes and the tower-http layers every answer passes through.
//!
//! | path (below BaseUrl) | answered by | authentication |
//! |---|---|---|
//! | `/rest/<method>` | `rest.rs` through the method table (`methods.rs`) | its parameters (or ExtAuth); never the web session cookie |
//! | `/auth/<what>` | `auth.rs` | the session cookie and the CSRF token |
//! | anything else | 404 | |
//!
//! Layers, outermost first: security headers on every answer; compression (gzip or brotli,
//! when the client asks, for text answers only, never media or ranges); on `/rest` only,
//! permissive CORS (preflight answered 204 without authentication). `/rest` may be permissive
//! because its credentials travel in parameters, which a foreign page cannot learn; the
//! cookie-authenticated `/auth` has no CORS at all.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use axum::{Extension, Router};
use http_body_util::{BodyExt, Limited};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowHeaders, Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

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

pub fn router(front: Arc<Front>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::HEAD])
        // Whatever the client's preflight asks for: no header carries credentials on /rest.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(EXPOSED)
        .max_age(Duration::from_secs(86400));
    let rest =
        Router::new().route("/rest/{*method}", any(rest)).layer(cors).layer(middleware::from_fn(preflight_no_content));
    let routes = rest.route("/auth/{*what}", any(auth));
    let routes = if front.base_url.is_empty() { routes } else { Router::new().nest(&front.base_url, routes) };
    routes
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found\n").map(AxumBody::new) })
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .no_deflate()
                .no_zstd()
                // Brotli's default (11) is for files compressed once, not for every answer.
                .quality(CompressionLevel::Precise(4))
                .compress_when(SizeAbove::new(super::cache::COMPRESS_ABOVE as u64).and(compressible)),
        )
        .layer(if_missing(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(if_missing(header::REFERRER_POLICY, "no-referrer"))
        .layer(if_missing(header::X_FRAME_OPTIONS, "DENY"))
        // API answers are data, never a page: nothing in them may run or be framed. The UI's
        // pages set their own policy.
        .layer(if_missing(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ))
        .with_state(front)
}

fn if_missing(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Text answers are compressed; audio, images and anything else are sent as they are.
fn compressible(_: StatusCode, _: axum::http::Version, headers: &HeaderMap, _: &axum::http::Extensions) -> bool {
    let Some(ctype) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    super::cache::compressible(ctype)
}

/// tower-http answers a preflight 200; the usual answer, and what clients expect, is 204.
async fn preflight_no_content(req: Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut r = next.run(req).await;
    if preflight && r.status() == StatusCode::OK {
        *r.status_mut() = StatusCode::NO_CONTENT;
    }
    r
}

async fn rest(
    State(front): State<Arc<Front>>,
    Path(method): Path<String>,
    Extension(conn): Extension<Conn>,
    req: Request,
) -> Response {
    front.rest_request(&method, req, conn.peer).await.map(AxumBody::new)
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

impl Front {
    /// A `/rest/<method>` request: parameters from the query and a form body, then
    /// [`Front::rest`].
    async fn rest_request(&self, method: &str, req: Request, peer: Option<IpAddr>) -> HttpResponse {
        let peer = self.peer(peer, req.headers());
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
        let head = parts.method == Method::HEAD;
        // Any body is read whole, within the deadline, so a client trickling one is cut off.
        if !axum::body::HttpBody::is_end_stream(&body) {
            match self.read_body(body).await {
                Ok(body) if parts.method == Method::POST && is_form => params.extend_form(&body),
                Ok(_) => {}
                Err(r) => return r,
            }
        }
        self.rest(method, &params, &parts.headers, &peer, head).await
    }

    /// A request body, at most [`MAX_BODY`] bytes, arriving within `Limits.RequestTimeout`.
    pub async fn read_body(&self, body: AxumBody) -> Result<bytes::Bytes, HttpResponse> {
        match tokio::time::timeout(self.request_timeout, Limited::new(body, MAX_BODY).collect()).await {
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
