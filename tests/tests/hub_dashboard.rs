//! The Leptos hub in a real headless Chromium, against the real registry and real sidecars:
//! login, agents and health, a task submitted from the UI and its result, a device approved
//! from the UI, the tab joining the mesh and showing up in the topology, a ping with its RTT.
//! Screenshots of each panel go to docs/screenshots/.

use meshwork_tests::{
    browser::Browser,
    http::{admin_get, call, Cred},
    IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::{path::PathBuf, time::Duration};

const UI_TIMEOUT: Duration = Duration::from_secs(30);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn screenshot_path(name: &str) -> PathBuf {
    repo().join("docs/screenshots").join(format!("{name}.png"))
}

fn registry() -> RegistryProcess {
    let dist = repo().join("dist");
    assert!(
        dist.join("index.html").exists(),
        "dist/ is not built: run `trunk build --release` (scripts/test.sh does)"
    );
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_alice": {"peer_id": "alice-sidecar"}}})),
        hub_dist_dir: Some(dist),
        ..Default::default()
    })
}

/// Answers like a minimal agent: `ping` → `pong`, `task_request` → `task_response`.
fn spawn_echo_agent(mut ipc: IpcClient) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(ev) = ipc.next_event(Duration::from_secs(600)).await {
            if ev["type"] != "message" {
                continue;
            }
            let from = ev["payload"]["from_peer"].clone();
            let msg = &ev["payload"]["message"];
            let reply = match msg["type"].as_str() {
                Some("ping") => json!({"type": "pong", "request_id": msg["request_id"]}),
                Some("task_request") => json!({"type": "task_response",
                    "request_id": msg["request_id"],
                    "payload": {"result": format!("echo: {}", msg["payload"]["message"].as_str().unwrap_or("")), "error": ""}}),
                _ => continue,
            };
            ipc.send(json!({"type": "send", "payload": {"target_peer": from, "message": reply}}))
                .await;
        }
    })
}

async fn open_logged_in(browser: &Browser, reg: &RegistryProcess) {
    browser.open_hub(reg, UI_TIMEOUT).await;
}

async fn wait_text(browser: &Browser, what: &str, css: &str, needle: &str) -> String {
    browser.wait_text(what, css, needle, UI_TIMEOUT).await
}

#[tokio::test]
async fn a_missing_or_wrong_token_gets_the_login_screen() {
    let reg = registry();
    let browser = Browser::start().await;
    browser.client.goto(&reg.url("/")).await.expect("open");
    wait_text(&browser, "the login screen", "#login", "token").await;
    browser
        .client
        .goto(&reg.url("/?token=adm_wrong"))
        .await
        .expect("open");
    wait_text(&browser, "the refusal", "#login", "refused").await;
    browser
        .screenshot("#login", &screenshot_path("login"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn the_hub_shows_the_mesh_runs_tasks_approves_devices_and_joins() {
    let reg = registry();
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice-sidecar");
    let agent = spawn_echo_agent(alice.ipc().await);
    let agent_body = json!({"agent_id": "alice", "hostname": "host-a", "sidecar_peer_id": "alice-sidecar",
        "capabilities": {"skills": ["echo"], "mode": "auto"}});
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/registry/agents",
        Cred::ApiKey("ak_alice"),
        Some(agent_body),
    )
    .await;
    assert!(status.is_success());

    let browser = Browser::start().await;
    browser.resize(1280, 1400).await;
    open_logged_in(&browser, &reg).await;

    // Agents and health, live.
    wait_text(
        &browser,
        "alice's health",
        "tr[data-agent-id='alice'] td.health",
        "active",
    )
    .await;
    wait_text(
        &browser,
        "alice's sidecar in the mesh",
        "tr[data-agent-id='alice'] td.in-mesh",
        "yes",
    )
    .await;
    wait_text(
        &browser,
        "one agent online",
        "#card-agents-online strong",
        "1",
    )
    .await;
    browser
        .screenshot("#overview", &screenshot_path("overview"))
        .await;
    browser
        .screenshot("#agents", &screenshot_path("agents"))
        .await;

    // The agent's identity key (ADR 0015): its fingerprint is shown, and an admin resets it.
    let bound = admin_get(&reg, "/api/identity").await;
    let fingerprint = bound[0]["fingerprint"]
        .as_str()
        .expect("alice's key")
        .to_owned();
    wait_text(
        &browser,
        "alice's key fingerprint",
        "tr[data-agent-id='alice'] td.key",
        &fingerprint,
    )
    .await;
    browser
        .click("tr[data-agent-id='alice'] button.reset-key")
        .await;
    browser.click("#reset-confirm-yes").await;
    wait_text(
        &browser,
        "the reset outcome",
        "#agent-outcome",
        "alice-sidecar",
    )
    .await;
    assert_eq!(admin_get(&reg, "/api/identity").await, json!([]));

    // A task submitted from the UI: alice's sidecar is connected, so the registry sends it
    // over the mesh at once (ADR 0018) and the agent's answer completes it.
    browser.select("#task-agent", "alice").await;
    browser.select("#task-kind", "task").await;
    browser.type_into("#task-skill", "echo").await;
    browser
        .type_into("#task-payload", r#"{"message": "from the hub"}"#)
        .await;
    browser.click("#task-submit").await;
    let outcome = wait_text(&browser, "the submitted task", "#task-outcome", "submitted").await;
    let task_id = outcome.trim().trim_start_matches("submitted ").to_owned();
    let task = admin_get(&reg, &format!("/api/hub/tasks/{task_id}")).await;
    assert_eq!(task["payload"]["message"], "from the hub", "{task}");
    let row = format!("tr[data-task-id='{task_id}']");
    wait_text(
        &browser,
        "the task's result",
        &format!("{row} td.result"),
        "echo: from the hub",
    )
    .await;
    wait_text(
        &browser,
        "the task's state",
        &format!("{row} td.state"),
        "completed",
    )
    .await;
    let task = admin_get(&reg, &format!("/api/hub/tasks/{task_id}")).await;
    assert_eq!(task["delivery"], "mesh", "{task}");
    browser
        .screenshot("#tasks", &screenshot_path("tasks"))
        .await;

    // A device paired with a code from the UI, approved from the UI, exchanges its token.
    browser.click("#gen-code").await;
    let code = browser
        .wait_for("a pairing code", UI_TIMEOUT, "const e = document.querySelector('#pair-code'); const m = e && e.textContent.match(/\\d{6}/); return m && m[0]")
        .await;
    let secret = "0123456789abcdef0123456789abcdef";
    let (status, paired) = call(
        &reg,
        Method::POST,
        "/api/pairing/pair",
        Cred::Anonymous,
        Some(json!({"code": code, "agent_name": "laptop", "claim_secret": secret})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{paired}");
    let id = paired["id"].as_str().expect("id").to_owned();
    let entry = format!("tr[data-pairing-id='{id}']");
    wait_text(
        &browser,
        "the pending device",
        &format!("{entry} td.status"),
        "pending",
    )
    .await;
    browser.click(&format!("{entry} button.approve")).await;
    browser.click("#confirm-yes").await;
    wait_text(&browser, "the approval outcome", "#device-outcome", "dt_").await;
    wait_text(
        &browser,
        "the approved device",
        &format!("{entry} td.status"),
        "approved",
    )
    .await;
    browser
        .screenshot("#devices", &screenshot_path("devices"))
        .await;
    let (status, claimed) = call(
        &reg,
        Method::POST,
        &format!("/api/pairing/{id}/claim"),
        Cred::Anonymous,
        Some(json!({"claim_secret": secret, "wait_secs": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let token = claimed["device_token"].as_str().expect("device token");
    let (status, jwt) = call(&reg, Method::POST, "/api/token", Cred::Device(token), None).await;
    assert_eq!(status, StatusCode::OK, "{jwt}");
    assert_eq!(jwt["peer_id"], "laptop-sidecar");

    // The tab joins the mesh: a node in the topology with a link to the sidecar.
    browser
        .wait_for(
            "the confirmation dialog to close",
            UI_TIMEOUT,
            "return !document.querySelector('dialog[open]')",
        )
        .await;
    browser.click("#join").await;
    let me = browser
        .wait_for("the tab's peer id", UI_TIMEOUT, "const e = document.querySelector('#me'); const t = e && e.textContent.trim(); return t && t.startsWith('tab-') ? t : null")
        .await;
    let me = me.as_str().expect("peer id").to_owned();
    let mesh_peer = "ul#mesh-peers li[data-peer-id='alice-sidecar']";
    browser.find(mesh_peer).await;
    let node = format!("svg#topology g.node.kind-browser[data-peer-id='{me}']");
    browser
        .wait_for(
            "the tab's node",
            UI_TIMEOUT,
            &format!("return !!document.querySelector(\"{node}\")"),
        )
        .await;
    let edge = browser
        .wait_for(
            "the tab's link to alice",
            UI_TIMEOUT,
            &format!("const e = [...document.querySelectorAll('svg#topology line.edge')].find(l => [l.dataset.from, l.dataset.to].includes('{me}') && [l.dataset.from, l.dataset.to].includes('alice-sidecar')); return e ? e.textContent : null"),
        )
        .await;
    assert!(
        edge.as_str().unwrap_or_default().contains("ms")
            || edge.as_str().unwrap_or_default().contains("rtt"),
        "{edge}"
    );
    browser
        .screenshot("#topology", &screenshot_path("topology"))
        .await;

    // Ping alice: an RTT comes back; a task_request over the DataChannel gets its reply.
    browser.click(&format!("{mesh_peer} button.ping")).await;
    let rtt = wait_text(
        &browser,
        "the ping's RTT",
        &format!("{mesh_peer} span.rtt"),
        "ms",
    )
    .await;
    eprintln!("hub ping RTT to alice-sidecar: {rtt}");
    browser.select("#dc-peer", "alice-sidecar").await;
    browser.select("#dc-kind", "task_request").await;
    browser.type_into("#dc-text", "over the channel").await;
    browser.click("#dc-send").await;
    wait_text(
        &browser,
        "the DataChannel reply",
        "ul#dc-replies",
        "echo: over the channel",
    )
    .await;
    browser
        .screenshot("section#join", &screenshot_path("join"))
        .await;

    // A phone-width layout still shows every panel.
    browser.resize(390, 900).await;
    browser.screenshot("body", &screenshot_path("phone")).await;
    let widths: Value = browser
        .eval("const d = document.documentElement; const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > d.clientWidth + 1 && !(function(n) { for (n = n.parentElement; n && n !== document.body; n = n.parentElement) { if (getComputedStyle(n).overflowX !== 'visible') return true; } return false; })(e)).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.getAttribute('class')); return [d.scrollWidth, d.clientWidth, wide]")
        .await;
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "horizontal scroll at phone width (scrollWidth, clientWidth): {widths}"
    );

    browser.close().await;
    agent.abort();
}
