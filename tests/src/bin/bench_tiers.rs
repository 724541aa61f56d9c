//! Request → reply round trip between two agents on each tier (ADR 0010): the agent on alice
//! sends a `task_request` through its sidecar, bob's agent answers with a `task_response`,
//! alice's agent gets it. The same sidecars, three ways to carry it:
//!
//! - direct: host candidates on loopback;
//! - relay: `ICE_TRANSPORT_POLICY=relay` through a real coturn;
//! - registry: relay-only with no TURN server, so no channel ever opens and every message is
//!   a `mesh_message` over the two signaling sockets.
//!
//! ```text
//! cargo build --release --bins && target/release/bench_tiers [--rounds N]
//! ```
//!
//! Diagnostics: `BENCH_ONLY_RELAY=1` runs the relay tier alone, `BENCH_BOB_POLICY=all` makes
//! only alice relay-only (one relayed direction), `BENCH_LOG=<filter>` sets the sidecars'
//! `RUST_LOG` (their logs go to stderr).

use meshwork_tests::cli::Flag;
use meshwork_tests::{
    stats::percentile, turn::TurnServer, IpcClient, RegistryOptions, RegistryProcess,
    SidecarProcess,
};
use serde_json::json;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

async fn run_tier(
    name: &str,
    turn: Option<&TurnServer>,
    relay: bool,
    rounds: usize,
) -> anyhow::Result<()> {
    let mut env = vec![("RUST_LOG".to_owned(), "error".to_owned())];
    if let Some(turn) = turn {
        env.push(("TURN_URL".into(), turn.url()));
        env.push(("TURN_SECRET".into(), turn.secret.clone()));
    }
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_a": {"peer_id": "alice"}, "ak_b": {"peer_id": "bob"}}})),
        env,
        ..Default::default()
    });
    let policy = if relay { "relay" } else { "all" };
    let log = std::env::var("BENCH_LOG").unwrap_or_else(|_| "error".into());
    let side_env = [
        ("MESHWORK_KEEP_ALIVE", "1"),
        ("ICE_TRANSPORT_POLICY", policy),
        ("RUST_LOG", log.as_str()),
    ];
    let bob_policy = std::env::var("BENCH_BOB_POLICY").unwrap_or_else(|_| policy.to_owned());
    let bob_env = [
        ("MESHWORK_KEEP_ALIVE", "1"),
        ("ICE_TRANSPORT_POLICY", bob_policy.as_str()),
        ("RUST_LOG", log.as_str()),
    ];
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &side_env);
    let bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &bob_env);
    let mut a: IpcClient = alice.ipc().await;
    let mut b: IpcClient = bob.ipc().await;

    // Wait until the tier under test carries a message (channel open, or bob registered).
    let deadline = Instant::now() + TIMEOUT;
    let want = name;
    loop {
        a.send(
            json!({"type": "send", "payload": {"target_peer": "bob", "ack": true,
            "message": {"type": "ping", "request_id": "probe"}}}),
        )
        .await;
        let ev = a.next_event(TIMEOUT).await?;
        if ev["type"] == "sent" && ev["payload"]["via"] == want {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{name}: tier never available: {ev}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // bob's agent: answer every task_request.
    let echo = tokio::spawn(async move {
        while let Ok(ev) = b.next_event(TIMEOUT).await {
            if ev["type"] == "message" && ev["payload"]["message"]["type"] == "task_request" {
                let id = ev["payload"]["message"]["request_id"].clone();
                b.send(
                    json!({"type": "send", "payload": {"target_peer": "alice", "message":
                    {"type": "task_response", "request_id": id,
                     "payload": {"result": "ok", "error": ""}}}}),
                )
                .await;
            }
        }
    });

    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let id = format!("{name}-{i}");
        let start = Instant::now();
        a.send(
            json!({"type": "send", "payload": {"target_peer": "bob", "message":
            {"type": "task_request", "request_id": id,
             "payload": {"skill": "echo", "message": "x"}}}}),
        )
        .await;
        loop {
            let ev = a.next_event(TIMEOUT).await?;
            if ev["type"] == "message" && ev["payload"]["message"]["request_id"] == id.as_str() {
                anyhow::ensure!(
                    ev["payload"]["via"] == want,
                    "{name}: came via {}",
                    ev["payload"]["via"]
                );
                break;
            }
        }
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    echo.abort();
    let p = |v: &mut Vec<f64>, q| percentile(v, q);
    println!(
        "{name:>8}: {rounds} request→reply round trips, agent to agent: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p(&mut samples, 50.0),
        p(&mut samples, 90.0),
        p(&mut samples, 99.0),
        p(&mut samples, 100.0),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = meshwork_tests::cli::parse(
        "Request → reply between two agents on each tier: direct, TURN relay, registry \
         (run inside scripts/in-netns.sh).",
        &[Flag {
            name: "--rounds",
            value: "N",
            help: "round trips per tier (300)",
        }],
    );
    let rounds: usize = args.get("--rounds", 300);
    if std::env::var("BENCH_ONLY_RELAY").is_err() {
        run_tier("direct", None, false, rounds).await?;
    }
    let turn = TurnServer::start("bench-tiers-secret");
    run_tier("relay", Some(&turn), true, rounds).await?;
    if std::env::var("BENCH_ONLY_RELAY").is_err() {
        run_tier("registry", None, true, rounds).await?;
    }
    Ok(())
}
