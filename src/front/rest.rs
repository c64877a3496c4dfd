//! `/rest/<method>`: dispatched on the method table (`methods.rs`), credentials, and the answer rendered.

use super::Body;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, VARY};
use hyper::{Response, StatusCode};

use super::cache::{Encoding, Entry};
use super::methods::{self, Kind, Public, EXTENSIONS};
use super::params::{decode_password, missing, Params};
use super::subsonic::{self, Format, Node, Value};
use super::{Front, HttpResponse, Peer};
use crate::proto::error::{code, not_implemented};
use crate::proto::library::LibraryCall;
use crate::proto::{Answer, ApiError, Call, Client, Credentials, Reply, Request, Revalidated, Secret, UserInfo};

fn conflict(why: &str) -> ApiError {
    ApiError::new(code::CONFLICTING_AUTH, format!("Multiple conflicting authentication mechanisms provided: {why}"))
}

impl Front {
    /// The user a trusted proxy names in ExtAuth.UserHeader (None from anyone else, or when
    /// the header is absent or empty). The header repeated, or holding a list, is refused and
    /// logged: a proxy that appends rather than replaces would let the client choose.
    /// Tells the broker, without waiting, that an ExtAuth header was refused (a security
    /// event; the header's value is not sent). The broker bounds how many it records.
    fn report_ext_auth(&self, peer: &Peer, why: String) {
        let broker = self.broker.clone();
        let report = crate::proto::admin::ExtAuthRefusal { addr: peer.addr.clone(), why };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = broker.call(&Request::ExtAuthRefused(report), &[]).await;
            });
        }
    }

    pub(super) fn proxy_user<'h>(&self, headers: &'h HeaderMap, peer: &Peer) -> Result<Option<&'h str>, String> {
        if !peer.trusted {
            // With ExtAuth on, the header from anyone but the proxy is someone trying it.
            if !self.trusted.is_empty() && headers.contains_key(self.user_header.as_str()) {
                self.report_ext_auth(
                    peer,
                    format!("{} header from an address not in TrustedSources, ignored", self.user_header),
                );
            }
            return Ok(None);
        }
        let mut values = headers.get_all(self.user_header.as_str()).iter();
        let Some(first) = values.next() else { return Ok(None) };
        let refuse = |why: String| {
            tracing::warn!("refused a request from {}: {why}", peer.addr);
            self.report_ext_auth(peer, why.clone());
            Err(why)
        };
        if values.next().is_some() {
            return refuse(format!("the proxy's {} header is repeated", self.user_header));
        }
        let Ok(user) = first.to_str().map(str::trim) else {
            return refuse(format!("the proxy's {} header is not text", self.user_header));
        };
        if user.contains(',') {
            return refuse(format!("the proxy's {} header holds a list", self.user_header));
        }
        Ok(Some(user).filter(|u| !u.is_empty()))
    }

    /// Credentials from the parameters (and, from a trusted proxy, the ExtAuth header).
    /// Repeated auth parameters and disagreeing mechanisms are refused, never "first wins".
    pub(super) fn credentials(&self, p: &Params, headers: &HeaderMap, peer: &Peer) -> Result<Credentials, ApiError> {
        for k in ["u", "p", "t", "s", "apiKey"] {
            if p.count(k) > 1 {
                return Err(conflict(&format!("parameter {k} is repeated")));
            }
        }
        let header_user = self.proxy_user(headers, peer).map_err(|why| conflict(&why))?;
        if let Some(user) = header_user {
            // The proxy vouches by its own cookie, which a browser also sends for another
            // site's page (an <img>, a form): that page must not act as the user.
            if super::cross_site(headers) {
                tracing::warn!(
                    "refused {}'s user header on a request from another site ({})",
                    self.user_header,
                    peer.addr
                );
                self.report_ext_auth(
                    peer,
                    format!("{} header on a request from another site's page", self.user_header),
                );
                return Err(ApiError::new(
                    code::NOT_AUTHORIZED,
                    "The proxy's user header is not honoured for a request from another site's page",
                ));
            }
            if p.get("apiKey").is_some() {
                return Err(conflict("apiKey and the proxy's user header"));
            }
            if let Some(u) = p.get("u") {
                if u.trim().to_lowercase() != user.to_lowercase() {
                    return Err(conflict("u names another user than the proxy's header"));
                }
            }
            return Ok(Credentials::External { user: user.to_string() });
        }
        if let Some(key) = p.get("apiKey") {
            if p.get("u").is_some() {
                return Err(conflict("apiKey with u"));
            }
            if p.get("p").is_some() || p.get("t").is_some() {
                return Err(conflict("apiKey with a password or token"));
            }
            return Ok(Credentials::ApiKey { key: Secret(key.to_string()) });
        }
        let user = p.get("u").ok_or_else(|| missing("u"))?.to_string();
        match (p.get("p"), p.get("t")) {
            (Some(_), Some(_)) => Err(conflict("p and t")),
            (Some(pw), None) => Ok(Credentials::Password { user, password: Secret(decode_password(pw)?) }),
            (None, Some(t)) => {
                let s = p.get("s").ok_or_else(|| missing("s"))?;
                Ok(Credentials::Token { user, token: Secret(t.to_string()), salt: Secret(s.to_string()) })
            }
            (None, None) => Err(missing("p, or t and s")),
        }
    }

    /// A `/rest/<method>` request, answered as [`methods::METHODS`] says.
    pub async fn rest(&self, name: &str, p: &Params, headers: &HeaderMap, peer: &Peer, head: bool) -> HttpResponse {
        self.dispatch(name, p, headers, peer, head, None).await
    }

    /// A method of the table, with the credentials from the parameters (`/rest`), or `given`
    /// (the web UI's bridge: the session, `ui/bridge.rs`).
    pub async fn dispatch(
        &self,
        name: &str,
        p: &Params,
        headers: &HeaderMap,
        peer: &Peer,
        head: bool,
        given: Option<(Client, Credentials)>,
    ) -> HttpResponse {
        let format = match subsonic::format(p.get("f"), p.get("callback")) {
            Ok(f) => f,
            Err((f, c, m)) => return self.failed(&f, ApiError::new(c, m)),
        };
        let method = match methods::find(name) {
            Ok(m) => m,
            Err(e) => return self.failed(&format, e),
        };
        let parse = match method.kind {
            Kind::Call(parse) => parse,
            Kind::Media(parse) => {
                let r = match parse(p) {
                    Ok(call) => self.media(&format, call, p, headers, peer, head, given).await,
                    Err(e) => {
                        let mut r = self.failed(&format, e);
                        if method.name == "getTranscodeStream" {
                            *r.status_mut() = StatusCode::BAD_REQUEST;
                        }
                        r
                    }
                };
                return if method.name == "getTranscodeStream" { with_http_status(r) } else { r };
            }
            Kind::Public(Public::Extensions) => return self.ok(&format, Some(&extensions())),
            Kind::NotImplemented(why) => return self.failed(&format, not_implemented(method.name, why)),
            Kind::Gone => return super::plain(StatusCode::GONE, "search is gone from the Subsonic API: use search3\n"),
        };
        let call = match parse(p) {
            Ok(c) => c,
            Err(e) => return self.failed(&format, e),
        };
        let (client, creds) = match given.map_or_else(|| self.caller(p, headers, peer), Ok) {
            Ok(c) => c,
            Err(e) => return self.failed(&format, e),
        };
        if let Call::Library(lib) = call {
            if lib.deterministic() {
                let enc = Encoding::preferred(headers.get("accept-encoding").and_then(|v| v.to_str().ok()));
                return self.revalidated(method.name, p, &format, (client, creds), lib, enc).await;
            }
            return self.answer(&format, Request::Api { client, creds, call: Call::Library(lib) }, headers, peer).await;
        }
        self.answer(&format, Request::Api { client, creds, call }, headers, peer).await
    }

    /// What every authenticated method needs after its own parameters: a supported `v`, the
    /// client name `c`, and the credentials.
    pub(super) fn caller(
        &self,
        p: &Params,
        headers: &HeaderMap,
        peer: &Peer,
    ) -> Result<(Client, Credentials), ApiError> {
        check_version(p.get("v"))?;
        let name = p.get("c").filter(|c| !c.is_empty()).ok_or_else(|| missing("c"))?;
        let creds = self.credentials(p, headers, peer)?;
        Ok((Client { addr: peer.addr.clone(), name: name.chars().take(128).collect() }, creds))
    }

    async fn answer(&self, format: &Format, req: Request, headers: &HeaderMap, peer: &Peer) -> HttpResponse {
        match self.broker.call(&req, &[]).await {
            Ok(r) => match r.body {
                Reply::Api(Ok(mut answer)) => {
                    if let Answer::Share(s) = &mut answer {
                        self.share_urls(s, headers, peer);
                    }
                    self.ok(format, render(&answer, self.sharing).as_ref())
                }
                Reply::Api(Err(e)) => self.failed(format, e),
                _ => self.broker_trouble(format),
            },
            Err(_) => self.broker_trouble(format),
        }
    }

    /// A deterministic library call: served from the cache when the broker, having checked the
    /// credentials, says the cached copy is still current; otherwise rendered and kept.
    async fn revalidated(
        &self,
        method: &str,
        p: &Params,
        format: &Format,
        (client, creds): (Client, Credentials),
        call: LibraryCall,
        enc: Encoding,
    ) -> HttpResponse {
        let key = super::cache::key(&creds, method, p);
        let have = self.cache.get(&key);
        let req = Request::CachedApi { client, creds, call, have: have.as_ref().map(|e| e.stamp.clone()) };
        let reply = match self.broker.call(&req, &[]).await {
            Ok(r) => r.body,
            Err(_) => return self.broker_trouble(format),
        };
        match reply {
            Reply::Revalidated(Ok(Revalidated::NotModified)) => match have {
                Some(e) => {
                    self.cache_lookup(true);
                    self.cached(&key, &e, enc)
                }
                None => self.broker_trouble(format),
            },
            Reply::Revalidated(Ok(Revalidated::Fresh { answer, stamp })) => {
                self.cache_lookup(false);
                let answer = Answer::Library(answer);
                let (ctype, text) = subsonic::render(
                    format,
                    env!("CARGO_PKG_VERSION"),
                    render(&answer, self.sharing).as_ref(),
                    None,
                    super::render::record,
                );
                let entry = Entry::new(stamp, ctype, Bytes::from(text));
                if entry.stamp.generation != 0 {
                    self.cache.put(key.clone(), entry.clone());
                }
                self.cached(&key, &entry, enc)
            }
            Reply::Revalidated(Err(e)) => self.failed(format, e),
            _ => self.broker_trouble(format),
        }
    }

    /// A cached (or just cached) answer, in the client's coding: a compressed form the cache
    /// keeps carries Content-Encoding, so the compression layer leaves it alone.
    fn cached(&self, key: &str, e: &Entry, enc: Encoding) -> HttpResponse {
        let mut r = match self.cache.encoded(key, e, enc) {
            Some(compressed) => {
                let mut r = Response::new(Body::full(compressed));
                if let Some(coding) = enc.header() {
                    r.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
                }
                r.headers_mut().insert(VARY, HeaderValue::from_static("accept-encoding"));
                r
            }
            None => Response::new(Body::full(e.body.clone())),
        };
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(e.content_type));
        r
    }

    fn cache_lookup(&self, hit: bool) {
        if let Some(m) = &self.metrics {
            m.cache_lookup(hit);
        }
    }

    pub fn ok(&self, format: &Format, body: Option<&Node>) -> HttpResponse {
        respond(format, body, None)
    }

    pub fn failed(&self, format: &Format, e: ApiError) -> HttpResponse {
        let mut r = respond(format, None, Some((e.code, &e.message)));
        if let Some(secs) = e.retry_after {
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }

    pub(super) fn broker_trouble(&self, format: &Format) -> HttpResponse {
        let mut r = respond(format, None, Some((code::GENERIC, "Server is restarting; try again.")));
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        r
    }
}

/// getTranscodeStream's errors carry the HTTP status its spec gives them (the body is still
/// the Subsonic error): 400 for a bad request (set by the caller), 401, 404, or 500.
fn with_http_status(mut r: HttpResponse) -> HttpResponse {
    let Some(super::metrics::SubsonicError(c)) = r.extensions().get().copied() else { return r };
    if r.status() == StatusCode::OK {
        *r.status_mut() = match c {
            code::NOT_FOUND => StatusCode::NOT_FOUND,
            code::WRONG_CREDENTIALS..=code::INVALID_API_KEY => StatusCode::UNAUTHORIZED,
            code::NOT_AUTHORIZED => StatusCode::FORBIDDEN,
            code::MISSING_PARAMETER => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
    }
    r
}

fn respond(format: &Format, body: Option<&Node>, error: Option<(i64, &str)>) -> HttpResponse {
    let (ctype, text) = subsonic::render(format, env!("CARGO_PKG_VERSION"), body, error, super::render::record);
    let mut r = Response::new(Body::full(Bytes::from(text)));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Some((code, _)) = error {
        r.extensions_mut().insert(super::metrics::SubsonicError(code));
    }
    r
}

/// `v` is required; a client speaking another major version gets 20 or 30.
pub(super) fn check_version(v: Option<&str>) -> Result<(), ApiError> {
    let v = v.filter(|v| !v.is_empty()).ok_or_else(|| missing("v"))?;
    let major: u32 = v
        .split('.')
        .next()
        .and_then(|m| m.trim().parse().ok())
        .ok_or_else(|| ApiError::new(code::GENERIC, format!("Invalid API version: {v:?}")))?;
    match major {
        0 => Err(ApiError::new(
            code::CLIENT_MUST_UPGRADE,
            "Incompatible Subsonic REST protocol version. Client must upgrade.",
        )),
        1 => Ok(()),
        _ => Err(ApiError::new(
            code::SERVER_MUST_UPGRADE,
            "Incompatible Subsonic REST protocol version. Server must upgrade.",
        )),
    }
}

fn extensions() -> Node<'static> {
    let items = EXTENSIONS
        .iter()
        .map(|e| {
            Node::new("openSubsonicExtension")
                .attr("name", e.name)
                .prim("versions", e.versions.iter().map(|v| Value::Int(*v)).collect())
        })
        .collect();
    let mut n = Node::new("openSubsonicExtensions").list("openSubsonicExtension", items);
    n.json_as_list = Some("openSubsonicExtension");
    n
}

fn user_node(u: &UserInfo, sharing: bool) -> Node<'_> {
    Node::new("user")
        .attr("username", u.username.as_str())
        .attr("email", u.email.as_str())
        .attr("scrobblingEnabled", true)
        .attr("adminRole", u.admin)
        .attr("settingsRole", true)
        .attr("downloadRole", true)
        .attr("uploadRole", false)
        .attr("playlistRole", true)
        .attr("coverArtRole", true)
        .attr("commentRole", false)
        .attr("podcastRole", false)
        .attr("streamRole", true)
        .attr("jukeboxRole", false)
        .attr("shareRole", sharing)
        .attr("videoConversionRole", false)
        .prim("folder", u.folders.iter().map(|f| Value::Int(*f)).collect())
}

fn render(a: &Answer, sharing: bool) -> Option<Node<'_>> {
    match a {
        Answer::Empty => None,
        Answer::License => Some(Node::new("license").attr("valid", true)),
        Answer::TokenInfo { username } => Some(Node::new("tokenInfo").attr("username", username.as_str())),
        Answer::User(u) => Some(user_node(u, sharing)),
        Answer::Users(us) => Some(Node::new("users").list("user", us.iter().map(|u| user_node(u, sharing)).collect())),
        Answer::Share(s) => super::share::render(s),
        Answer::Library(l) => Some(super::render::library(l)),
        Answer::UserData(a) => super::userdata::render(a),
        Answer::MediaAdmin(a) => super::media::render_admin(a),
        Answer::Lyrics(a) => super::media::render_lyrics(a),
        Answer::TranscodeDecision(d) => Some(super::media::render_decision(d)),
        // No method of the table makes the admin pages' calls (they are rendered as pages).
        Answer::Admin(_) => None,
        // Only the UI's settings page asks for these, and reads them itself.
        Answer::Account(_) => None,
        Answer::ScanStatus { scanning, count, folder_count, last_scan, error } => {
            let mut n = Node::new("scanStatus")
                .attr("scanning", *scanning)
                .attr("count", *count as i64)
                .attr("folderCount", *folder_count as i64);
            if let Some(t) = last_scan {
                n = n.attr("lastScan", crate::dates::iso8601(*t));
            }
            // Navidrome's attribute: the last scan failed, and why.
            Some(n.opt("error", error.as_deref()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(check_version(Some("1.16.1")).is_ok());
        assert!(check_version(Some("1.8.0")).is_ok());
        assert_eq!(check_version(None).unwrap_err().code, 10);
        assert_eq!(check_version(Some("0.9")).unwrap_err().code, 20);
        assert_eq!(check_version(Some("2.0.0")).unwrap_err().code, 30);
        assert_eq!(check_version(Some("x")).unwrap_err().code, 0);
    }
}
