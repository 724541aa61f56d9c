//! Native sidecars against a real registry: real processes, real Unix sockets, real WebRTC on
//! loopback (PROTOCOL.md §2–3).

use meshwork_tests::{
    sidecar::EVENT_TIMEOUT, IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
    SignalClient,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PEERS: [&str; 5] = ["alice", "bob", "carol", "dave", "mallory"];

fn keys() -> Value {
    let mut keys = serde_json::Map::new();
    for p in PEERS {
        keys.insert(format!("ak_{p}"), json!({"peer_id": p, "role": "agent"}));
    }
    json!({ "keys": keys })
}

fn registry() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        ..Default::default()
    })
}

fn sidecar(reg: &RegistryProcess, peer: &str) -> SidecarProcess {
    SidecarProcess::start(reg, &format!("ak_{peer}"), peer)
}

fn send(to: &str, message: Value) -> Value {
    json!({"type": "send", "payload": {"target_peer": to, "message": message}})
}

/// Whether `ev` is the message `request_id` from `from`, carried by the pair's DataChannel on
/// a direct path (every pair here has one: a message that took the registry tier instead
/// would mean the channels are broken, and does not match).
fn is_message_from(ev: &Value, from: &str, request_id: &str) -> bool {
    ev["type"] == "message"
        && ev["payload"]["from_peer"] == from
        && ev["payload"]["message"]["request_id"] == request_id
        && ev["payload"]["via"] == "direct"
}

/// Three sidecars with connected agents, fully meshed.
async fn mesh3(reg: &RegistryProcess) -> (Vec<SidecarProcess>, Vec<IpcClient>) {
    let cars: Vec<SidecarProcess> = ["alice", "bob", "carol"]
        .iter()
        .map(|p| sidecar(reg, p))
        .collect();
    let mut ipcs = Vec::new();
    for car in &cars {
        ipcs.push(car.ipc().await);
    }
    ipcs[0].wait_connected(&["bob", "carol"]).await;
    ipcs[1].wait_connected(&["alice", "carol"]).await;
    ipcs[2].wait_connected(&["alice", "bob"]).await;
    (cars, ipcs)
}

#[tokio::test]
async fn three_sidecars_form_a_full_mesh_and_exchange_messages() {
    let reg = registry();
    let (_cars, mut ipc) = mesh3(&reg).await;
    assert_eq!(ipc[0].list_peers().await, ["bob", "carol"]);
    assert_eq!(ipc[1].list_peers().await, ["alice", "carol"]);
    assert_eq!(ipc[2].list_peers().await, ["alice", "bob"]);

    let msg = json!({"type": "agent_prompt", "request_id": "r-send", "source_agent": "alice",
        "target_agent": "bob", "payload": {"message": "hi bob"}, "trace": "kept"});
    ipc[0].send(send("bob", msg.clone())).await;
    let got = ipc[1]
        .wait_for("alice's message", EVENT_TIMEOUT, |e| {
            is_message_from(e, "alice", "r-send")
        })
        .await;
    assert_eq!(
        got["payload"]["message"], msg,
        "delivered unchanged, unknown fields included"
    );

    let b = json!({"type": "agent_status", "request_id": "r-bcast", "payload": {"status": "idle"}});
    ipc[2]
        .send(json!({"type": "broadcast", "payload": {"message": b}}))
        .await;
    for i in [0, 1] {
        ipc[i]
            .wait_for("carol's broadcast", EVENT_TIMEOUT, |e| {
                is_message_from(e, "carol", "r-bcast")
            })
            .await;
    }
    // Topology: every pair reported by the sidecars themselves.
    let topo: Value =
        meshwork_tests::wait::until(Duration::from_secs(10), "3 reported edges", || async {
            let t: Value = reqwest::Client::new()
                .get(reg.url("/api/hub/network/topology"))
                .bearer_auth(meshwork_tests::registry::ADMIN_TOKEN)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let edges = t["mesh_edges"].as_array()?;
            (edges.len() == 3 && edges.iter().all(|e| e["candidate_type"] == "host")).then_some(t)
        })
        .await;
    assert!(topo["mesh_edges"]
        .as_array()
        .is_some_and(|e| e.iter().all(|e| e["rtt_ms"].is_number())));
}

#[tokio::test]
async fn task_request_gets_task_response_between_two_agents() {
    let reg = registry();
    let _a = sidecar(&reg, "alice");
    let _b = sidecar(&reg, "bob");
    let mut alice = _a.ipc().await;
    let mut bob = _b.ipc().await;
    alice.wait_connected(&["bob"]).await;
    bob.wait_connected(&["alice"]).await;

    let request = json!({"type": "task_request", "request_id": "a1b2c3d4e5f6", "source_agent": "alice",
        "target_agent": "bob", "payload": {"skill": "echo", "message": "ping me"}});
    alice.send(send("bob", request)).await;
    let got = bob
        .wait_for("task_request", EVENT_TIMEOUT, |e| {
            is_message_from(e, "alice", "a1b2c3d4e5f6")
        })
        .await;
    let req = &got["payload"]["message"];
    assert_eq!(req["type"], "task_request");
    // Bob's agent runs the skill and answers with the same request_id.
    let response = json!({"type": "task_response", "request_id": req["request_id"], "source_agent": "bob",
        "target_agent": "alice", "payload": {"result": format!("echo: {}", req["payload"]["message"].as_str().unwrap_or("")), "error": ""}});
    bob.send(send("alice", response)).await;
    let got = alice
        .wait_for("task_response", EVENT_TIMEOUT, |e| {
            is_message_from(e, "bob", "a1b2c3d4e5f6")
        })
        .await;
    assert_eq!(got["payload"]["message"]["type"], "task_response");
    assert_eq!(
        got["payload"]["message"]["payload"]["result"],
        "echo: ping me"
    );
}

#[tokio::test]
async fn killed_sidecar_is_reported_within_10s_and_rejoins() {
    let reg = registry();
    let (mut cars, mut ipc) = mesh3(&reg).await;
    cars[2].kill9();
    let killed = Instant::now();
    for i in [0, 1] {
        ipc[i]
            .wait_for("peer_disconnected carol", Duration::from_secs(10), |e| {
                e["type"] == "peer_disconnected" && e["payload"]["peer_id"] == "carol"
            })
            .await;
    }
    eprintln!("kill -9 noticed after {:?}", killed.elapsed());
    assert!(killed.elapsed() < Duration::from_secs(10));
    let carol = sidecar(&reg, "carol");
    let mut carol_ipc = carol.ipc().await;
    carol_ipc.wait_connected(&["alice", "bob"]).await;
    ipc[0].wait_connected(&["carol"]).await;
    ipc[1].wait_connected(&["carol"]).await;
    ipc[0]
        .send(send(
            "carol",
            json!({"type": "ping", "request_id": "after-rejoin"}),
        ))
        .await;
    carol_ipc
        .wait_for("message after rejoin", EVENT_TIMEOUT, |e| {
            is_message_from(e, "alice", "after-rejoin")
        })
        .await;
}

#[tokio::test]
async fn registry_outage_keeps_channels_and_mesh_recovers() {
    let reg = registry();
    let port = reg.port;
    let (_cars, mut ipc) = mesh3(&reg).await;
    let data_dir = reg.kill9();
    // No registry: the DataChannels carry on.
    for n in 0..3 {
        let id = format!("during-outage-{n}");
        ipc[0]
            .send(send(
                "bob",
                json!({"type": "agent_prompt", "request_id": id}),
            ))
            .await;
        ipc[1]
            .wait_for("message during outage", EVENT_TIMEOUT, |e| {
                is_message_from(e, "alice", &id)
            })
            .await;
    }
    // Registry back on the same port: sidecars re-register; a newcomer joins everyone.
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        data_dir: Some(data_dir),
        port,
        ..Default::default()
    });
    let dave = sidecar(&reg, "dave");
    let mut dave_ipc = dave.ipc().await;
    dave_ipc.wait_connected(&["alice", "bob", "carol"]).await;
    for agent in ipc.iter_mut() {
        agent.wait_connected(&["dave"]).await;
    }
    assert_eq!(ipc[0].list_peers().await, ["bob", "carol", "dave"]);
    ipc[2]
        .send(send(
            "alice",
            json!({"type": "ping", "request_id": "after-outage"}),
        ))
        .await;
    ipc[0]
        .wait_for("message after outage", EVENT_TIMEOUT, |e| {
            is_message_from(e, "carol", "after-outage")
        })
        .await;
}

#[tokio::test]
async fn one_mebibyte_message_arrives_intact() {
    let reg = registry();
    let _a = sidecar(&reg, "alice");
    let _b = sidecar(&reg, "bob");
    let mut alice = _a.ipc().await;
    let mut bob = _b.ipc().await;
    alice.wait_connected(&["bob"]).await;
    bob.wait_connected(&["alice"]).await;
    // 1 MiB of varied, multi-byte text.
    let body: String = (0..1024 * 1024 / 4)
        .map(|i| ['a', 'é', '😀', '\n'][i % 4])
        .collect();
    let msg = json!({"type": "agent_prompt", "request_id": "big", "payload": {"message": body}});
    alice.send(send("bob", msg.clone())).await;
    // A small message sent after the big one arrives after it (one ordered channel).
    alice
        .send(send(
            "bob",
            json!({"type": "ping", "request_id": "small-after"}),
        ))
        .await;
    let got = bob
        .wait_for("1 MiB message", Duration::from_secs(30), |e| {
            e["type"] == "message" && e["payload"]["via"] == "direct"
        })
        .await;
    let received = got["payload"]["message"]["payload"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        received == body,
        "1 MiB body differs (got {} bytes, sent {})",
        received.len(),
        body.len()
    );
    assert_eq!(got["payload"]["message"]["request_id"], "big");
    let next = bob
        .wait_for("small message", EVENT_TIMEOUT, |e| {
            e["type"] == "message" && e["payload"]["via"] == "direct"
        })
        .await;
    assert_eq!(next["payload"]["message"]["request_id"], "small-after");
}

#[tokio::test]
async fn malformed_ipc_lines_and_bad_sends_get_errors() {
    let reg = registry();
    let _a = sidecar(&reg, "alice");
    let _b = sidecar(&reg, "bob");
    let mut alice = _a.ipc().await;
    alice.wait_connected(&["bob"]).await;
    let is_error = |e: &Value| e["type"] == "error";
    for line in [
        "{not json",
        r#"{"type":"fly","payload":{}}"#,
        r#"{"type":"send","payload":{}}"#,
        "[1,2]",
    ] {
        alice.send_line(line).await;
        let ev = alice
            .wait_for("error for malformed line", EVENT_TIMEOUT, is_error)
            .await;
        assert!(
            ev["payload"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("malformed")),
            "{line}: {ev}"
        );
    }
    alice.send(send("zed", json!({"type": "ping"}))).await;
    let ev = alice
        .wait_for("error for unknown peer", EVENT_TIMEOUT, is_error)
        .await;
    assert!(
        ev["payload"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("zed")),
        "{ev}"
    );
    // Still serving.
    assert_eq!(alice.list_peers().await, ["bob"]);
}

#[tokio::test]
async fn bad_signaling_frames_do_not_crash_a_sidecar() {
    let reg = registry();
    let mut a = sidecar(&reg, "alice");
    let _b = sidecar(&reg, "bob");
    let mut bob = _b.ipc().await;
    let mut alice = a.ipc().await;
    alice.wait_connected(&["bob"]).await;
    // mallory (a real, registered peer) sends alice garbage through the registry.
    let token: Value = reqwest::Client::new()
        .post(reg.url("/api/token"))
        .header("x-api-key", "ak_mallory")
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let mut mallory = SignalClient::connect(
        &reg.ws_url(),
        token["token"].as_str().expect("t"),
        "mallory",
    )
    .await
    .expect("connect");
    mallory.register("native").await.expect("register");
    // "mallory" > "alice": alice offers to mallory; answer it with garbage, then more garbage.
    let first = mallory.expect("offer").await.expect("alice's offer");
    assert!(first["payload"]["sdp"]
        .as_str()
        .is_some_and(|s| s.starts_with("v=0")));
    for (kind, payload) in [
        ("answer", json!({"sdp": "this is not sdp"})),
        ("offer", json!({"sdp": "v=0\r\nnonsense"})),
        ("offer", json!({"no_sdp": true})),
        (
            "ice_candidate",
            json!({"candidate": "candidate:garbage", "sdpMid": "0", "sdpMLineIndex": 0}),
        ),
        ("ice_candidate", json!({"candidate": 42})),
        ("answer", json!("just a string")),
    ] {
        mallory
            .send(kind, Some("alice"), payload)
            .await
            .expect("send");
    }
    // alice processed the garbage answer (frames arrive in order), gave up that attempt and
    // offers again, as the core's re-offer rule says.
    let again = mallory
        .expect("offer")
        .await
        .expect("alice re-offers after the garbage");
    assert!(again["payload"]["sdp"]
        .as_str()
        .is_some_and(|s| s.starts_with("v=0")));
    assert!(a.is_running(), "alice crashed on bad signaling frames");
    // ...and her mesh still works: a message to bob.
    alice
        .send(send(
            "bob",
            json!({"type": "ping", "request_id": "still-alive"}),
        ))
        .await;
    bob.wait_for("message after garbage", EVENT_TIMEOUT, |e| {
        is_message_from(e, "alice", "still-alive")
    })
    .await;
    assert!(a.is_running());
}

#[tokio::test]
async fn an_agent_that_falls_behind_keeps_its_backlog_instead_of_being_dropped() {
    const BURST: usize = 8_000;
    let reg = registry();
    let alice = sidecar(&reg, "alice");
    let bob = sidecar(&reg, "bob");
    let mut alice_ipc = alice.ipc().await;
    // The slow agent reads nothing until the burst is over; a second client on bob's socket
    // reads everything, so we know when bob's sidecar has queued the whole burst for both.
    let mut slow = bob.ipc().await;
    let mut watcher = bob.ipc().await;
    alice_ipc.wait_connected(&["bob"]).await;
    watcher.wait_connected(&["alice"]).await;
    for i in 0..=BURST {
        let id = if i == BURST {
            "last".to_owned()
        } else {
            format!("m{i}")
        };
        alice_ipc
            .send(send(
                "bob",
                json!({"type": "agent_prompt", "request_id": id,
                "payload": {"message": "x".repeat(100)}}),
            ))
            .await;
    }
    watcher
        .wait_for(
            "the end of the burst at bob",
            Duration::from_secs(60),
            |e| is_message_from(e, "alice", "last"),
        )
        .await;
    let mut got = 0;
    loop {
        let ev = slow
            .next_event(Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("the slow agent lost its backlog after {got}: {e}"));
        if ev["type"] != "message" {
            continue;
        }
        if is_message_from(&ev, "alice", "last") {
            break;
        }
        assert_eq!(
            ev["payload"]["message"]["request_id"],
            format!("m{got}"),
            "in order"
        );
        got += 1;
    }
    assert_eq!(
        got, BURST,
        "every message of the burst reached the slow agent"
    );
}
