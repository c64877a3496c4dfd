//! The scanner: reads the music folders, read-only, and reports to the broker. It never
//! opens the database; a malicious file can at worst crash this process.
#![forbid(unsafe_code)]

use privsep::channel::AsyncChannel;
use privsep::rpc::Client;

use crate::proto::{Reply, Request, Role};
use crate::role::Started;

pub fn run(started: Started) -> Result<(), String> {
    drop(started.control);
    let fd = crate::role::broker_channel()?;
    let rt = crate::role::runtime(Role::Scanner, 0).map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let chan = AsyncChannel::new(fd).map_err(|e| e.to_string())?;
        let (client, reader) = Client::<Request, Reply>::start(chan);
        client.call(&Request::Ping, &[]).await.map_err(|e| format!("broker: {e}"))?;
        // Scanning arrives with the library issue; until then the scanner waits for work.
        let end = reader.await.map_err(|e| e.to_string())?;
        Err(format!("broker channel ended: {end}"))
    })
}
