//! A browser tab through the relay tier: the tab forces TURN (`relayOnly`), a real coturn
//! relays, and both the native sidecar's link report (the topology) and the tab's own send
//! say `relay`. Runs inside the loopback-only test namespace like the other browser suites.

use meshwork_tests::{
    browser::Browser, http::admin_get, registry::ADMIN_TOKEN, sidecar::EVENT_TIMEOUT,
    turn::TurnServer, wait::until, RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::json;
use std::{path::PathBuf, time::Duration};

const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

#[tokio::test]
async fn a_relay_only_tab_connects_to_a_sidecar_through_coturn() {
    assert!(
        dist().join("index.html").exists(),
        "dist/ is not built: run `trunk build --release` (scripts/test.sh does)"
    );
    let turn = TurnServer::start("browser-relay-secret");
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_alice": {"peer_id": "alice"}}})),
        hub_dist_dir: Some(dist()),
        env: vec![
            ("TURN_URL".into(), turn.url()),
            ("TURN_SECRET".into(), turn.secret.clone()),
        ],
        ..Default::default()
    });
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut alice_ipc = alice.ipc().await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&reg.url(&format!("/?token={ADMIN_TOKEN}")))
        .await
        .expect("open page");
    browser
        .wait_for(
            "the wasm peer to load",
            JOIN_TIMEOUT,
            "return !!window.wasmBindings",
        )
        .await;
    // A peer of the test's own (the hub's Join button makes one that may go direct).
    browser
        .eval(&format!(
            r#"window.relayEvents = [];
            window.relayPeer = new wasmBindings.MeshPeer(location.origin, "{ADMIN_TOKEN}");
            relayPeer.on(e => relayEvents.push(e));
            relayPeer.relayOnly();
            relayPeer.join().then(id => window.relayId = id, e => window.relayError = String(e));
            return true"#
        ))
        .await;
    let tab = browser
        .wait_for(
            "the relay-only tab's id",
            JOIN_TIMEOUT,
            "if (window.relayError) throw new Error(relayError); return window.relayId",
        )
        .await;
    let tab = tab.as_str().expect("peer id").to_owned();
    alice_ipc.wait_connected_within(&[&tab], JOIN_TIMEOUT).await;

    let edge = until(JOIN_TIMEOUT, "a relay edge alice–tab", || async {
        let topo = admin_get(&reg, "/api/hub/network/topology").await;
        topo["mesh_edges"].as_array().and_then(|edges| {
            edges
                .iter()
                .find(|e| {
                    (e["from_peer"] == tab.as_str() || e["to_peer"] == tab.as_str())
                        && e["candidate_type"] == "relay"
                })
                .cloned()
        })
    })
    .await;
    assert!(
        edge["from_peer"] == "alice" || edge["to_peer"] == "alice",
        "{edge}"
    );

    let via = browser
        .eval(r#"return relayPeer.send("alice", JSON.stringify({type: "agent_prompt", request_id: "relayed", payload: {message: "through coturn"}}))"#)
        .await;
    assert_eq!(via, "relay");
    let got = alice_ipc
        .wait_for("the tab's relayed message", EVENT_TIMEOUT, |e| {
            e["type"] == "message" && e["payload"]["message"]["request_id"] == "relayed"
        })
        .await;
    assert_eq!(got["payload"]["from_peer"], tab.as_str());
    assert_eq!(got["payload"]["via"], "relay");
    browser.close().await;
}
