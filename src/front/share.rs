//! Shares: the Subsonic share answers, and the public `/share/<id>` paths.
//!
//! | path (below BaseUrl) | answer |
//! |---|---|
//! | `/share/<id>` | the page (GET); its password form (POST, same-site only) |
//! | `/share/<id>/m3u[?t=<list token>]` | an m3u playlist of the stream links |
//! | `/share/<id>/stream/<token>` | a song's file (Range requests answered) |
//! | `/share/<id>/cover/<token>[?size=n]` | a song's cover |
//! | `/share/<id>/download/<token>` | the zip of every song, when the share allows it |
//!
//! No path needs a session: the page asks the broker about the share (`Request::SharePage`),
//! and every link carries a token the broker minted and checks (`Request::ShareMedia`). The
//! front only passes tokens on; it cannot make one (docs/security.md T28).

use std::net::IpAddr;

use axum::extract::Request;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RANGE, REFERRER_POLICY};
use hyper::{Method, Response, StatusCode};

use super::subsonic::Node;
use super::{plain, Body, Front, HttpResponse, Peer};
use crate::proto::error::code;
use crate::proto::share::{
    ShareAnswer, ShareInfo, ShareMediaRequest, SharePage, SharePageRequest, ShareRefusal, ShareWhat,
};
use crate::proto::{Client, Reply, Request as BrokerRequest, Secret};

fn share_node(s: &ShareInfo) -> Node<'_> {
    Node::new("share")
        .attr("id", s.id.as_str())
        .attr("url", s.url.as_str())
        .attr("description", s.description.as_str())
        .attr("username", s.username.as_str())
        .attr("created", crate::dates::iso8601_signed(s.created))
        .opt("expires", s.expires.map(crate::dates::iso8601_signed))
        .opt("lastVisited", s.last_visited.map(crate::dates::iso8601_signed))
        .attr("visitCount", s.visit_count)
        .list("entry", s.entries.iter().map(|e| super::render::song("entry", e)).collect())
}

pub fn render(a: &ShareAnswer) -> Option<Node<'_>> {
    match a {
        ShareAnswer::Done => None,
        ShareAnswer::Shares(list) => Some(Node::new("shares").list("share", list.iter().map(share_node).collect())),
    }
}

/// A share id as the broker makes them (32 hex digits); anything else is not looked up.
fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A Host header value fit to build a URL with (a name or address and a port).
fn clean_host(h: &str) -> Option<&str> {
    let ok = !h.is_empty()
        && h.len() <= 255
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then_some(h)
}

fn headers_with_policy(r: &mut HttpResponse, csp: &str) {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(hyper::header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(HeaderName::from_static("x-robots-tag"), HeaderValue::from_static("noindex"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

impl Front {
    /// Where share links start: ShareURL, else this request's address (its Host; a trusted
    /// proxy's X-Forwarded-Host and -Proto), with BaseUrl.
    pub fn share_base(&self, headers: &HeaderMap, peer: &Peer) -> String {
        if !self.share_url.is_empty() {
            return self.share_url.clone();
        }
        let get =
            |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or("").trim());
        let forwarded = if peer.trusted { get("x-forwarded-host").and_then(clean_host) } else { None };
        let host = forwarded.or_else(|| get("host").and_then(clean_host)).unwrap_or("localhost");
        let scheme = if peer.https { "https" } else { "http" };
        format!("{scheme}://{host}{}", self.base_url)
    }

    /// Fills in each share's public link.
    pub fn share_urls(&self, a: &mut ShareAnswer, headers: &HeaderMap, peer: &Peer) {
        if let ShareAnswer::Shares(list) = a {
            let base = self.share_base(headers, peer);
            for s in list {
                s.url = format!("{base}/share/{}", s.id);
            }
        }
    }

    /// `/share/<rest>`.
    pub async fn share(&self, rest: &str, req: Request, peer: Option<IpAddr>) -> HttpResponse {
        let mut r = self.share_inner(rest, req, peer).await;
        r.headers_mut().insert(HeaderName::from_static("x-robots-tag"), HeaderValue::from_static("noindex"));
        r
    }

    async fn share_inner(&self, rest: &str, req: Request, peer: Option<IpAddr>) -> HttpResponse {
        if !self.sharing {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        }
        let peer = self.peer(peer, req.headers());
        let client = Client { addr: peer.addr.clone(), name: "share".into() };
        let mut parts = rest.splitn(3, '/');
        let id = parts.next().unwrap_or("");
        if !valid_id(id) {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        }
        let (what, token) = (parts.next(), parts.next());
        let head = req.method() == Method::HEAD;
        let query: Vec<(String, String)> = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match (what, token) {
            (None, None) | (Some(""), None) => self.share_page(id, req, client).await,
            (Some("m3u"), None) => {
                let page =
                    SharePageRequest { id: id.into(), password: None, list_token: q("t").map(Secret), visit: false };
                match self.ask_page(client, page).await {
                    Ok(p) => m3u(&p, &self.share_base(req.headers(), &peer)),
                    Err(r) => r,
                }
            }
            (Some(kind @ ("stream" | "cover" | "download")), Some(token)) if !token.is_empty() => {
                let what = match kind {
                    "stream" => ShareWhat::Stream,
                    "cover" => ShareWhat::Cover,
                    _ => ShareWhat::Zip,
                };
                let range = req.headers().get(RANGE).and_then(|v| v.to_str().ok());
                let from_start = range.is_none_or(|r| r.trim() == "bytes=0-");
                let media = ShareMediaRequest {
                    share: id.into(),
                    what,
                    token: Secret(token.into()),
                    size: q("size").and_then(|s| s.parse().ok()).filter(|s: &u32| *s > 0),
                    from_start,
                };
                let reply = match self.broker.call(&BrokerRequest::ShareMedia { client, media }, &[]).await {
                    Ok(r) => r,
                    Err(_) => return plain(StatusCode::SERVICE_UNAVAILABLE, "the server is restarting; try again\n"),
                };
                match reply.body {
                    Reply::Media(Ok(answer)) => super::media::serve_answer(answer, reply.fds, req.headers(), head)
                        .unwrap_or_else(|| plain(StatusCode::BAD_GATEWAY, "no file came\n")),
                    Reply::Media(Err(e)) => match e.code {
                        code::NOT_FOUND => plain(StatusCode::NOT_FOUND, "not found\n"),
                        code::NOT_AUTHORIZED => plain(StatusCode::FORBIDDEN, &format!("{}\n", e.message)),
                        _ if e.retry_after.is_some() => {
                            plain(StatusCode::TOO_MANY_REQUESTS, &format!("{}\n", e.message))
                        }
                        _ => plain(StatusCode::BAD_GATEWAY, &format!("{}\n", e.message)),
                    },
                    _ => plain(StatusCode::BAD_GATEWAY, "unexpected answer\n"),
                }
            }
            _ => plain(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    async fn ask_page(&self, client: Client, page: SharePageRequest) -> Result<SharePage, HttpResponse> {
        let s = super::ui::strings::en();
        let csp = super::ui::csp(&self.logout_url);
        let reply = match self.broker.call(&BrokerRequest::SharePage { client, page }, &[]).await {
            Ok(r) => r.body,
            Err(_) => return Err(plain(StatusCode::SERVICE_UNAVAILABLE, "the server is restarting; try again\n")),
        };
        let refusal = match reply {
            Reply::SharePage(Ok(p)) => return Ok(*p),
            Reply::SharePage(Err(r)) => r,
            _ => return Err(plain(StatusCode::BAD_GATEWAY, "unexpected answer\n")),
        };
        let (status, markup) = match refusal {
            ShareRefusal::NotFound => (StatusCode::NOT_FOUND, super::ui::share_page::gone(s, &self.base_url, false)),
            ShareRefusal::Expired | ShareRefusal::PlaysUsed => {
                (StatusCode::GONE, super::ui::share_page::gone(s, &self.base_url, true))
            }
            ShareRefusal::Password { wrong, retry_after } => {
                let status =
                    if retry_after.is_some() { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::UNAUTHORIZED };
                (status, super::ui::share_page::password(s, &self.base_url, wrong, retry_after))
            }
        };
        let mut r = html(status, markup.into_string());
        headers_with_policy(&mut r, &csp);
        Err(r)
    }

    async fn share_page(&self, id: &str, req: Request, client: Client) -> HttpResponse {
        let password = match *req.method() {
            Method::GET | Method::HEAD => None,
            Method::POST => {
                // The password form posts to its own page: a form on another site may not
                // guess passwords with a visitor's address (Sec-Fetch-Site / Origin).
                if super::cross_site(req.headers()) {
                    return plain(StatusCode::FORBIDDEN, "a form from another site\n");
                }
                let body = match self.read_body(req.into_body()).await {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let pw = form_urlencoded::parse(&body).find(|(k, _)| k == "password").map(|(_, v)| v.into_owned());
                Some(Secret(pw.unwrap_or_default()))
            }
            _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "GET or POST\n"),
        };
        let page = SharePageRequest { id: id.into(), password, list_token: None, visit: true };
        let p = match self.ask_page(client, page).await {
            Ok(p) => p,
            Err(r) => return r,
        };
        let s = super::ui::strings::en();
        let mut r = html(StatusCode::OK, super::ui::share_page::page(s, &self.base_url, &p).into_string());
        headers_with_policy(&mut r, &super::ui::csp(&self.logout_url));
        r
    }
}

fn html(status: StatusCode, text: String) -> HttpResponse {
    let mut r = Response::new(Body::full(Bytes::from(text)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

/// An extended m3u of the share's stream links (absolute: a desktop player opens the file).
fn m3u(p: &SharePage, base: &str) -> HttpResponse {
    let mut out = String::from("#EXTM3U\n");
    for t in &p.tracks {
        let line = |s: &str| s.replace(['\r', '\n'], " ");
        out.push_str(&format!("#EXTINF:{},{} - {}\n", t.duration_secs, line(&t.artist), line(&t.title)));
        out.push_str(&format!("{base}/share/{}/stream/{}\n", p.id, t.stream));
    }
    let mut r = Response::new(Body::full(Bytes::from(out)));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("audio/x-mpegurl; charset=utf-8"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(hyper::header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"share.m3u\""));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_hosts_are_checked() {
        assert!(valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_id("../../etc/passwd"));
        assert!(!valid_id("0123456789abcdef0123456789abcde"));
        assert_eq!(clean_host("music.example:4533"), Some("music.example:4533"));
        assert_eq!(clean_host("[::1]:80"), Some("[::1]:80"));
        assert_eq!(clean_host("evil.example/<script>"), None);
        assert_eq!(clean_host(""), None);
    }
}
