//! Agent health against a real registry (PROTOCOL.md §4): `active` → `stale` → `offline` as
//! heartbeats stop, requeueing of an offline agent's tasks, and routing by skill. The windows
//! are shortened (`HEALTH_ACTIVE_SECS=1`, `HEALTH_STALE_SECS=2`, maintenance every 100 ms).

use meshwork_tests::{registry::ADMIN_TOKEN, wait, RegistryOptions, RegistryProcess};
use serde_json::{json, Value};
use std::time::Duration;

// ---- helpers ------------------------------------------------------------------------------

/// Longest wait for a health change (the windows are 1 s and 2 s).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

fn start() -> RegistryProcess {
    let env = [
        ("HEALTH_ACTIVE_SECS", "1"),
        ("HEALTH_STALE_SECS", "2"),
        ("MAINTENANCE_INTERVAL_MS", "100"),
    ];
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_alice": {"peer_id": "alice-sidecar", "role": "agent"},
            "ak_bob": {"peer_id": "bob-sidecar", "role": "agent"},
        }})),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    })
}

/// GET with an API key; returns the status and the JSON body.
async fn get(reg: &RegistryProcess, path: &str, key: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(reg.url(path))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    let body = resp
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: body is not JSON: {e}"));
    (status, body)
}

/// POST with an API key; returns the status and the JSON body.
async fn post(reg: &RegistryProcess, path: &str, key: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(reg.url(path))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = resp.status().as_u16();
    let body = resp
        .json()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: body is not JSON: {e}"));
    (status, body)
}

/// Heartbeats; returns the ids of the tasks handed over.
async fn heartbeat(
    reg: &RegistryProcess,
    key: &str,
    agent_id: &str,
    skills: &[&str],
) -> Vec<String> {
    let (status, body) = post(
        reg,
        "/api/hub/heartbeat",
        key,
        json!({"agent_id": agent_id, "hostname": "test-host", "skill_names": skills}),
    )
    .await;
    assert_eq!(status, 200, "heartbeat {agent_id}: {body}");
    let tasks = body["pending_tasks"]
        .as_array()
        .expect("pending_tasks array");
    for t in tasks {
        assert_eq!(t["assigned_agent_id"], agent_id, "handed task: {t}");
    }
    tasks
        .iter()
        .map(|t| t["id"].as_str().expect("task id").to_owned())
        .collect()
}

async fn create_task(reg: &RegistryProcess, body: Value) -> String {
    let (status, resp) = post(reg, "/api/hub/tasks", "ak_bob", body).await;
    assert_eq!(status, 200, "create task: {resp}");
    resp["task_id"].as_str().expect("task_id").to_owned()
}

async fn task(reg: &RegistryProcess, id: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(reg.url(&format!("/api/hub/tasks/{id}")))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .expect("GET task");
    assert_eq!(resp.status(), 200, "GET task {id}");
    resp.json().await.expect("task JSON")
}

/// The `health` field of an agent's record.
async fn health(reg: &RegistryProcess, agent_id: &str) -> String {
    let (status, agent) = get(reg, &format!("/api/registry/agents/{agent_id}"), "ak_bob").await;
    assert_eq!(status, 200, "GET agent {agent_id}: {agent}");
    agent["health"].as_str().expect("health field").to_owned()
}

/// Waits until the agent's health is `want`.
async fn wait_health(reg: &RegistryProcess, agent_id: &str, want: &str) {
    wait::until(
        HEALTH_TIMEOUT,
        &format!("{agent_id} to be {want}"),
        || async { (health(reg, agent_id).await == want).then_some(()) },
    )
    .await;
}

// ---- tests ---------------------------------------------------------------------------------

#[tokio::test]
async fn silent_agent_goes_stale_then_offline_and_its_task_is_requeued_until_it_returns() {
    let reg = start();
    let id = create_task(&reg, json!({"skill": "summarize"})).await;
    assert_eq!(
        heartbeat(&reg, "ak_alice", "alice-agent", &["summarize"]).await,
        vec![id.clone()]
    );
    assert_eq!(
        health(&reg, "alice-agent").await,
        "active",
        "right after a heartbeat"
    );

    wait_health(&reg, "alice-agent", "stale").await;
    // Stale is not gone: the task stays with alice unless she has meanwhile gone offline.
    let t = task(&reg, &id).await;
    if t["state"] != "assigned" {
        assert_eq!(
            health(&reg, "alice-agent").await,
            "offline",
            "requeued while stale: {t}"
        );
    }

    wait_health(&reg, "alice-agent", "offline").await;
    let t = wait::until(
        HEALTH_TIMEOUT,
        "the offline agent's task to be requeued",
        || async {
            let t = task(&reg, &id).await;
            (t["state"] == "pending").then_some(t)
        },
    )
    .await;
    assert_eq!(
        t["assigned_agent_id"], "",
        "requeued task has no assignee: {t}"
    );
    // The agent record itself stays, offline.
    let (status, agents) = get(&reg, "/api/registry/agents", "ak_bob").await;
    assert_eq!(status, 200);
    let listed: Vec<&Value> = agents.as_array().expect("agents array").iter().collect();
    assert_eq!(listed.len(), 1, "{agents}");
    assert_eq!(listed[0]["agent_id"], "alice-agent");
    assert_eq!(listed[0]["health"], "offline");

    // Alice comes back: active again, and the task is hers again.
    assert_eq!(
        heartbeat(&reg, "ak_alice", "alice-agent", &["summarize"]).await,
        vec![id.clone()]
    );
    assert_eq!(health(&reg, "alice-agent").await, "active");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "assigned");
    assert_eq!(t["assigned_agent_id"], "alice-agent");
}

#[tokio::test]
async fn task_of_an_offline_agent_goes_to_another_agent_with_the_skill() {
    let reg = start();
    let id = create_task(&reg, json!({"skill": "summarize"})).await;
    assert_eq!(
        heartbeat(&reg, "ak_alice", "alice-agent", &["summarize"]).await,
        vec![id.clone()]
    );
    // Bob heartbeats while alice holds it: nothing for him.
    assert!(heartbeat(&reg, "ak_bob", "bob-agent", &["summarize"])
        .await
        .is_empty());

    wait_health(&reg, "alice-agent", "offline").await;
    let handed = wait::until(HEALTH_TIMEOUT, "bob to be handed alice's task", || async {
        let handed = heartbeat(&reg, "ak_bob", "bob-agent", &["summarize"]).await;
        (!handed.is_empty()).then_some(handed)
    })
    .await;
    assert_eq!(handed, vec![id.clone()]);
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "assigned");
    assert_eq!(t["assigned_agent_id"], "bob-agent");
    // Alice returning does not take it back from bob.
    assert!(heartbeat(&reg, "ak_alice", "alice-agent", &["summarize"])
        .await
        .is_empty());
}

#[tokio::test]
async fn route_by_skill_returns_the_active_agent_and_404_once_it_is_offline() {
    let reg = start();
    assert!(
        heartbeat(&reg, "ak_alice", "alice-agent", &["summarize", "search"])
            .await
            .is_empty()
    );

    let (status, agent) = get(&reg, "/api/registry/route?skill=summarize", "ak_bob").await;
    assert_eq!(status, 200, "{agent}");
    assert_eq!(agent["agent_id"], "alice-agent");
    assert_eq!(agent["health"], "active");
    assert_eq!(
        agent["capabilities"]["skills"],
        json!(["summarize", "search"])
    );

    let (status, body) = get(&reg, "/api/registry/route?skill=translate", "ak_bob").await;
    assert_eq!(status, 404, "nobody has translate: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );

    wait_health(&reg, "alice-agent", "offline").await;
    let (status, body) = get(&reg, "/api/registry/route?skill=summarize", "ak_bob").await;
    assert_eq!(status, 404, "offline agent is not routed to: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(body["skill"], "summarize");

    // A heartbeat makes it routable again.
    assert!(heartbeat(&reg, "ak_alice", "alice-agent", &["summarize"])
        .await
        .is_empty());
    let (status, agent) = get(&reg, "/api/registry/route?skill=summarize", "ak_bob").await;
    assert_eq!(status, 200, "{agent}");
    assert_eq!(agent["agent_id"], "alice-agent");
}
