//! One broker round trip: a request and its answer through a SEQPACKET channel, the way the
//! front asks the broker (rpc::Client on one runtime, rpc::serve on another, each on its own
//! thread, as in two processes). Prints the figures; asserts nothing about time.
//!
//!     cargo bench -p privsep --bench roundtrip

use std::time::{Duration, Instant};

use privsep::channel::{pair, AsyncChannel, Channel, Message};
use privsep::rpc::{serve, Answer, Client};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
enum Req {
    Ping,
    Bulk(usize),
}
impl Message for Req {}

#[derive(Debug, Serialize, Deserialize)]
enum Resp {
    Pong { server_version: String, uptime_ms: u64 },
    Bulk(Vec<u8>),
}
impl Message for Resp {}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let mean = samples.iter().sum::<Duration>() / n as u32;
    let pct = |p: f64| samples[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "{what:<46} n={n:<6} mean {:>7.1} µs   p50 {:>7.1} µs   p99 {:>7.1} µs",
        mean.as_secs_f64() * 1e6,
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6
    );
}

fn main() {
    let n = 20_000;

    // Blocking channel, one thread each side.
    let (a, b) = pair().unwrap();
    let server = std::thread::spawn(move || {
        let mut b = Channel::new(b);
        while let Ok(r) = b.recv::<Req>() {
            let _ = b.send(r.id, &Resp::Pong { server_version: "0.1.0".into(), uptime_ms: 1 }, &[]);
        }
    });
    let mut a = Channel::new(a);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let t = Instant::now();
        a.send(i, &Req::Ping, &[]).unwrap();
        let _: privsep::channel::Received<Resp> = a.recv().unwrap();
        samples.push(t.elapsed());
    }
    report("blocking Channel, ping", samples);
    drop(a);
    server.join().unwrap();

    // The async rpc layer the daemon uses.
    let (a, b) = pair().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let chan = AsyncChannel::new(b).unwrap();
            serve(
                chan,
                |_r: &Req| Ok(()),
                |r, _fds| async move {
                    Answer::from(match r {
                        Req::Ping => Resp::Pong { server_version: "0.1.0".into(), uptime_ms: 1 },
                        Req::Bulk(len) => Resp::Bulk(vec![7u8; len]),
                    })
                },
            )
            .await;
        });
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async move {
        let (client, _reader) = Client::<Req, Resp>::start(AsyncChannel::new(a).unwrap());
        for _ in 0..1000 {
            client.call(&Req::Ping, &[]).await.unwrap();
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            client.call(&Req::Ping, &[]).await.unwrap();
            samples.push(t.elapsed());
        }
        report("rpc Client -> serve, ping", samples);

        // Throughput with 32 calls in flight.
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let c = client.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..n / 32 {
                    c.call(&Req::Ping, &[]).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let done = (n / 32) * 32;
        println!(
            "{:<46} {:>10.0} round trips/s",
            "rpc, 32 concurrent callers",
            done as f64 / t.elapsed().as_secs_f64()
        );

        // An answer too large for one datagram (spilled to a sealed memfd).
        let mut samples = Vec::with_capacity(2000);
        for _ in 0..2000 {
            let t = Instant::now();
            client.call(&Req::Bulk(256 * 1024), &[]).await.unwrap();
            samples.push(t.elapsed());
        }
        report("rpc, 256 KiB answer (memfd spill)", samples);
    });
}
