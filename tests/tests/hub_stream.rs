//! The hub's live stream (`GET /api/hub/stream`) against a real registry: a snapshot on
//! connect, then each change pushed as the section it touched — no polling — and never what
//! did not change.

use futures_util::{SinkExt, StreamExt};
use meshwork_tests::{
    http::{admin_post, call, Cred},
    registry::ADMIN_TOKEN,
    RegistryOptions, RegistryProcess, SignalClient,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn start() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(
            json!({"keys": {"ak_alice": {"peer_id": "alice-sidecar", "role": "agent"}}}),
        ),
        ..Default::default()
    })
}

fn stream_url(reg: &RegistryProcess) -> String {
    format!("ws://127.0.0.1:{}/api/hub/stream", reg.port)
}

/// The next update of `kind` satisfying `pred`, skipping others.
async fn next_update(hub: &mut SignalClient, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let update = hub
            .next_frame(left)
            .await
            .unwrap_or_else(|e| panic!("waiting for a {kind} update: {e}"));
        if update["type"] == kind && pred(&update) {
            return update;
        }
    }
}

#[tokio::test]
async fn the_stream_sends_a_snapshot_then_every_change() {
    let reg = start();
    let (mut hub, chosen) =
        SignalClient::connect_subprotocol(&stream_url(&reg), ADMIN_TOKEN, "hub")
            .await
            .expect("admin opens the stream");
    assert_eq!(chosen.as_deref(), Some("meshwork"));
    let snapshot = next_update(&mut hub, "snapshot", |_| true).await;
    for section in ["agents", "tasks", "pairings"] {
        assert_eq!(snapshot[section], json!([]), "{section}");
    }
    assert_eq!(snapshot["topology"]["nodes"], json!([]));

    // An agent registers: the agents section arrives with it.
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/registry/agents",
        Cred::ApiKey("ak_alice"),
        Some(
            json!({"agent_id": "alice", "hostname": "h1", "sidecar_peer_id": "alice-sidecar",
            "capabilities": {"skills": ["echo"]}}),
        ),
    )
    .await;
    assert!(status.is_success());
    let agents = next_update(&mut hub, "agents", |u| {
        u["agents"][0]["agent_id"] == "alice"
    })
    .await;
    assert_eq!(agents["agents"][0]["health"], "active");

    // A task is queued, then a device asks to pair.
    let (_, created) = call(
        &reg,
        Method::POST,
        "/api/hub/tasks",
        Cred::Admin,
        Some(
            json!({"skill": "echo", "target_agent_id": "alice", "source_agent_id": "hub",
            "payload": {"message": "hi"}}),
        ),
    )
    .await;
    let task_id = created["task_id"].as_str().expect("task id").to_owned();
    next_update(&mut hub, "tasks_changed", |u| {
        u["tasks"][0]["id"] == task_id.as_str()
    })
    .await;
    let code = admin_post(&reg, "/api/pairing/generate-code").await["code"].clone();
    call(
        &reg,
        Method::POST,
        "/api/pairing/pair",
        Cred::Anonymous,
        Some(json!({"code": code, "agent_name": "laptop"})),
    )
    .await;
    let pairings = next_update(&mut hub, "pairings", |u| {
        u["pairings"][0]["agent_name"] == "laptop"
    })
    .await;
    assert_eq!(pairings["pairings"][0]["status"], "pending_approval");
    assert!(!pairings.to_string().contains("dt_"));

    // A peer joins the mesh: the topology shows it online.
    let (_, jwt) = call(
        &reg,
        Method::POST,
        "/api/token",
        Cred::ApiKey("ak_alice"),
        None,
    )
    .await;
    let mut alice = SignalClient::connect(
        &reg.ws_url(),
        jwt["token"].as_str().expect("jwt"),
        "alice-sidecar",
    )
    .await
    .expect("alice connects");
    alice.register("native").await.expect("register");
    next_update(&mut hub, "topology", |u| {
        u["topology"]["nodes"].as_array().is_some_and(|n| {
            n.iter()
                .any(|n| n["sidecar_peer_id"] == "alice-sidecar" && n["online"] == true)
        })
    })
    .await;

    // A reconnecting hub is in sync from its first message.
    let (mut again, _) = SignalClient::connect_subprotocol(&stream_url(&reg), ADMIN_TOKEN, "hub")
        .await
        .expect("reconnect");
    let snapshot = next_update(&mut again, "snapshot", |_| true).await;
    assert_eq!(snapshot["agents"][0]["agent_id"], "alice");
    assert_eq!(snapshot["tasks"][0]["id"], task_id.as_str());
    assert_eq!(snapshot["pairings"][0]["agent_name"], "laptop");
}

#[tokio::test]
async fn the_stream_refuses_anyone_but_the_admin() {
    let reg = start();
    for token in ["wrong", "ak_alice"] {
        let refused = SignalClient::connect_subprotocol(&stream_url(&reg), token, "hub").await;
        let Err(err) = refused else {
            panic!("stream opened with {token:?}")
        };
        assert!(err.to_string().contains("401"), "{err}");
    }
}

#[tokio::test]
async fn the_stream_sends_only_the_tasks_that_changed() {
    let reg = start();
    let (mut hub, _) = SignalClient::connect_subprotocol(&stream_url(&reg), ADMIN_TOKEN, "hub")
        .await
        .expect("admin opens the stream");
    next_update(&mut hub, "snapshot", |_| true).await;
    let big = "x".repeat(60 * 1024);
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, created) = call(
            &reg,
            Method::POST,
            "/api/hub/tasks",
            Cred::Admin,
            Some(json!({"skill": "echo", "source_agent_id": "hub", "payload": {"n": i, "text": big}})),
        )
        .await;
        let id = created["task_id"].as_str().expect("task id").to_owned();
        // Each message carries the new task alone, never the ones already sent.
        let update = next_update(&mut hub, "tasks_changed", |_| true).await;
        let sent: Vec<&str> = update["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .filter_map(|t| t["id"].as_str())
            .collect();
        assert_eq!(sent, vec![id.as_str()], "after task {i}");
        ids.push(id);
    }
    // A heartbeat that assigns nothing changes the agents section, not the tasks.
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/hub/heartbeat",
        Cred::ApiKey("ak_alice"),
        Some(json!({"agent_id": "alice", "hostname": "h1", "skill_names": ["other"]})),
    )
    .await;
    assert!(status.is_success());
    next_update(&mut hub, "agents", |_| true).await;
    // Failing the first task sends that task only (the next tasks message of any kind).
    let (status, body) = call(
        &reg,
        Method::POST,
        &format!("/api/hub/tasks/{}", ids[0]),
        Cred::Admin,
        Some(json!({"state": "failed", "error": "cancelled"})),
    )
    .await;
    assert!(status.is_success(), "{body}");
    let update = next_update(&mut hub, "tasks_changed", |_| true).await;
    assert_eq!(update["tasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(update["tasks"][0]["id"], ids[0].as_str());
    assert_eq!(update["tasks"][0]["state"], "failed");
}

#[tokio::test]
async fn a_ticket_opens_one_socket_once_and_only_for_a_valid_bearer() {
    let reg = start();
    // The admin's ticket opens the hub stream with nothing but the ticket in the URL.
    let (status, body) = call(&reg, Method::POST, "/api/ws-ticket", Cred::Admin, None).await;
    assert_eq!(status, 200, "{body}");
    let ticket = body["ticket"].as_str().expect("ticket").to_owned();
    assert!(ticket.starts_with("wst_") && !ticket.contains(ADMIN_TOKEN));
    assert_eq!(body["expires_in"], 30);
    let url = format!("{}?ticket={ticket}", stream_url(&reg));
    let (mut hub, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("the ticket opens the stream");
    let first = hub.next().await.expect("a frame").expect("readable");
    let snapshot: Value = serde_json::from_str(first.to_text().expect("text")).expect("json");
    assert_eq!(snapshot["type"], "snapshot");
    // Single use.
    let again = tokio_tungstenite::connect_async(url.as_str()).await;
    assert!(again.is_err(), "a used ticket opens nothing");
    // A peer's JWT gets a ticket for /ws, where it stands for that JWT.
    let (_, token) = call(
        &reg,
        Method::POST,
        "/api/token",
        Cred::ApiKey("ak_alice"),
        None,
    )
    .await;
    let jwt = token["token"].as_str().expect("jwt");
    let (status, body) = call(
        &reg,
        Method::POST,
        "/api/ws-ticket",
        Cred::Bearer(jwt),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ws = format!(
        "ws://127.0.0.1:{}/ws?ticket={}",
        reg.port,
        body["ticket"].as_str().unwrap_or_default()
    );
    let (mut peer, _) = tokio_tungstenite::connect_async(ws.as_str())
        .await
        .expect("/ws opens");
    let register = json!({"type": "register", "peer_id": "alice-sidecar", "payload": {}});
    peer.send(tokio_tungstenite::tungstenite::Message::Text(
        register.to_string().into(),
    ))
    .await
    .expect("register");
    let list = peer.next().await.expect("a frame").expect("readable");
    assert!(
        list.to_text().unwrap_or_default().contains("peer_list"),
        "{list:?}"
    );
    // A ticket from an API key, or from nothing, is refused; so is a made-up ticket.
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/ws-ticket",
        Cred::ApiKey("ak_alice"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = call(&reg, Method::POST, "/api/ws-ticket", Cred::Anonymous, None).await;
    assert_eq!(status, 401);
    let forged = format!(
        "{}?ticket=wst_00112233445566778899aabbccddeeff",
        stream_url(&reg)
    );
    assert!(tokio_tungstenite::connect_async(forged.as_str())
        .await
        .is_err());
}
