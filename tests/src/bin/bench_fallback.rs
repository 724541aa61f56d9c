//! The last tier's latency: a task submitted to the registry's queue, taken by an agent that
//! long-polls its heartbeat (`wait_secs`), completed, and seen completed by the submitter on
//! the hub's live stream. Upstream's agents poll every 3 s (chatixia) / 15 s (heartbeat).
//!
//! ```text
//! cargo build --release --bins && target/release/bench-fallback [--tasks N]
//! ```

use meshwork_tests::cli::Flag;
use meshwork_tests::{
    http::{call, Cred},
    registry::ADMIN_TOKEN,
    stats::percentile,
    RegistryOptions, RegistryProcess, SignalClient,
};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = meshwork_tests::cli::parse(
        "The queue tier: a task submitted, taken by a long-polling agent, completed.",
        &[Flag {
            name: "--tasks",
            value: "N",
            help: "tasks to run (200)",
        }],
    );
    let tasks: usize = args.get("--tasks", 200);
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_worker": {"peer_id": "worker-sidecar"}}})),
        env: vec![("RUST_LOG".into(), "error".into())],
        ..Default::default()
    });
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/registry/agents",
        Cred::ApiKey("ak_worker"),
        Some(
            json!({"agent_id": "worker", "sidecar_peer_id": "worker-sidecar",
            "capabilities": {"skills": ["echo"]}}),
        ),
    )
    .await;
    anyhow::ensure!(status.is_success(), "register: {status}");

    // The agent: long-poll, complete, repeat.
    let worker_reg = reg.base_url.clone();
    let worker = tokio::spawn(async move {
        let http = reqwest::Client::new();
        loop {
            let Ok(resp) = http
                .post(format!("{worker_reg}/api/hub/heartbeat"))
                .header("x-api-key", "ak_worker")
                .json(&json!({"agent_id": "worker", "skill_names": ["echo"], "wait_secs": 30}))
                .send()
                .await
            else {
                return;
            };
            let Ok(body) = resp.json::<serde_json::Value>().await else {
                return;
            };
            for task in body["pending_tasks"].as_array().into_iter().flatten() {
                let id = task["id"].as_str().unwrap_or_default();
                let _ = http
                    .post(format!("{worker_reg}/api/hub/tasks/{id}"))
                    .header("x-api-key", "ak_worker")
                    .json(&json!({"state": "completed", "result": "done"}))
                    .send()
                    .await;
            }
        }
    });

    let stream = format!("ws://127.0.0.1:{}/api/hub/stream", reg.port);
    let (mut hub, _) = SignalClient::connect_subprotocol(&stream, ADMIN_TOKEN, "hub").await?;
    hub.next_frame(Duration::from_secs(5)).await?; // snapshot
    let mut samples = Vec::with_capacity(tasks);
    for i in 0..tasks {
        let started = Instant::now();
        let (_, created) = call(
            &reg,
            Method::POST,
            "/api/hub/tasks",
            Cred::Admin,
            Some(
                json!({"skill": "echo", "target_agent_id": "worker", "source_agent_id": "bench",
                "payload": {"n": i}}),
            ),
        )
        .await;
        let id = created["task_id"].as_str().unwrap_or_default().to_owned();
        loop {
            let update = hub.next_frame(Duration::from_secs(10)).await?;
            let done = update["tasks"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|t| t["id"] == id.as_str() && t["state"] == "completed")
            });
            if done {
                break;
            }
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    worker.abort();
    println!(
        "# fallback tier: submit → agent (long-poll heartbeat) → completed, seen on the hub stream"
    );
    println!(
        "tasks={tasks} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        percentile(&mut samples, 50.0),
        percentile(&mut samples, 90.0),
        percentile(&mut samples, 99.0),
        percentile(&mut samples, 100.0)
    );
    Ok(())
}
