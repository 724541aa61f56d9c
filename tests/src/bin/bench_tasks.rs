//! Queued tasks at mesh speed for unmodified agents (ADR 0018): two real chatixia 0.4.3
//! agents (PyPI) with our sidecar; tasks submitted over REST as the hub does, timed from
//! submit until the hub's live stream shows them completed. Then one agent's sidecar is
//! killed and tasks for it complete through its 15 s heartbeat instead.
//!
//! ```text
//! cargo build --release --bins && scripts/install.sh test
//! MESHWORK_BIN_DIR=target/release scripts/in-netns.sh target/release/bench_tasks [--tasks N]
//! ```

use meshwork_tests::{
    chatixia::{keys_for, ChatixiaAgent},
    cli::Flag,
    http::{call, Cred},
    registry::ADMIN_TOKEN,
    stats::percentile,
    RegistryOptions, RegistryProcess, SignalClient,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Submits `body` and waits on the hub stream until the task is finished; returns the
/// milliseconds it took and the task as the stream showed it.
async fn run_one(
    reg: &RegistryProcess,
    hub: &mut SignalClient,
    body: Value,
    limit: Duration,
) -> anyhow::Result<(f64, Value)> {
    let started = Instant::now();
    let (status, created) =
        call(reg, Method::POST, "/api/hub/tasks", Cred::Admin, Some(body)).await;
    anyhow::ensure!(status.is_success(), "submit: {status} {created}");
    let id = created["task_id"].as_str().unwrap_or_default().to_owned();
    loop {
        let left = limit.saturating_sub(started.elapsed());
        let update = hub.next_frame(left).await?;
        let done = update["tasks"].as_array().and_then(|t| {
            t.iter()
                .find(|t| {
                    t["id"] == id.as_str()
                        && matches!(t["state"].as_str(), Some("completed" | "failed"))
                })
                .cloned()
        });
        if let Some(task) = done {
            return Ok((started.elapsed().as_secs_f64() * 1000.0, task));
        }
    }
}

fn line(what: &str, samples: &mut [f64]) {
    println!(
        "{what}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        percentile(samples, 50.0),
        percentile(samples, 90.0),
        percentile(samples, 99.0),
        percentile(samples, 100.0)
    );
}

async fn series(
    reg: &RegistryProcess,
    hub: &mut SignalClient,
    n: usize,
    body: impl Fn(usize) -> Value,
    via: &str,
    limit: Duration,
) -> anyhow::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let (ms, task) = run_one(reg, hub, body(i), limit).await?;
        anyhow::ensure!(task["state"] == "completed", "task failed: {task}");
        anyhow::ensure!(task["delivery"] == via, "expected via {via}: {task}");
        samples.push(ms);
    }
    Ok(samples)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = meshwork_tests::cli::parse(
        "Queued tasks for real chatixia agents: over the mesh, and through the heartbeat.",
        &[
            Flag {
                name: "--tasks",
                value: "N",
                help: "tasks per mesh series (200)",
            },
            Flag {
                name: "--heartbeat-tasks",
                value: "N",
                help: "tasks through the heartbeat, sidecar stopped (3)",
            },
        ],
    );
    let tasks: usize = args.get("--tasks", 200);
    let heartbeat_tasks: usize = args.get("--heartbeat-tasks", 3);
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys_for(&["alice", "bob"])),
        compat_chatixia: true,
        env: vec![
            ("RUST_LOG".into(), "error".into()),
            // One admin submits every task: lift the per-caller limit above any --tasks.
            ("TASK_CREATE_PER_MIN".into(), "1000000".into()),
        ],
        ..Default::default()
    });
    let alice = ChatixiaAgent::start(&reg, "alice").await;
    let _bob = ChatixiaAgent::start(&reg, "bob").await;
    let stream = format!("ws://127.0.0.1:{}/api/hub/stream", reg.port);
    let (mut hub, _) = SignalClient::connect_subprotocol(&stream, ADMIN_TOKEN, "hub").await?;
    hub.next_frame(Duration::from_secs(5)).await?; // snapshot

    let limit = Duration::from_secs(10);
    println!("# queued tasks for chatixia 0.4.3 agents: REST submit → completed on the hub stream");
    let intervention = |i: usize| {
        json!({"skill": "user_intervention", "target_agent_id": if i.is_multiple_of(2) { "alice" } else { "bob" },
               "source_agent_id": "bench", "payload": {"message": format!("n{i}")}})
    };
    let mut samples = series(&reg, &mut hub, tasks, intervention, "mesh", limit).await?;
    line("mesh, user_intervention", &mut samples);
    let list =
        |_| json!({"skill": "list_agents", "target_agent_id": "bob", "source_agent_id": "bench"});
    let mut samples = series(&reg, &mut hub, tasks.div_ceil(4), list, "mesh", limit).await?;
    line(
        "mesh, list_agents (the agent calls GET /api/registry/agents)",
        &mut samples,
    );

    alice.kill_sidecar(&reg).await;
    let to_alice = |i: usize| {
        json!({"skill": "user_intervention", "target_agent_id": "alice",
               "source_agent_id": "bench", "payload": {"message": format!("h{i}")}})
    };
    let mut samples = series(
        &reg,
        &mut hub,
        heartbeat_tasks,
        to_alice,
        "heartbeat",
        Duration::from_secs(40),
    )
    .await?;
    line(
        "heartbeat (alice's sidecar killed; chatixia heartbeats every 15 s)",
        &mut samples,
    );
    Ok(())
}
