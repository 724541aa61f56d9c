//! Agent records, routing by skill and agent cards against a real registry.

use meshwork_tests::{registry::ADMIN_TOKEN, RegistryOptions, RegistryProcess};
use reqwest::{Client, RequestBuilder};
use serde_json::{json, Value};

fn start() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_alice": {"peer_id": "alice-sidecar", "role": "agent"},
            "ak_bob": {"peer_id": "bob-sidecar", "role": "agent"},
        }})),
        ..Default::default()
    })
}

async fn send(req: RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request");
    let code = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// What a chatixia 0.4 agent sends when it registers.
fn chatixia_register(name: &str, skills: &[&str]) -> Value {
    json!({"agent_id": name, "hostname": "box", "sidecar_peer_id": format!("{name}-sidecar"),
           "capabilities": {"skills": skills, "mcp_servers": [], "goals_count": 0, "mode": "interactive"}})
}

#[tokio::test]
async fn registered_agent_is_listed_with_health_and_timestamps() {
    let reg = start();
    let http = Client::new();
    let (code, body) = send(
        http.post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_alice")
            .json(&chatixia_register("alice", &["echo"])),
    )
    .await;
    assert_eq!((code, body), (200, json!({"status": "ok"})));
    let (code, list) = send(
        http.get(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_bob"),
    )
    .await;
    assert_eq!(code, 200);
    let a = &list[0];
    assert_eq!(a["agent_id"], "alice");
    assert_eq!(a["sidecar_peer_id"], "alice-sidecar");
    assert_eq!(a["port"], 8080, "port defaults to 8080");
    assert_eq!(a["ip"], "");
    assert_eq!(a["capabilities"]["skills"], json!(["echo"]));
    assert_eq!(a["health"], "active");
    for field in ["registered_at", "last_heartbeat"] {
        let t = a[field].as_str().expect(field);
        assert!(
            t.ends_with('Z') && t.contains('T'),
            "{field} is RFC 3339: {t}"
        );
    }
    let (code, one) = send(
        http.get(reg.url("/api/registry/agents/alice"))
            .header("x-api-key", "ak_bob"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(one["agent_id"], "alice");
}

#[tokio::test]
async fn heartbeat_keeps_fields_it_does_not_send() {
    let reg = start();
    let http = Client::new();
    send(
        http.post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_alice")
            .json(&chatixia_register("alice", &["echo"])),
    )
    .await;
    // chatixia's heartbeat: only agent_id and skill_names.
    let (code, hb) = send(
        http.post(reg.url("/api/hub/heartbeat"))
            .header("x-api-key", "ak_alice")
            .json(&json!({"agent_id": "alice", "skill_names": ["echo", "search"]})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(hb, json!({"status": "ok", "pending_tasks": []}));
    let (_, one) = send(
        http.get(reg.url("/api/registry/agents/alice"))
            .header("x-api-key", "ak_alice"),
    )
    .await;
    assert_eq!(one["hostname"], "box", "upstream blanked the hostname here");
    assert_eq!(one["capabilities"]["skills"], json!(["echo", "search"]));
    assert_eq!(one["capabilities"]["mode"], "interactive");
}

#[tokio::test]
async fn missing_agent_is_404_with_json_error() {
    let reg = start();
    let http = Client::new();
    for req in [
        http.get(reg.url("/api/registry/agents/ghost")),
        http.delete(reg.url("/api/registry/agents/ghost")),
        http.get(reg.url("/api/registry/agents/ghost/card")),
    ] {
        let (code, body) = send(req.header("x-api-key", "ak_alice")).await;
        assert_eq!(code, 404);
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("ghost")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn only_the_owner_or_admin_updates_or_deletes_an_agent() {
    let reg = start();
    let http = Client::new();
    send(
        http.post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_alice")
            .json(&chatixia_register("alice", &["echo"])),
    )
    .await;
    let (code, body) = send(
        http.post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_bob")
            .json(&chatixia_register("alice", &["evil"])),
    )
    .await;
    assert_eq!(code, 403, "{body}");
    let (code, _) = send(
        http.delete(reg.url("/api/registry/agents/alice"))
            .header("x-api-key", "ak_bob"),
    )
    .await;
    assert_eq!(code, 403);
    let (_, one) = send(
        http.get(reg.url("/api/registry/agents/alice"))
            .header("x-api-key", "ak_bob"),
    )
    .await;
    assert_eq!(
        one["capabilities"]["skills"],
        json!(["echo"]),
        "bob's update did not land"
    );
    let (code, _) = send(
        http.delete(reg.url("/api/registry/agents/alice"))
            .header("x-api-key", "ak_alice"),
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = send(
        http.get(reg.url("/api/registry/agents/alice"))
            .header("x-api-key", "ak_alice"),
    )
    .await;
    assert_eq!(code, 404);
    // The admin may delete anyone's record.
    send(
        http.post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_bob")
            .json(&chatixia_register("bob", &[])),
    )
    .await;
    let (code, _) = send(
        http.delete(reg.url("/api/registry/agents/bob"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn invalid_agent_body_is_400_with_json_error() {
    let reg = start();
    let http = Client::new();
    for body in [
        "{",
        r#"{"hostname": "no id"}"#,
        r#"{"agent_id": ""}"#,
        r#"{"agent_id": "a", "port": "x"}"#,
    ] {
        let (code, resp) = send(
            http.post(reg.url("/api/registry/agents"))
                .header("x-api-key", "ak_alice")
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert!(code == 400 || code == 422, "{body}: {code}");
        assert!(resp["error"].is_string(), "{body}: {resp}");
    }
}

#[tokio::test]
async fn oversize_body_is_413_with_json_error() {
    let reg = start();
    let big = json!({"agent_id": "a", "hostname": "x".repeat(2 * 1024 * 1024)});
    let (code, body) = send(
        Client::new()
            .post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_alice")
            .json(&big),
    )
    .await;
    assert_eq!(code, 413);
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn route_finds_the_active_agent_with_the_skill() {
    let reg = start();
    let http = Client::new();
    send(
        http.post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_alice")
            .json(&chatixia_register("alice", &["echo"])),
    )
    .await;
    send(
        http.post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_bob")
            .json(&chatixia_register("bob", &["search"])),
    )
    .await;
    let (code, agent) = send(
        http.get(reg.url("/api/registry/route?skill=search"))
            .header("x-api-key", "ak_alice"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(agent["agent_id"], "bob");
    assert_eq!(agent["sidecar_peer_id"], "bob-sidecar");
    let (code, body) = send(
        http.get(reg.url("/api/registry/route?skill=fly"))
            .header("x-api-key", "ak_alice"),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(
        body,
        json!({"error": "no agent found with skill", "skill": "fly"})
    );
    let (code, _) = send(
        http.get(reg.url("/api/registry/route"))
            .header("x-api-key", "ak_alice"),
    )
    .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn agent_card_lists_its_skills() {
    let reg = start();
    let http = Client::new();
    send(
        http.post(reg.url("/api/registry/agents"))
            .header("x-api-key", "ak_alice")
            .json(&chatixia_register("alice", &["echo", "search"])),
    )
    .await;
    let (code, card) = send(
        http.get(reg.url("/api/registry/agents/alice/card"))
            .header("x-api-key", "ak_bob"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(card["name"], "alice");
    let ids: Vec<&str> = card["skills"]
        .as_array()
        .expect("skills")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["echo", "search"]);
    assert!(card["defaultInputModes"].is_array());
}

#[tokio::test]
async fn unknown_api_route_is_404_json_and_root_explains_missing_hub() {
    let reg = start();
    let (code, body) = send(Client::new().get(reg.url("/api/nothing/here"))).await;
    assert_eq!(code, 404);
    assert!(body["error"].is_string());
    let resp = reqwest::get(reg.url("/")).await.expect("get /");
    assert_eq!(resp.status(), 503);
    let html = resp.text().await.expect("html");
    assert!(html.contains("hub dashboard has not been built"), "{html}");
}

#[tokio::test]
async fn built_hub_is_served_with_spa_fallback() {
    let dir = meshwork_tests::bins::scratch_dir("hub");
    std::fs::write(dir.join("index.html"), "<html>hub index</html>").expect("write");
    std::fs::write(dir.join("app.js"), "console.log(1)").expect("write");
    let reg = RegistryProcess::start(RegistryOptions {
        hub_dist_dir: Some(dir.to_path_buf()),
        ..Default::default()
    });
    assert_eq!(
        reqwest::get(reg.url("/"))
            .await
            .expect("get")
            .text()
            .await
            .expect("t"),
        "<html>hub index</html>"
    );
    assert_eq!(
        reqwest::get(reg.url("/app.js"))
            .await
            .expect("get")
            .text()
            .await
            .expect("t"),
        "console.log(1)"
    );
    let deep = reqwest::get(reg.url("/agents/alice")).await.expect("get");
    assert_eq!(deep.status(), 200);
    assert_eq!(deep.text().await.expect("t"), "<html>hub index</html>");
    let _ = std::fs::remove_dir_all(&dir);
}
