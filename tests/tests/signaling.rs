//! The `/ws` signaling relay against a real registry (PROTOCOL.md §1).

use meshwork_tests::{registry::ADMIN_TOKEN, RegistryOptions, RegistryProcess, SignalClient};
use serde_json::{json, Value};
use std::time::Duration;

fn keys() -> Value {
    json!({"keys": {
        "ak_alice": {"peer_id": "alice", "role": "agent"},
        "ak_bob": {"peer_id": "bob", "role": "agent"},
        "ak_carol": {"peer_id": "carol", "role": "agent"},
    }})
}

fn start() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        ..Default::default()
    })
}

async fn token(reg: &RegistryProcess, key: &str) -> String {
    let resp: Value = reqwest::Client::new()
        .post(reg.url("/api/token"))
        .header("x-api-key", key)
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    resp["token"].as_str().expect("token field").to_owned()
}

async fn connect(reg: &RegistryProcess, peer: &str) -> SignalClient {
    let token = token(reg, &format!("ak_{peer}")).await;
    SignalClient::connect(&reg.ws_url(), &token, peer)
        .await
        .expect("ws connect")
}

async fn joined(reg: &RegistryProcess, peer: &str) -> SignalClient {
    let mut c = connect(reg, peer).await;
    c.register("native").await.expect("register");
    c
}

#[tokio::test]
async fn upgrade_without_token_is_401() {
    let reg = start();
    let status = reqwest::get(reg.url("/ws")).await.expect("get").status();
    assert_eq!(status, 401);
    let err = tokio_tungstenite::connect_async(reg.ws_url())
        .await
        .expect_err("must refuse");
    assert!(err.to_string().contains("401"), "{err}");
}

#[tokio::test]
async fn upgrade_with_invalid_token_is_401() {
    let reg = start();
    let err = tokio_tungstenite::connect_async(format!("{}?token=not.a.jwt", reg.ws_url()))
        .await
        .expect_err("must refuse");
    assert!(err.to_string().contains("401"), "{err}");
    // A token signed with another secret is refused too.
    let forged = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJhZ2VudCIsImlhdCI6MTc5NTM0NTU4OCwiZXhwIjo0MTAyNDQ0ODAwfQ.kCVrfQkYTCO4kyYslBtJdepfvP1WqjJmiqxMh25vzLo";
    let err = tokio_tungstenite::connect_async(format!("{}?token={forged}", reg.ws_url()))
        .await
        .expect_err("must refuse");
    assert!(err.to_string().contains("401"), "{err}");
}

#[tokio::test]
async fn token_in_subprotocol_header_is_accepted() {
    let reg = start();
    let token = token(&reg, "ak_alice").await;
    let (mut c, chosen) = SignalClient::connect_subprotocol(&reg.ws_url(), &token, "alice")
        .await
        .expect("connect with subprotocol");
    assert_eq!(chosen.as_deref(), Some("meshwork"));
    assert_eq!(
        c.register("browser").await.expect("register"),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn register_answers_peer_list_of_the_others() {
    let reg = start();
    let _alice = joined(&reg, "alice").await;
    let _bob = joined(&reg, "bob").await;
    let mut carol = connect(&reg, "carol").await;
    let peers = carol.register("native").await.expect("register");
    assert_eq!(peers, vec!["alice".to_owned(), "bob".to_owned()]);
}

#[tokio::test]
async fn upstream_register_with_null_payload_is_accepted() {
    let reg = start();
    let mut alice = connect(&reg, "alice").await;
    alice
        .send_text(json!({"type": "register", "peer_id": "alice", "payload": null}).to_string())
        .await
        .expect("send");
    let list = alice.expect("peer_list").await.expect("peer_list");
    assert_eq!(list["peer_id"], "registry");
    assert_eq!(list["payload"]["peers"], json!([]));
}

#[tokio::test]
async fn peer_joined_and_peer_left_are_broadcast() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    let bob = joined(&reg, "bob").await;
    let frame = alice.expect("peer_joined").await.expect("peer_joined");
    assert_eq!(frame["payload"]["peer_id"], "bob");
    bob.close().await;
    let frame = alice.expect("peer_left").await.expect("peer_left");
    assert_eq!(
        frame["payload"],
        json!({"peer_id": "bob", "reason": "disconnected"})
    );
}

#[tokio::test]
async fn offer_answer_and_candidates_are_relayed_unchanged() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    let mut bob = joined(&reg, "bob").await;
    let offer = json!({"type": "offer", "peer_id": "alice", "target_id": "bob",
        "payload": {"sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n", "extra": [1, 2]}})
    .to_string();
    alice.send_text(offer.clone()).await.expect("send offer");
    let got = bob.expect("offer").await.expect("offer relayed");
    assert_eq!(got, serde_json::from_str::<Value>(&offer).expect("json"));

    bob.send("answer", Some("alice"), json!({"sdp": "v=0\r\n"}))
        .await
        .expect("answer");
    assert_eq!(
        alice.expect("answer").await.expect("answer")["payload"]["sdp"],
        "v=0\r\n"
    );

    let cand = json!({"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
        "sdpMid": "0", "sdpMLineIndex": 0});
    alice
        .send("ice_candidate", Some("bob"), cand.clone())
        .await
        .expect("candidate");
    let got = bob
        .expect("ice_candidate")
        .await
        .expect("candidate relayed");
    assert_eq!(got["payload"], cand);
    assert_eq!(got["target_id"], "bob");
}

#[tokio::test]
async fn unknown_target_gets_error_and_socket_stays_open() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    alice
        .send("offer", Some("nobody"), json!({"sdp": "v=0"}))
        .await
        .expect("send");
    assert_eq!(alice.expect_error().await.expect("error"), "unknown_target");
    alice
        .send("offer", None, json!({"sdp": "v=0"}))
        .await
        .expect("send");
    assert_eq!(alice.expect_error().await.expect("error"), "unknown_target");
    // Still served.
    let _bob = joined(&reg, "bob").await;
    assert_eq!(
        alice.expect("peer_joined").await.expect("joined")["payload"]["peer_id"],
        "bob"
    );
}

#[tokio::test]
async fn sender_mismatch_is_refused_with_error() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    let mut bob = joined(&reg, "bob").await;
    alice
        .send_text(
            json!({"type": "offer", "peer_id": "carol", "target_id": "bob",
            "payload": {"sdp": "v=0"}})
            .to_string(),
        )
        .await
        .expect("send");
    assert_eq!(
        alice.expect_error().await.expect("error"),
        "sender_mismatch"
    );
    // Nothing reached bob: the next thing he sees is a real offer from alice.
    alice
        .send("offer", Some("bob"), json!({"sdp": "real"}))
        .await
        .expect("send");
    let got = bob.expect("offer").await.expect("offer");
    assert_eq!(got["payload"]["sdp"], "real");
}

#[tokio::test]
async fn malformed_json_gets_error_and_socket_stays_open() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    alice.send_text("{not json").await.expect("send");
    assert_eq!(alice.expect_error().await.expect("error"), "malformed");
    alice
        .send_text(json!({"type": "dance", "peer_id": "alice"}).to_string())
        .await
        .expect("send");
    assert_eq!(alice.expect_error().await.expect("error"), "malformed");
    alice.send_text("[]").await.expect("send");
    assert_eq!(alice.expect_error().await.expect("error"), "malformed");
    alice.send("register", None, json!({})).await.expect("send");
    alice.expect("peer_list").await.expect("still served");
}

#[tokio::test]
async fn oversize_frame_gets_error_and_socket_stays_open() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    let _bob = joined(&reg, "bob").await;
    let big = "x".repeat(70 * 1024);
    alice
        .send("offer", Some("bob"), json!({"sdp": big}))
        .await
        .expect("send");
    assert_eq!(
        alice.expect_error().await.expect("error"),
        "frame_too_large"
    );
    alice.send("register", None, json!({})).await.expect("send");
    alice.expect("peer_list").await.expect("still served");
}

#[tokio::test]
async fn a_frame_over_the_hard_cap_gets_an_error_and_close_code_1009() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    let huge = "x".repeat(1536 * 1024);
    alice
        .send("offer", Some("alice"), json!({"sdp": huge}))
        .await
        .expect("send");
    assert_eq!(
        alice
            .expect_error()
            .await
            .expect("an error frame before the close"),
        "frame_too_large"
    );
    assert_eq!(
        alice.close_code_within(Duration::from_secs(5)).await,
        Some(1009),
        "closed with 1009 (message too big)"
    );
}

#[tokio::test]
async fn registry_only_types_from_a_peer_are_refused() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    for kind in ["peer_list", "peer_joined", "peer_left", "error"] {
        alice.send(kind, None, json!({})).await.expect("send");
        assert_eq!(
            alice.expect_error().await.expect("error"),
            "unsupported_type",
            "{kind}"
        );
    }
}

#[tokio::test]
async fn relay_before_register_is_not_permitted() {
    let reg = start();
    let _bob = joined(&reg, "bob").await;
    let mut alice = connect(&reg, "alice").await;
    alice
        .send("offer", Some("bob"), json!({"sdp": "v=0"}))
        .await
        .expect("send");
    assert_eq!(alice.expect_error().await.expect("error"), "not_permitted");
}

#[tokio::test]
async fn duplicate_peer_id_replaces_old_socket_without_removing_new() {
    let reg = start();
    let mut watcher = joined(&reg, "bob").await;
    let mut first = joined(&reg, "alice").await;
    watcher
        .expect("peer_joined")
        .await
        .expect("first alice joined");
    let mut second = joined(&reg, "alice").await;
    assert!(
        first.closed_within(Duration::from_secs(5)).await,
        "old socket must be closed"
    );
    // The old socket's clean-up must not have removed the newcomer: bob can still reach it.
    watcher
        .send("offer", Some("alice"), json!({"sdp": "to-second"}))
        .await
        .expect("send");
    let got = second
        .expect("offer")
        .await
        .expect("newcomer still registered");
    assert_eq!(got["payload"]["sdp"], "to-second");
    // And nobody was told alice left: everything bob sees until carol joins is a join.
    let mut carol = connect(&reg, "carol").await;
    assert_eq!(
        carol.register("native").await.expect("list"),
        vec!["alice", "bob"]
    );
    loop {
        let frame = watcher
            .next_frame(Duration::from_secs(5))
            .await
            .expect("frame");
        assert_ne!(
            frame["type"], "peer_left",
            "replacement must not announce a departure"
        );
        if frame["payload"]["peer_id"] == "carol" {
            break;
        }
    }
}

#[tokio::test]
async fn binary_frame_gets_error() {
    use futures_util::SinkExt;
    let reg = start();
    let token = token(&reg, "ak_alice").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}?token={token}", reg.ws_url()))
        .await
        .expect("connect");
    ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![1u8, 2, 3].into(),
    ))
    .await
    .expect("send");
    use futures_util::StreamExt;
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("reply in time")
        .expect("frame")
        .expect("ok");
    let v: Value = serde_json::from_str(msg.to_text().expect("text")).expect("json");
    assert_eq!(v["type"], "error");
    assert_eq!(v["payload"]["code"], "malformed");
}

#[tokio::test]
async fn topology_edges_come_only_from_link_reports() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    let _bob = joined(&reg, "bob").await;
    let _carol = joined(&reg, "carol").await;
    let http = reqwest::Client::new();
    let topo = |http: reqwest::Client| {
        let url = reg.url("/api/hub/network/topology");
        async move {
            http.get(url)
                .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                .send()
                .await
                .expect("get")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let t = topo(http.clone()).await;
    assert_eq!(t["mesh_edges"], json!([]), "no reports, no edges");
    assert_eq!(t["nodes"].as_array().map(Vec::len), Some(3));

    alice
        .send(
            "link_report",
            None,
            json!({"links": [
            {"peer_id": "bob", "rtt_ms": 0.4, "candidate_type": "host"}]}),
        )
        .await
        .expect("report");
    let t = meshwork_tests::wait::until(Duration::from_secs(5), "edge alice-bob", || {
        let http = http.clone();
        let topo = &topo;
        async move {
            let t = topo(http).await;
            (t["mesh_edges"].as_array().map(Vec::len) == Some(1)).then_some(t)
        }
    })
    .await;
    assert_eq!(
        t["mesh_edges"][0],
        json!({"from_peer": "alice", "to_peer": "bob", "rtt_ms": 0.4, "candidate_type": "host",
            "verified": false})
    );
    let alice_node = t["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["sidecar_peer_id"] == "alice").cloned())
        .expect("alice node");
    assert_eq!(alice_node["mesh_peers"], json!(["bob"]));
    assert_eq!(alice_node["kind"], "sidecar");

    // A malformed report is refused; the previous one stays.
    alice
        .send("link_report", None, json!({"links": "bob"}))
        .await
        .expect("send");
    assert_eq!(alice.expect_error().await.expect("error"), "malformed");

    // A disconnected reporter's links disappear.
    alice.close().await;
    meshwork_tests::wait::until(Duration::from_secs(5), "edges cleared", || {
        let http = http.clone();
        let topo = &topo;
        async move { (topo(http).await["mesh_edges"] == json!([])).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn mesh_messages_are_relayed_and_refusals_name_them() {
    let reg = start();
    let mut alice = joined(&reg, "alice").await;
    // bob says he takes registry-carried messages, as meshwork peers do; carol registers the
    // way upstream sidecars do (no payload), so the registry must not hand her any.
    let mut bob = connect(&reg, "bob").await;
    bob.send(
        "register",
        None,
        json!({"kind": "native", "registry_tier": true}),
    )
    .await
    .expect("register");
    bob.expect("peer_list").await.expect("peer list");
    let mut carol = connect(&reg, "carol").await;
    carol
        .send_text(json!({"type": "register", "peer_id": "carol", "payload": null}).to_string())
        .await
        .expect("register");
    carol.expect("peer_list").await.expect("peer list");
    let message = json!({"type": "task_request", "request_id": "r1", "source_agent": "alice",
        "target_agent": "bob", "payload": {"skill": "echo", "message": "hi"}});
    alice
        .send("mesh_message", Some("bob"), message.clone())
        .await
        .expect("send");
    let got = bob.expect("mesh_message").await.expect("relayed");
    assert_eq!(got["peer_id"], "alice");
    assert_eq!(got["payload"], message, "carried unchanged");

    alice
        .send("mesh_message", Some("nobody"), message.clone())
        .await
        .expect("send");
    let refusal = alice.expect("error").await.expect("error");
    assert_eq!(
        refusal["payload"],
        json!({"code": "unknown_target", "message": "unknown target \"nobody\"",
            "refused": "mesh_message", "target_id": "nobody", "request_id": "r1"})
    );

    alice
        .send("mesh_message", Some("carol"), message)
        .await
        .expect("send");
    let refusal = alice.expect("error").await.expect("error");
    assert_eq!(refusal["payload"]["code"], "not_permitted");
    assert_eq!(refusal["payload"]["refused"], "mesh_message");
    assert_eq!(refusal["payload"]["target_id"], "carol");
    assert_eq!(refusal["payload"]["request_id"], "r1");
    // Nothing reached carol: the next frame she gets is an ordinary offer alice sends now.
    alice
        .send("offer", Some("carol"), json!({"sdp": "after"}))
        .await
        .expect("send");
    let next = carol
        .next_frame(Duration::from_secs(5))
        .await
        .expect("a frame");
    assert_eq!(
        (next["type"].as_str(), next["payload"]["sdp"].as_str()),
        (Some("offer"), Some("after"))
    );
}
