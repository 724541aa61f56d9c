//! The relay tier with a real TURN server (Debian's coturn on loopback): with
//! `ICE_TRANSPORT_POLICY=relay` two sidecars connect through it, and the link they report (and
//! the topology) says `relay`; a wrong secret fails with a clear log line and no link.

use meshwork_tests::{
    http::admin_get, turn::TurnServer, wait::until, RegistryOptions, RegistryProcess,
    SidecarProcess,
};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn sidecars_with_a_relay_policy_connect_through_coturn() {
    let turn = TurnServer::start("turn-test-secret");
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_a": {"peer_id": "alice"}, "ak_b": {"peer_id": "bob"}}})),
        env: vec![
            ("TURN_URL".into(), turn.url()),
            ("TURN_SECRET".into(), turn.secret.clone()),
        ],
        ..Default::default()
    });
    let relay = [
        ("MESHWORK_KEEP_ALIVE", "1"),
        ("ICE_TRANSPORT_POLICY", "relay"),
    ];
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &relay);
    let bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &relay);
    let mut alice_ipc = alice.ipc().await;
    alice_ipc
        .wait_connected_within(&["bob"], Duration::from_secs(30))
        .await;
    let mut bob_ipc = bob.ipc().await;
    assert_eq!(bob_ipc.list_peers().await, vec!["alice".to_owned()]);

    let edge = until(
        Duration::from_secs(15),
        "a relay link in the topology",
        || async {
            let topo = admin_get(&reg, "/api/hub/network/topology").await;
            topo["mesh_edges"]
                .as_array()
                .and_then(|e| e.iter().find(|e| e["candidate_type"] == "relay").cloned())
        },
    )
    .await;
    assert_eq!(
        (edge["from_peer"].as_str(), edge["to_peer"].as_str()),
        (Some("alice"), Some("bob"))
    );
}

#[tokio::test]
async fn a_wrong_turn_secret_fails_with_a_clear_log_line() {
    let turn = TurnServer::start("the-real-secret");
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_a": {"peer_id": "alice"}, "ak_b": {"peer_id": "bob"}}})),
        env: vec![
            ("TURN_URL".into(), turn.url()),
            ("TURN_SECRET".into(), "not-the-secret".into()),
        ],
        ..Default::default()
    });
    let relay = [
        ("MESHWORK_KEEP_ALIVE", "1"),
        ("ICE_TRANSPORT_POLICY", "relay"),
    ];
    let (log_tx, log_rx) = std::sync::mpsc::channel();
    let _alice = SidecarProcess::start_logged(&reg, "ak_a", "alice", &relay, log_tx.clone());
    let _bob = SidecarProcess::start_logged(&reg, "ak_b", "bob", &relay, log_tx);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let line = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match log_rx.recv_timeout(left) {
            Ok((_, line)) if line.contains("TURN allocation failed") => break line,
            Ok(_) => continue,
            Err(_) => panic!("no log line about the refused TURN credential within 20 s"),
        }
    };
    // webrtc-rs says it at ERROR level, which the sidecar's default log filter keeps.
    assert!(
        line.contains("401") && line.contains("Unauthorized"),
        "{line}"
    );
    let topo = admin_get(&reg, "/api/hub/network/topology").await;
    assert_eq!(topo["mesh_edges"], json!([]), "no link without a relay");
}
