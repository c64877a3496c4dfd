//! Request/answer on top of [`AsyncChannel`]: the unprivileged side calls, the broker serves.
//!
//! Every request carries an id chosen by the caller; answers may come back in any order. The
//! serving side checks every request against a permit function (OpenSSH's `MON_PERMIT`)
//! *before* doing anything with it; a request outside the permit ends the channel.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::channel::{AsyncChannel, ChannelError, Datagram, Message, Received, MAX_FRAME};

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("the broker channel is gone")]
    Gone,
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

/// Callers waiting for an answer, by request id. The reader hands each its datagram
/// undecoded: the caller decodes it (see [`Datagram`]).
type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Datagram>>>>>;

/// The calling side. Cheap to clone; all clones share one channel.
pub struct Client<Req, Resp> {
    chan: Arc<AsyncChannel>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
    _types: std::marker::PhantomData<fn(Req) -> Resp>,
}

impl<Req, Resp> Clone for Client<Req, Resp> {
    fn clone(&self) -> Self {
        Client {
            chan: self.chan.clone(),
            pending: self.pending.clone(),
            next_id: self.next_id.clone(),
            _types: std::marker::PhantomData,
        }
    }
}

impl<Req: Message, Resp: Message> Client<Req, Resp> {
    /// Starts the reader task; the returned handle finishes with the error that ended the
    /// channel, and every call still waiting then fails with [`RpcError::Gone`].
    pub fn start(chan: AsyncChannel) -> (Self, JoinHandle<ChannelError>) {
        let chan = Arc::new(chan);
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let reader = {
            let chan = chan.clone();
            let pending = pending.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; MAX_FRAME];
                let err = loop {
                    match chan.recv_datagram(&mut buf).await {
                        Ok(r) => {
                            let waiter = pending.lock().unwrap().as_mut().and_then(|m| m.remove(&r.id));
                            match waiter {
                                Some(tx) => {
                                    let _ = tx.send(r);
                                }
                                // An answer nobody asked for: the broker is confused or lying.
                                None => break ChannelError::Closed,
                            }
                        }
                        Err(e) => break e,
                    }
                };
                // Dropping the senders wakes every waiting caller with `Gone`.
                pending.lock().unwrap().take();
                err
            })
        };
        let client = Client { chan, pending, next_id: Arc::new(AtomicU64::new(1)), _types: std::marker::PhantomData };
        (client, reader)
    }

    pub async fn call(&self, req: &Req, fds: &[std::os::fd::BorrowedFd<'_>]) -> Result<Received<Resp>, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match self.pending.lock().unwrap().as_mut() {
            Some(map) => map.insert(id, tx),
            None => return Err(RpcError::Gone),
        };
        if let Err(e) = self.chan.send(id, req, fds).await {
            if let Some(m) = self.pending.lock().unwrap().as_mut() {
                m.remove(&id);
            }
            return Err(e.into());
        }
        // Decoded here, not on the reader task. An answer that does not decode still ends
        // the channel (module docs of `channel`): the reader then sees it closed.
        match rx.await.map_err(|_| RpcError::Gone)?.decode() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.chan.shutdown();
                Err(e.into())
            }
        }
    }
}

/// What a handler returns: the answer and the fds that travel with it.
pub struct Answer<Resp> {
    pub body: Resp,
    pub fds: Vec<OwnedFd>,
}

impl<Resp> From<Resp> for Answer<Resp> {
    fn from(body: Resp) -> Self {
        Answer { body, fds: Vec::new() }
    }
}

/// Why a served channel ended.
#[derive(Debug, thiserror::Error)]
pub enum ServeEnd {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("request kind {0:?} is not permitted for this peer")]
    NotPermitted(String),
}

/// Serves requests until the channel fails or the peer asks for something it may not.
/// `permit` runs on the reader task, before the request is handled; handlers run concurrently.
pub async fn serve<Req, Resp, P, H, F>(chan: AsyncChannel, permit: P, handler: H) -> ServeEnd
where
    Req: Message + std::fmt::Debug,
    Resp: Message,
    P: Fn(&Req) -> Result<(), String>,
    H: Fn(Req, Vec<OwnedFd>) -> F,
    F: Future<Output = Answer<Resp>> + Send + 'static,
{
    let chan = Arc::new(chan);
    let mut buf = vec![0u8; MAX_FRAME];
    loop {
        let r = match chan.recv::<Req>(&mut buf).await {
            Ok(r) => r,
            Err(e) => return e.into(),
        };
        if let Err(kind) = permit(&r.body) {
            return ServeEnd::NotPermitted(kind);
        }
        let fut = handler(r.body, r.fds);
        let chan = chan.clone();
        let id = r.id;
        tokio::spawn(async move {
            let answer = fut.await;
            let fds: Vec<_> = answer.fds.iter().map(|f| f.as_fd()).collect();
            // A failed send means the peer is gone; the reader loop sees that too.
            let _ = chan.send(id, &answer.body, &fds).await;
        });
    }
}
