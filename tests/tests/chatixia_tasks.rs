//! Queued tasks reach unmodified chatixia agents (PyPI `chatixia`, spawning our sidecar) at
//! mesh speed, with the queue as the fallback (ADR 0018): a task submitted over REST is sent
//! at once over the agent's sidecar's signaling socket and completed by the agent's
//! `task_response`; with the sidecar gone the agent's heartbeat still gets it; a task runs
//! once; peers that did not announce `tasks` never see such frames, and a sidecar that does
//! not acknowledge gets its task taken back for the heartbeat.

use meshwork_tests::{
    chatixia::{api_key, keys_for, ChatixiaAgent},
    http::{call, Cred},
    wait, RegistryOptions, RegistryProcess, SignalClient,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn registry(names: &[&str], env: Vec<(String, String)>) -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys_for(names)),
        // chatixia's list_agents calls GET /api/registry/agents without a credential.
        compat_chatixia: true,
        env,
        ..Default::default()
    })
}

async fn submit(reg: &RegistryProcess, body: Value) -> String {
    let (status, created) =
        call(reg, Method::POST, "/api/hub/tasks", Cred::Admin, Some(body)).await;
    assert!(status.is_success(), "submit: {status} {created}");
    created["task_id"].as_str().expect("task_id").to_owned()
}

async fn task(reg: &RegistryProcess, id: &str) -> Value {
    call(
        reg,
        Method::GET,
        &format!("/api/hub/tasks/{id}"),
        Cred::Admin,
        None,
    )
    .await
    .1
}

/// Waits until task `id` is completed or failed; returns it.
async fn finished(reg: &RegistryProcess, id: &str, timeout: Duration) -> Value {
    wait::until(timeout, &format!("task {id} finished"), || async {
        let t = task(reg, id).await;
        matches!(t["state"].as_str(), Some("completed" | "failed")).then_some(t)
    })
    .await
}

fn assignments(task: &Value) -> Vec<String> {
    task["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["state"] == "assigned")
        .map(|s| s["via"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_rest_task_reaches_a_connected_chatixia_agent_at_mesh_speed() {
    let reg = registry(&["alice", "bob"], vec![]);
    let alice = ChatixiaAgent::start(&reg, "alice").await;
    let _bob = ChatixiaAgent::start(&reg, "bob").await;

    let started = Instant::now();
    let id = submit(
        &reg,
        json!({"skill": "list_agents", "target_agent_id": "alice"}),
    )
    .await;
    let done = finished(&reg, &id, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert_eq!(done["state"], "completed", "{done}\n{}", alice.output());
    assert_eq!(done["delivery"], "mesh", "{done}");
    let result = done["result"].as_str().unwrap_or_default();
    assert!(
        result.contains("## Mesh Agents") && result.contains("**bob**"),
        "the real list_agents answer: {result}"
    );
    assert!(
        took < Duration::from_secs(1),
        "took {took:?} (the heartbeat is 15 s)"
    );

    // Interventions take the same path; an unknown skill fails with the agent's own words.
    let id = submit(
        &reg,
        json!({"skill": "user_intervention", "target_agent_id": "bob",
               "payload": {"message": "stop after this one"}}),
    )
    .await;
    let done = finished(&reg, &id, Duration::from_secs(5)).await;
    assert_eq!(
        (
            done["state"].as_str(),
            done["result"].as_str(),
            done["delivery"].as_str()
        ),
        (
            Some("completed"),
            Some("Received: stop after this one"),
            Some("mesh")
        )
    );
    let id = submit(&reg, json!({"skill": "echo", "target_agent_id": "bob"})).await;
    let done = finished(&reg, &id, Duration::from_secs(5)).await;
    assert_eq!(done["state"], "failed");
    assert_eq!(done["error"], "unknown skill: echo");
}

#[tokio::test]
async fn a_task_routed_by_skill_goes_to_a_connected_agent_that_has_it() {
    let reg = registry(&["carol"], vec![]);
    let _carol = ChatixiaAgent::start(&reg, "carol").await;
    let id = submit(
        &reg,
        json!({"skill": "user_intervention", "payload": {"message": "hi"}}),
    )
    .await;
    let done = finished(&reg, &id, Duration::from_secs(5)).await;
    assert_eq!(done["assigned_agent_id"], "carol");
    assert_eq!(done["delivery"], "mesh");
    assert_eq!(done["result"], "Received: hi");
}

#[tokio::test]
async fn a_mesh_delivered_task_runs_once_even_after_the_next_heartbeat() {
    let reg = registry(&["dave"], vec![]);
    let dave = ChatixiaAgent::start(&reg, "dave").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let body = json!({"skill": "user_intervention", "target_agent_id": "dave",
                          "payload": {"message": format!("n{n}")}});
        ids.push(submit(&reg, body).await);
    }
    let mut before = Vec::new();
    for id in &ids {
        let done = finished(&reg, id, Duration::from_secs(5)).await;
        assert_eq!(assignments(&done), ["mesh"], "{done}");
        before.push(done);
    }
    // The agent's next heartbeat (every 15 s) must not be handed any of them again.
    let first = dave.last_heartbeat(&reg).await;
    wait::until(Duration::from_secs(20), "dave's next heartbeat", || async {
        (dave.last_heartbeat(&reg).await != first).then_some(())
    })
    .await;
    for (id, was) in ids.iter().zip(before) {
        assert_eq!(
            task(&reg, id).await,
            was,
            "task {id} changed after the heartbeat"
        );
    }
}

#[tokio::test]
async fn with_the_sidecar_stopped_the_heartbeat_still_completes_the_task() {
    let reg = registry(&["erin"], vec![]);
    let erin = ChatixiaAgent::start(&reg, "erin").await;
    erin.kill_sidecar(&reg).await;
    let id = submit(
        &reg,
        json!({"skill": "user_intervention", "target_agent_id": "erin",
               "payload": {"message": "via the queue"}}),
    )
    .await;
    assert_eq!(task(&reg, &id).await["state"], "pending");
    // chatixia heartbeats every 15 s.
    let done = finished(&reg, &id, Duration::from_secs(40)).await;
    assert_eq!(done["state"], "completed", "{done}\n{}", erin.output());
    assert_eq!(done["result"], "Received: via the queue");
    assert_eq!(done["delivery"], "heartbeat");
    assert_eq!(assignments(&done), ["heartbeat"]);
}

async fn token(reg: &RegistryProcess, key: &str) -> String {
    let (_, body) = call(reg, Method::POST, "/api/token", Cred::ApiKey(key), None).await;
    body["token"].as_str().expect("token").to_owned()
}

/// A peer `frank-sidecar` on a raw signaling socket (registering with `payload`) and its
/// agent record `frank`.
async fn raw_sidecar(reg: &RegistryProcess, payload: Value) -> SignalClient {
    let key = api_key("frank");
    let body = json!({"agent_id": "frank", "sidecar_peer_id": "frank-sidecar",
                      "capabilities": {"skills": ["user_intervention"]}});
    let (status, _) = call(
        reg,
        Method::POST,
        "/api/registry/agents",
        Cred::ApiKey(&key),
        Some(body),
    )
    .await;
    assert!(status.is_success());
    let mut ws = SignalClient::connect(&reg.ws_url(), &token(reg, &key).await, "frank-sidecar")
        .await
        .expect("ws");
    ws.send("register", None, payload).await.expect("register");
    ws.expect("peer_list").await.expect("peer_list");
    ws
}

async fn heartbeat_takes(reg: &RegistryProcess, id: &str) {
    let body = json!({"agent_id": "frank", "skill_names": ["user_intervention"]});
    let key = api_key("frank");
    let (_, hb) = call(
        reg,
        Method::POST,
        "/api/hub/heartbeat",
        Cred::ApiKey(&key),
        Some(body),
    )
    .await;
    let taken: Vec<_> = hb["pending_tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    assert!(taken.iter().any(|t| t["id"] == id), "{hb}");
    assert_eq!(
        assignments(&task(reg, id).await).last().map(String::as_str),
        Some("heartbeat")
    );
}

#[tokio::test]
async fn an_upstream_sidecar_never_receives_task_frames() {
    let reg = registry(&["frank"], vec![]);
    // What an upstream chatixia sidecar sends: no `tasks`, no `registry_tier`.
    let mut ws = raw_sidecar(&reg, Value::Null).await;
    let id = submit(
        &reg,
        json!({"skill": "user_intervention", "target_agent_id": "frank"}),
    )
    .await;
    // A round trip on this socket: anything the registry sent before its answer is queued
    // ahead of it on this socket.
    ws.send(
        "mesh_message",
        Some("nobody"),
        json!({"request_id": "probe"}),
    )
    .await
    .expect("probe");
    loop {
        let frame = ws
            .next_frame(Duration::from_secs(5))
            .await
            .expect("a frame");
        assert_ne!(
            frame["type"], "mesh_message",
            "an upstream sidecar got {frame}"
        );
        if frame["type"] == "error" {
            assert_eq!(frame["payload"]["request_id"], "probe");
            break;
        }
    }
    assert_eq!(task(&reg, &id).await["state"], "pending");
    heartbeat_takes(&reg, &id).await;
}

#[tokio::test]
async fn a_task_the_sidecar_does_not_acknowledge_goes_back_to_the_queue() {
    let reg = registry(
        &["frank"],
        vec![("TASK_ACK_TIMEOUT_MS".into(), "300".into())],
    );
    let mut ws = raw_sidecar(&reg, json!({"registry_tier": true, "tasks": true})).await;
    let id = submit(
        &reg,
        json!({"skill": "user_intervention", "target_agent_id": "frank",
                                 "payload": {"message": "m"}}),
    )
    .await;
    let frame = ws.expect("mesh_message").await.expect("the task");
    assert_eq!(frame["peer_id"], "registry");
    assert_eq!(frame["payload"]["type"], "task_request");
    assert_eq!(frame["payload"]["request_id"], id.as_str());
    assert_eq!(
        frame["payload"]["payload"],
        json!({"skill": "user_intervention", "message": "m"})
    );
    // Never acknowledged: back in the queue, and not sent on this connection again.
    wait::until(
        Duration::from_secs(5),
        "the task back in the queue",
        || async { (task(&reg, &id).await["state"] == "pending").then_some(()) },
    )
    .await;
    heartbeat_takes(&reg, &id).await;
    // The agent's answer still counts, whichever way it comes: nothing is lost.
    let answer = json!({"type": "task_response", "request_id": id, "payload": {"result": "late"}});
    ws.send("mesh_message", Some("registry"), answer)
        .await
        .expect("answer");
    let done = finished(&reg, &id, Duration::from_secs(2)).await;
    assert_eq!(
        (done["state"].as_str(), done["result"].as_str()),
        (Some("completed"), Some("late"))
    );
    // A second answer for a finished task is refused.
    let again = json!({"type": "task_response", "request_id": id, "payload": {"result": "x"}});
    ws.send("mesh_message", Some("registry"), again)
        .await
        .expect("answer");
    let refusal = ws.expect("error").await.expect("refusal");
    assert_eq!(refusal["payload"]["request_id"], id.as_str());
}

#[tokio::test]
async fn a_sidecar_without_its_agent_hands_the_task_straight_back() {
    let reg = registry(&["frank"], vec![]);
    let mut ws = raw_sidecar(&reg, json!({"registry_tier": true, "tasks": true})).await;
    let id = submit(
        &reg,
        json!({"skill": "user_intervention", "target_agent_id": "frank"}),
    )
    .await;
    ws.expect("mesh_message").await.expect("the task");
    let refused = json!({"request_id": id, "delivered": false, "reason": "no agent is connected"});
    ws.send("task_received", None, refused)
        .await
        .expect("task_received");
    let back = wait::until(
        Duration::from_secs(2),
        "the task back in the queue",
        || async {
            let t = task(&reg, &id).await;
            (t["state"] == "pending").then_some(t)
        },
    )
    .await;
    let note = back["timeline"][2]["note"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(note.contains("no agent is connected"), "{back}");
    heartbeat_takes(&reg, &id).await;
}
