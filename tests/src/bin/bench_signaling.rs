//! Signaling benchmark against a real registry process on loopback.
//!
//! Measures (1) the registry's resident memory per idle registered peer, and (2) relay
//! throughput: pairs of peers bouncing `offer`/`answer` frames through the registry with a
//! bounded window in flight. Run it in release mode:
//!
//! ```text
//! cargo build --release --bins && target/release/bench-signaling [--peers N] [--pairs P] [--seconds S]
//! ```
//!
//! The client side runs on the same two cores, so throughput figures include its cost.

use futures_util::{SinkExt, StreamExt};
use meshwork_tests::cli::Flag;
use meshwork_tests::relay_load::{join, keys};
use meshwork_tests::stats::rss_kib;
use meshwork_tests::{RegistryOptions, RegistryProcess};
use serde_json::json;
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio_tungstenite::tungstenite::Message;

struct Args {
    peers: usize,
    pairs: Vec<usize>,
    seconds: u64,
}

fn parse_args() -> Args {
    let args = meshwork_tests::cli::parse(
        "Signaling benchmark: registry memory per idle peer and relay throughput (loopback).",
        &[
            Flag {
                name: "--peers",
                value: "N",
                help: "idle registered peers (1000)",
            },
            Flag {
                name: "--pairs",
                value: "N,N,…",
                help: "concurrent relaying pairs (1,4,16)",
            },
            Flag {
                name: "--seconds",
                value: "S",
                help: "seconds per throughput run (5)",
            },
        ],
    );
    Args {
        peers: args.get("--peers", 1000),
        pairs: args.list("--pairs", vec![1, 4, 16]),
        seconds: args.get("--seconds", 5),
    }
}

/// The bench measures the relay itself: lift the per-IP token rate and per-peer frame budget
/// (every simulated peer shares 127.0.0.1).
fn bench_env() -> Vec<(String, String)> {
    [
        ("RUST_LOG", "error"),
        ("TOKEN_RATE_PER_MIN", "1000000"),
        ("SIGNAL_RATE_PER_SEC", "10000000"),
        ("SIGNAL_BURST", "10000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect()
}

async fn idle_memory(reg: &RegistryProcess, peers: usize) -> anyhow::Result<()> {
    let pid = reg.pid().unwrap_or(0);
    let http = reqwest::Client::new();
    let before = rss_kib(pid);
    let start = Instant::now();
    let mut drains = Vec::with_capacity(peers);
    for i in 0..peers {
        let ws = join(reg, &http, i).await?;
        // Keep reading (peer_joined broadcasts) so the registry's queues stay drained.
        drains.push(tokio::spawn(async move {
            let (_sink, mut stream) = ws.split();
            while let Some(Ok(_)) = stream.next().await {}
            drop(_sink);
        }));
    }
    let joined_in = start.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    println!("## Idle peers");
    println!("peers held:                 {peers}");
    println!(
        "time to join all:           {:.2} s ({:.0} joins/s)",
        joined_in.as_secs_f64(),
        peers as f64 / joined_in.as_secs_f64()
    );
    println!(
        "registry RSS before:        {:.1} MiB",
        before as f64 / 1024.0
    );
    println!(
        "registry RSS with peers:    {:.1} MiB",
        after as f64 / 1024.0
    );
    println!(
        "memory per idle peer:       {:.1} KiB",
        after.saturating_sub(before) as f64 / peers as f64
    );
    for d in drains {
        d.abort();
    }
    Ok(())
}

const WINDOW: u64 = 64;

async fn relay_throughput(
    reg: &RegistryProcess,
    pairs: usize,
    seconds: u64,
    base: usize,
) -> anyhow::Result<f64> {
    let http = reqwest::Client::new();
    let relayed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for p in 0..pairs {
        let (a, b) = (base + 2 * p, base + 2 * p + 1);
        let ws_a = join(reg, &http, a).await?;
        let ws_b = join(reg, &http, b).await?;
        let (id_a, id_b) = (format!("p{a:05}"), format!("p{b:05}"));
        // b answers every offer it receives.
        let relayed_b = relayed.clone();
        let (id_a2, id_b2) = (id_a.clone(), id_b.clone());
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws_b.split();
            let answer = json!({"type": "answer", "peer_id": id_b2, "target_id": id_a2,
                "payload": {"sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\n"}})
            .to_string();
            while let Some(Ok(Message::Text(t))) = stream.next().await {
                if t.as_str().contains("\"offer\"") {
                    relayed_b.fetch_add(1, Ordering::Relaxed);
                    if sink
                        .send(Message::Text(answer.clone().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }));
        // a keeps WINDOW offers in flight until the deadline.
        let relayed_a = relayed.clone();
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws_a.split();
            let offer = json!({"type": "offer", "peer_id": id_a, "target_id": id_b,
                "payload": {"sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\n"}})
            .to_string();
            for _ in 0..WINDOW {
                if sink
                    .send(Message::Text(offer.clone().into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            while let Some(Ok(Message::Text(t))) = stream.next().await {
                if t.as_str().contains("\"answer\"") {
                    relayed_a.fetch_add(1, Ordering::Relaxed);
                    if Instant::now() >= deadline {
                        break;
                    }
                    if sink
                        .send(Message::Text(offer.clone().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }));
    }
    let start_count = relayed.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep_until((deadline).into()).await;
    let total = relayed.load(Ordering::Relaxed) - start_count;
    let rate = total as f64 / start.elapsed().as_secs_f64();
    for t in tasks {
        t.abort();
    }
    Ok(rate)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let max_pairs = args.pairs.iter().copied().max().unwrap_or(1);
    let total_keys = args.peers + 2 * args.pairs.iter().sum::<usize>() + 2 * max_pairs;
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys(total_keys)),
        env: bench_env(),
        ..Default::default()
    });
    println!(
        "# meshwork signaling benchmark (registry pid {:?}, loopback)",
        reg.pid()
    );
    idle_memory(&reg, args.peers).await?;
    drop(reg);

    println!("## Relay throughput (offer→answer ping-pong, window {WINDOW} per pair)");
    let mut base = 0;
    for pairs in args.pairs {
        let reg = RegistryProcess::start(RegistryOptions {
            api_keys: Some(keys(total_keys)),
            env: bench_env(),
            ..Default::default()
        });
        let rate = relay_throughput(&reg, pairs, args.seconds, base).await?;
        base += 2 * pairs;
        println!("pairs {pairs:>3}: {rate:>10.0} relayed msgs/s");
    }
    Ok(())
}
