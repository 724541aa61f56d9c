//! Restart durability of a real registry: what it stored survives a SIGKILL (the data dir is
//! reused by a new process), generated secrets persist, and SIGTERM shuts it down cleanly.

use meshwork_tests::{registry::ADMIN_TOKEN, RegistryOptions, RegistryProcess};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;

// ---- helpers ------------------------------------------------------------------------------

fn keys() -> Value {
    json!({"keys": {
        "ak_alice": {"peer_id": "alice-sidecar", "role": "agent"},
        "ak_bob": {"peer_id": "bob-sidecar", "role": "agent"},
    }})
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn start() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        ..Default::default()
    })
}

/// A new registry process on the data dir a killed one left behind, with the same keys.
fn restart(data_dir: PathBuf) -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        data_dir: Some(data_dir),
        ..Default::default()
    })
}

/// Sends a request with an optional `x-api-key` or `Authorization` value; returns status and
/// body (JSON, or a string when it is not JSON).
async fn send(
    reg: &RegistryProcess,
    method: Method,
    path: &str,
    header: Option<(&str, &str)>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method.clone(), reg.url(path));
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn key(key: &str) -> Option<(&'static str, &str)> {
    Some(("x-api-key", key))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn post_ok(reg: &RegistryProcess, path: &str, api_key: &str, body: Value) -> Value {
    let (status, resp) = send(reg, Method::POST, path, key(api_key), Some(body)).await;
    assert_eq!(status, 200, "POST {path} as {api_key}: {resp}");
    resp
}

async fn get_admin(reg: &RegistryProcess, path: &str) -> Value {
    let admin = bearer(ADMIN_TOKEN);
    let (status, body) = send(
        reg,
        Method::GET,
        path,
        Some(("authorization", admin.as_str())),
        None,
    )
    .await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn create_task(reg: &RegistryProcess, body: Value) -> String {
    let resp = post_ok(reg, "/api/hub/tasks", "ak_alice", body).await;
    resp["task_id"].as_str().expect("task_id").to_owned()
}

async fn heartbeat(reg: &RegistryProcess, api_key: &str, agent_id: &str, skills: &[&str]) -> usize {
    let resp = post_ok(
        reg,
        "/api/hub/heartbeat",
        api_key,
        json!({"agent_id": agent_id, "skill_names": skills}),
    )
    .await;
    resp["pending_tasks"]
        .as_array()
        .expect("pending_tasks")
        .len()
}

/// The token in the banner's `hub: http://…/?token=…` line.
fn banner_admin_token(reg: &RegistryProcess) -> String {
    let line = reg
        .banner
        .iter()
        .find(|l| l.contains("hub: "))
        .unwrap_or_else(|| panic!("no hub line in banner {:?}", reg.banner));
    line.rsplit_once("?token=")
        .unwrap_or_else(|| panic!("no token in {line:?}"))
        .1
        .trim()
        .to_owned()
}

async fn jwt(reg: &RegistryProcess, api_key: &str) -> String {
    let resp = post_ok(reg, "/api/token", api_key, json!({})).await;
    resp["token"].as_str().expect("token field").to_owned()
}

// ---- tests ---------------------------------------------------------------------------------

#[tokio::test]
async fn tasks_and_agents_survive_sigkill_restart() {
    let reg = start();

    // Agents: one registered in full, one known only from heartbeats.
    post_ok(
        &reg,
        "/api/registry/agents",
        "ak_alice",
        json!({
            "agent_id": "alice-agent", "hostname": "alice-host", "ip": "10.0.0.5", "port": 9000,
            "sidecar_peer_id": "alice-sidecar",
            "capabilities": {"skills": ["summarize"], "mcp_servers": ["fs"], "goals_count": 2,
                             "mode": "interactive"},
            "status": "ready", "mode": "interactive",
        }),
    )
    .await;
    assert_eq!(
        heartbeat(&reg, "ak_bob", "bob-agent", &["translate"]).await,
        0
    );

    // Tasks in every state.
    let pending = create_task(
        &reg,
        json!({"skill": "nobody-has-this", "source_agent_id": "alice-agent",
               "payload": {"n": 1, "nested": {"list": [1, 2, 3]}}, "ttl": 3600}),
    )
    .await;
    let assigned = create_task(&reg, json!({"skill": "summarize", "payload": {"n": 2}})).await;
    assert_eq!(heartbeat(&reg, "ak_alice", "alice-agent", &[]).await, 1);
    let completed = create_task(&reg, json!({"target_agent_id": "bob-agent"})).await;
    let failed = create_task(
        &reg,
        json!({"target_agent_id": "bob-agent", "skill": "translate"}),
    )
    .await;
    assert_eq!(
        heartbeat(&reg, "ak_bob", "bob-agent", &["translate"]).await,
        2
    );
    post_ok(
        &reg,
        &format!("/api/hub/tasks/{completed}"),
        "ak_bob",
        json!({"state": "completed", "result": "done: 42"}),
    )
    .await;
    post_ok(
        &reg,
        &format!("/api/hub/tasks/{failed}"),
        "ak_bob",
        json!({"state": "failed", "error": "no such language"}),
    )
    .await;

    let tasks_before = get_admin(&reg, "/api/hub/tasks/all").await;
    let agents_before = get_admin(&reg, "/api/registry/agents").await;
    let state_of = |tasks: &Value, id: &str| {
        let t = tasks
            .as_array()
            .expect("tasks")
            .iter()
            .find(|t| t["id"] == id)
            .cloned();
        t.unwrap_or_else(|| panic!("task {id} missing from {tasks}"))
    };
    assert_eq!(state_of(&tasks_before, &pending)["state"], "pending");
    assert_eq!(state_of(&tasks_before, &assigned)["state"], "assigned");
    assert_eq!(state_of(&tasks_before, &completed)["state"], "completed");
    assert_eq!(state_of(&tasks_before, &failed)["state"], "failed");
    assert_eq!(
        agents_before.as_array().map(Vec::len),
        Some(2),
        "{agents_before}"
    );

    let data_dir = reg.kill9();
    let reg = restart(data_dir);

    let tasks_after = get_admin(&reg, "/api/hub/tasks/all").await;
    assert_eq!(tasks_after, tasks_before, "every task, field for field");
    let p = state_of(&tasks_after, &pending);
    assert_eq!(p["payload"], json!({"n": 1, "nested": {"list": [1, 2, 3]}}));
    assert_eq!(p["ttl"], 3600);
    let a = state_of(&tasks_after, &assigned);
    assert_eq!(
        (&a["state"], &a["assigned_agent_id"]),
        (&json!("assigned"), &json!("alice-agent"))
    );
    let c = state_of(&tasks_after, &completed);
    assert_eq!(
        (&c["state"], &c["result"]),
        (&json!("completed"), &json!("done: 42"))
    );
    assert_eq!(c["assigned_agent_id"], "bob-agent");
    let f = state_of(&tasks_after, &failed);
    assert_eq!(
        (&f["state"], &f["error"]),
        (&json!("failed"), &json!("no such language"))
    );

    let agents_after = get_admin(&reg, "/api/registry/agents").await;
    assert_eq!(
        agents_after, agents_before,
        "every agent record, field for field"
    );
    let alice = get_admin(&reg, "/api/registry/agents/alice-agent").await;
    assert_eq!(alice["hostname"], "alice-host");
    assert_eq!(alice["port"], 9000);
    assert_eq!(alice["capabilities"]["mcp_servers"], json!(["fs"]));

    // Ownership survived: bob still cannot heartbeat as alice's agent, alice can finish her task.
    let (status, body) = send(
        &reg,
        Method::POST,
        "/api/hub/heartbeat",
        key("ak_bob"),
        Some(json!({"agent_id": "alice-agent"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    post_ok(
        &reg,
        &format!("/api/hub/tasks/{assigned}"),
        "ak_alice",
        json!({"state": "completed", "result": "after restart"}),
    )
    .await;
    let a = get_admin(&reg, &format!("/api/hub/tasks/{assigned}")).await;
    assert_eq!(
        (&a["state"], &a["result"]),
        (&json!("completed"), &json!("after restart"))
    );
    // The pending task is still handed out after the restart.
    assert_eq!(
        heartbeat(&reg, "ak_bob", "bob-agent", &["nobody-has-this"]).await,
        1
    );
}

#[tokio::test]
async fn jwt_issued_before_sigkill_restart_is_still_accepted() {
    let reg = start();
    let token = jwt(&reg, "ak_alice").await;
    let auth = bearer(&token);
    let (status, body) = send(
        &reg,
        Method::GET,
        "/api/hub/tasks/all",
        Some(("authorization", &auth)),
        None,
    )
    .await;
    assert_eq!(status, 200, "before the restart: {body}");

    let data_dir = reg.kill9();
    let reg = restart(data_dir);
    let (status, body) = send(
        &reg,
        Method::GET,
        "/api/hub/tasks/all",
        Some(("authorization", &auth)),
        None,
    )
    .await;
    assert_eq!(
        status, 200,
        "after the restart the persisted secret verifies it: {body}"
    );

    // Control: a registry with a fresh data dir generated another secret and refuses it.
    let other = start();
    let (status, body) = send(
        &other,
        Method::GET,
        "/api/hub/tasks/all",
        Some(("authorization", &auth)),
        None,
    )
    .await;
    assert_eq!(status, 401, "another registry's token: {body}");
}

#[tokio::test]
async fn generated_admin_token_survives_sigkill_restart() {
    // An empty ADMIN_TOKEN overrides the test default, so the registry generates one.
    let opts = |data_dir: Option<PathBuf>| RegistryOptions {
        api_keys: Some(keys()),
        env: env(&[("ADMIN_TOKEN", "")]),
        data_dir,
        ..Default::default()
    };
    let reg = RegistryProcess::start(opts(None));
    let token = banner_admin_token(&reg);
    assert!(
        token.starts_with("adm_") && token != ADMIN_TOKEN,
        "generated token {token:?}"
    );
    assert!(
        reg.banner.iter().any(|l| l.contains("admin token kept in")),
        "banner says where it is kept: {:?}",
        reg.banner
    );
    let auth = bearer(&token);
    let (status, _) = send(
        &reg,
        Method::GET,
        "/metrics",
        Some(("authorization", &auth)),
        None,
    )
    .await;
    assert_eq!(status, 200, "the generated token is the admin's");

    let data_dir = reg.kill9();
    let reg = RegistryProcess::start(opts(Some(data_dir)));
    assert_eq!(
        banner_admin_token(&reg),
        token,
        "same token after the restart"
    );
    let (status, _) = send(
        &reg,
        Method::GET,
        "/metrics",
        Some(("authorization", &auth)),
        None,
    )
    .await;
    assert_eq!(status, 200, "the old admin token still works");
    // An agent credential is not admin, so /metrics really checks the role.
    let (status, _) = send(&reg, Method::GET, "/metrics", key("ak_alice"), None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let reg = start();
    create_task(&reg, json!({"skill": "summarize"})).await;
    let port = reg.port;
    assert!(
        reg.terminate(),
        "SIGTERM makes the registry exit with success"
    );
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "nothing listens on {port} after the shutdown"
    );
}
