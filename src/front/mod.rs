//! The front: the only process facing the network. It parses HTTP, asks the broker, and
//! renders answers. It holds no files (landlock grants it no path), cannot create sockets or
//! run programs (seccomp), and trusts nothing it is told about identity.
#![forbid(unsafe_code)]

pub mod subsonic;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use privsep::channel::AsyncChannel;
use privsep::rpc::Client;
use privsep::spawn::take_layout_fd;

use crate::proto::{fds, Reply, Request, Role};
use crate::role::Started;
use subsonic::{code, Format, Node};

/// Largest form body accepted on /rest (OpenSubsonic formPost).
pub const MAX_FORM_BODY: usize = 64 * 1024;

pub type Broker = Client<Request, Reply>;

pub struct Front {
    broker: Broker,
    base_url: String,
}

pub fn run(started: Started) -> Result<(), String> {
    let init = started.init;
    drop(started.control);
    let broker_fd = crate::role::broker_channel()?;
    let listener_fd = take_layout_fd(fds::LISTENER).ok_or("no listening socket at fd 5")?;
    let rt = crate::role::runtime(Role::Front, 2).map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let chan = AsyncChannel::new(broker_fd).map_err(|e| e.to_string())?;
        let (broker, reader) = Broker::start(chan);
        let front = Arc::new(Front { broker, base_url: init.base_url.clone() });
        let accept = async {
            if init.listener_is_unix {
                let std = std::os::unix::net::UnixListener::from(listener_fd);
                std.set_nonblocking(true).map_err(|e| e.to_string())?;
                let listener = tokio::net::UnixListener::from_std(std).map_err(|e| e.to_string())?;
                loop {
                    match listener.accept().await {
                        Ok((s, _)) => serve_connection(front.clone(), TokioIo::new(s)),
                        Err(e) => accept_error(e).await,
                    }
                }
            } else {
                let std = std::net::TcpListener::from(listener_fd);
                std.set_nonblocking(true).map_err(|e| e.to_string())?;
                let listener = tokio::net::TcpListener::from_std(std).map_err(|e| e.to_string())?;
                loop {
                    match listener.accept().await {
                        Ok((s, _peer)) => {
                            let _ = s.set_nodelay(true);
                            serve_connection(front.clone(), TokioIo::new(s))
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

fn serve_connection<S>(front: Arc<Front>, io: TokioIo<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let svc = service_fn(move |req| {
            let front = front.clone();
            async move { Ok::<_, Infallible>(front.handle(req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(std::time::Duration::from_secs(30))
            .serve_connection(io, svc)
            .await;
    });
}

/// Request parameters from the query string and, for form POSTs, the body, in order.
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

impl Front {
    async fn handle(&self, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let Some(rest) = path.strip_prefix(self.base_url.as_str()) else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let Some(method) = rest.strip_prefix("/rest/") else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let method = method.strip_suffix(".view").unwrap_or(method).to_string();
        let mut params = Params(
            form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        );
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if req.method() == Method::POST && is_form {
            match Limited::new(req.into_body(), MAX_FORM_BODY).collect().await {
                Ok(body) => params
                    .0
                    .extend(form_urlencoded::parse(&body.to_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))),
                Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "form body too large\n"),
            }
        }
        self.rest(&method, &params).await
    }

    async fn rest(&self, method: &str, params: &Params) -> Response<Full<Bytes>> {
        let format = match subsonic::format(params.get("f"), params.get("callback")) {
            Ok(f) => f,
            Err((f, c, m)) => return self.subsonic(&f, env!("CARGO_PKG_VERSION"), None, Some((c, &m))),
        };
        match method {
            "ping" => match self.broker.call(&Request::Ping, &[]).await {
                Ok(r) => match r.body {
                    Reply::Pong { server_version, .. } => self.subsonic(&format, &server_version, None, None),
                    _ => self.broker_trouble(&format),
                },
                Err(_) => self.broker_trouble(&format),
            },
            _ => self.subsonic(&format, env!("CARGO_PKG_VERSION"), None, Some((code::NOT_FOUND, "unknown API method"))),
        }
    }

    fn broker_trouble(&self, format: &Format) -> Response<Full<Bytes>> {
        let mut r = self.subsonic(
            format,
            env!("CARGO_PKG_VERSION"),
            None,
            Some((code::GENERIC, "server is restarting, try again")),
        );
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        r
    }

    fn subsonic(
        &self,
        format: &Format,
        version: &str,
        body: Option<&Node>,
        error: Option<(i64, &str)>,
    ) -> Response<Full<Bytes>> {
        let (ctype, text) = subsonic::render(format, version, body, error);
        let mut r = Response::new(Full::new(Bytes::from(text)));
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
        r
    }
}
