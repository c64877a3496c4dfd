//! The web UI, `<BaseUrl>/app/…`: pages rendered here, in the front, with maud (which escapes
//! whatever it is given: every title, name, comment and lyric is text, never markup), from
//! the broker's answers to the same typed calls `/rest` makes. The UI's credential is the web
//! session: its cookie becomes [`Credentials::Session`], which the broker checks like any
//! other, so every page and every action passes the broker's usual permission checks, and a
//! call that changes state needs the session's CSRF token, which the broker checks too.
//!
//! | path below `/app/` | what |
//! |---|---|
//! | `` (empty), `albums`, `album/<id>`, `artists`, `artist/<id>`, `song/<id>`, `genres`, `folders`, `search`, `shortcuts` | pages (pages/browse.rs) |
//! | `setup`, `login`, `logout` | first run and sessions (pages/session.rs) |
//! | `admin/users`, `admin/library`, `admin/transcoding`, `admin/security` | admin pages, GET and their forms' POST (pages/admin.rs) |
//! | `playlists`, `playlist/<id>` | your playlists: list, create, rename, reorder, remove, delete (pages/music.rs) |
//! | `shares`, `shares/new?id=…` | your shares: create, edit, delete, copy a link (pages/shares.rs); `admin/shares`: everyone's |
//! | `settings`, `settings/{password,keys,revoke,player,avatar,avatar-remove}` | password, API keys, players, picture, theme (pages/settings.rs) |
//! | `api/<method>`, `stream/<id>`, `art/<id>` | the method table with the session as credentials (bridge.rs) |
//! | `assets/<name>.<hash>.<ext>` | the style sheet, the script, the icon (assets.rs) |
//!
//! Every page answer carries the strict policy of [`csp`] (no inline script or style, Trusted
//! Types required) and `Cache-Control: no-store`. `/app` has no CORS: the session cookie is
//! SameSite=Strict and nothing under `/app` is meant for another origin.
//!
//! A page asked for by the UI's own script (in-page navigation, header `X-UI-Partial: 1`) is
//! rendered as its title and `<main>` only: the player around it keeps playing.

pub mod admin_strings;
pub mod assets;
pub mod bridge;
pub mod layout;
pub mod multipart;
pub mod pages;
pub mod share_page;
pub mod strings;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, VARY};
use hyper::{Method, Response, StatusCode};
use maud::Markup;

use super::auth::{cookie, COOKIE_NAME, CSRF_COOKIE};
use super::{Body, Front, HttpResponse, Params, Peer};
use crate::proto::{Answer, ApiError, Call, Client, Credentials, Reply, Request, Secret, UserInfo};
use layout::{Nav, Page, Shell};
use strings::Strings;

/// The cookie the script keeps the chosen theme in (not a secret: "light" or "dark").
pub const THEME_COOKIE: &str = "redoubt_theme";

/// The name of the one Trusted Types policy the pages allow (created by app.js).
pub const TRUSTED_TYPES_POLICY: &str = "redoubt";

/// The pages' Content-Security-Policy: nothing but this origin's own files; no inline script
/// or style (`style=` attributes included), no eval, no plugins, no framing, no `<base>`, and
/// DOM sinks (`innerHTML`, `DOMParser`) only through the `redoubt` Trusted Types policy.
/// `form-action` also allows ExtAuth.LogoutURL's origin, where the logout form's redirect goes.
pub fn csp(logout_url: &str) -> String {
    let extra = crate::config::url_origin(logout_url).map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; \
         connect-src 'self'; font-src 'self'; worker-src 'none'; object-src 'none'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'{extra}; require-trusted-types-for 'script'; \
         trusted-types {TRUSTED_TYPES_POLICY}"
    )
}

/// Parses the catalogue and hashes the assets (done once, when the front starts).
pub fn warm_up() {
    let _ = strings::en();
    let _ = assets::all();
}

/// What a request to `/app/…` brings.
pub struct Req {
    pub method: Method,
    pub headers: HeaderMap,
    pub peer: Peer,
    /// The query string's parameters.
    pub query: Params,
    /// The path below BaseUrl, with the query (`/app/albums?list=recent`), for a login's `next`.
    pub here: String,
    pub s: &'static Strings,
    pub partial: bool,
}

impl Req {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).filter(|v| !v.is_empty())
    }

    /// A page number (0-based) from `page`, bounded.
    pub fn page(&self) -> u32 {
        self.param("page").and_then(|p| p.parse().ok()).unwrap_or(0).min(100_000)
    }
}

/// The logged-in user of a request, with the session that proves it.
pub struct Viewer {
    pub user: UserInfo,
    pub token: Secret,
    /// The session's CSRF token, from its cookie, for the page's forms and script. A request
    /// that changes something must send it back in a form field or header.
    pub csrf: String,
}

impl Viewer {
    /// Credentials for a read.
    pub fn creds(&self) -> Credentials {
        Credentials::Session { token: self.token.clone(), csrf: None }
    }
}

/// Why a page could not be rendered.
#[derive(Debug)]
pub enum UiError {
    /// The broker refused or failed the call.
    Api(ApiError),
    /// The broker is not there (restarting).
    Unavailable,
    /// A page or id that does not exist.
    NotFound,
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> UiError {
        UiError::Api(e)
    }
}

/// `GET /` (and `<BaseUrl>/`, `/index.html`, `/login`, `/app`): to the UI.
pub fn to_app(front: &Front) -> HttpResponse {
    redirect(&front.base_url, "/app/")
}

/// A page navigation (a followed link, not a script's fetch) that another site started:
/// a same-site one (another subdomain) carries SameSite=Strict cookies already.
fn followed_from_another_site(h: &HeaderMap) -> bool {
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    get("sec-fetch-site") == Some("cross-site") && get("sec-fetch-mode") == Some("navigate")
}

/// A 303 to a path below BaseUrl.
pub fn redirect(base: &str, path: &str) -> HttpResponse {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&format!("{base}{path}")) {
        r.headers_mut().insert(LOCATION, v);
    }
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

impl Front {
    /// EnableSharing's form defaults; None when sharing is off.
    pub fn share_defaults(&self) -> Option<layout::ShareDefaults> {
        self.sharing.then_some(layout::ShareDefaults {
            expires_secs: self.share_expiration_secs,
            downloadable: self.share_downloadable,
        })
    }

    /// Every request below `/app/`; `rest` is the path after it.
    pub async fn app(&self, rest: &str, req: axum::extract::Request, peer: Option<std::net::IpAddr>) -> HttpResponse {
        let (parts, body) = req.into_parts();
        let peer = self.peer(peer, &parts.headers);
        let s = strings::for_request(parts.headers.get("accept-language").and_then(|v| v.to_str().ok()));
        let query = Params(
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        );
        let here = match parts.uri.query() {
            Some(q) => format!("/app/{rest}?{q}"),
            None => format!("/app/{rest}"),
        };
        let partial = parts.headers.get("x-ui-partial").is_some_and(|v| v == "1");
        let r = Req { method: parts.method.clone(), headers: parts.headers, peer, query, here, s, partial };
        let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let get = matches!(r.method, Method::GET | Method::HEAD);
        match (first, get) {
            ("assets", true) => assets::serve(tail, &r.headers),
            ("stream", true) if !tail.is_empty() => self.ui_media("stream", tail, &r).await,
            ("art", true) if !tail.is_empty() => self.ui_media("getCoverArt", tail, &r).await,
            ("api", _) if !tail.is_empty() => self.ui_api(tail, r, body).await,
            ("setup", true) => self.setup_page(&r).await,
            ("setup", false) if r.method == Method::POST => self.setup_post(&r, body).await,
            ("login", true) => self.login_page(&r).await,
            ("login", false) if r.method == Method::POST => self.login_post(&r, body).await,
            ("logout", false) if r.method == Method::POST => self.logout_post(&r, body).await,
            ("admin", _) if get || r.method == Method::POST => self.admin_page(&r, tail, body).await,
            ("settings", _) if get || r.method == Method::POST => self.settings(&r, tail, body).await,
            ("playlists" | "playlist", _) if get || r.method == Method::POST => self.music(&r, first, tail, body).await,
            ("shares", _) if get || r.method == Method::POST => self.shares(&r, tail, body).await,
            ("smart", _) if get || r.method == Method::POST => self.smart_editor(&r, tail, body).await,
            (_, true) => {
                let v = match self.viewer(&r).await {
                    Ok(v) => v,
                    Err(response) => return response,
                };
                let page = pages::browse::page(self, &r, &v, first, tail).await;
                self.respond(&r, Some(&v), page)
            }
            _ => self.page_response(
                &r,
                None,
                StatusCode::METHOD_NOT_ALLOWED,
                pages::message(r.s, &self.base_url, &r.s.not_found_title, &r.s.not_found),
            ),
        }
    }

    /// The session's user; otherwise the answer to send instead: a login behind a trusted
    /// ExtAuth proxy (then back here), the first-run page while no user exists, else the
    /// login page (then back here).
    pub async fn viewer(&self, r: &Req) -> Result<Viewer, HttpResponse> {
        let proxy = match self.proxy_user(&r.headers, &r.peer) {
            Ok(p) => p.map(str::to_string),
            Err(_) => {
                return Err(self.page_response(
                    r,
                    None,
                    StatusCode::UNAUTHORIZED,
                    pages::message(r.s, &self.base_url, &r.s.forbidden_title, &r.s.proxy_refused),
                ))
            }
        };
        if let Some(token) = cookie(&r.headers, COOKIE_NAME) {
            let token = Secret(token);
            match self.broker.call(&Request::Session { token: token.clone(), csrf: None }, &[]).await {
                Ok(reply) => {
                    if let Reply::Who(Some(user)) = reply.body {
                        // Behind the proxy, the session must be the header's user's.
                        if proxy.as_ref().is_none_or(|p| same_name(p, &user.username)) {
                            let csrf = cookie(&r.headers, CSRF_COOKIE).unwrap_or_default();
                            return Ok(Viewer { user, token, csrf });
                        }
                    }
                }
                Err(_) => return Err(self.unavailable(r)),
            }
        }
        if let Some(user) = proxy {
            if !matches!(r.method, Method::GET | Method::HEAD) {
                return Err(self.page_response(
                    r,
                    None,
                    StatusCode::FORBIDDEN,
                    pages::message(r.s, &self.base_url, &r.s.forbidden_title, &r.s.forbidden),
                ));
            }
            let client = Client { addr: r.peer.addr.clone(), name: "web".into() };
            return match self.broker.call(&Request::ProxyLogin { client, user }, &[]).await.map(|x| x.body) {
                Ok(Reply::Session(Ok(grant))) => {
                    let mut resp = redirect(&self.base_url, &r.here);
                    self.set_session_cookies(&mut resp, &grant, &r.peer);
                    Err(resp)
                }
                Ok(Reply::Session(Err(_))) => Err(self.page_response(
                    r,
                    None,
                    StatusCode::UNAUTHORIZED,
                    pages::message(r.s, &self.base_url, &r.s.forbidden_title, &r.s.proxy_refused),
                )),
                _ => Err(self.unavailable(r)),
            };
        }
        if self.setup_open().await {
            return Err(redirect(&self.base_url, "/app/setup"));
        }
        if cookie(&r.headers, COOKIE_NAME).is_none()
            && r.method == Method::GET
            && followed_from_another_site(&r.headers)
        {
            return Err(self.same_site_again(r));
        }
        let next: String = form_urlencoded::byte_serialize(r.here.as_bytes()).collect();
        Err(redirect(&self.base_url, &format!("/app/login?next={next}")))
    }

    /// The session cookie is SameSite=Strict, so a browser leaves it off a navigation another
    /// site started (a link in a mail or a chat). This page loads the same address again, now
    /// from this site: a signed-in user lands where the link pointed, not on the login form
    /// (and someone signed out gets the login form on the second request). Pages change
    /// nothing on GET, so this lets another site show a user a page, never change one.
    fn same_site_again(&self, r: &Req) -> HttpResponse {
        let here = format!("{}{}", self.base_url, r.here);
        let markup = maud::html! {
            (maud::DOCTYPE)
            html lang=(r.s.lang) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta http-equiv="refresh" content=(format!("0;url={here}"));
                    link rel="icon" type="image/svg+xml" href=(format!("{}{}", self.base_url, assets::path("icon.svg")));
                    title { (r.s.app_name) }
                }
                body { main { p { a href=(here) { (r.s.same_site_again) } } } }
            }
        };
        self.html(StatusCode::OK, markup)
    }

    /// Whether the first admin may still be created.
    pub async fn setup_open(&self) -> bool {
        matches!(self.broker.call(&Request::SetupState, &[]).await.map(|r| r.body), Ok(Reply::SetupOpen(true)))
    }

    /// One call as the viewer (a read: no CSRF token).
    pub async fn ui_call(&self, r: &Req, v: &Viewer, call: Call) -> Result<Answer, UiError> {
        let client = Client { addr: r.peer.addr.clone(), name: "web".into() };
        match self.broker.call(&Request::Api { client, creds: v.creds(), call }, &[]).await {
            Ok(reply) => match reply.body {
                Reply::Api(Ok(a)) => Ok(a),
                Reply::Api(Err(e)) => Err(UiError::Api(e)),
                _ => Err(UiError::Unavailable),
            },
            Err(_) => Err(UiError::Unavailable),
        }
    }

    /// One call that changes state, as the viewer, proven with the CSRF token the form sent
    /// back (the broker checks it against the session's).
    pub async fn ui_change(&self, r: &Req, v: &Viewer, csrf: &str, call: Call) -> Result<Answer, UiError> {
        // No token is no token (the broker refuses the change), not an empty one.
        let csrf = Some(csrf).filter(|c| !c.is_empty()).map(|c| Secret(c.to_string()));
        self.call_as(r, v, call, csrf).await
    }

    /// One call as the viewer, with the CSRF token when the page's form carried one (the
    /// broker refuses a change without it).
    pub async fn call_as(&self, r: &Req, v: &Viewer, call: Call, csrf: Option<Secret>) -> Result<Answer, UiError> {
        let client = Client { addr: r.peer.addr.clone(), name: "web".into() };
        let creds = Credentials::Session { token: v.token.clone(), csrf };
        match self.broker.call(&Request::Api { client, creds, call }, &[]).await {
            Ok(reply) => match reply.body {
                Reply::Api(Ok(a)) => Ok(a),
                Reply::Api(Err(e)) => Err(UiError::Api(e)),
                _ => Err(UiError::Unavailable),
            },
            Err(_) => Err(UiError::Unavailable),
        }
    }

    /// A page's answer: the document, or the error page its failure calls for.
    pub fn respond(&self, r: &Req, v: Option<&Viewer>, page: Result<Page, UiError>) -> HttpResponse {
        let s = r.s;
        match page {
            Ok(p) => self.page_response(r, v, StatusCode::OK, p),
            Err(UiError::NotFound) => self.page_response(
                r,
                v,
                StatusCode::NOT_FOUND,
                pages::message(s, &self.base_url, &s.not_found_title, &s.not_found),
            ),
            Err(UiError::Unavailable) => self.unavailable(r),
            Err(UiError::Api(e)) => match e.code {
                crate::proto::error::code::NOT_FOUND => self.page_response(
                    r,
                    v,
                    StatusCode::NOT_FOUND,
                    pages::message(s, &self.base_url, &s.not_found_title, &s.not_found),
                ),
                crate::proto::error::code::NOT_AUTHORIZED => self.page_response(
                    r,
                    v,
                    StatusCode::FORBIDDEN,
                    pages::message(s, &self.base_url, &s.forbidden_title, &s.forbidden),
                ),
                // The session ended between the check and the call.
                crate::proto::error::code::WRONG_CREDENTIALS => redirect(&self.base_url, "/app/login"),
                _ => self.page_response(
                    r,
                    v,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    pages::message(
                        s,
                        &self.base_url,
                        &s.error_title,
                        &strings::fill(&s.server_refused, &[("reason", &e.message)]),
                    ),
                ),
            },
        }
    }

    pub fn unavailable(&self, r: &Req) -> HttpResponse {
        let mut resp = self.page_response(
            r,
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(r.s, &self.base_url, &r.s.error_title, &r.s.server_unavailable),
        );
        resp.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("2"));
        resp
    }

    /// A rendered page, with the UI's policy and headers.
    pub fn page_response(&self, r: &Req, v: Option<&Viewer>, status: StatusCode, page: Page) -> HttpResponse {
        let shell = Shell {
            s: r.s,
            base: &self.base_url,
            user: v.map(|v| (v.user.username.as_str(), v.csrf.as_str())),
            partial: r.partial,
            query: if page.nav == Nav::Search { r.param("q").unwrap_or("") } else { "" },
            admin: v.is_some_and(|v| v.user.admin),
            theme: match cookie(&r.headers, THEME_COOKIE).as_deref() {
                Some("light") => Some("light"),
                Some("dark") => Some("dark"),
                _ => None,
            },
            sharing: self.share_defaults().filter(|_| v.is_some()),
        };
        self.html(status, layout::document(&shell, page))
    }

    pub fn html(&self, status: StatusCode, markup: Markup) -> HttpResponse {
        let mut resp = Response::new(Body::full(Bytes::from(markup.into_string())));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        if let Ok(v) = HeaderValue::from_str(&csp(&self.logout_url)) {
            h.insert(CONTENT_SECURITY_POLICY, v);
        }
        // Pages carry the CSRF token and the user's library: never stored by anyone.
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(VARY, HeaderValue::from_static("x-ui-partial"));
        h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
        h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
        resp
    }
}

/// Whether two spellings name one user as far as the front can tell (the broker's key is
/// finer; a mismatch only costs a fresh proxy login).
fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Fields of a form body.
pub fn form_fields(body: &[u8]) -> Params {
    Params(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// A local path to go to after login: below `/app/`, never another site.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with("/app/")
                && !n.contains("//")
                && !n.contains('\\')
                && !n.starts_with("/app/login")
                && !n.starts_with("/app/logout")
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n
        }
        _ => "/app/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_strict() {
        let p = csp("");
        for d in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self';",
            "require-trusted-types-for 'script'",
            "trusted-types redoubt",
        ] {
            assert!(p.contains(d), "{d} in {p}");
        }
        assert!(!p.contains("unsafe"), "{p}");
        assert!(csp("https://sso.example/logout").contains("form-action 'self' https://sso.example;"));
        assert!(csp("/oauth2/sign_out").contains("form-action 'self';"));
    }

    /// Item 8's catalogue rule, kept by a guard: inside the pages' markup (`html! { … }`) no
    /// literal holds a word with a capital or two words (prose comes from the catalogue); the
    /// script never writes a literal as text.
    #[test]
    fn words_come_from_the_catalogue() {
        let sources = [
            ("layout.rs", include_str!("layout.rs")),
            ("pages/mod.rs", include_str!("pages/mod.rs")),
            ("pages/browse.rs", include_str!("pages/browse.rs")),
            ("pages/parts.rs", include_str!("pages/parts.rs")),
            ("pages/session.rs", include_str!("pages/session.rs")),
            ("pages/admin.rs", include_str!("pages/admin.rs")),
            ("pages/music.rs", include_str!("pages/music.rs")),
            ("pages/settings.rs", include_str!("pages/settings.rs")),
            ("pages/shares.rs", include_str!("pages/shares.rs")),
        ];
        for (file, src) in sources {
            let mut rest = src;
            while let Some(start) = rest.find("html! {") {
                let body = &rest[start + 7..];
                let (mut depth, mut end) = (0i32, body.len());
                for (i, c) in body.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let block = &body[..end];
                for (i, lit) in block.split('"').enumerate().filter(|(i, _)| i % 2 == 1) {
                    let b = lit.as_bytes();
                    let prose = (b.len() > 1 && b[0].is_ascii_uppercase() && b[1].is_ascii_lowercase())
                        || lit
                            .as_bytes()
                            .windows(3)
                            .any(|w| w[0].is_ascii_alphabetic() && w[1] == b' ' && w[2].is_ascii_alphabetic());
                    // Attribute values that are not words, and the icons' raw paths.
                    let technical = ["light dark", "width=device-width, initial-scale=1"].contains(&lit);
                    assert!(
                        technical || !prose || lit.starts_with("<path") || block.contains(&format!("r#\"{lit}")),
                        "{file}: {lit:?} (literal {i}) belongs in i18n/en.toml"
                    );
                }
                rest = &body[end..];
            }
        }
        for js in [include_str!("assets/app.js"), include_str!("assets/player.js"), include_str!("assets/admin.js")] {
            for bad in ["textContent = '", "textContent = \"", "textContent = `", "'aria-label', '", "title = '"] {
                for (at, _) in js.match_indices(bad) {
                    // Clearing a text ('') is no word.
                    let quote = bad.chars().last().unwrap();
                    assert!(
                        js[at + bad.len()..].starts_with(quote),
                        "a module writes a literal as text ({bad:?}): its words come from the page"
                    );
                }
            }
        }
    }

    #[test]
    fn only_local_paths_follow_a_login() {
        assert_eq!(safe_next(Some("/app/album/x?y=1")), "/app/album/x?y=1");
        for bad in
            ["https://evil.example/", "//evil.example/app/", "/app//evil", "/app/\\evil", "/rest/ping", "/app/logout"]
        {
            assert_eq!(safe_next(Some(bad)), "/app/", "{bad}");
        }
        assert_eq!(safe_next(None), "/app/");
    }
}
