//! The task queue against a real registry over HTTP (PROTOCOL.md §4): `POST /api/hub/tasks`,
//! `GET /api/hub/tasks/{id|all}`, `POST /api/hub/tasks/{id}` and the heartbeat pickup.

use meshwork_tests::{registry::ADMIN_TOKEN, wait, RegistryOptions, RegistryProcess};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

// ---- helpers ------------------------------------------------------------------------------

fn keys() -> Value {
    json!({"keys": {
        "ak_alice": {"peer_id": "alice-sidecar", "role": "agent"},
        "ak_bob": {"peer_id": "bob-sidecar", "role": "agent"},
    }})
}

fn start_with(env: &[(&str, &str)]) -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    })
}

fn start() -> RegistryProcess {
    start_with(&[])
}

/// The credential a request carries.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Key(&'a str),
    Admin,
}

/// Sends a request; returns the status and the body as JSON (`Null` when empty).
async fn send(
    reg: &RegistryProcess,
    method: Method,
    path: &str,
    auth: Auth<'_>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method.clone(), reg.url(path));
    req = match auth {
        Auth::None => req,
        Auth::Key(key) => req.header("x-api-key", key),
        Auth::Admin => req.header("authorization", format!("Bearer {ADMIN_TOKEN}")),
    };
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("response body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {text}"))
    };
    (status, json)
}

async fn get(reg: &RegistryProcess, path: &str, auth: Auth<'_>) -> (u16, Value) {
    send(reg, Method::GET, path, auth, None).await
}

async fn post(reg: &RegistryProcess, path: &str, auth: Auth<'_>, body: Value) -> (u16, Value) {
    send(reg, Method::POST, path, auth, Some(&body)).await
}

/// Asserts a refusal: the status and a `{"error": "<non-empty>"}` body.
fn assert_error(status: u16, body: &Value, expected: u16, what: &str) {
    assert_eq!(status, expected, "{what}: status (body {body})");
    let msg = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no error field: {body}"));
    assert!(!msg.is_empty(), "{what}: empty error message");
}

/// Creates a task as alice; returns its id.
async fn create_task(reg: &RegistryProcess, body: Value) -> String {
    let (status, resp) = post(reg, "/api/hub/tasks", Auth::Key("ak_alice"), body).await;
    assert_eq!(status, 200, "create task: {resp}");
    let id = resp["task_id"]
        .as_str()
        .expect("task_id in create response");
    assert!(!id.is_empty(), "empty task id");
    id.to_owned()
}

/// One task, read with the admin token.
async fn task(reg: &RegistryProcess, id: &str) -> Value {
    let (status, body) = get(reg, &format!("/api/hub/tasks/{id}"), Auth::Admin).await;
    assert_eq!(status, 200, "get task {id}: {body}");
    body
}

/// Heartbeats `agent_id` with `key`; returns the tasks handed over.
async fn heartbeat(
    reg: &RegistryProcess,
    key: &str,
    agent_id: &str,
    skills: &[&str],
) -> Vec<Value> {
    let (status, body) = post(
        reg,
        "/api/hub/heartbeat",
        Auth::Key(key),
        json!({"agent_id": agent_id, "hostname": "test-host", "skill_names": skills}),
    )
    .await;
    assert_eq!(status, 200, "heartbeat {agent_id} with {key}: {body}");
    body["pending_tasks"]
        .as_array()
        .expect("pending_tasks array")
        .clone()
}

fn ids(tasks: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = tasks
        .iter()
        .map(|t| t["id"].as_str().expect("task id").to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn update(reg: &RegistryProcess, auth: Auth<'_>, id: &str, body: Value) -> (u16, Value) {
    post(reg, &format!("/api/hub/tasks/{id}"), auth, body).await
}

/// A task targeted at alice's agent, already assigned to it by a heartbeat.
async fn assigned_to_alice(reg: &RegistryProcess) -> String {
    let id = create_task(
        reg,
        json!({"target_agent_id": "alice-agent", "skill": "summarize"}),
    )
    .await;
    let handed = heartbeat(reg, "ak_alice", "alice-agent", &["summarize"]).await;
    assert_eq!(
        ids(&handed),
        vec![id.clone()],
        "alice's heartbeat hands her the task"
    );
    id
}

// ---- creating and reading ------------------------------------------------------------------

#[tokio::test]
async fn created_task_is_stored_pending_with_its_fields() {
    let reg = start();
    // The sender must be the caller's own agent (issue 17): alice registers hers first.
    heartbeat(&reg, "ak_alice", "alice-agent", &[]).await;
    let id = create_task(
        &reg,
        json!({"skill": "summarize", "source_agent_id": "alice-agent",
               "payload": {"text": "hello"}}),
    )
    .await;
    let t = task(&reg, &id).await;
    assert_eq!(t["id"], id.as_str());
    assert_eq!(t["state"], "pending");
    assert_eq!(t["skill"], "summarize");
    assert_eq!(t["target_agent_id"], "");
    assert_eq!(t["source_agent_id"], "alice-agent");
    assert_eq!(t["assigned_agent_id"], "");
    assert_eq!(t["payload"], json!({"text": "hello"}));
    assert_eq!(t["result"], "");
    assert_eq!(t["error"], "");
    assert_eq!(t["ttl"], 300, "default ttl");
    let created = t["created_at"].as_f64().expect("created_at is a number");
    assert!(created > 1.6e9, "created_at is unix seconds: {created}");
    assert_eq!(t["updated_at"].as_f64(), Some(created));

    // An agent credential reads it too.
    let (status, body) = get(&reg, &format!("/api/hub/tasks/{id}"), Auth::Key("ak_bob")).await;
    assert_eq!(status, 200);
    assert_eq!(body, t);
}

#[tokio::test]
async fn a_task_sender_is_its_caller_never_another_agent() {
    let reg = start();
    heartbeat(&reg, "ak_bob", "bob-agent", &[]).await;
    heartbeat(&reg, "ak_alice", "alice-agent", &[]).await;
    for spoofed in ["bob-agent", "bob-sidecar", "nobody-registered-this"] {
        let body = json!({"skill": "echo", "source_agent_id": spoofed});
        let (status, body) = post(&reg, "/api/hub/tasks", Auth::Key("ak_alice"), body).await;
        assert_error(status, &body, 403, &format!("alice as {spoofed}"));
    }
    let (_, all) = get(&reg, "/api/hub/tasks/all", Auth::Admin).await;
    assert_eq!(all, json!([]), "nothing was queued under another's name");
    // Her own agent, or none (then her peer id), is fine.
    let own = create_task(
        &reg,
        json!({"skill": "echo", "source_agent_id": "alice-agent"}),
    )
    .await;
    assert_eq!(task(&reg, &own).await["source_agent_id"], "alice-agent");
    let unnamed = create_task(&reg, json!({"skill": "echo"})).await;
    assert_eq!(
        task(&reg, &unnamed).await["source_agent_id"],
        "alice-sidecar"
    );
    // The hub (admin) names its tasks' sender.
    let (status, created) = post(
        &reg,
        "/api/hub/tasks",
        Auth::Admin,
        json!({"skill": "echo", "source_agent_id": "hub"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
}

#[tokio::test]
async fn oversized_task_payloads_and_results_are_413_with_json_error() {
    let reg = start_with(&[
        ("MAX_TASK_PAYLOAD_BYTES", "1024"),
        ("MAX_TASK_RESULT_BYTES", "1024"),
    ]);
    let big = "x".repeat(2000);
    let (status, body) = post(
        &reg,
        "/api/hub/tasks",
        Auth::Key("ak_alice"),
        json!({"skill": "echo", "payload": {"text": big}}),
    )
    .await;
    assert_error(status, &body, 413, "oversized payload");
    let (status, body) = post(
        &reg,
        "/api/hub/tasks",
        Auth::Key("ak_alice"),
        json!({"skill": "x".repeat(300)}),
    )
    .await;
    assert_error(status, &body, 400, "oversized skill");
    let (_, all) = get(&reg, "/api/hub/tasks/all", Auth::Admin).await;
    assert_eq!(all, json!([]), "nothing was queued");

    let id = assigned_to_alice(&reg).await;
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "completed", "result": big}),
    )
    .await;
    assert_error(status, &body, 413, "oversized result");
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "failed", "error": big}),
    )
    .await;
    assert_error(status, &body, 413, "oversized error");
    assert_eq!(task(&reg, &id).await["state"], "assigned", "nothing landed");
}

#[tokio::test]
async fn create_task_with_malformed_json_is_400_with_error_body() {
    let reg = start();
    let resp = reqwest::Client::new()
        .post(reg.url("/api/hub/tasks"))
        .header("x-api-key", "ak_alice")
        .header("content-type", "application/json")
        .body(r#"{"skill": "summarize""#)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("error body is JSON");
    assert_error(status, &body, 400, "malformed JSON");
    let (_, all) = get(&reg, "/api/hub/tasks/all", Auth::Admin).await;
    assert_eq!(all, json!([]), "nothing was queued");
}

#[tokio::test]
async fn create_task_without_skill_or_target_is_400() {
    let reg = start();
    let (status, body) = post(
        &reg,
        "/api/hub/tasks",
        Auth::Key("ak_alice"),
        json!({"source_agent_id": "alice-agent", "payload": {"x": 1}}),
    )
    .await;
    assert_error(status, &body, 400, "neither skill nor target");
    let (status, body) = post(
        &reg,
        "/api/hub/tasks",
        Auth::Key("ak_alice"),
        json!({"skill": "", "target_agent_id": ""}),
    )
    .await;
    assert_error(status, &body, 400, "empty skill and target");
    let (_, all) = get(&reg, "/api/hub/tasks/all", Auth::Admin).await;
    assert_eq!(all, json!([]), "nothing was queued");
}

#[tokio::test]
async fn create_task_with_zero_ttl_is_400() {
    let reg = start();
    let (status, body) = post(
        &reg,
        "/api/hub/tasks",
        Auth::Key("ak_alice"),
        json!({"skill": "s", "ttl": 0}),
    )
    .await;
    assert_error(status, &body, 400, "ttl 0");
    let (_, all) = get(&reg, "/api/hub/tasks/all", Auth::Admin).await;
    assert_eq!(all, json!([]), "nothing was queued");
}

#[tokio::test]
async fn create_task_with_ttl_over_a_week_is_400() {
    let reg = start();
    let week = 7 * 24 * 3600;
    let (status, body) = post(
        &reg,
        "/api/hub/tasks",
        Auth::Key("ak_alice"),
        json!({"skill": "s", "ttl": week + 1}),
    )
    .await;
    assert_error(status, &body, 400, "ttl over a week");
    let id = create_task(&reg, json!({"skill": "s", "ttl": week})).await;
    assert_eq!(
        task(&reg, &id).await["ttl"],
        week,
        "a week is the longest accepted"
    );
}

#[tokio::test]
async fn missing_task_is_404_with_error_body() {
    let reg = start();
    let (status, body) = get(&reg, "/api/hub/tasks/nosuchtask00", Auth::Key("ak_alice")).await;
    assert_error(status, &body, 404, "missing task");
    let (status, body) = update(
        &reg,
        Auth::Admin,
        "nosuchtask00",
        json!({"state": "completed", "result": "x"}),
    )
    .await;
    assert_error(status, &body, 404, "update of a missing task");
}

#[tokio::test]
async fn all_tasks_lists_every_task() {
    let reg = start();
    let a = create_task(&reg, json!({"skill": "summarize"})).await;
    let b = create_task(&reg, json!({"target_agent_id": "bob-agent"})).await;
    let c = create_task(&reg, json!({"skill": "translate", "ttl": 60})).await;
    let (status, all) = get(&reg, "/api/hub/tasks/all", Auth::Key("ak_bob")).await;
    assert_eq!(status, 200, "{all}");
    let all = all.as_array().expect("array of tasks");
    assert_eq!(ids(all), sorted(vec![a, b, c.clone()]));
    let c_task = all
        .iter()
        .find(|t| t["id"] == c.as_str())
        .expect("c listed");
    assert_eq!(c_task["ttl"], 60);
    assert!(
        all.iter().all(|t| t["state"] == "pending"),
        "all pending: {all:?}"
    );
}

#[tokio::test]
async fn the_task_list_pages_and_is_bounded_with_the_total_in_a_header() {
    let reg = start();
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(create_task(&reg, json!({"skill": "summarize"})).await);
    }
    let page = |query: &'static str| {
        let reg = &reg;
        async move {
            let resp = reqwest::Client::new()
                .get(reg.url(&format!("/api/hub/tasks/all{query}")))
                .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                .send()
                .await
                .expect("list");
            let status = resp.status().as_u16();
            let total = resp.headers().get("x-total-count").cloned();
            let body: Value = resp.json().await.expect("json body");
            (status, total, body)
        }
    };
    let (status, total, body) = page("?limit=2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(total.as_ref().and_then(|v| v.to_str().ok()), Some("5"));
    let ids_of = |body: &Value| -> Vec<String> {
        let tasks = body.as_array().expect("array of tasks");
        tasks
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(
        ids_of(&body),
        made[3..].to_vec(),
        "the newest two, oldest first"
    );
    let (_, _, body) = page("?limit=2&offset=4").await;
    assert_eq!(ids_of(&body), made[..1].to_vec());
    let (_, _, body) = page("").await;
    assert_eq!(
        ids_of(&body),
        made,
        "unpaged: every task while under the bound"
    );
    for bad in ["?limit=0", "?limit=1001", "?limit=x"] {
        let (status, _, body) = page(bad).await;
        assert_error(status, &body, 400, bad);
    }
}

#[tokio::test]
async fn finished_tasks_are_deleted_once_their_retention_passes() {
    let reg = start_with(&[
        ("TASK_RETENTION_SECS", "0"),
        ("MAINTENANCE_INTERVAL_MS", "50"),
    ]);
    let id = assigned_to_alice(&reg).await;
    let open = create_task(&reg, json!({"skill": "translate"})).await;
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "completed", "result": "done"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    wait::until(
        Duration::from_secs(5),
        "the finished task deleted",
        || async {
            let (status, _) = get(&reg, &format!("/api/hub/tasks/{id}"), Auth::Admin).await;
            (status == 404).then_some(())
        },
    )
    .await;
    assert_eq!(
        task(&reg, &open).await["state"],
        "pending",
        "a pending task stays"
    );
}

#[tokio::test]
async fn each_caller_has_its_own_task_creation_budget() {
    let reg = start_with(&[("TASK_CREATE_PER_MIN", "3")]);
    for _ in 0..3 {
        create_task(&reg, json!({"skill": "summarize"})).await;
    }
    let create_as = |key| {
        post(
            &reg,
            "/api/hub/tasks",
            Auth::Key(key),
            json!({"skill": "summarize"}),
        )
    };
    let (status, body) = create_as("ak_alice").await;
    assert_error(status, &body, 429, "alice's fourth task within the minute");
    let (status, body) = create_as("ak_bob").await;
    assert_eq!(status, 200, "bob's budget is his own: {body}");
    let (status, all) = get(&reg, "/api/hub/tasks/all", Auth::Admin).await;
    assert_eq!(status, 200);
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(4),
        "the refused task was not stored"
    );
}

#[tokio::test]
async fn unauthenticated_create_is_401() {
    let reg = start();
    let (status, body) = post(&reg, "/api/hub/tasks", Auth::None, json!({"skill": "s"})).await;
    assert_error(status, &body, 401, "anonymous create");
    let (_, all) = get(&reg, "/api/hub/tasks/all", Auth::Admin).await;
    assert_eq!(all, json!([]), "nothing was queued");
}

#[tokio::test]
async fn unauthenticated_heartbeat_is_401_and_takes_nothing() {
    let reg = start();
    let id = create_task(&reg, json!({"target_agent_id": "alice-agent"})).await;
    let (status, body) = post(
        &reg,
        "/api/hub/heartbeat",
        Auth::None,
        json!({"agent_id": "alice-agent"}),
    )
    .await;
    assert_error(status, &body, 401, "anonymous heartbeat");
    assert_eq!(task(&reg, &id).await["state"], "pending");
}

// ---- heartbeat pickup ----------------------------------------------------------------------

#[tokio::test]
async fn heartbeat_hands_targeted_and_skill_matched_tasks_and_assigns_them() {
    let reg = start();
    let targeted = create_task(&reg, json!({"target_agent_id": "alice-agent"})).await;
    let by_skill = create_task(&reg, json!({"skill": "summarize"})).await;
    let other_skill = create_task(&reg, json!({"skill": "translate"})).await;
    let for_bob = create_task(
        &reg,
        json!({"target_agent_id": "bob-agent", "skill": "summarize"}),
    )
    .await;

    let handed = heartbeat(&reg, "ak_alice", "alice-agent", &["summarize", "search"]).await;
    assert_eq!(
        ids(&handed),
        sorted(vec![targeted.clone(), by_skill.clone()])
    );
    for t in &handed {
        assert_eq!(t["state"], "assigned", "handed task: {t}");
        assert_eq!(t["assigned_agent_id"], "alice-agent", "handed task: {t}");
    }
    for id in [&targeted, &by_skill] {
        let t = task(&reg, id).await;
        assert_eq!(t["state"], "assigned", "{t}");
        assert_eq!(t["assigned_agent_id"], "alice-agent", "{t}");
        assert!(
            t["updated_at"].as_f64() >= t["created_at"].as_f64(),
            "updated_at moves forward: {t}"
        );
    }
    for id in [&other_skill, &for_bob] {
        let t = task(&reg, id).await;
        assert_eq!(t["state"], "pending", "not alice's: {t}");
        assert_eq!(t["assigned_agent_id"], "", "not alice's: {t}");
    }

    // Bob's agent gets the one addressed to it, and the translate task once it lists the skill.
    let handed = heartbeat(&reg, "ak_bob", "bob-agent", &["translate"]).await;
    assert_eq!(ids(&handed), sorted(vec![other_skill, for_bob]));
    assert!(
        handed.iter().all(|t| t["assigned_agent_id"] == "bob-agent"),
        "{handed:?}"
    );
}

#[tokio::test]
async fn second_heartbeat_does_not_hand_assigned_tasks_again() {
    let reg = start();
    let id = create_task(&reg, json!({"skill": "summarize"})).await;
    let first = heartbeat(&reg, "ak_alice", "alice-agent", &["summarize"]).await;
    assert_eq!(ids(&first), vec![id.clone()]);
    let second = heartbeat(&reg, "ak_alice", "alice-agent", &["summarize"]).await;
    assert!(second.is_empty(), "handed again: {second:?}");
    // Nor to another agent with the same skill.
    let bob = heartbeat(&reg, "ak_bob", "bob-agent", &["summarize"]).await;
    assert!(bob.is_empty(), "handed to bob too: {bob:?}");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "assigned");
    assert_eq!(t["assigned_agent_id"], "alice-agent");
}

#[tokio::test]
async fn heartbeat_as_another_agent_is_forbidden() {
    let reg = start();
    assert!(heartbeat(&reg, "ak_bob", "bob-agent", &["translate"])
        .await
        .is_empty());
    let targeted = create_task(&reg, json!({"target_agent_id": "bob-agent"})).await;
    let by_skill = create_task(&reg, json!({"skill": "translate"})).await;

    let (status, body) = post(
        &reg,
        "/api/hub/heartbeat",
        Auth::Key("ak_alice"),
        json!({"agent_id": "bob-agent", "skill_names": ["translate"]}),
    )
    .await;
    assert_error(status, &body, 403, "alice heartbeating as bob-agent");
    assert!(
        body.get("pending_tasks").is_none(),
        "no tasks in a refusal: {body}"
    );
    for id in [&targeted, &by_skill] {
        let t = task(&reg, id).await;
        assert_eq!(t["state"], "pending", "{t}");
        assert_eq!(t["assigned_agent_id"], "", "{t}");
    }

    // The refused heartbeat changed nothing of bob's record: skills and owner are intact.
    let (status, agent) = get(&reg, "/api/registry/agents/bob-agent", Auth::Key("ak_bob")).await;
    assert_eq!(status, 200, "{agent}");
    assert_eq!(agent["capabilities"]["skills"], json!(["translate"]));
    assert_eq!(agent["sidecar_peer_id"], "bob-sidecar");

    let handed = heartbeat(&reg, "ak_bob", "bob-agent", &["translate"]).await;
    assert_eq!(ids(&handed), sorted(vec![targeted, by_skill]));
}

// ---- transitions ---------------------------------------------------------------------------

#[tokio::test]
async fn assigned_task_completes_with_result() {
    let reg = start();
    let id = assigned_to_alice(&reg).await;
    let before = task(&reg, &id).await;
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "completed", "result": "a short summary"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "completed");
    assert_eq!(t["result"], "a short summary");
    assert_eq!(t["error"], "");
    assert_eq!(t["assigned_agent_id"], "alice-agent");
    assert!(
        t["updated_at"].as_f64() >= before["updated_at"].as_f64(),
        "{before} -> {t}"
    );
}

#[tokio::test]
async fn assigned_task_fails_with_error() {
    let reg = start();
    let id = assigned_to_alice(&reg).await;
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "failed", "error": "model unavailable"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "failed");
    assert_eq!(t["error"], "model unavailable");
    assert_eq!(t["result"], "");
}

#[tokio::test]
async fn empty_result_does_not_overwrite_stored_result() {
    let reg = start();
    let id = assigned_to_alice(&reg).await;
    // Alice hands the task back with a partial result, picks it up again, then completes it
    // without a result: the partial one stays.
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "pending", "result": "partial output"}),
    )
    .await;
    assert_eq!(status, 200, "release: {body}");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "pending");
    assert_eq!(
        t["assigned_agent_id"], "",
        "released task has no assignee: {t}"
    );
    assert_eq!(t["result"], "partial output");

    let handed = heartbeat(&reg, "ak_alice", "alice-agent", &["summarize"]).await;
    assert_eq!(ids(&handed), vec![id.clone()]);
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "completed", "result": ""}),
    )
    .await;
    assert_eq!(status, 200, "complete: {body}");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "completed");
    assert_eq!(
        t["result"], "partial output",
        "empty result kept the stored one"
    );
}

#[tokio::test]
async fn completed_task_cannot_fail() {
    let reg = start();
    let id = assigned_to_alice(&reg).await;
    let (status, _) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "completed", "result": "ok"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &id,
        json!({"state": "failed", "error": "late"}),
    )
    .await;
    assert_error(status, &body, 409, "completed -> failed");
    // Not even the admin may.
    let (status, body) = update(
        &reg,
        Auth::Admin,
        &id,
        json!({"state": "failed", "error": "late"}),
    )
    .await;
    assert_error(status, &body, 409, "completed -> failed by the admin");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "completed");
    assert_eq!(t["result"], "ok");
    assert_eq!(t["error"], "");
}

#[tokio::test]
async fn pending_task_cannot_complete() {
    let reg = start();
    let id = create_task(&reg, json!({"skill": "summarize"})).await;
    // The admin may act on any task, so what refuses it is the transition itself.
    let (status, body) = update(
        &reg,
        Auth::Admin,
        &id,
        json!({"state": "completed", "result": "forged"}),
    )
    .await;
    assert_error(status, &body, 409, "pending -> completed");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "pending");
    assert_eq!(t["result"], "");
}

#[tokio::test]
async fn update_to_assigned_is_409() {
    let reg = start();
    let pending = create_task(&reg, json!({"skill": "translate"})).await;
    let (status, body) = update(&reg, Auth::Admin, &pending, json!({"state": "assigned"})).await;
    assert_error(status, &body, 409, "explicit assigned on a pending task");
    let t = task(&reg, &pending).await;
    assert_eq!(t["state"], "pending");
    assert_eq!(t["assigned_agent_id"], "");

    let assigned = assigned_to_alice(&reg).await;
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &assigned,
        json!({"state": "assigned"}),
    )
    .await;
    assert_error(status, &body, 409, "explicit assigned on an assigned task");
    assert_eq!(task(&reg, &assigned).await["state"], "assigned");
}

#[tokio::test]
async fn update_by_credential_not_owning_the_assigned_agent_is_403() {
    let reg = start();
    let id = assigned_to_alice(&reg).await;
    for body in [
        json!({"state": "completed", "result": "bob's forgery"}),
        json!({"state": "failed", "error": "bob says no"}),
        json!({"state": "pending"}),
    ] {
        let (status, resp) = update(&reg, Auth::Key("ak_bob"), &id, body.clone()).await;
        assert_error(
            status,
            &resp,
            403,
            &format!("bob updating alice's task with {body}"),
        );
    }
    let (status, resp) = update(
        &reg,
        Auth::None,
        &id,
        json!({"state": "completed", "result": "anon"}),
    )
    .await;
    assert_error(status, &resp, 401, "anonymous update");
    let t = task(&reg, &id).await;
    assert_eq!(t["state"], "assigned");
    assert_eq!(t["assigned_agent_id"], "alice-agent");
    assert_eq!(t["result"], "");
    assert_eq!(t["error"], "");
}

// ---- expiry --------------------------------------------------------------------------------

#[tokio::test]
async fn task_past_its_ttl_fails_with_ttl_expired() {
    let reg = start_with(&[("MAINTENANCE_INTERVAL_MS", "100")]);
    let pending = create_task(&reg, json!({"skill": "nobody-has-this", "ttl": 1})).await;
    let assigned = create_task(&reg, json!({"target_agent_id": "alice-agent", "ttl": 1})).await;
    let handed = heartbeat(&reg, "ak_alice", "alice-agent", &[]).await;
    assert_eq!(ids(&handed), vec![assigned.clone()]);
    let long_lived = create_task(&reg, json!({"skill": "nobody-has-this", "ttl": 600})).await;

    for id in [&pending, &assigned] {
        let t = wait::until(
            Duration::from_secs(10),
            &format!("task {id} to fail"),
            || async {
                let t = task(&reg, id).await;
                (t["state"] == "failed").then_some(t)
            },
        )
        .await;
        assert_eq!(t["error"], "TTL expired", "{t}");
        assert!(t["updated_at"].as_f64() > t["created_at"].as_f64(), "{t}");
    }
    assert_eq!(
        task(&reg, &assigned).await["assigned_agent_id"],
        "alice-agent"
    );
    assert_eq!(
        task(&reg, &long_lived).await["state"],
        "pending",
        "ttl 600 is not expired"
    );

    // An expired task is finished: its agent can no longer complete it.
    let (status, body) = update(
        &reg,
        Auth::Key("ak_alice"),
        &assigned,
        json!({"state": "completed", "result": "x"}),
    )
    .await;
    assert_error(status, &body, 409, "completing an expired task");
    assert_eq!(task(&reg, &assigned).await["error"], "TTL expired");
}

#[tokio::test]
async fn a_long_polling_heartbeat_gets_a_new_task_at_once() {
    let reg = start();
    register_alice_for_long_poll(&reg).await;
    let url = reg.url("/api/hub/heartbeat");
    let waiting = tokio::spawn(async move {
        let resp = reqwest::Client::new()
            .post(url)
            .header("x-api-key", "ak_alice")
            .json(&json!({"agent_id": "alice", "skill_names": ["echo"], "wait_secs": 30}))
            .send()
            .await
            .expect("heartbeat");
        (
            resp.json::<Value>().await.expect("json"),
            std::time::Instant::now(),
        )
    });
    // A short heartbeat with no task answers at once, empty.
    let (status, body) = send(
        &reg,
        Method::POST,
        "/api/hub/heartbeat",
        Auth::Key("ak_bob"),
        Some(&json!({"agent_id": "bob", "wait_secs": 0})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["pending_tasks"], json!([]));

    let queued_at = std::time::Instant::now();
    let (_, created) = send(
        &reg,
        Method::POST,
        "/api/hub/tasks",
        Auth::Admin,
        Some(&json!({"skill": "echo", "target_agent_id": "alice", "source_agent_id": "hub"})),
    )
    .await;
    let (body, answered_at) = waiting.await.expect("heartbeat task");
    assert_eq!(body["pending_tasks"][0]["id"], created["task_id"]);
    let latency = answered_at.saturating_duration_since(queued_at);
    assert!(
        latency < Duration::from_secs(2),
        "handed over after {latency:?}"
    );
}

async fn register_alice_for_long_poll(reg: &RegistryProcess) {
    let (status, _) = send(
        reg,
        Method::POST,
        "/api/registry/agents",
        Auth::Key("ak_alice"),
        Some(
            &json!({"agent_id": "alice", "sidecar_peer_id": "alice-sidecar",
            "capabilities": {"skills": ["echo"]}}),
        ),
    )
    .await;
    assert_eq!(status, 200);
}
