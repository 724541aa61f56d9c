//! Credentials and auth modes against a real registry (PROTOCOL.md §4–5).

use meshwork_tests::{
    bins::{bin_path, scratch_dir},
    registry::ADMIN_TOKEN,
    RegistryOptions, RegistryProcess,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::process::Command;

fn keys() -> Value {
    json!({"keys": {"ak_alice": {"peer_id": "alice-sidecar", "role": "agent"}}})
}

fn start(compat: bool) -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        compat_chatixia: compat,
        ..Default::default()
    })
}

async fn status(
    reg: &RegistryProcess,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Client::new().request(method, reg.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let code = resp.status();
    let text = resp.text().await.expect("body");
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn api_key_is_exchanged_for_a_jwt() {
    let reg = start(false);
    let resp: Value = Client::new()
        .post(reg.url("/api/token"))
        .header("x-api-key", "ak_alice")
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(resp["peer_id"], "alice-sidecar");
    assert_eq!(resp["role"], "agent");
    let token = resp["token"].as_str().expect("token");
    assert_eq!(token.split('.').count(), 3);
    // The JWT is a credential for REST too.
    let code = Client::new()
        .get(reg.url("/api/hub/tasks/all"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(code, 200);
}

#[tokio::test]
async fn token_refuses_missing_unknown_and_device_credentials() {
    let reg = start(false);
    let http = Client::new();
    let cases = [
        http.post(reg.url("/api/token")),
        http.post(reg.url("/api/token"))
            .header("x-api-key", "ak_wrong"),
        http.post(reg.url("/api/token"))
            .header("x-device-token", "dt_0123"),
        http.post(reg.url("/api/token")).bearer_auth("garbage"),
    ];
    for req in cases {
        let resp = req.send().await.expect("post");
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.expect("json body");
        assert!(body["error"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn state_routes_require_a_credential_by_default() {
    let reg = start(false);
    for (method, path, body) in [
        (Method::GET, "/api/registry/agents", None),
        (
            Method::POST,
            "/api/registry/agents",
            Some(json!({"agent_id": "x"})),
        ),
        (Method::GET, "/api/registry/agents/x", None),
        (Method::DELETE, "/api/registry/agents/x", None),
        (Method::GET, "/api/registry/agents/x/card", None),
        (Method::GET, "/api/registry/route?skill=echo", None),
        (
            Method::POST,
            "/api/hub/tasks",
            Some(json!({"skill": "echo"})),
        ),
        (Method::GET, "/api/hub/tasks/all", None),
        (Method::GET, "/api/hub/tasks/abc", None),
        (
            Method::POST,
            "/api/hub/tasks/abc",
            Some(json!({"state": "completed"})),
        ),
        (
            Method::POST,
            "/api/hub/heartbeat",
            Some(json!({"agent_id": "x"})),
        ),
        (Method::GET, "/api/hub/network/topology", None),
        (Method::GET, "/api/config", None),
        (Method::GET, "/metrics", None),
    ] {
        let (code, body) = status(&reg, method.clone(), path, body).await;
        assert_eq!(code, 401, "{method} {path}: {body}");
        assert!(body["error"].is_string(), "{method} {path}: {body}");
    }
    // The registry's own card is public by design (A2A discovery), at the current A2A path
    // and at the legacy one.
    for path in ["/.well-known/agent-card.json", "/.well-known/agent.json"] {
        let (code, card) = status(&reg, Method::GET, path, None).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(card["name"], "meshwork registry", "{path}");
        assert_eq!(card["skills"][0]["id"], "route_task", "{path}");
    }
}

#[tokio::test]
async fn chatixia_compat_opens_exactly_four_routes() {
    let reg = start(true);
    let (code, _) = status(&reg, Method::GET, "/api/registry/agents", None).await;
    assert_eq!(code, 200);
    let (code, _) = status(&reg, Method::GET, "/api/registry/route?skill=echo", None).await;
    assert_eq!(code, 404, "open, but no agent has the skill");
    let (code, created) = status(
        &reg,
        Method::POST,
        "/api/hub/tasks",
        Some(json!({"skill": "echo", "payload": {"message": "hi"}})),
    )
    .await;
    assert_eq!(code, 200, "{created}");
    let id = created["task_id"].as_str().expect("task_id");
    let (code, task) = status(&reg, Method::GET, &format!("/api/hub/tasks/{id}"), None).await;
    assert_eq!(code, 200);
    assert_eq!(task["state"], "pending");
    // Everything else stays closed.
    for (method, path, body) in [
        (Method::GET, "/api/hub/tasks/all", None),
        (
            Method::POST,
            &format!("/api/hub/tasks/{id}") as &str,
            Some(json!({"state": "failed"})),
        ),
        (
            Method::POST,
            "/api/hub/heartbeat",
            Some(json!({"agent_id": "x"})),
        ),
        (
            Method::POST,
            "/api/registry/agents",
            Some(json!({"agent_id": "x"})),
        ),
        (Method::GET, "/api/hub/network/topology", None),
        (Method::GET, "/metrics", None),
    ] {
        let (code, _) = status(&reg, method.clone(), path, body).await;
        assert_eq!(code, 401, "{method} {path}");
    }
}

#[tokio::test]
async fn metrics_are_admin_only_and_prometheus_text() {
    let reg = start(false);
    let http = Client::new();
    let code = http
        .get(reg.url("/metrics"))
        .header("x-api-key", "ak_alice")
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(code, 403);
    // Generate some traffic first so the histogram has a series.
    http.post(reg.url("/api/hub/tasks"))
        .header("x-api-key", "ak_alice")
        .json(&json!({"skill": "echo"}))
        .send()
        .await
        .expect("post");
    let text = http
        .get(reg.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    for needle in [
        "meshwork_connected_peers 0",
        "meshwork_signals_relayed_total 0",
        "meshwork_tasks{state=\"pending\"} 1",
        "meshwork_http_request_duration_seconds_count{method=\"POST\",route=\"/api/hub/tasks\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[tokio::test]
async fn ice_config_carries_turn_rest_credentials() {
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        env: vec![
            ("TURN_URL".into(), "turn:127.0.0.1:3478".into()),
            ("TURN_SECRET".into(), "s3cret".into()),
            ("TURN_TTL_SECS".into(), "600".into()),
            ("STUN_URLS".into(), "stun:127.0.0.1:3478".into()),
        ],
        ..Default::default()
    });
    let cfg: Value = Client::new()
        .get(reg.url("/api/config"))
        .header("x-api-key", "ak_alice")
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let servers = cfg["iceServers"].as_array().expect("iceServers");
    assert_eq!(servers[0], json!({"urls": ["stun:127.0.0.1:3478"]}));
    let turn = &servers[1];
    assert_eq!(turn["urls"], json!(["turn:127.0.0.1:3478"]));
    let user = turn["username"].as_str().expect("username");
    let (expiry, peer) = user.split_once(':').expect("expiry:peer");
    assert_eq!(peer, "alice-sidecar");
    let expiry: u64 = expiry.parse().expect("unix expiry");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        expiry > now + 590 && expiry <= now + 601,
        "expiry {expiry} vs now {now}"
    );
    // base64(HMAC-SHA1("s3cret", username)), checked with an independent implementation.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf %s '{user}' | openssl dgst -sha1 -hmac s3cret -binary | base64"
        ))
        .output()
        .expect("openssl");
    if out.status.success() {
        assert_eq!(
            turn["credential"].as_str(),
            Some(String::from_utf8_lossy(&out.stdout).trim())
        );
    }
}

#[tokio::test]
async fn ice_config_without_turn_is_empty() {
    let reg = start(false);
    let cfg: Value = Client::new()
        .get(reg.url("/api/config"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(cfg, json!({"iceServers": []}));
}

#[tokio::test]
async fn dev_mode_without_keys_file_prints_a_working_dev_key() {
    let reg = RegistryProcess::start(RegistryOptions {
        dev: true,
        ..Default::default()
    });
    let line = reg
        .banner
        .iter()
        .find(|l| l.contains("dev API key: "))
        .unwrap_or_else(|| panic!("no dev key in banner {:?}", reg.banner));
    let key = line
        .split("dev API key: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("key");
    let resp: Value = Client::new()
        .post(reg.url("/api/token"))
        .header("x-api-key", key)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(resp["peer_id"], "dev-agent-sidecar");
    assert!(reg
        .banner
        .iter()
        .any(|l| l.contains(&format!("hub: {}/?token={ADMIN_TOKEN}", reg.base_url))));
}

fn run_registry_expecting_failure(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = scratch_dir("fail");
    let mut cmd = Command::new(bin_path("meshwork-registry"));
    cmd.args(["--port", "0", "--data-dir"]).arg(&dir).args(args);
    for var in ["API_KEYS_FILE", "SIGNALING_SECRET", "MESHWORK_DEV"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run registry");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "registry must refuse to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn malformed_keys_file_is_a_startup_error() {
    let dir = scratch_dir("badkeys");
    let path = dir.join("keys.json");
    std::fs::write(&path, r#"{"keys": ["ak_dev_001"]}"#).expect("write");
    let err =
        run_registry_expecting_failure(&["--api-keys-file", path.to_str().expect("utf8")], &[]);
    assert!(err.contains("malformed"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_explicit_keys_file_outside_dev_mode_is_a_startup_error() {
    let err = run_registry_expecting_failure(&["--api-keys-file", "/nonexistent/keys.json"], &[]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn upstream_default_secret_is_refused_outside_dev_mode() {
    let err = run_registry_expecting_failure(&[], &[("SIGNALING_SECRET", "dev-secret-change-me")]);
    assert!(err.contains("SIGNALING_SECRET"), "{err}");
}

#[tokio::test]
async fn admin_session_gets_browser_tokens_never_agent_ones() {
    let reg = start(false);
    let http = Client::new();
    let fresh: Value = http
        .post(reg.url("/api/token"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(fresh["role"], "browser");
    let id = fresh["peer_id"].as_str().expect("peer_id");
    assert!(id.starts_with("tab-"), "{id}");
    // A tab renews its token under the id it already has.
    let renewed: Value = http
        .post(reg.url("/api/token"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"peer_id": id}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(renewed["peer_id"], id);
    // It cannot take an agent's identity.
    let resp = http
        .post(reg.url("/api/token"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"peer_id": "alice-sidecar"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    // The browser token opens the signaling socket as that tab.
    let token = renewed["token"].as_str().expect("token");
    let (mut tab, _) = meshwork_tests::SignalClient::connect_subprotocol(&reg.ws_url(), token, id)
        .await
        .expect("ws");
    assert_eq!(
        tab.register("browser").await.expect("register"),
        Vec::<String>::new()
    );
}
