//! An agent's side of the shared memory (PROTOCOL.md §6) for tests: one command with a fresh
//! `request_id` and its one reply, and waits for a key to reach a state.

use crate::{
    http::{call as http_call, Cred},
    sidecar::EVENT_TIMEOUT,
    wait::until,
    IpcClient, RegistryProcess, SidecarProcess,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

static NEXT: AtomicU64 = AtomicU64::new(1);

/// Starts one sidecar per `(api key, peer id)` on `reg`, kept alive without an agent, each
/// with an agent's IPC connection.
pub async fn start_kept(
    reg: &RegistryProcess,
    peers: &[(&str, &str)],
) -> (Vec<SidecarProcess>, Vec<IpcClient>) {
    let keep = [("MESHWORK_KEEP_ALIVE", "1")];
    let cars: Vec<SidecarProcess> = peers
        .iter()
        .map(|(key, peer)| SidecarProcess::start_with(reg, key, peer, &keep))
        .collect();
    let mut ipcs = Vec::with_capacity(cars.len());
    for car in &cars {
        ipcs.push(car.ipc().await);
    }
    (cars, ipcs)
}

/// Sends one memory command with a fresh `request_id`; returns the reply carrying it.
pub async fn call(ipc: &mut IpcClient, kind: &str, mut payload: Value) -> Value {
    let request_id = format!("r{}", NEXT.fetch_add(1, Ordering::Relaxed));
    payload["request_id"] = json!(request_id);
    ipc.send(json!({"type": kind, "payload": payload})).await;
    ipc.wait_for(&format!("reply to {kind}"), EVENT_TIMEOUT, |e| {
        e["payload"]["request_id"] == request_id.as_str()
    })
    .await
}

/// Like [`call`], and asserts the reply's type; returns its payload.
pub async fn ok(ipc: &mut IpcClient, kind: &str, payload: Value, reply: &str) -> Value {
    let event = call(ipc, kind, payload).await;
    assert_eq!(event["type"], reply, "{kind} answered {event}");
    event["payload"].clone()
}

/// `memory_put`; the `memory_written` payload.
pub async fn put(ipc: &mut IpcClient, key: &str, value: Value) -> Value {
    let payload = json!({"key": key, "value": value});
    ok(ipc, "memory_put", payload, "memory_written").await
}

/// `memory_get`; the `memory_value` payload.
pub async fn get(ipc: &mut IpcClient, key: &str) -> Value {
    ok(ipc, "memory_get", json!({"key": key}), "memory_value").await
}

/// `memory_forget`; the `memory_written` payload.
pub async fn forget(ipc: &mut IpcClient, key: &str) -> Value {
    ok(ipc, "memory_forget", json!({"key": key}), "memory_written").await
}

/// Polls `memory_get` until `done` holds for the reply, within `timeout`.
pub async fn wait_until(
    ipc: &mut IpcClient,
    key: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let value = get(ipc, key).await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{key} never reached the state waited for; last: {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `key` is found; its `memory_value` payload.
pub async fn wait_value(ipc: &mut IpcClient, key: &str, timeout: Duration) -> Value {
    wait_until(ipc, key, timeout, |v| v["found"] == true).await
}

/// Waits until the registry's replica holds `events` events (its `/metrics` gauge).
pub async fn registry_holds(reg: &RegistryProcess, events: u64, timeout: Duration) {
    let line = format!("meshwork_memory_events {events}");
    until(
        timeout,
        &format!("the registry's replica to hold {events}"),
        || {
            let line = line.clone();
            async move {
                let (_, metrics) = http_call(reg, Method::GET, "/metrics", Cred::Admin, None).await;
                metrics
                    .as_str()
                    .is_some_and(|m| m.contains(&line))
                    .then_some(())
            }
        },
    )
    .await;
}
