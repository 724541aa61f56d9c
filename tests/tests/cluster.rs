//! Registries that act as one (issue 15, ADR 0024): three registries on one PostgreSQL
//! database and a three-node NATS cluster, all real processes. Sidecars on different
//! registries form one mesh; an unknown target is refused at once; a peer id that connects
//! again on another registry replaces its first connection without anyone hearing it left; a
//! task queued on one registry reaches a sidecar connected to another; the loss of a NATS node
//! does not stop signaling; a registry's peers are reported gone only after the grace period.

use meshwork_tests::{
    http::{call, Cred},
    registry_cluster::RegistryCluster,
    RegistryProcess, SidecarProcess, SignalClient,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SETUP: Duration = Duration::from_secs(20);

/// Every peer id the suites use, with its key.
fn keys() -> Value {
    json!({"keys": {
        "ak_alice": {"peer_id": "alice"},
        "ak_bob": {"peer_id": "bob"},
        "ak_carol": {"peer_id": "carol"},
        "ak_dave": {"peer_id": "dave"},
    }})
}

type Cluster = RegistryCluster;

fn start(n: usize, env: &[(&str, &str)]) -> Cluster {
    RegistryCluster::start(n, keys(), env)
}

async fn token(reg: &RegistryProcess, key: &str) -> String {
    let (status, body) = call(reg, Method::POST, "/api/token", Cred::ApiKey(key), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

async fn signal(reg: &RegistryProcess, key: &str, peer: &str) -> SignalClient {
    SignalClient::connect(&reg.ws_url(), &token(reg, key).await, peer)
        .await
        .expect("signaling connects")
}

/// Registers `client` (taking registry-carried messages and tasks, as a meshwork sidecar
/// does); the peer list.
async fn register(client: &mut SignalClient) -> Vec<String> {
    let payload = json!({"kind": "native", "registry_tier": true, "tasks": true});
    client
        .send("register", None, payload)
        .await
        .expect("register");
    let list = client.expect("peer_list").await.expect("peer_list");
    list["payload"]["peers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `client` hears a frame `pred` accepts; panics after `within`.
async fn hear(
    client: &mut SignalClient,
    what: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_frame(left).await {
            Ok(frame) if pred(&frame) => return frame,
            Ok(_) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// Waits until every registry lists `peers` online in its topology.
async fn all_see(cluster: &Cluster, peers: &[&str]) {
    let deadline = Instant::now() + SETUP;
    for reg in &cluster.registries {
        loop {
            let (_, topo) = call(
                reg,
                Method::GET,
                "/api/hub/network/topology",
                Cred::Admin,
                None,
            )
            .await;
            let online: Vec<&str> = topo["nodes"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .filter(|n| n["online"] == true)
                        .filter_map(|n| n["sidecar_peer_id"].as_str().or(n["peer_id"].as_str()))
                        .collect()
                })
                .unwrap_or_default();
            if peers.iter().all(|p| online.contains(p)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} sees {online:?}, not {peers:?}: {topo}",
                reg.base_url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn sidecars_on_three_registries_form_one_mesh() {
    let cluster = start(3, &[]);
    let [a, b, c] = cluster.trio();
    let alice = SidecarProcess::start(a, "ak_alice", "alice");
    let bob = SidecarProcess::start(b, "ak_bob", "bob");
    let carol = SidecarProcess::start(c, "ak_carol", "carol");
    for (sidecar, others) in [
        (&alice, ["bob", "carol"]),
        (&bob, ["alice", "carol"]),
        (&carol, ["alice", "bob"]),
    ] {
        let mut ipc = sidecar.ipc().await;
        ipc.wait_connected_within(&others, SETUP).await;
    }
    all_see(&cluster, &["alice", "bob", "carol"]).await;
}

#[tokio::test]
async fn a_target_on_no_registry_is_refused_at_once_and_one_elsewhere_is_reached() {
    let cluster = start(2, &[]);
    let [a, b] = [&cluster.registries[0], &cluster.registries[1]];
    let mut alice = signal(a, "ak_alice", "alice").await;
    register(&mut alice).await;
    let mut bob = signal(b, "ak_bob", "bob").await;
    register(&mut bob).await;
    hear(&mut alice, "bob joined", SETUP, |f| {
        f["type"] == "peer_joined" && f["payload"]["peer_id"] == "bob"
    })
    .await;

    let asked = Instant::now();
    alice
        .send("offer", Some("nobody"), json!({"sdp": "v=0"}))
        .await
        .expect("offer");
    let refusal = hear(&mut alice, "the refusal", Duration::from_secs(2), |f| {
        f["type"] == "error"
    })
    .await;
    assert_eq!(refusal["payload"]["code"], "unknown_target", "{refusal}");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "refused at once, not after a timeout"
    );

    alice
        .send("offer", Some("bob"), json!({"sdp": "v=0 from alice"}))
        .await
        .expect("offer");
    let offer = hear(&mut bob, "alice's offer", Duration::from_secs(5), |f| {
        f["type"] == "offer"
    })
    .await;
    assert_eq!(offer["peer_id"], "alice");
    assert_eq!(offer["payload"]["sdp"], "v=0 from alice");
}

#[tokio::test]
async fn a_peer_that_connects_again_on_another_registry_replaces_its_first_connection() {
    let cluster = start(3, &[]);
    let [a, b, c] = cluster.trio();
    let mut carol = signal(c, "ak_carol", "carol").await;
    register(&mut carol).await;
    let mut first = signal(a, "ak_alice", "alice").await;
    register(&mut first).await;
    hear(&mut carol, "alice joined", SETUP, |f| {
        f["type"] == "peer_joined" && f["payload"]["peer_id"] == "alice"
    })
    .await;

    let mut second = signal(b, "ak_alice", "alice").await;
    let peers = register(&mut second).await;
    assert!(peers.contains(&"carol".to_owned()), "{peers:?}");
    assert!(
        first.closed_within(Duration::from_secs(5)).await,
        "the first connection, on another registry, was closed"
    );
    hear(&mut carol, "alice joined again", SETUP, |f| {
        assert_ne!(f["type"], "peer_left", "nobody hears alice left: {f}");
        f["type"] == "peer_joined" && f["payload"]["peer_id"] == "alice"
    })
    .await;
    // Frames for alice now reach her second connection.
    carol
        .send("offer", Some("alice"), json!({"sdp": "v=0 from carol"}))
        .await
        .expect("offer");
    hear(&mut second, "carol's offer", Duration::from_secs(5), |f| {
        f["type"] == "offer"
    })
    .await;
}

#[tokio::test]
async fn a_task_queued_on_one_registry_reaches_a_sidecar_on_another() {
    let cluster = start(2, &[]);
    let [a, b] = [&cluster.registries[0], &cluster.registries[1]];
    // bob's agent is known (its record is in the shared database), its sidecar is on b.
    let hb = json!({"agent_id": "bob-agent", "skill_names": ["echo"], "sidecar_peer_id": "bob"});
    let (status, body) = call(
        b,
        Method::POST,
        "/api/hub/heartbeat",
        Cred::ApiKey("ak_bob"),
        Some(hb),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut bob = signal(b, "ak_bob", "bob").await;
    register(&mut bob).await;

    let task =
        json!({"skill": "echo", "target_agent_id": "bob-agent", "payload": {"message": "hi"}});
    let (status, body) = call(a, Method::POST, "/api/hub/tasks", Cred::Admin, Some(task)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["task_id"].as_str().expect("task_id").to_owned();
    let request = hear(
        &mut bob,
        "the task, over b's socket",
        Duration::from_secs(10),
        |f| f["type"] == "mesh_message" && f["payload"]["type"] == "task_request",
    )
    .await;
    assert_eq!(request["payload"]["request_id"], id.as_str(), "{request}");
}

#[tokio::test]
async fn signaling_goes_on_when_a_nats_node_dies() {
    let mut cluster = start(2, &[]);
    let alice = SidecarProcess::start(&cluster.registries[0], "ak_alice", "alice");
    let mut alice_ipc = alice.ipc().await;
    let bob = SidecarProcess::start(&cluster.registries[1], "ak_bob", "bob");
    alice_ipc.wait_connected_within(&["bob"], SETUP).await;
    // The registries' first server: each client moves to another.
    cluster.nats.kill9(0);
    let carol = SidecarProcess::start(&cluster.registries[1], "ak_carol", "carol");
    let mut carol_ipc = carol.ipc().await;
    carol_ipc
        .wait_connected_within(&["alice", "bob"], SETUP)
        .await;
    alice_ipc.wait_connected_within(&["carol"], SETUP).await;
    drop(bob);
}

#[tokio::test]
async fn the_peers_of_a_registry_that_died_are_reported_gone_after_the_grace_period() {
    let grace = Duration::from_secs(3);
    let cluster = start(2, &[("CLUSTER_GRACE_SECS", "3")]);
    let mut registries = cluster.registries;
    let mut bob = signal(&registries[1], "ak_bob", "bob").await;
    register(&mut bob).await;
    let mut alice = signal(&registries[0], "ak_alice", "alice").await;
    register(&mut alice).await;
    hear(&mut bob, "alice joined", SETUP, |f| {
        f["type"] == "peer_joined" && f["payload"]["peer_id"] == "alice"
    })
    .await;

    drop(registries.remove(0)); // SIGKILL
    let died = Instant::now();
    hear(
        &mut bob,
        "alice left",
        grace + Duration::from_secs(10),
        |f| f["type"] == "peer_left" && f["payload"]["peer_id"] == "alice",
    )
    .await;
    assert!(
        died.elapsed() >= grace,
        "reported gone after {:?}, before the {grace:?} grace period",
        died.elapsed()
    );
    drop(alice);
    drop(cluster.nats);
}

#[tokio::test]
async fn a_sidecar_moves_to_the_next_registry_when_its_own_dies_and_keeps_its_channels() {
    let cluster = start(3, &[]);
    let mut registries = cluster.registries;
    let (a, b) = (&registries[0], &registries[1]);
    let urls = |f: &dyn Fn(&RegistryProcess) -> String| format!("{},{}", f(a), f(b));
    let signaling = urls(&|r: &RegistryProcess| r.ws_url());
    let tokens = urls(&|r: &RegistryProcess| r.url("/api/token"));
    let alice = SidecarProcess::start_with(
        a,
        "ak_alice",
        "alice",
        &[
            ("MESHWORK_KEEP_ALIVE", "1"),
            ("SIGNALING_URL", &signaling),
            ("TOKEN_URL", &tokens),
        ],
    );
    let mut alice_ipc = alice.ipc().await;
    let bob = SidecarProcess::start(b, "ak_bob", "bob");
    alice_ipc.wait_connected_within(&["bob"], SETUP).await;

    drop(registries.remove(0)); // SIGKILL
                                // carol arrives on the third registry after a died: she reaches alice only once alice has
                                // registered again, on b.
    let carol = SidecarProcess::start(&registries[1], "ak_carol", "carol");
    let mut carol_ipc = carol.ipc().await;
    carol_ipc
        .wait_connected_within(&["alice", "bob"], SETUP)
        .await;
    // alice's channel to bob never went down meanwhile.
    assert_eq!(alice_ipc.list_peers().await, ["bob", "carol"]);
    drop((bob, cluster.nats));
}

#[tokio::test]
async fn a_device_pairs_across_registries_and_claims_after_a_restart() {
    let cluster = start(3, &[]);
    let mut registries = cluster.registries;
    let secret = "0123456789abcdef0123456789abcdef";
    // The code comes from a, the device pairs on b...
    let (_, code) = call(
        &registries[0],
        Method::POST,
        "/api/pairing/generate-code",
        Cred::Admin,
        None,
    )
    .await;
    let code = code["code"].as_str().expect("code").to_owned();
    let pair = json!({"code": code, "agent_name": "phone", "claim_secret": secret});
    let (status, entry) = call(
        &registries[1],
        Method::POST,
        "/api/pairing/pair",
        Cred::Anonymous,
        Some(pair),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let id = entry["id"].as_str().expect("id").to_owned();
    // ...the admin approves on c...
    let approve = format!("/api/pairing/{id}/approve");
    let (status, approved) = call(&registries[2], Method::POST, &approve, Cred::Admin, None).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let token = approved["device_token"]
        .as_str()
        .expect("device_token")
        .to_owned();
    // ...c dies before the device claims: the claim on a still gets the token, once.
    drop(registries.remove(2)); // SIGKILL
    let claim = json!({"claim_secret": secret, "wait_secs": 0});
    let path = format!("/api/pairing/{id}/claim");
    let (status, claimed) = call(
        &registries[0],
        Method::POST,
        &path,
        Cred::Anonymous,
        Some(claim.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["device_token"], token.as_str());
    let (status, again) = call(
        &registries[1],
        Method::POST,
        &path,
        Cred::Anonymous,
        Some(claim),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::GONE,
        "one claim only, on any registry: {again}"
    );
    // The token works on every registry.
    for reg in &registries {
        let (status, jwt) = call(reg, Method::POST, "/api/token", Cred::Device(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{jwt}");
    }
    drop(cluster.nats);
}

#[tokio::test]
async fn the_hub_stream_on_one_registry_shows_a_task_queued_on_another() {
    let cluster = start(2, &[]);
    let [a, b] = [&cluster.registries[0], &cluster.registries[1]];
    let url = format!("ws://127.0.0.1:{}/api/hub/stream", b.port);
    let (mut stream, _) =
        SignalClient::connect_subprotocol(&url, meshwork_tests::registry::ADMIN_TOKEN, "hub")
            .await
            .expect("the admin opens b's stream");
    stream.expect("snapshot").await.expect("snapshot");
    let task = json!({"skill": "echo", "target_agent_id": "somebody", "payload": {}});
    let (status, body) = call(a, Method::POST, "/api/hub/tasks", Cred::Admin, Some(task)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["task_id"].as_str().expect("task_id").to_owned();
    hear(
        &mut stream,
        "the task on b's stream",
        Duration::from_secs(5),
        |f| {
            f["type"] == "tasks_changed"
                && f["tasks"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["id"] == id.as_str()))
        },
    )
    .await;
}
