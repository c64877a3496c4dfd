//! The UI's way to the method table, with the web session as the credentials: the player's
//! script, and later pages, use the same parsers and the same broker calls as `/rest`, and
//! the cookie never becomes a credential on `/rest` (which lets any origin in).
//!
//! - `GET|POST /app/api/<method>`: any method of `methods::METHODS`, answered in JSON. A
//!   method whose row says it changes state must come as a POST with the session's CSRF
//!   token (header `X-CSRF-Token`, or form field `_csrf`); the broker checks the token, and
//!   refuses such a call from a session without one.
//! - `GET /app/stream/<id>` (`format`, `maxBitRate`, `timeOffset`, `c` as for `stream`): the
//!   player's audio, with single Range requests (front/media.rs).
//! - `GET /app/art/<id>?size=…`: covers (`getCoverArt`), cacheable by the browser only.
//!
//! Requests a browser marks as coming from another site are refused: the cookie is
//! SameSite=Strict, so such a request is not the user's anyway.

use axum::body::Body as AxumBody;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};

use super::Req;
use crate::front::auth::{cookie, COOKIE_NAME};
use crate::front::methods;
use crate::front::{cross_site, Body, Front, HttpResponse, Params};
use crate::proto::error::{csrf_refused, no_session};
use crate::proto::{ApiError, Client, Credentials, Secret};

/// Parameters the bridge sets itself, or that say who asks (the session does that here).
const NOT_PASSED: &[&str] = &["u", "p", "t", "s", "apiKey", "f", "callback", "v", "_csrf"];

/// A refusal in the Subsonic JSON envelope, with an HTTP status the script can act on.
fn refused(status: StatusCode, e: ApiError) -> HttpResponse {
    let body = serde_json::json!({
        "subsonic-response": {
            "status": "failed",
            "version": crate::front::subsonic::API_VERSION,
            "error": { "code": e.code, "message": e.message },
        }
    });
    let mut r = Response::new(Body::full(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn passed(p: Params) -> Params {
    Params(p.0.into_iter().filter(|(k, _)| !NOT_PASSED.contains(&k.as_str())).collect())
}

impl Front {
    /// The player name for this request: the browser's own (`c`, so that each browser is a
    /// player of its own, with its own caps), else "web".
    fn ui_client(&self, r: &Req, p: &Params) -> Client {
        let name = p.get("c").filter(|c| !c.trim().is_empty()).unwrap_or("web");
        Client { addr: r.peer.addr.clone(), name: name.chars().take(128).collect() }
    }

    pub async fn ui_api(&self, name: &str, r: Req, body: AxumBody) -> HttpResponse {
        if cross_site(&r.headers) {
            tracing::warn!("refused a cross-site request for /app/api/{name} from {}", r.peer.addr);
            return refused(StatusCode::FORBIDDEN, csrf_refused());
        }
        let Some(token) = cookie(&r.headers, COOKIE_NAME) else {
            return refused(StatusCode::UNAUTHORIZED, no_session());
        };
        let mut p = Params(r.query.0.clone());
        let post = r.method == Method::POST;
        let is_form = r
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !axum::body::HttpBody::is_end_stream(&body) {
            match self.read_body(body).await {
                Ok(b) if post && is_form => p.extend_form(&b),
                Ok(_) => {}
                Err(resp) => return resp,
            }
        }
        let csrf = r
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .or_else(|| p.get("_csrf"))
            .filter(|c| !c.is_empty())
            .map(|c| Secret(c.to_string()));
        let method = match methods::find(name) {
            Ok(m) => m,
            Err(e) => return refused(StatusCode::NOT_FOUND, e),
        };
        if method.changes_state && (!post || csrf.is_none()) {
            tracing::warn!("refused {} from the web UI without its CSRF token ({})", method.name, r.peer.addr);
            return refused(StatusCode::FORBIDDEN, csrf_refused());
        }
        let client = self.ui_client(&r, &p);
        let mut p = passed(p);
        p.0.push(("f".into(), "json".into()));
        let creds = Credentials::Session { token: Secret(token), csrf };
        let head = r.method == Method::HEAD;
        self.dispatch(method.name, &p, &r.headers, &r.peer, head, Some((client, creds))).await
    }

    /// `stream` or `getCoverArt` of `id`, as the session's user.
    pub async fn ui_media(&self, method: &str, id: &str, r: &Req) -> HttpResponse {
        if cross_site(&r.headers) {
            return refused(StatusCode::FORBIDDEN, csrf_refused());
        }
        let Some(token) = cookie(&r.headers, COOKIE_NAME) else {
            return refused(StatusCode::UNAUTHORIZED, no_session());
        };
        let client = self.ui_client(r, &r.query);
        let mut p = passed(Params(r.query.0.iter().filter(|(k, _)| k != "id").cloned().collect()));
        p.0.push(("id".into(), id.to_string()));
        p.0.push(("f".into(), "json".into()));
        let creds = Credentials::Session { token: Secret(token), csrf: None };
        let head = r.method == Method::HEAD;
        let mut resp = self.dispatch(method, &p, &r.headers, &r.peer, head, Some((client, creds))).await;
        // Behind the session: a shared cache must not keep it for others.
        if let Some(cc) = resp.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()) {
            if let Ok(v) = HeaderValue::from_str(&cc.replace("public", "private")) {
                resp.headers_mut().insert(CACHE_CONTROL, v);
            }
        }
        resp.headers_mut().insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
        resp
    }
}
