//! `/rest/<method>`: parameters to a typed call, credentials, and the answer rendered.
#![forbid(unsafe_code)]

use super::Body;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};

use super::subsonic::{self, Format, Node, Value};
use super::{missing, Front, HttpResponse, Params, Peer};
use crate::proto::error::{code, unknown_method, wrong_credentials};
use crate::proto::library::{LibraryCall, ListKind, Search};
use crate::proto::{
    Answer, ApiError, Call, Client, Credentials, Reply, Request, Revalidated, Secret, UserFields, UserInfo,
};

/// OpenSubsonic extensions this server implements, with their versions.
pub const EXTENSIONS: &[(&str, &[i64])] = &[
    ("apiKeyAuthentication", &[1]),
    ("formPost", &[1]),
    ("indexBasedQueue", &[1]),
    ("playbackReport", &[1]),
    ("songLyrics", &[1]),
    ("transcodeOffset", &[1]),
];

fn conflict(why: &str) -> ApiError {
    ApiError::new(code::CONFLICTING_AUTH, format!("Multiple conflicting authentication mechanisms provided: {why}"))
}

/// `enc:` followed by hex (either case) is the password hex-encoded.
pub fn decode_password(p: &str) -> Result<String, ApiError> {
    match p.strip_prefix("enc:") {
        None => Ok(p.to_string()),
        Some(h) => hex::decode(h).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(wrong_credentials),
    }
}

/// The typed call for a method, or 70 for a method this server does not have.
fn call(method: &str, p: &Params) -> Result<Call, ApiError> {
    Ok(match method {
        "ping" => Call::Ping,
        "getLicense" => Call::GetLicense,
        "tokenInfo" => Call::TokenInfo,
        "getUser" => Call::GetUser { username: p.required("username")?.to_string() },
        "getUsers" => Call::GetUsers,
        "createUser" | "updateUser" => {
            let fields = UserFields {
                username: p.required("username")?.to_string(),
                password: match p.get("password") {
                    Some(pw) => Some(Secret(decode_password(pw)?)),
                    None if method == "createUser" => return Err(missing("password")),
                    None => None,
                },
                email: p.get("email").map(str::to_string),
                admin: p.boolean("adminRole")?,
            };
            if method == "createUser" {
                Call::CreateUser(fields)
            } else {
                Call::UpdateUser(fields)
            }
        }
        "deleteUser" => Call::DeleteUser { username: p.required("username")?.to_string() },
        "getScanStatus" => Call::GetScanStatus,
        "startScan" => Call::StartScan { full: p.boolean("fullScan")?.unwrap_or(false) },
        "changePassword" => Call::ChangePassword {
            username: p.required("username")?.to_string(),
            password: Secret(decode_password(p.required("password")?)?),
        },
        _ => match library_call(method, p)? {
            Some(l) => Call::Library(l),
            None => match super::media::rest_call(method, p)? {
                Some(c) => c,
                None => super::userdata::call(method, p)?.map(Call::UserData).ok_or_else(|| unknown_method(method))?,
            },
        },
    })
}

impl Front {
    /// The user a trusted proxy names in ExtAuth.UserHeader (None from anyone else, or when
    /// the header is absent or empty). The header repeated, or holding a list, is refused and
    /// logged: a proxy that appends rather than replaces would let the client choose.
    pub(super) fn proxy_user<'h>(&self, headers: &'h HeaderMap, peer: &Peer) -> Result<Option<&'h str>, String> {
        if !peer.trusted {
            return Ok(None);
        }
        let mut values = headers.get_all(self.user_header.as_str()).iter();
        let Some(first) = values.next() else { return Ok(None) };
        let refuse = |why: String| {
            tracing::warn!("refused a request from {}: {why}", peer.addr);
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

    pub async fn rest(&self, method: &str, p: &Params, headers: &HeaderMap, peer: &Peer) -> HttpResponse {
        let format = match subsonic::format(p.get("f"), p.get("callback")) {
            Ok(f) => f,
            Err((f, c, m)) => return self.failed(&f, ApiError::new(c, m)),
        };
        if method == "getOpenSubsonicExtensions" {
            // Public by the OpenSubsonic spec: no parameters, no authentication.
            return self.ok(&format, Some(&extensions()));
        }
        let call = match call(method, p) {
            Ok(c) => c,
            Err(e) => return self.failed(&format, e),
        };
        let (client, creds) = match self.caller(p, headers, peer) {
            Ok(c) => c,
            Err(e) => return self.failed(&format, e),
        };
        if let Call::Library(lib) = call {
            if lib.deterministic() {
                return self.revalidated(method, p, &format, client, creds, lib).await;
            }
            return self.answer(&format, Request::Api { client, creds, call: Call::Library(lib) }).await;
        }
        self.answer(&format, Request::Api { client, creds, call }).await
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

    async fn answer(&self, format: &Format, req: Request) -> HttpResponse {
        match self.broker.call(&req, &[]).await {
            Ok(r) => match r.body {
                Reply::Api(Ok(answer)) => self.ok(format, render(&answer).as_ref()),
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
        client: Client,
        creds: Credentials,
        call: LibraryCall,
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
                    let mut r = Response::new(Body::Full(Some(e.body)));
                    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(e.content_type));
                    r
                }
                None => self.broker_trouble(format),
            },
            Reply::Revalidated(Ok(Revalidated::Fresh { answer, stamp })) => {
                let answer = Answer::Library(answer);
                let (ctype, text) = subsonic::render(
                    format,
                    env!("CARGO_PKG_VERSION"),
                    render(&answer).as_ref(),
                    None,
                    super::render::record,
                );
                let body = Bytes::from(text);
                if stamp.generation != 0 {
                    let entry = super::cache::Entry { stamp, content_type: ctype, body: body.clone() };
                    self.cache.put(key, entry);
                }
                let mut r = Response::new(Body::Full(Some(body)));
                r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
                r
            }
            Reply::Revalidated(Err(e)) => self.failed(format, e),
            _ => self.broker_trouble(format),
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

fn respond(format: &Format, body: Option<&Node>, error: Option<(i64, &str)>) -> HttpResponse {
    let (ctype, text) = subsonic::render(format, env!("CARGO_PKG_VERSION"), body, error, super::render::record);
    let mut r = Response::new(Body::full(Bytes::from(text)));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// The read-only library methods.
fn library_call(method: &str, p: &Params) -> Result<Option<LibraryCall>, ApiError> {
    let id = || p.required("id").map(str::to_string);
    let folder = || p.int::<i64>("musicFolderId");
    Ok(Some(match method {
        "getMusicFolders" => LibraryCall::MusicFolders,
        "getIndexes" => LibraryCall::Indexes { folder: folder()?, if_modified_since: p.int("ifModifiedSince")? },
        "getMusicDirectory" => LibraryCall::MusicDirectory { id: id()? },
        "getGenres" => LibraryCall::Genres,
        "getArtists" => LibraryCall::Artists { folder: folder()? },
        "getArtist" => LibraryCall::Artist { id: id()? },
        "getAlbum" => LibraryCall::Album { id: id()? },
        "getSong" => LibraryCall::Song { id: id()? },
        "getArtistInfo" | "getArtistInfo2" => LibraryCall::ArtistInfo { id: id()?, v2: method.ends_with('2') },
        "getAlbumInfo" | "getAlbumInfo2" => LibraryCall::AlbumInfo { id: id()?, v2: method.ends_with('2') },
        "getSimilarSongs" | "getSimilarSongs2" => {
            LibraryCall::SimilarSongs { id: id()?, count: p.int_or("count", 50)?, v2: method.ends_with('2') }
        }
        "getTopSongs" => {
            LibraryCall::TopSongs { artist: p.required("artist")?.to_string(), count: p.int_or("count", 50)? }
        }
        "getAlbumList" | "getAlbumList2" => {
            let kind = match p.required("type")? {
                "random" => ListKind::Random,
                "newest" => ListKind::Newest,
                "highest" => ListKind::Highest,
                "frequent" => ListKind::Frequent,
                "recent" => ListKind::Recent,
                "alphabeticalByName" => ListKind::AlphabeticalByName,
                "alphabeticalByArtist" => ListKind::AlphabeticalByArtist,
                "starred" => ListKind::Starred,
                "byYear" => ListKind::ByYear {
                    from: p.int("fromYear")?.ok_or_else(|| missing("fromYear"))?,
                    to: p.int("toYear")?.ok_or_else(|| missing("toYear"))?,
                },
                "byGenre" => ListKind::ByGenre(p.required("genre")?.to_string()),
                other => return Err(ApiError::new(code::GENERIC, format!("Invalid list type: {other:?}"))),
            };
            LibraryCall::AlbumList {
                kind,
                size: p.int_or("size", 10)?,
                offset: p.int_or("offset", 0)?,
                folder: folder()?,
                v2: method.ends_with('2'),
            }
        }
        "getRandomSongs" => LibraryCall::RandomSongs {
            size: p.int_or("size", 10)?,
            genre: p.get("genre").filter(|g| !g.is_empty()).map(str::to_string),
            from_year: p.int("fromYear")?,
            to_year: p.int("toYear")?,
            folder: folder()?,
        },
        "getSongsByGenre" => LibraryCall::SongsByGenre {
            genre: p.required("genre")?.to_string(),
            count: p.int_or("count", 10)?,
            offset: p.int_or("offset", 0)?,
            folder: folder()?,
        },
        "getStarred" | "getStarred2" => LibraryCall::Starred { folder: folder()?, v2: method.ends_with('2') },
        "search2" | "search3" => LibraryCall::Search(Search {
            // search3's query may be empty (or ""): then everything is listed, paged.
            query: p.get("query").unwrap_or("").trim_matches('"').to_string(),
            artist_count: p.int_or("artistCount", 20)?,
            artist_offset: p.int_or("artistOffset", 0)?,
            album_count: p.int_or("albumCount", 20)?,
            album_offset: p.int_or("albumOffset", 0)?,
            song_count: p.int_or("songCount", 20)?,
            song_offset: p.int_or("songOffset", 0)?,
            folder: folder()?,
            version: if method == "search3" { 3 } else { 2 },
        }),
        _ => return Ok(None),
    }))
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
        .map(|(name, versions)| {
            Node::new("openSubsonicExtension")
                .attr("name", *name)
                .prim("versions", versions.iter().map(|v| Value::Int(*v)).collect())
        })
        .collect();
    let mut n = Node::new("openSubsonicExtensions").list("openSubsonicExtension", items);
    n.json_as_list = Some("openSubsonicExtension");
    n
}

fn user_node(u: &UserInfo) -> Node<'_> {
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
        .attr("shareRole", false)
        .attr("videoConversionRole", false)
}

fn render(a: &Answer) -> Option<Node<'_>> {
    match a {
        Answer::Empty => None,
        Answer::License => Some(Node::new("license").attr("valid", true)),
        Answer::TokenInfo { username } => Some(Node::new("tokenInfo").attr("username", username.as_str())),
        Answer::User(u) => Some(user_node(u)),
        Answer::Users(us) => Some(Node::new("users").list("user", us.iter().map(user_node).collect())),
        Answer::Library(l) => Some(super::render::library(l)),
        Answer::UserData(a) => super::userdata::render(a),
        Answer::MediaAdmin(a) => super::media::render_admin(a),
        Answer::Lyrics(a) => super::media::render_lyrics(a),
        Answer::ScanStatus { scanning, count, folder_count, last_scan } => {
            let mut n = Node::new("scanStatus")
                .attr("scanning", *scanning)
                .attr("count", *count as i64)
                .attr("folderCount", *folder_count as i64);
            if let Some(t) = last_scan {
                n = n.attr("lastScan", crate::dates::iso8601(*t));
            }
            Some(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enc_passwords_in_either_case() {
        assert_eq!(decode_password("enc:736563726574").unwrap(), "secret");
        assert_eq!(decode_password("enc:7365637265744A").unwrap(), "secretJ");
        assert_eq!(decode_password("plain").unwrap(), "plain");
        assert!(decode_password("enc:zz").is_err());
    }

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
