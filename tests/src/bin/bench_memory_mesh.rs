//! Shared-memory convergence with real processes (issue 14): a real registry (with its
//! replica) and real sidecars on loopback, split in two halves; one half writes while cut off
//! from the registry (local-first), the other writes while connected; then the cut-off half
//! rejoins and the time until every sidecar holds every event is measured. Release mode,
//! inside the test namespace:
//!
//! ```text
//! cargo build --release --bins && scripts/in-netns.sh target/release/bench_memory_mesh [--sidecars N] [--writes W] [--runs R]
//! ```

use meshwork_tests::{
    cli::Flag,
    memory_ipc::{get, put},
    stats::percentile,
    IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEEP: [(&str, &str); 1] = [("MESHWORK_KEEP_ALIVE", "1")];
const CUT_OFF: [(&str, &str); 3] = [
    ("SIGNALING_URL", "ws://127.0.0.1:1/ws"),
    ("TOKEN_URL", "http://127.0.0.1:1/api/token"),
    ("MESHWORK_KEEP_ALIVE", "1"),
];

fn held(value: &Value) -> u64 {
    value["version"]
        .as_object()
        .map(|v| v.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

async fn run(sidecars: usize, writes: usize) -> anyhow::Result<f64> {
    let keys: serde_json::Map<String, Value> = (0..sidecars)
        .map(|i| (format!("ak_{i}"), json!({"peer_id": format!("s{i:02}")})))
        .collect();
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({ "keys": keys })),
        ..Default::default()
    });
    let half = sidecars / 2;
    let name = |i: usize| format!("s{i:02}");
    // Everyone meets the registry once (peer id and key bound), then the second half is cut off.
    let mut connected = Vec::new();
    for i in 0..sidecars {
        let car = SidecarProcess::start_with(&reg, &format!("ak_{i}"), &name(i), &KEEP);
        car.ipc().await.list_peers().await;
        connected.push(car);
    }
    let mut cut_off = Vec::new();
    for i in half..sidecars {
        let car = connected.remove(half);
        drop(car);
        cut_off.push(SidecarProcess::start_with(
            &reg,
            &format!("ak_{i}"),
            &name(i),
            &CUT_OFF,
        ));
    }
    // Each side writes `writes` events, spread over its sidecars.
    for (side, cars) in [(0, &connected), (1, &cut_off)] {
        let mut ipcs: Vec<IpcClient> = Vec::new();
        for car in cars.iter() {
            ipcs.push(car.ipc().await);
        }
        let n = ipcs.len();
        for w in 0..writes {
            let ipc = &mut ipcs[w % n];
            put(
                ipc,
                &format!("side{side}/{w}"),
                json!({"w": w, "text": "x".repeat(150)}),
            )
            .await;
        }
    }
    // Heal: the cut-off half comes back.
    let start = Instant::now();
    drop(cut_off);
    for i in half..sidecars {
        connected.push(SidecarProcess::start_with(
            &reg,
            &format!("ak_{i}"),
            &name(i),
            &KEEP,
        ));
    }
    let total = 2 * writes as u64;
    let mut ipcs: Vec<IpcClient> = Vec::new();
    for car in &connected {
        ipcs.push(car.ipc().await);
    }
    let deadline = start + Duration::from_secs(300);
    for ipc in ipcs.iter_mut() {
        loop {
            if held(&get(ipc, "probe").await) >= total {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "no convergence within 300 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = meshwork_tests::cli::parse(
        "Shared-memory convergence with real sidecars and the registry after a partition heals.",
        &[
            Flag {
                name: "--sidecars",
                value: "N",
                help: "sidecars, half of them cut off (10)",
            },
            Flag {
                name: "--writes",
                value: "W",
                help: "writes on each side (1000)",
            },
            Flag {
                name: "--runs",
                value: "R",
                help: "partition/heal runs (3)",
            },
        ],
    );
    let sidecars: usize = args.get("--sidecars", 10);
    let writes: usize = args.get("--writes", 1000);
    let runs: usize = args.get("--runs", 3);
    println!(
        "# meshwork memory convergence (real registry + {sidecars} sidecars, loopback, release)"
    );
    let mut times = Vec::new();
    for r in 0..runs {
        let ms = run(sidecars, writes).await?;
        println!(
            "run {}: every sidecar holds all {} events {ms:.0} ms after the cut-off half restarted",
            r + 1,
            2 * writes
        );
        times.push(ms);
    }
    let (p50, p95) = (percentile(&mut times, 50.0), percentile(&mut times, 95.0));
    println!("convergence after the partition heals: p50 {p50:.0} ms, p95 {p95:.0} ms ({runs} runs; includes the restart of the cut-off sidecars)");
    Ok(())
}
