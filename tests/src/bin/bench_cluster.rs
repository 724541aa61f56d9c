//! Clustered registries benchmark (issue 15, ADR 0024): a shared PostgreSQL database, a
//! three-node NATS cluster and three registries, all real processes on loopback.
//!
//! Measures (1) relay latency, offer→answer round trips one at a time, with both peers on one
//! registry and with them on two; (2) relay throughput, a window of offers in flight, same and
//! across; (3) peers held across the three registries: join rate and memory per peer on each;
//! (4) failover: sidecars whose registry is killed (`SIGNALING_URL` lists two) until the other
//! registry holds their connections. Release mode:
//!
//! ```text
//! cargo build --release -p meshwork-registry -p meshwork-sidecar -p meshwork-tests --bins
//! target/release/bench_cluster [--samples N] [--peers N] [--sidecars N] [--rounds N]
//! ```

use futures_util::StreamExt;
use meshwork_tests::{
    cli::Flag,
    registry_cluster::RegistryCluster,
    relay_load::{bench_env, join, keys, latency, throughput, WINDOW},
    stats::{percentile, rss_kib},
    RegistryProcess, SidecarProcess,
};
use std::time::{Duration, Instant};

/// `n` peers spread over the registries (three joiners in parallel); keeps them connected.
async fn hold_peers(cluster: &RegistryCluster, first_id: usize, n: usize) -> anyhow::Result<()> {
    let pids: Vec<u32> = cluster.registries.iter().filter_map(|r| r.pid()).collect();
    let before: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();
    let per = n / cluster.registries.len();
    let start = Instant::now();
    let joiners = cluster.registries.iter().enumerate().map(|(r, reg)| {
        let http = reqwest::Client::new();
        async move {
            let mut held = Vec::new();
            for i in 0..per {
                let ws = join(reg, &http, first_id + r * per + i).await?;
                // Keep reading (peer_joined from everywhere) so queues stay drained.
                held.push(tokio::spawn(async move {
                    let (_sink, mut stream) = ws.split();
                    while let Some(Ok(_)) = stream.next().await {}
                }));
            }
            anyhow::Ok(held)
        }
    });
    let held = futures_util::future::try_join_all(joiners).await?;
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await; // presence settles, snapshots go round
    let after: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();
    println!("## Peers held across {} registries", pids.len());
    println!(
        "peers: {} ({per} per registry); joined in {:.2} s = {:.0} joins/s",
        per * pids.len(),
        took.as_secs_f64(),
        (per * pids.len()) as f64 / took.as_secs_f64()
    );
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        println!(
            "registry {i}: RSS {:.1} → {:.1} MiB, {:.1} KiB per peer in the cluster ({per} here, {} elsewhere)",
            *b as f64 / 1024.0,
            *a as f64 / 1024.0,
            a.saturating_sub(*b) as f64 / (per * pids.len()) as f64,
            per * (pids.len() - 1)
        );
    }
    for h in held.into_iter().flatten() {
        h.abort();
    }
    Ok(())
}

/// How many signaling connections `reg` holds now (its `/metrics`).
async fn connected(http: &reqwest::Client, reg: &RegistryProcess) -> usize {
    let Ok(resp) = http
        .get(reg.url("/metrics"))
        .bearer_auth(meshwork_tests::registry::ADMIN_TOKEN)
        .send()
        .await
    else {
        return 0;
    };
    let text = resp.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("meshwork_connected_peers "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Kills a registry holding `n` sidecars; seconds until each is connected to the other one.
async fn failover(
    cluster: &mut RegistryCluster,
    n: usize,
    first_id: usize,
) -> anyhow::Result<Vec<f64>> {
    let a = cluster.add();
    let b = cluster.add();
    let (reg_a, reg_b) = (&cluster.registries[a], &cluster.registries[b]);
    let signaling = format!("{},{}", reg_a.ws_url(), reg_b.ws_url());
    let tokens = format!("{},{}", reg_a.url("/api/token"), reg_b.url("/api/token"));
    let http = reqwest::Client::new();
    let sidecars: Vec<SidecarProcess> = (0..n)
        .map(|i| {
            let id = first_id + i;
            SidecarProcess::start_with(
                reg_a,
                &format!("ak_{id}"),
                &format!("p{id:05}"),
                &[
                    ("MESHWORK_KEEP_ALIVE", "1"),
                    ("SIGNALING_URL", &signaling),
                    ("TOKEN_URL", &tokens),
                    ("RUST_LOG", "error"),
                ],
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while connected(&http, reg_a).await < n {
        anyhow::ensure!(Instant::now() < deadline, "sidecars never all connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let base = connected(&http, &cluster.registries[b]).await;
    let killed = cluster.registries.remove(a).kill9();
    let _ = std::fs::remove_dir_all(killed);
    let b = b - 1;
    let t0 = Instant::now();
    let mut times = Vec::new();
    let deadline = t0 + Duration::from_secs(30);
    while times.len() < n && Instant::now() < deadline {
        let now = connected(&http, &cluster.registries[b])
            .await
            .saturating_sub(base);
        let at = t0.elapsed().as_secs_f64();
        while times.len() < now.min(n) {
            times.push(at);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(sidecars);
    let gone = cluster.registries.remove(b);
    drop(gone);
    anyhow::ensure!(
        times.len() == n,
        "only {} of {n} sidecars failed over",
        times.len()
    );
    Ok(times)
}

fn summary(label: &str, mut v: Vec<f64>, unit: &str) {
    let p50 = percentile(&mut v, 50.0);
    let p99 = percentile(&mut v, 99.0);
    println!(
        "{label}: p50 {p50:.3} {unit}, p99 {p99:.3} {unit} ({} samples)",
        v.len()
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = meshwork_tests::cli::parse(
        "Clustered registries: relay latency and throughput same vs across, peers held, failover.",
        &[
            Flag {
                name: "--samples",
                value: "N",
                help: "round trips per latency run (2000)",
            },
            Flag {
                name: "--seconds",
                value: "S",
                help: "seconds per throughput run (5)",
            },
            Flag {
                name: "--peers",
                value: "N",
                help: "peers held across the cluster (1500)",
            },
            Flag {
                name: "--sidecars",
                value: "N",
                help: "sidecars per failover round (8)",
            },
            Flag {
                name: "--rounds",
                value: "N",
                help: "failover rounds (3)",
            },
        ],
    );
    let samples: usize = args.get("--samples", 2000);
    let seconds: u64 = args.get("--seconds", 5);
    let peers: usize = args.get("--peers", 1500);
    let sidecars: usize = args.get("--sidecars", 8);
    let rounds: usize = args.get("--rounds", 3);
    let total = 100 + peers + sidecars * rounds + 64;
    let mut cluster = RegistryCluster::start(3, keys(total), &bench_env());
    println!("# meshwork cluster benchmark: PostgreSQL + 3 NATS nodes + 3 registries, loopback");

    println!("## Relay latency (offer→answer round trip, one at a time)");
    let (r0, r1) = (&cluster.registries[0], &cluster.registries[1]);
    summary(
        "same registry  ",
        latency(r0, r0, (0, 1), samples).await?,
        "ms",
    );
    summary(
        "across two     ",
        latency(r0, r1, (2, 3), samples).await?,
        "ms",
    );

    println!("## Relay throughput (window {WINDOW} offers per pair)");
    for pairs in [1, 4] {
        let same = throughput(r0, r0, 10 + 20 * pairs, pairs, seconds).await?;
        let across = throughput(r0, r1, 20 + 20 * pairs, pairs, seconds).await?;
        println!("pairs {pairs}: same registry {same:.0} msgs/s, across two {across:.0} msgs/s");
    }

    hold_peers(&cluster, 100, peers).await?;

    println!("## Failover (registry killed → its sidecars connected to the next one)");
    let mut all = Vec::new();
    for round in 0..rounds {
        let times = failover(&mut cluster, sidecars, 100 + peers + round * sidecars).await?;
        all.extend(times);
    }
    summary("failover", all, "s");
    Ok(())
}
