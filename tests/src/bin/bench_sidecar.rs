//! Native sidecar benchmark: real registry and sidecar processes, real WebRTC on loopback.
//!
//! ```text
//! cargo build --release --bins && target/release/bench_sidecar [--runs 20] [--mesh 10,20,50]
//! ```
//!
//! 1. Setup time: offer created → `mesh` channel open, read from the offerer's log line
//!    (`channel open … setup_ms=`), over fresh pairs of sidecars; and process start →
//!    `peer_connected` at the agent.
//! 2. RTT: agent → sidecar → DataChannel → sidecar → agent and back (ping/pong over IPC).
//! 3. Throughput of one channel for 1 KiB, 64 KiB and 1 MiB messages, agent to agent.
//! 4. Full-mesh formation time and total sidecar RSS for N sidecars.

use meshwork_tests::cli::Flag;
use meshwork_tests::stats::{percentile, pss_kib, rss_anon_kib, rss_kib};
use meshwork_tests::{
    sidecar::QUIET_LOG, IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn keys(n: usize) -> Value {
    let mut keys = serde_json::Map::new();
    for i in 0..n {
        keys.insert(format!("ak_{i}"), json!({"peer_id": format!("p{i:03}")}));
    }
    json!({ "keys": keys })
}

fn peer(i: usize) -> String {
    format!("p{i:03}")
}

/// `BENCH_SIDECAR_LOG` sets the sidecars' `RUST_LOG` (timelines of a setup, as in
/// `bench_browser`); quiet otherwise.
fn start(reg: &RegistryProcess, i: usize) -> SidecarProcess {
    let log = std::env::var("BENCH_SIDECAR_LOG").unwrap_or_else(|_| QUIET_LOG.to_owned());
    SidecarProcess::start_with(
        reg,
        &format!("ak_{i}"),
        &peer(i),
        &[("MESHWORK_KEEP_ALIVE", "1"), ("RUST_LOG", &log)],
    )
}

async fn setup_time(reg: &RegistryProcess, runs: usize, base: usize) -> anyhow::Result<()> {
    let mut offer_to_open = Vec::new();
    let mut start_to_connected = Vec::new();
    for run in 0..runs {
        let (a, b) = (base + 2 * run, base + 2 * run + 1);
        let (tx, rx) = std::sync::mpsc::channel();
        let env = [
            ("MESHWORK_KEEP_ALIVE", "1"),
            ("RUST_LOG", "error,meshwork_sidecar::driver=info"),
        ];
        let t0 = Instant::now();
        let car_a =
            SidecarProcess::start_logged(reg, &format!("ak_{a}"), &peer(a), &env, tx.clone());
        let car_b = SidecarProcess::start_logged(reg, &format!("ak_{b}"), &peer(b), &env, tx);
        let mut ipc_a = car_a.ipc().await;
        ipc_a.wait_connected(&[&peer(b)]).await;
        start_to_connected.push(t0.elapsed().as_secs_f64() * 1e3);
        // The offerer is the smaller id: p{a}.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (who, line) = rx.recv_timeout(left)?;
            if who == peer(a) && line.contains("channel open") {
                if let Some(ms) = line
                    .split("setup_ms=")
                    .nth(1)
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    offer_to_open.push(ms);
                    break;
                }
            }
        }
        drop(car_a);
        drop(car_b);
    }
    println!("## Setup time native↔native ({runs} fresh pairs)");
    println!(
        "offer created → channel open (offerer):  p50 {:.1} ms  p99 {:.1} ms",
        percentile(&mut offer_to_open.clone(), 50.0),
        percentile(&mut offer_to_open, 99.0)
    );
    println!(
        "process start → agent sees peer_connected: p50 {:.1} ms  p99 {:.1} ms",
        percentile(&mut start_to_connected.clone(), 50.0),
        percentile(&mut start_to_connected, 99.0)
    );
    Ok(())
}

async fn pair(
    reg: &RegistryProcess,
    a: usize,
    b: usize,
) -> (SidecarProcess, SidecarProcess, IpcClient, IpcClient) {
    let car_a = start(reg, a);
    let car_b = start(reg, b);
    let mut ipc_a = car_a.ipc().await;
    let mut ipc_b = car_b.ipc().await;
    ipc_a.wait_connected(&[&peer(b)]).await;
    ipc_b.wait_connected(&[&peer(a)]).await;
    (car_a, car_b, ipc_a, ipc_b)
}

async fn rtt(reg: &RegistryProcess, base: usize) -> anyhow::Result<()> {
    let (_a, _b, mut ipc_a, ipc_b) = pair(reg, base, base + 1).await;
    let target_a = peer(base);
    // Bob's agent: answer every ping with a pong.
    let echo = tokio::spawn(async move {
        let mut ipc_b = ipc_b;
        loop {
            let Ok(ev) = ipc_b.next_event(Duration::from_secs(30)).await else {
                return;
            };
            if ev["type"] == "message" && ev["payload"]["message"]["type"] == "ping" {
                let id = ev["payload"]["message"]["request_id"].clone();
                ipc_b.send(json!({"type": "send", "payload": {"target_peer": target_a, "message": {"type": "pong", "request_id": id}}})).await;
            }
        }
    });
    let mut samples = Vec::new();
    let to = peer(base + 1);
    for i in 0..1100 {
        let id = format!("rtt-{i}");
        let line = format!(
            r#"{{"type":"send","payload":{{"target_peer":"{to}","message":{{"type":"ping","request_id":"{id}"}}}}}}"#
        );
        let needle = format!(r#""request_id":"{id}""#);
        let t = Instant::now();
        ipc_a.send_line(&line).await;
        while !ipc_a
            .next_line(Duration::from_secs(5))
            .await?
            .contains(&needle)
        {}
        if i >= 100 {
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    echo.abort();
    // The IPC leg alone: agent → sidecar → agent (list_peers), to separate it from the link.
    let mut ipc_only = Vec::new();
    for i in 0..1100 {
        let t = Instant::now();
        ipc_a
            .send_line(r#"{"type":"list_peers","payload":{}}"#)
            .await;
        while !ipc_a
            .next_line(Duration::from_secs(5))
            .await?
            .contains("peer_list")
        {}
        if i >= 100 {
            ipc_only.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    println!("## RTT, small message (1000 round trips)");
    let (p50, p99) = (
        percentile(&mut samples.clone(), 50.0),
        percentile(&mut samples, 99.0),
    );
    let ipc50 = percentile(&mut ipc_only, 50.0);
    println!("agent→agent→agent over IPC + DataChannel: p50 {p50:.0} µs  p99 {p99:.0} µs");
    println!("one IPC round trip alone (list_peers):    p50 {ipc50:.0} µs");
    println!(
        "DataChannel share (total − 2 IPC trips):  p50 ≈ {:.0} µs",
        p50 - 2.0 * ipc50
    );
    Ok(())
}

async fn throughput(reg: &RegistryProcess, base: usize, small: usize) -> anyhow::Result<()> {
    let (_a, _b, mut ipc_a, mut ipc_b) = pair(reg, base, base + 1).await;
    println!("## Throughput of one channel, agent to agent (payload bytes)");
    for (size, count) in [(1024usize, small), (64 * 1024, 1_500), (1024 * 1024, 100)] {
        let body = "x".repeat(size);
        let target = peer(base + 1);
        let t = Instant::now();
        let sender = async {
            for i in 0..count {
                let line = format!(
                    r#"{{"type":"send","payload":{{"target_peer":"{target}","message":{{"type":"agent_prompt","request_id":"t{i}","payload":{{"message":"{body}"}}}}}}}}"#
                );
                ipc_a.send_line(&line).await;
            }
        };
        let receiver = async {
            let mut got = 0;
            while got < count {
                let line = ipc_b.next_line(Duration::from_secs(60)).await?;
                if line.starts_with(r#"{"type":"message""#) {
                    got += 1;
                }
            }
            anyhow::Ok(())
        };
        let (_, received) = tokio::join!(sender, receiver);
        received?;
        let secs = t.elapsed().as_secs_f64();
        let mbit = (size * count) as f64 * 8.0 / secs / 1e6;
        println!(
            "{:>8} B × {count:>6}: {mbit:>7.0} Mbit/s ({:.0} msgs/s)",
            size,
            count as f64 / secs
        );
    }
    Ok(())
}

async fn mesh(reg: &RegistryProcess, n: usize, base: usize) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let cars: Vec<SidecarProcess> = (base..base + n).map(|i| start(reg, i)).collect();
    let mut ipcs = Vec::new();
    for car in &cars {
        ipcs.push(car.ipc().await);
    }
    let mut waits = Vec::new();
    for (k, mut ipc) in ipcs.into_iter().enumerate() {
        let others: Vec<String> = (base..base + n)
            .filter(|i| *i != base + k)
            .map(peer)
            .collect();
        waits.push(tokio::spawn(async move {
            let refs: Vec<&str> = others.iter().map(String::as_str).collect();
            ipc.wait_connected_within(&refs, Duration::from_secs(120))
                .await;
            ipc
        }));
    }
    let mut _keep = Vec::new();
    for w in waits {
        _keep.push(w.await?);
    }
    let formed = t0.elapsed();
    let pids: Vec<u32> = cars.iter().filter_map(SidecarProcess::pid).collect();
    let mib = |f: fn(u32) -> u64| pids.iter().copied().map(f).sum::<u64>() as f64 / 1024.0;
    let (rss, anon, pss) = (mib(rss_kib), mib(rss_anon_kib), mib(pss_kib));
    println!(
        "N={n:>3}: full mesh ({} links) in {:.2} s; total sidecar RSS {rss:.0} MiB ({:.1} MiB per sidecar); \
         anonymous {anon:.0} MiB; PSS {pss:.0} MiB",
        n * (n - 1) / 2,
        formed.as_secs_f64(),
        rss / n as f64
    );
    Ok(())
}

/// Memory per link: one sidecar's RSS holding 1 link, then `n` links (the other sidecars
/// also link to each other; only the first one's RSS is read). Each reading is taken once
/// every link is open and has carried keepalives for a second.
async fn links(reg: &RegistryProcess, n: usize, base: usize) -> anyhow::Result<()> {
    const SETTLE: Duration = Duration::from_secs(1);
    let hub = start(reg, base);
    let mut hub_ipc = hub.ipc().await;
    let pid = hub
        .pid()
        .ok_or_else(|| anyhow::anyhow!("the sidecar has no pid"))?;
    let mut cars = vec![start(reg, base + 1)];
    hub_ipc.wait_connected(&[&peer(base + 1)]).await;
    tokio::time::sleep(SETTLE).await;
    let one = rss_kib(pid);
    cars.extend((base + 2..=base + n).map(|i| start(reg, i)));
    let others: Vec<String> = (base + 2..=base + n).map(peer).collect();
    let refs: Vec<&str> = others.iter().map(String::as_str).collect();
    hub_ipc
        .wait_connected_within(&refs, Duration::from_secs(120))
        .await;
    tokio::time::sleep(SETTLE).await;
    let many = rss_kib(pid);
    let per_link = many.saturating_sub(one) as f64 / (n - 1) as f64;
    println!("## Memory per link (one sidecar's RSS)");
    println!(
        "1 link: {one} KiB; {n} links: {many} KiB; per extra link: {per_link:.0} KiB \
         (anonymous at {n} links: {} KiB)",
        rss_anon_kib(pid)
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = meshwork_tests::cli::parse(
        "Native sidecar benchmark: setup, RTT, throughput, full-mesh formation (loopback).",
        &[
            Flag {
                name: "--runs",
                value: "N",
                help: "fresh pairs for the setup time (20)",
            },
            Flag {
                name: "--links",
                value: "N",
                help: "links held by one sidecar for the memory-per-link figure (20)",
            },
            Flag {
                name: "--mesh",
                value: "N,N,…",
                help: "full-mesh sizes (10,20,50)",
            },
            Flag {
                name: "--messages",
                value: "N",
                help: "1 KiB messages in the throughput run (20000; more for a CPU profile)",
            },
        ],
    );
    let runs: usize = args.get("--runs", 20);
    let sizes: Vec<usize> = args.list("--mesh", vec![10, 20, 50]);
    let n_links: usize = args.get::<usize>("--links", 20).max(2);
    let total = 2 * runs + 4 + 4 + n_links + 1 + sizes.iter().sum::<usize>();
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys(total)),
        ..Default::default()
    });
    println!("# meshwork native sidecar benchmark (loopback, release)");
    setup_time(&reg, runs, 0).await?;
    rtt(&reg, 2 * runs).await?;
    throughput(&reg, 2 * runs + 2, args.get("--messages", 20_000)).await?;
    let mut base = 2 * runs + 4;
    links(&reg, n_links, base).await?;
    base += n_links + 1;
    println!("## Full-mesh formation (all sidecars started at once)");
    for n in sizes {
        mesh(&reg, n, base).await?;
        base += n;
    }
    Ok(())
}
