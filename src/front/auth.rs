//! `/auth/*`: web sessions for the UI, and the first-admin setup.
//!
//! - `POST /auth/login` `{username, password}` (JSON or form): sets the session cookie
//!   (HttpOnly, SameSite=Strict, Secure behind an HTTPS proxy) and returns the CSRF token,
//!   which it also sets as a second cookie of the same kind, from which the web UI's pages
//!   (ui/) write it into their forms and for their script: the front keeps no secret.
//! - `POST /auth/setup` `{code, username, password}`: the first admin, with the setup code
//!   the daemon logged; logs the new admin in.
//! - `GET /auth/me`: the session's user (behind a trusted ExtAuth proxy, the header's).
//! - `POST /auth/logout` with header `X-CSRF-Token`: ends the session.

use super::Body;
use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE, COOKIE, RETRY_AFTER, SET_COOKIE};
use hyper::{Method, Response, StatusCode};

use super::{cross_site, header, plain, Front, HttpResponse, Peer};
use crate::proto::{ApiError, Client, Reply, Request, Secret, SessionGrant};

pub const COOKIE_NAME: &str = "redoubt_session";
/// The session's CSRF token, for the UI's pages to write into their forms. Never a credential
/// by itself: a request proves itself with the token in a form field or header, not this.
pub const CSRF_COOKIE: &str = "redoubt_csrf";

fn json(status: StatusCode, v: serde_json::Value) -> HttpResponse {
    let mut r = Response::new(Body::full(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

fn refused(e: &ApiError) -> HttpResponse {
    let status = if e.retry_after.is_some() { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::UNAUTHORIZED };
    let mut r = json(status, serde_json::json!({ "error": e.message }));
    if let Some(s) = e.retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// Fields from a JSON object or a form body.
fn fields(body: &[u8], is_json: bool) -> Option<Vec<(String, String)>> {
    if is_json {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        Some(v.as_object()?.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
    } else {
        Some(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }
}

fn field(f: &[(String, String)], k: &str) -> String {
    f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// The session cookie's value, if exactly one was sent.
fn session_cookie(req: &axum::extract::Request) -> Option<String> {
    cookie(req.headers(), COOKIE_NAME)
}

/// A cookie's value, if exactly one of that name was sent and it is not empty.
pub fn cookie(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .collect();
    match values.as_slice() {
        [one] if !one.is_empty() => Some(one.to_string()),
        _ => None,
    }
}

impl Front {
    fn cookie_path(&self) -> String {
        if self.base_url.is_empty() {
            "/".into()
        } else {
            self.base_url.clone()
        }
    }

    fn granted(&self, g: &SessionGrant, peer: &Peer) -> HttpResponse {
        let mut r = json(
            StatusCode::OK,
            serde_json::json!({ "username": g.user.username, "isAdmin": g.user.admin, "csrfToken": g.csrf.0 }),
        );
        self.set_session_cookies(&mut r, g, peer);
        r
    }

    /// The session cookie, then the CSRF cookie: both HttpOnly and SameSite=Strict, Secure
    /// behind an HTTPS proxy, for the whole of BaseUrl.
    pub fn set_session_cookies(&self, r: &mut HttpResponse, g: &SessionGrant, peer: &Peer) {
        for (name, value) in [(COOKIE_NAME, &g.token.0), (CSRF_COOKIE, &g.csrf.0)] {
            let cookie = format!(
                "{name}={value}; Path={}; Max-Age={}; HttpOnly; SameSite=Strict{}",
                self.cookie_path(),
                g.expires_in_secs,
                if peer.https { "; Secure" } else { "" }
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().append(SET_COOKIE, v);
            }
        }
    }

    /// Both session cookies, expired.
    pub fn clear_session_cookies(&self, r: &mut HttpResponse, peer: &Peer) {
        for name in [COOKIE_NAME, CSRF_COOKIE] {
            let expire = format!(
                "{name}=; Path={}; Max-Age=0; HttpOnly; SameSite=Strict{}",
                self.cookie_path(),
                if peer.https { "; Secure" } else { "" }
            );
            if let Ok(v) = HeaderValue::from_str(&expire) {
                r.headers_mut().append(SET_COOKIE, v);
            }
        }
    }

    /// `/auth/me` behind a trusted ExtAuth proxy: the broker checks (and, for a new name,
    /// creates) the user the header names.
    async fn vouched(&self, client: Client, user: &str) -> HttpResponse {
        let req = Request::Api {
            client,
            creds: crate::proto::Credentials::External { user: user.to_string() },
            call: crate::proto::Call::TokenInfo,
        };
        match self.broker.call(&req, &[]).await.map(|r| r.body) {
            Ok(Reply::Api(Ok(crate::proto::Answer::TokenInfo { username }))) => {
                json(StatusCode::OK, serde_json::json!({ "username": username, "proxy": true }))
            }
            Ok(Reply::Api(Err(e))) => refused(&e),
            _ => plain(StatusCode::SERVICE_UNAVAILABLE, "server is restarting\n"),
        }
    }

    pub async fn auth(&self, what: String, req: axum::extract::Request, peer: &Peer) -> HttpResponse {
        let client = Client { addr: peer.addr.clone(), name: "web".into() };
        match (req.method().clone(), what.as_str()) {
            (Method::POST, "login") | (Method::POST, "setup") if cross_site(req.headers()) => {
                tracing::warn!("refused a cross-site POST /auth/{what} from {}", peer.addr);
                json(StatusCode::FORBIDDEN, serde_json::json!({ "error": "cross-site login form refused" }))
            }
            (Method::POST, "login") | (Method::POST, "setup") => {
                let is_json = header(req.headers(), "content-type").is_some_and(|c| c.starts_with("application/json"));
                let body = match self.read_body(req.into_body()).await {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let Some(f) = fields(&body, is_json) else {
                    return json(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({ "error": "expected a JSON object or a form" }),
                    );
                };
                let request = if what == "login" {
                    Request::Login { client, username: field(&f, "username"), password: Secret(field(&f, "password")) }
                } else {
                    Request::Setup {
                        client,
                        code: Secret(field(&f, "code")),
                        username: field(&f, "username"),
                        password: Secret(field(&f, "password")),
                    }
                };
                match self.broker.call(&request, &[]).await.map(|r| r.body) {
                    Ok(Reply::Session(Ok(g))) => self.granted(&g, peer),
                    Ok(Reply::Session(Err(e))) => refused(&e),
                    _ => plain(StatusCode::SERVICE_UNAVAILABLE, "server is restarting\n"),
                }
            }
            (Method::GET, "me") => {
                match self.proxy_user(req.headers(), peer) {
                    Err(why) => return json(StatusCode::UNAUTHORIZED, serde_json::json!({ "error": why })),
                    Ok(Some(user)) => return self.vouched(client, user).await,
                    Ok(None) => {}
                }
                let Some(token) = session_cookie(&req) else {
                    return json(StatusCode::UNAUTHORIZED, serde_json::json!({ "error": "not logged in" }));
                };
                match self
                    .broker
                    .call(&Request::Session { token: Secret(token), csrf: None }, &[])
                    .await
                    .map(|r| r.body)
                {
                    Ok(Reply::Who(Some(u))) => {
                        json(StatusCode::OK, serde_json::json!({ "username": u.username, "isAdmin": u.admin }))
                    }
                    Ok(_) => json(StatusCode::UNAUTHORIZED, serde_json::json!({ "error": "not logged in" })),
                    Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "server is restarting\n"),
                }
            }
            (Method::POST, "logout") => {
                let csrf = header(req.headers(), "x-csrf-token").unwrap_or("").to_string();
                let Some(token) = session_cookie(&req) else {
                    return json(StatusCode::UNAUTHORIZED, serde_json::json!({ "error": "not logged in" }));
                };
                match self
                    .broker
                    .call(&Request::Logout { token: Secret(token), csrf: Secret(csrf) }, &[])
                    .await
                    .map(|r| r.body)
                {
                    Ok(Reply::Done) => {
                        let mut r = json(StatusCode::OK, serde_json::json!({}));
                        self.clear_session_cookies(&mut r, peer);
                        r
                    }
                    Ok(_) => json(StatusCode::FORBIDDEN, serde_json::json!({ "error": "missing or wrong CSRF token" })),
                    Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "server is restarting\n"),
                }
            }
            _ => plain(StatusCode::NOT_FOUND, "not found\n"),
        }
    }
}
