//! Peer identity with real processes (issue 13, ADR 0015): a registry in the middle cannot
//! swap a DTLS fingerprint or read registry-tier messages between keyed peers, a peer id
//! keeps its key, pairing binds the device's key, and unkeyed peers still connect,
//! unverified.

use meshwork_protocol::identity::Identity;
use meshwork_tests::{
    http::{admin_get, admin_post, call, Cred},
    signal_client::SignalClient,
    signal_proxy::{SignalProxy, Tamper},
    wait::until,
    IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const SETUP: Duration = Duration::from_secs(30);

fn registry() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_a": {"peer_id": "alice"},
            "ak_b": {"peer_id": "bob"},
        }})),
        ..Default::default()
    })
}

fn keep_alive(signaling: Option<&str>) -> Vec<(&str, &str)> {
    let mut env = vec![("MESHWORK_KEEP_ALIVE", "1")];
    if let Some(url) = signaling {
        env.push(("SIGNALING_URL", url));
    }
    env
}

/// Sends `marker` to `to` as an `agent_prompt` until a tier takes it; returns that tier.
async fn send_until_sent(ipc: &mut IpcClient, to: &str, request_id: &str, marker: &str) -> Value {
    let message = json!({"type": "agent_prompt", "request_id": request_id,
        "payload": {"message": marker}});
    ipc.send_until_sent(to, message, SETUP).await
}

#[tokio::test]
async fn a_rewritten_fingerprint_refuses_the_link_with_an_identity_error() {
    let reg = registry();
    let proxy = SignalProxy::start(&reg.ws_url(), Tamper::Fingerprints).await;
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &keep_alive(Some(&proxy.url)));
    let bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &keep_alive(None));
    let mut bob_ipc = bob.ipc().await;
    let mut alice_ipc = alice.ipc().await;
    // alice (the smaller id) offers through the proxy, which swaps her fingerprint.
    let mut seen = Vec::new();
    let error = loop {
        let e = bob_ipc
            .next_event(SETUP)
            .await
            .expect("bob's identity error");
        let is_it = e["type"] == "error"
            && e["payload"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("identity check failed for peer alice"));
        if is_it {
            break e;
        }
        seen.push(e);
    };
    assert!(error["payload"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("DTLS fingerprint")));
    assert!(
        !seen.iter().any(|e| e["type"] == "peer_connected"),
        "a channel opened: {seen:?}"
    );
    // No fallback to the registry tier for this pair either.
    bob_ipc
        .send(json!({"type": "send", "payload": {"target_peer": "alice",
            "message": {"type": "agent_prompt", "request_id": "r1", "payload": {}}}}))
        .await;
    let refused = bob_ipc
        .wait_for("the send's refusal", Duration::from_secs(10), |e| {
            e["type"] == "error"
                && e["payload"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("identity check"))
        })
        .await;
    assert!(refused["payload"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("alice")));
    while let Ok(e) = alice_ipc.next_event(Duration::from_millis(300)).await {
        assert_ne!(e["type"], "peer_connected", "alice got a channel: {e}");
    }
    let topology = admin_get(&reg, "/api/hub/network/topology").await;
    assert_eq!(topology["mesh_edges"], json!([]));
}

#[tokio::test]
async fn registry_tier_frames_between_keyed_peers_carry_only_ciphertext() {
    let reg = registry();
    // Without candidates no channel opens: messages must take the registry tier.
    let proxy = SignalProxy::start(&reg.ws_url(), Tamper::Candidates).await;
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &keep_alive(Some(&proxy.url)));
    let bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &keep_alive(None));
    let mut alice_ipc = alice.ipc().await;
    let mut bob_ipc = bob.ipc().await;
    let marker = "MARKER-c0ffee-identity";
    let via = send_until_sent(&mut alice_ipc, "bob", "sealed-1", marker).await;
    assert_eq!(via, "registry");
    let got = bob_ipc
        .wait_for("alice's message", SETUP, |e| {
            e["type"] == "message" && e["payload"]["message"]["request_id"] == "sealed-1"
        })
        .await;
    assert_eq!(got["payload"]["message"]["payload"]["message"], marker);
    assert_eq!(got["payload"]["via"], "registry");
    assert_eq!(got["payload"]["verified"], true);
    let frames = proxy.frames();
    let carried: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains("mesh_message"))
        .collect();
    assert!(!carried.is_empty(), "the proxy saw no mesh_message");
    for frame in &frames {
        assert!(
            !frame.contains(marker),
            "plaintext through the registry: {frame}"
        );
    }
    assert!(carried.iter().all(|f| f.contains("\"sealed\"")));
}

#[tokio::test]
async fn keyed_sidecars_verify_each_other_and_pin_keys() {
    let reg = registry();
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &keep_alive(None));
    let bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &keep_alive(None));
    let mut alice_ipc = alice.ipc().await;
    let mut bob_ipc = bob.ipc().await;
    for (ipc, other) in [(&mut alice_ipc, "bob"), (&mut bob_ipc, "alice")] {
        let ev = ipc
            .wait_for("peer_connected", SETUP, |e| {
                e["type"] == "peer_connected" && e["payload"]["peer_id"] == other
            })
            .await;
        assert_eq!(ev["payload"]["verified"], true, "{ev}");
    }
    let via = send_until_sent(&mut alice_ipc, "bob", "v-1", "hello").await;
    assert_ne!(via, "registry");
    let got = bob_ipc
        .wait_for("alice's message", SETUP, |e| {
            e["type"] == "message" && e["payload"]["message"]["request_id"] == "v-1"
        })
        .await;
    assert_eq!(got["payload"]["verified"], true);
    // The hub sees a verified link and both keys' fingerprints.
    let topology = until(SETUP, "a verified edge", || async {
        let t = admin_get(&reg, "/api/hub/network/topology").await;
        (t["mesh_edges"][0]["verified"] == true).then_some(t)
    })
    .await;
    let fingerprints: Vec<&str> = topology["nodes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|n| n["key_fingerprint"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(fingerprints.len(), 2, "{topology}");
    // Each pinned the other's key in its data dir.
    let pins = reg
        .data_dir
        .join("peer-data")
        .join("alice")
        .join("known_peers.json");
    let pins: Value =
        serde_json::from_str(&std::fs::read_to_string(pins).expect("pins")).expect("pins JSON");
    assert!(pins["bob"].is_string(), "{pins}");
}

#[tokio::test]
async fn an_unkeyed_peer_connects_unverified() {
    let reg = registry();
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &keep_alive(None));
    let mut env = keep_alive(None);
    env.push(("MESHWORK_IDENTITY", "false"));
    let _bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &env);
    let mut alice_ipc = alice.ipc().await;
    let ev = alice_ipc
        .wait_for("bob connected", SETUP, |e| {
            e["type"] == "peer_connected" && e["payload"]["peer_id"] == "bob"
        })
        .await;
    assert_eq!(ev["payload"]["verified"], false, "{ev}");
}

async fn token(reg: &RegistryProcess, api_key: &str) -> String {
    let (status, body) = call(reg, Method::POST, "/api/token", Cred::ApiKey(api_key), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

async fn register_with(reg: &RegistryProcess, key: &Identity) -> Value {
    let jwt = token(reg, "ak_a").await;
    let mut ws = SignalClient::connect(&reg.ws_url(), &jwt, "alice")
        .await
        .expect("ws");
    ws.send(
        "register",
        None,
        json!({"kind": "native", "identity_key": key.public().encode()}),
    )
    .await
    .expect("register");
    let answer = ws.next_frame(Duration::from_secs(5)).await.expect("answer");
    ws.close().await;
    answer
}

#[tokio::test]
async fn a_peer_id_keeps_its_first_key_until_an_admin_resets_it() {
    let reg = registry();
    let (first, second) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    assert_eq!(register_with(&reg, &first).await["type"], "peer_list");
    let refused = register_with(&reg, &second).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["payload"]["code"], "identity_key_mismatch");
    let bound = admin_get(&reg, "/api/identity").await;
    assert_eq!(bound[0]["peer_id"], "alice");
    assert_eq!(bound[0]["fingerprint"], first.public().fingerprint());
    // Only an admin resets it.
    let (status, _) = call(
        &reg,
        Method::DELETE,
        "/api/identity/alice",
        Cred::ApiKey("ak_a"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &reg,
        Method::DELETE,
        "/api/identity/alice",
        Cred::Admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(register_with(&reg, &second).await["type"], "peer_list");
}

#[tokio::test]
async fn pairing_binds_the_devices_key_and_revocation_still_works() {
    let reg = registry();
    let device = Identity::from_seed([9; 32]);
    let code = admin_post(&reg, "/api/pairing/generate-code").await["code"]
        .as_str()
        .expect("code")
        .to_owned();
    let body = json!({"code": code, "agent_name": "laptop",
        "identity_key": device.public().encode()});
    let (status, pairing) = call(
        &reg,
        Method::POST,
        "/api/pairing/pair",
        Cred::Anonymous,
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{pairing}");
    let id = pairing["id"].as_str().expect("id").to_owned();
    let peer = pairing["peer_id"].as_str().expect("peer id").to_owned();
    let approved = admin_post(&reg, &format!("/api/pairing/{id}/approve")).await;
    let device_token = approved["device_token"].as_str().expect("token").to_owned();
    let bound = admin_get(&reg, "/api/identity").await;
    let entry = bound
        .as_array()
        .and_then(|b| b.iter().find(|e| e["peer_id"] == peer.as_str()).cloned())
        .expect("the device's key is bound");
    assert_eq!(entry["key"], device.public().encode());
    assert_eq!(entry["source"], "pairing");

    // The device registers with its key; another key for its id is refused.
    let (_, tok) = call(
        &reg,
        Method::POST,
        "/api/token",
        Cred::Device(&device_token),
        None,
    )
    .await;
    let jwt = tok["token"].as_str().expect("jwt").to_owned();
    let mut ws = SignalClient::connect(&reg.ws_url(), &jwt, &peer)
        .await
        .expect("ws");
    let impostor = Identity::from_seed([8; 32]);
    ws.send(
        "register",
        None,
        json!({"identity_key": impostor.public().encode()}),
    )
    .await
    .expect("register");
    let refused = ws.next_frame(Duration::from_secs(5)).await.expect("answer");
    assert_eq!(refused["payload"]["code"], "identity_key_mismatch");
    ws.send(
        "register",
        None,
        json!({"identity_key": device.public().encode()}),
    )
    .await
    .expect("register");
    assert_eq!(
        ws.expect("peer_list").await.expect("list")["type"],
        "peer_list"
    );

    admin_post(&reg, &format!("/api/pairing/{id}/revoke")).await;
    assert!(ws.closed_within(Duration::from_secs(5)).await);
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/token",
        Cred::Device(&device_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
