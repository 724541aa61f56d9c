//! A headless Chromium tab as a full mesh peer next to native sidecars: real registry, real
//! sidecars with IPC agents, the real page the registry serves (built by trunk into dist/).
//! Runs inside a network namespace with only loopback (scripts/test.sh).

use meshwork_tests::{
    browser::Browser, sidecar::EVENT_TIMEOUT, IpcClient, RegistryOptions, RegistryProcess,
    SidecarProcess,
};
use serde_json::{json, Value};
use std::{path::PathBuf, time::Duration};

const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

fn registry() -> RegistryProcess {
    assert!(
        dist().join("index.html").exists(),
        "dist/ is not built: run `trunk build --release` (scripts/test.sh does)"
    );
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(
            json!({"keys": {"ak_alice": {"peer_id": "alice"}, "ak_bob": {"peer_id": "bob"}}}),
        ),
        hub_dist_dir: Some(dist()),
        ..Default::default()
    })
}

/// Opens the page logged in, joins, and returns the tab's peer id.
async fn join(browser: &Browser, reg: &RegistryProcess) -> String {
    browser.join_hub(reg).await
}

async fn tab_peers(browser: &Browser) -> Vec<String> {
    let v = browser
        .eval("return window.meshPeer ? window.meshPeer.peers() : []")
        .await;
    let mut peers: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    peers.sort();
    peers
}

async fn wait_tab_peers(browser: &Browser, want: &[&str]) {
    let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
    loop {
        let peers = tab_peers(browser).await;
        if want.iter().all(|w| peers.iter().any(|p| p == w)) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let events = browser
                .eval("return JSON.stringify(window.meshEvents)")
                .await;
            let events = events.as_str().unwrap_or_default();
            let tail = &events[events.len().saturating_sub(3000)..];
            panic!("tab peers {peers:?}, want {want:?}; last events: {tail}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_from(ev: &Value, from: &str, request_id: &str) -> bool {
    ev["type"] == "message"
        && ev["payload"]["from_peer"] == from
        && ev["payload"]["message"]["request_id"] == request_id
}

#[tokio::test]
async fn tab_and_sidecars_form_a_mesh_and_exchange_messages() {
    let reg = registry();
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice");
    let bob = SidecarProcess::start(&reg, "ak_bob", "bob");
    let mut alice_ipc: IpcClient = alice.ipc().await;
    let mut bob_ipc: IpcClient = bob.ipc().await;
    let browser = Browser::start().await;
    let tab = join(&browser, &reg).await;
    assert!(tab.starts_with("tab-"), "{tab}");
    wait_tab_peers(&browser, &["alice", "bob"]).await;
    alice_ipc.wait_connected(&["bob", &tab]).await;
    bob_ipc.wait_connected(&["alice", &tab]).await;

    // tab → sidecar
    browser
        .eval(r#"window.meshPeer.send("alice", JSON.stringify({type: "agent_prompt", request_id: "from-tab", payload: {message: "hi alice"}})); return true"#)
        .await;
    let got = alice_ipc
        .wait_for("tab's message", EVENT_TIMEOUT, |e| {
            is_from(e, &tab, "from-tab")
        })
        .await;
    assert_eq!(got["payload"]["message"]["payload"]["message"], "hi alice");
    // Tab and sidecar are bound to each other's identity keys (ADR 0015).
    assert_eq!(got["payload"]["verified"], true, "{got}");

    // sidecar → tab
    alice_ipc
        .send(json!({"type": "send", "payload": {"target_peer": tab, "message": {"type": "agent_prompt", "request_id": "to-tab", "payload": {"message": "hi tab"}}}}))
        .await;
    browser
        .wait_for("alice's message in the tab", EVENT_TIMEOUT, r#"return window.meshEvents.some(e => e.type === "message" && e.from === "alice" && e.message.request_id === "to-tab")"#)
        .await;
    let verified = browser
        .eval(r#"const c = window.meshEvents.find(e => e.type === "peer_connected" && e.peer === "alice"); const m = window.meshEvents.find(e => e.type === "message" && e.message.request_id === "to-tab"); return [c && c.verified, m && m.verified]"#)
        .await;
    assert_eq!(verified, json!([true, true]), "the tab verified alice");

    // task_request from the tab, answered by bob's agent.
    browser
        .eval(r#"window.meshPeer.sendRequest("bob", JSON.stringify({type: "task_request", request_id: "task-1", payload: {skill: "echo", message: "ping"}}), 10000); return true"#)
        .await;
    let req = bob_ipc
        .wait_for("task_request", EVENT_TIMEOUT, |e| {
            is_from(e, &tab, "task-1")
        })
        .await;
    assert_eq!(req["payload"]["message"]["type"], "task_request");
    bob_ipc
        .send(json!({"type": "send", "payload": {"target_peer": tab, "message": {"type": "task_response", "request_id": "task-1", "payload": {"result": "echo: ping", "error": ""}}}}))
        .await;
    let rtt = browser
        .wait_for("task_response with its RTT", EVENT_TIMEOUT, r#"const e = window.meshEvents.find(e => e.type === "message" && e.message.request_id === "task-1" && e.message.type === "task_response"); return e ? {result: e.message.payload.result, rtt: e.rtt_ms} : null"#)
        .await;
    assert_eq!(rtt["result"], "echo: ping");
    assert!(rtt["rtt"].is_number(), "{rtt}");

    // Closing the tab is seen by the sidecars.
    browser.close().await;
    for ipc in [&mut alice_ipc, &mut bob_ipc] {
        ipc.wait_for("tab's peer_disconnected", Duration::from_secs(15), |e| {
            e["type"] == "peer_disconnected" && e["payload"]["peer_id"] == tab.as_str()
        })
        .await;
    }
}

#[tokio::test]
async fn two_tabs_talk_to_each_other() {
    let reg = registry();
    let one = Browser::start().await;
    let two = Browser::start().await;
    let id_one = join(&one, &reg).await;
    let id_two = join(&two, &reg).await;
    assert_ne!(id_one, id_two);
    wait_tab_peers(&one, &[&id_two]).await;
    wait_tab_peers(&two, &[&id_one]).await;
    one.eval(&format!(
        r#"window.meshPeer.send("{id_two}", JSON.stringify({{type: "agent_prompt", request_id: "tab-to-tab", payload: {{message: "hello other tab"}}}})); return true"#
    ))
    .await;
    two.wait_for("the other tab's message", EVENT_TIMEOUT, &format!(
        r#"return window.meshEvents.some(e => e.type === "message" && e.from === "{id_one}" && e.message.request_id === "tab-to-tab")"#
    ))
    .await;
    one.close().await;
    two.close().await;
}
