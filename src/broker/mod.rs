//! The broker: the only process that holds state. Every other role sends it typed requests
//! over its own channel; the broker checks each against the sender's permit list
//! (proto::permit) before anything else.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use privsep::channel::{AsyncChannel, MAX_FRAME};
use privsep::rpc::{self, Answer, ServeEnd};

use crate::proto::{permit, Control, Reply, Request, Role};
use crate::role::Started;

pub struct Broker {
    started: Instant,
}

impl Broker {
    pub fn new() -> Arc<Broker> {
        Arc::new(Broker { started: Instant::now() })
    }

    /// Answers one permitted request. Runs concurrently with other requests.
    pub async fn handle(self: Arc<Self>, role: Role, req: Request, _fds: Vec<OwnedFd>) -> Answer<Reply> {
        match req {
            Request::Ping => Reply::Pong {
                server_version: env!("CARGO_PKG_VERSION").to_string(),
                uptime_ms: self.started.elapsed().as_millis() as u64,
            }
            .into(),
            Request::ScanFinished { files } => {
                tracing::info!("{} reports a finished scan of {files} files", role.name());
                Reply::Done.into()
            }
        }
    }

    /// Serves one peer's channel until it closes or breaks the protocol.
    pub async fn serve_peer(self: Arc<Self>, role: Role, fd: OwnedFd) -> ServeEnd {
        let chan = match AsyncChannel::new(fd) {
            Ok(c) => c,
            Err(e) => {
                return ServeEnd::Channel(privsep::channel::ChannelError::Io(nix::errno::Errno::from_raw(
                    e.raw_os_error().unwrap_or(5),
                )))
            }
        };
        let me = self.clone();
        rpc::serve(chan, |req: &Request| permit(role, req), move |req, fds| me.clone().handle(role, req, fds)).await
    }
}

pub fn run(started: Started) -> Result<(), String> {
    let rt = crate::role::runtime(Role::Broker, 2).map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let broker = Broker::new();
        let control = AsyncChannel::new(started.control.into_fd()).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; MAX_FRAME];
        loop {
            // The supervisor hands us the broker end of each (re)started role's channel.
            let msg = match control.recv::<Control>(&mut buf).await {
                Ok(m) => m,
                Err(e) => return Err(format!("supervisor channel closed: {e}")),
            };
            match msg.body {
                Control::Attach(role) if role != Role::Broker => {
                    let fd = msg.fds.into_iter().next().expect("fd count checked by the channel");
                    let broker = broker.clone();
                    tokio::spawn(async move {
                        match broker.serve_peer(role, fd).await {
                            ServeEnd::Channel(privsep::channel::ChannelError::Closed) => {
                                tracing::debug!("{} channel closed", role.name())
                            }
                            end => tracing::warn!("closing the {} channel: {end}", role.name()),
                        }
                    });
                }
                other => return Err(format!("unexpected control message {other:?}")),
            }
        }
    })
}
