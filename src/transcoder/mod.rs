//! The transcoder: opens music files and runs the configured ffmpeg on behalf of the broker,
//! returning file descriptors. Holds nothing; may execute only ffmpeg.
#![forbid(unsafe_code)]

use privsep::channel::AsyncChannel;
use privsep::rpc::Client;

use crate::proto::{Reply, Request, Role};
use crate::role::Started;

pub fn run(started: Started) -> Result<(), String> {
    drop(started.control);
    let fd = crate::role::broker_channel()?;
    let rt = crate::role::runtime(Role::Transcoder, 0).map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let chan = AsyncChannel::new(fd).map_err(|e| e.to_string())?;
        let (client, reader) = Client::<Request, Reply>::start(chan);
        client.call(&Request::Ping, &[]).await.map_err(|e| format!("broker: {e}"))?;
        let end = reader.await.map_err(|e| e.to_string())?;
        Err(format!("broker channel ended: {end}"))
    })
}
