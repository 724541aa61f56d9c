//! Signaling load for the benchmarks: peers that join a registry over a real WebSocket,
//! offer→answer round trips one at a time (latency) or with a window in flight (throughput),
//! between two peers on one registry or on two of a cluster.

use crate::RegistryProcess;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio_tungstenite::{connect_async, tungstenite::Message};

/// API keys for peers `0..n`: peer `i` has key `ak_{i}` and peer id `p{i:05}`.
pub fn keys(n: usize) -> Value {
    let keys: serde_json::Map<String, Value> = (0..n)
        .map(|i| (format!("ak_{i}"), json!({"peer_id": format!("p{i:05}")})))
        .collect();
    json!({ "keys": keys })
}

/// What a benchmark registry runs with: quiet, and no limit on tokens, frames or auth
/// failures (every simulated peer shares 127.0.0.1).
pub fn bench_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("RUST_LOG", "error"),
        ("TOKEN_RATE_PER_MIN", "1000000"),
        ("SIGNAL_RATE_PER_SEC", "10000000"),
        ("SIGNAL_BURST", "10000000"),
        ("AUTH_FAILURES_PER_MIN", "1000000"),
    ]
}

/// A peer's signaling WebSocket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const WINDOW: usize = 64;
const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\n";

/// Peer `i` gets a token, connects and registers; returns once it has its peer list.
pub async fn join(reg: &RegistryProcess, http: &reqwest::Client, i: usize) -> anyhow::Result<Ws> {
    let v: Value = http
        .post(reg.url("/api/token"))
        .header("x-api-key", format!("ak_{i}"))
        .send()
        .await?
        .json()
        .await?;
    let token = v["token"].as_str().unwrap_or_default();
    let (mut ws, _) = connect_async(format!("{}?token={token}", reg.ws_url())).await?;
    let frame = json!({"type": "register", "peer_id": format!("p{i:05}"), "payload": {}});
    ws.send(Message::Text(frame.to_string().into())).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().contains("\"peer_list\"") => return Ok(ws),
            Some(Ok(_)) => continue,
            other => anyhow::bail!("peer {i}: no peer_list: {other:?}"),
        }
    }
}

fn frame(kind: &str, from: usize, to: usize) -> String {
    json!({"type": kind, "peer_id": format!("p{from:05}"), "target_id": format!("p{to:05}"),
           "payload": {"sdp": SDP}})
    .to_string()
}

/// Peer `me` answers every offer from `peer` it gets (until the socket closes).
fn answerer(ws: Ws, me: usize, peer: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (mut sink, mut stream) = ws.split();
        let answer = frame("answer", me, peer);
        while let Some(Ok(Message::Text(t))) = stream.next().await {
            if t.as_str().contains("\"offer\"")
                && sink
                    .send(Message::Text(answer.clone().into()))
                    .await
                    .is_err()
            {
                break;
            }
        }
    })
}

/// Waits until `a` hears that peer `b` joined (it may be on another registry).
async fn wait_joined(a: &mut Ws, b: usize) -> anyhow::Result<()> {
    let id = format!("p{b:05}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(10), a.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("peer_joined") && t.contains(&id) => {
                return Ok(())
            }
            Ok(Some(Ok(_))) => {}
            other => anyhow::bail!("no peer_joined for {id}: {other:?}"),
        }
    }
    anyhow::bail!("no peer_joined for {id}")
}

/// Round trips offer→answer one at a time; milliseconds.
pub async fn latency(
    from: &RegistryProcess,
    to: &RegistryProcess,
    ids: (usize, usize),
    samples: usize,
) -> anyhow::Result<Vec<f64>> {
    let http = reqwest::Client::new();
    let (a, b) = ids;
    let mut ws_a = join(from, &http, a).await?;
    let ws_b = join(to, &http, b).await?;
    wait_joined(&mut ws_a, b).await?;
    let answers = answerer(ws_b, b, a);
    let offer = frame("offer", a, b);
    let mut rtts = Vec::with_capacity(samples);
    for i in 0..samples + 100 {
        let sent = Instant::now();
        ws_a.send(Message::Text(offer.clone().into())).await?;
        loop {
            match ws_a.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"answer\"") => break,
                Some(Ok(_)) => {}
                other => anyhow::bail!("no answer: {other:?}"),
            }
        }
        if i >= 100 {
            rtts.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
    }
    answers.abort();
    Ok(rtts)
}

/// Offers answered per second with `WINDOW` in flight per pair.
pub async fn throughput(
    from: &RegistryProcess,
    to: &RegistryProcess,
    first_id: usize,
    pairs: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let http = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(seconds + 2);
    let mut senders = Vec::new();
    for p in 0..pairs {
        let (a, b) = (first_id + 2 * p, first_id + 2 * p + 1);
        let mut ws_a = join(from, &http, a).await?;
        let ws_b = join(to, &http, b).await?;
        wait_joined(&mut ws_a, b).await?;
        tasks.push(answerer(ws_b, b, a));
        senders.push((ws_a, a, b));
    }
    for (ws_a, a, b) in senders {
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws_a.split();
            let offer = frame("offer", a, b);
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
                if t.contains("\"answer\"") {
                    done.fetch_add(1, Ordering::Relaxed);
                    if Instant::now() >= deadline
                        || sink
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
    tokio::time::sleep(Duration::from_secs(1)).await; // warm up
    let (start, before) = (Instant::now(), done.load(Ordering::Relaxed));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let rate = (done.load(Ordering::Relaxed) - before) as f64 / start.elapsed().as_secs_f64();
    for t in tasks {
        t.abort();
    }
    Ok(rate)
}
