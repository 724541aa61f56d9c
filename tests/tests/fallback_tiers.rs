//! The three tiers a message can take, and the moves between them, with real processes: a
//! real coturn, real sidecars, and nftables rules (inside the test namespace) that take the
//! direct UDP paths away between two loopback addresses.
//!
//! - direct: the pair's DataChannel on host candidates;
//! - relay: the same channel through TURN, chosen by ICE per pair when direct paths fail;
//! - registry: `mesh_message` frames over the signaling sockets when no channel can open.
//!
//! Every sender asks for `ack` and sees which tier took its message; every receiver sees
//! `via` on what it got.

use meshwork_tests::{
    firewall::Firewall,
    http::{admin_get, call, Cred},
    turn::TurnServer,
    wait::until,
    IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::{net::Ipv4Addr, time::Duration};

const SETUP: Duration = Duration::from_secs(30);

fn registry(turn: &TurnServer, keys: &[(&str, &str)], extra: &[(&str, &str)]) -> RegistryProcess {
    let keys: serde_json::Map<String, Value> = keys
        .iter()
        .map(|(key, peer)| ((*key).to_owned(), json!({ "peer_id": peer })))
        .collect();
    let mut env = vec![
        ("TURN_URL".to_owned(), turn.url()),
        ("TURN_SECRET".to_owned(), turn.secret.clone()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({ "keys": keys })),
        env,
        ..Default::default()
    })
}

/// A sidecar whose ICE sockets bind to `addr` only.
fn sidecar_at(reg: &RegistryProcess, key: &str, peer: &str, addr: Ipv4Addr) -> SidecarProcess {
    let addr = addr.to_string();
    SidecarProcess::start_with(
        reg,
        key,
        peer,
        &[("MESHWORK_KEEP_ALIVE", "1"), ("ICE_BIND_ADDRS", &addr)],
    )
}

/// The topology edge between `a` and `b`, once its path type is known.
async fn edge_type(reg: &RegistryProcess, a: &str, b: &str, want: &str) -> Value {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    until(SETUP, &format!("a {want} edge {lo}–{hi}"), || async {
        let topo = admin_get(reg, "/api/hub/network/topology").await;
        topo["mesh_edges"].as_array().and_then(|edges| {
            edges
                .iter()
                .find(|e| e["from_peer"] == lo && e["to_peer"] == hi && e["candidate_type"] == want)
                .cloned()
        })
    })
    .await
}

/// Sends a task_request with `ack` and returns the tier the sidecar says took it.
async fn send_request(ipc: &mut IpcClient, to: &str, request_id: &str) -> String {
    ipc.send(
        json!({"type": "send", "payload": {"target_peer": to, "ack": true,
        "message": {"type": "task_request", "request_id": request_id,
            "payload": {"skill": "echo", "message": request_id}}}}),
    )
    .await;
    let ev = ipc
        .wait_for("the send's ack", Duration::from_secs(10), |e| {
            e["type"] == "error"
                || (e["type"] == "sent" && e["payload"]["request_id"] == request_id)
        })
        .await;
    assert_eq!(ev["type"], "sent", "send refused: {ev}");
    assert_eq!(ev["payload"]["target_peer"], to);
    ev["payload"]["via"].as_str().unwrap_or_default().to_owned()
}

/// Waits for the message `request_id` and returns the tier that carried it.
async fn received_via(ipc: &mut IpcClient, from: &str, request_id: &str) -> String {
    let ev = ipc
        .wait_for(
            &format!("message {request_id} from {from}"),
            Duration::from_secs(10),
            |e| e["type"] == "message" && e["payload"]["message"]["request_id"] == request_id,
        )
        .await;
    assert_eq!(ev["payload"]["from_peer"], from);
    ev["payload"]["via"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_pair_without_a_direct_path_falls_back_to_turn_and_only_that_pair() {
    let turn = TurnServer::start("tiers-secret-1");
    let reg = registry(
        &turn,
        &[("ak_a", "alice"), ("ak_b", "bob"), ("ak_c", "carol")],
        &[],
    );
    let (a, b, c) = (
        Ipv4Addr::new(127, 0, 11, 2),
        Ipv4Addr::new(127, 0, 11, 3),
        Ipv4Addr::new(127, 0, 11, 4),
    );
    let firewall = Firewall::new();
    firewall.block_udp_between(a, b);
    let alice = sidecar_at(&reg, "ak_a", "alice", a);
    let bob = sidecar_at(&reg, "ak_b", "bob", b);
    let carol = sidecar_at(&reg, "ak_c", "carol", c);
    let mut alice_ipc = alice.ipc().await;
    let mut bob_ipc = bob.ipc().await;
    let mut carol_ipc = carol.ipc().await;
    alice_ipc
        .wait_connected_within(&["bob", "carol"], SETUP)
        .await;

    edge_type(&reg, "alice", "bob", "relay").await;
    edge_type(&reg, "alice", "carol", "host").await;
    edge_type(&reg, "bob", "carol", "host").await;

    assert_eq!(send_request(&mut alice_ipc, "bob", "ab-1").await, "relay");
    assert_eq!(received_via(&mut bob_ipc, "alice", "ab-1").await, "relay");
    assert_eq!(
        send_request(&mut alice_ipc, "carol", "ac-1").await,
        "direct"
    );
    assert_eq!(
        received_via(&mut carol_ipc, "alice", "ac-1").await,
        "direct"
    );
}

#[tokio::test]
async fn a_direct_link_moves_to_turn_when_direct_paths_disappear() {
    let turn = TurnServer::start("tiers-secret-2");
    let reg = registry(&turn, &[("ak_a", "alice"), ("ak_b", "bob")], &[]);
    let (a, b) = (Ipv4Addr::new(127, 0, 12, 2), Ipv4Addr::new(127, 0, 12, 3));
    let alice = sidecar_at(&reg, "ak_a", "alice", a);
    let bob = sidecar_at(&reg, "ak_b", "bob", b);
    let mut alice_ipc = alice.ipc().await;
    let mut bob_ipc = bob.ipc().await;
    alice_ipc.wait_connected_within(&["bob"], SETUP).await;
    edge_type(&reg, "alice", "bob", "host").await;
    assert_eq!(
        send_request(&mut alice_ipc, "bob", "before").await,
        "direct"
    );
    assert_eq!(
        received_via(&mut bob_ipc, "alice", "before").await,
        "direct"
    );

    let firewall = Firewall::new();
    firewall.block_udp_between(a, b);
    alice_ipc
        .wait_for("alice notices the direct path is gone", SETUP, |e| {
            e["type"] == "peer_disconnected" && e["payload"]["peer_id"] == "bob"
        })
        .await;
    alice_ipc.wait_connected_within(&["bob"], SETUP).await;
    edge_type(&reg, "alice", "bob", "relay").await;
    assert_eq!(send_request(&mut alice_ipc, "bob", "after").await, "relay");
    assert_eq!(received_via(&mut bob_ipc, "alice", "after").await, "relay");
}

#[tokio::test]
async fn when_the_turn_server_stops_requests_and_replies_go_through_the_registry() {
    let mut turn = TurnServer::start("tiers-secret-3");
    let reg = registry(&turn, &[("ak_a", "alice"), ("ak_b", "bob")], &[]);
    let (a, b) = (Ipv4Addr::new(127, 0, 13, 2), Ipv4Addr::new(127, 0, 13, 3));
    let firewall = Firewall::new();
    firewall.block_udp_between(a, b);
    let alice = sidecar_at(&reg, "ak_a", "alice", a);
    let bob = sidecar_at(&reg, "ak_b", "bob", b);
    let mut alice_ipc = alice.ipc().await;
    let mut bob_ipc = bob.ipc().await;
    alice_ipc.wait_connected_within(&["bob"], SETUP).await;
    edge_type(&reg, "alice", "bob", "relay").await;

    turn.stop();
    alice_ipc
        .wait_for("alice loses the relayed channel", SETUP, |e| {
            e["type"] == "peer_disconnected" && e["payload"]["peer_id"] == "bob"
        })
        .await;

    assert_eq!(send_request(&mut alice_ipc, "bob", "q-1").await, "registry");
    assert_eq!(received_via(&mut bob_ipc, "alice", "q-1").await, "registry");
    // bob replies once his side too knows the relayed channel is gone: until then his send
    // would go into a channel whose path no longer exists.
    let deadline = tokio::time::Instant::now() + SETUP;
    while !bob_ipc.list_peers().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob never noticed the relayed channel went away"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bob_ipc
        .send(
            json!({"type": "send", "payload": {"target_peer": "alice", "message":
            {"type": "task_response", "request_id": "q-1",
             "payload": {"result": "echo: q-1", "error": ""}}}}),
        )
        .await;
    let reply = alice_ipc
        .wait_for("bob's reply", Duration::from_secs(10), |e| {
            e["type"] == "message" && e["payload"]["message"]["type"] == "task_response"
        })
        .await;
    assert_eq!(
        reply["payload"]["message"]["payload"]["result"],
        "echo: q-1"
    );
    assert_eq!(reply["payload"]["via"], "registry");
    assert_eq!(
        alice_ipc.list_peers().await,
        Vec::<String>::new(),
        "no channel pretended"
    );
}

#[tokio::test]
async fn expired_turn_credentials_are_refused_with_a_clear_log_line() {
    let turn = TurnServer::start("tiers-secret-4");
    // Credentials that expire the second they are minted.
    let reg = registry(
        &turn,
        &[("ak_a", "alice"), ("ak_b", "bob")],
        &[("TURN_TTL_SECS", "0")],
    );
    let relay = [
        ("MESHWORK_KEEP_ALIVE", "1"),
        ("ICE_TRANSPORT_POLICY", "relay"),
        ("RUST_LOG", "warn"),
    ];
    let (log_tx, log_rx) = std::sync::mpsc::channel();
    let alice = SidecarProcess::start_logged(&reg, "ak_a", "alice", &relay, log_tx.clone());
    let bob = SidecarProcess::start_logged(&reg, "ak_b", "bob", &relay, log_tx);
    let line = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match log_rx.recv_timeout(left) {
                Ok((_, line)) if line.contains("TURN credential expired") => break line,
                Ok(_) => continue,
                Err(_) => panic!("no log line about the expired TURN credential within 20 s"),
            }
        }
    })
    .await
    .expect("log reader");
    assert!(
        line.contains("TURN_TTL_SECS"),
        "says what to look at: {line}"
    );

    // No relay, so no channel, but the registry tier still carries their messages.
    let mut alice_ipc = alice.ipc().await;
    let mut bob_ipc = bob.ipc().await;
    // Until bob is registered on alice's side the sidecar answers `error`: retry.
    let message = json!({"type": "agent_prompt", "request_id": "exp-1",
        "payload": {"message": "hi"}});
    let via = alice_ipc.send_until_sent("bob", message, SETUP).await;
    assert_eq!(via, "registry");
    assert_eq!(
        received_via(&mut bob_ipc, "alice", "exp-1").await,
        "registry"
    );
}

#[tokio::test]
async fn turn_credentials_are_renewed_before_they_expire() {
    let turn = TurnServer::start("tiers-secret-5");
    let reg = registry(
        &turn,
        &[("ak_a", "alice"), ("ak_b", "bob")],
        &[("TURN_TTL_SECS", "12")],
    );
    let relay = [
        ("MESHWORK_KEEP_ALIVE", "1"),
        ("ICE_TRANSPORT_POLICY", "relay"),
    ];
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &relay);
    let mut bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &relay);
    let mut alice_ipc = alice.ipc().await;
    alice_ipc.wait_connected_within(&["bob"], SETUP).await;
    // The credentials alice started with expire at this unix time (or a second earlier).
    let (_, config) = call(&reg, Method::GET, "/api/config", Cred::ApiKey("ak_a"), None).await;
    let expiry = config["iceServers"]
        .as_array()
        .and_then(|s| s.iter().find_map(|s| s["username"].as_str()))
        .and_then(|u| u.split(':').next()?.parse::<u64>().ok())
        .expect("a TURN REST username");

    // Past that expiry, alice must make a new relayed link: only renewed credentials can.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(expiry.saturating_sub(now) + 1)).await;
    bob.kill9();
    alice_ipc
        .wait_for("bob's link to fail", SETUP, |e| {
            e["type"] == "peer_disconnected" && e["payload"]["peer_id"] == "bob"
        })
        .await;
    let _bob_again = SidecarProcess::start_with(&reg, "ak_b", "bob", &relay);
    alice_ipc.wait_connected_within(&["bob"], SETUP).await;
    edge_type(&reg, "alice", "bob", "relay").await;
}
