//! The shared memory across the mesh (issue 14, ADR 0016) with real processes: sidecars
//! converge on puts made anywhere, an isolated writer rejoins with the same winner and
//! conflicts everywhere, a forget reaches every replica and leaves no bytes in any database,
//! and agents never online together converge through the registry's replica.

use meshwork_tests::{
    bins::files_containing,
    memory_ipc::{forget, get, put, registry_holds, start_kept, wait_until, wait_value},
    RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::{json, Value};
use std::time::Duration;

const CONVERGE: Duration = Duration::from_secs(30);

fn registry() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_a": {"peer_id": "alice"},
            "ak_b": {"peer_id": "bob"},
            "ak_c": {"peer_id": "carol"},
        }})),
        ..Default::default()
    })
}

const KEEP: [(&str, &str); 1] = [("MESHWORK_KEEP_ALIVE", "1")];

/// A registry that is not there: a closed loopback port.
const NO_REGISTRY: [(&str, &str); 3] = [
    ("SIGNALING_URL", "ws://127.0.0.1:1/ws"),
    ("TOKEN_URL", "http://127.0.0.1:1/api/token"),
    ("MESHWORK_KEEP_ALIVE", "1"),
];

#[tokio::test]
async fn three_sidecars_converge_on_puts_made_anywhere() {
    let reg = registry();
    let peers = [("ak_a", "alice"), ("ak_b", "bob"), ("ak_c", "carol")];
    let (_cars, mut ipcs) = start_kept(&reg, &peers).await;
    for (i, ipc) in ipcs.iter_mut().enumerate() {
        put(ipc, &format!("notes/{i}"), json!(format!("from {i}"))).await;
    }
    for ipc in ipcs.iter_mut() {
        for i in 0..3 {
            let v = wait_value(ipc, &format!("notes/{i}"), CONVERGE).await;
            assert_eq!(v["value"], json!(format!("from {i}")));
        }
    }
}

#[tokio::test]
async fn an_isolated_writer_rejoins_and_every_replica_agrees_on_winner_and_conflicts() {
    let reg = registry();
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &KEEP);
    let mut a = alice.ipc().await;
    // carol meets the registry once (to learn her peer id), then runs cut off.
    let mut carol = SidecarProcess::start_with(&reg, "ak_c", "carol", &KEEP);
    carol.ipc().await.list_peers().await;
    assert!(carol.terminate());
    let offline = SidecarProcess::start_with(&reg, "ak_c", "carol", &NO_REGISTRY);
    let mut c = offline.ipc().await;
    put(&mut c, "plan", json!("carol's plan")).await;
    put(&mut a, "plan", json!("alice's plan")).await;
    drop(c);
    drop(offline);
    // carol rejoins.
    let carol = SidecarProcess::start_with(&reg, "ak_c", "carol", &KEEP);
    let mut c = carol.ipc().await;
    let mut views = Vec::new();
    for ipc in [&mut a, &mut c] {
        let v = wait_until(ipc, "plan", CONVERGE, |v| {
            v["found"] == true && v["conflicts"].as_array().is_some_and(|c| c.len() == 1)
        })
        .await;
        views.push((
            v["id"].clone(),
            v["value"].clone(),
            v["conflicts"][0]["id"].clone(),
        ));
    }
    assert_eq!(
        views[0], views[1],
        "the same winner and conflict everywhere"
    );
    // A later put from a replica holding both resolves it everywhere.
    put(&mut a, "plan", json!("merged plan")).await;
    for ipc in [&mut a, &mut c] {
        wait_until(ipc, "plan", CONVERGE, |v| {
            v["value"] == "merged plan" && v["conflicts"] == json!([])
        })
        .await;
    }
}

#[tokio::test]
async fn a_forget_reaches_every_replica_and_leaves_no_bytes_in_any_database() {
    let reg = registry();
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &KEEP);
    let bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &KEEP);
    let (mut a, mut b) = (alice.ipc().await, bob.ipc().await);
    let marker = "FORGET-ME-7d41e2";
    put(&mut a, "secret", json!(marker)).await;
    wait_value(&mut b, "secret", CONVERGE).await;
    forget(&mut b, "secret").await;
    for ipc in [&mut a, &mut b] {
        wait_until(ipc, "secret", CONVERGE, |v| v["found"] == false).await;
    }
    let peer_data = reg.data_dir.join("peer-data");
    for dir in [peer_data.join("alice"), peer_data.join("bob")] {
        assert_eq!(
            files_containing(&dir, "memory.db", marker),
            Vec::<String>::new()
        );
    }
    assert_eq!(reg.stored_copies_of(marker), Vec::<String>::new());
}

#[tokio::test]
async fn agents_never_online_together_converge_through_the_registry() {
    let reg = registry();
    let mut alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &KEEP);
    let mut a = alice.ipc().await;
    a.list_peers().await;
    put(&mut a, "handover", json!("notes for bob")).await;
    registry_holds(&reg, 1, CONVERGE).await;
    drop(a);
    assert!(alice.terminate());
    let bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &KEEP);
    let mut b = bob.ipc().await;
    let v = wait_value(&mut b, "handover", CONVERGE).await;
    assert_eq!(v["value"], "notes for bob");
    assert_eq!(v["author"], "alice");
    let _: Value = get(&mut b, "handover").await;
}

/// mallory, a registered peer with a key of its own, sends bob events claiming to be alice's
/// (through the registry tier, as any peer can): bob refuses them; alice's real ones pass.
#[tokio::test]
async fn events_forged_in_another_peers_name_are_refused() {
    use meshwork_protocol::{
        identity::Identity,
        memory::{sync, Author, Limits, Links, Replica},
        PeerId,
    };
    use meshwork_tests::{
        http::{call, Cred},
        signal_client::SignalClient,
    };
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_a": {"peer_id": "alice"},
            "ak_b": {"peer_id": "bob"},
            "ak_m": {"peer_id": "mallory"},
        }})),
        ..Default::default()
    });
    let alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &KEEP);
    let bob = SidecarProcess::start_with(&reg, "ak_b", "bob", &KEEP);
    let (mut a, mut b) = (alice.ipc().await, bob.ipc().await);
    a.wait_connected(&["bob"]).await;

    let (_, token) = call(
        &reg,
        reqwest::Method::POST,
        "/api/token",
        Cred::ApiKey("ak_m"),
        None,
    )
    .await;
    let jwt = token["token"].as_str().expect("jwt").to_owned();
    let mut mallory = SignalClient::connect(&reg.ws_url(), &jwt, "mallory")
        .await
        .expect("ws");
    let key = Identity::from_seed([66; 32]);
    mallory
        .send(
            "register",
            None,
            json!({"identity_key": key.public().encode(), "registry_tier": true}),
        )
        .await
        .expect("register");
    mallory.expect("peer_list").await.expect("peer_list");
    let as_alice = Author {
        peer: PeerId::new("alice"),
        identity: key,
    };
    let mut forge = Replica::new(Limits::default());
    let events = forge
        .put(
            &as_alice,
            "orders".into(),
            json!("wire the money"),
            Links::default(),
            1,
        )
        .expect("forged put")
        .events;
    for frame in sync::push(&events, &Limits::default()) {
        let message = json!({"type": "memory_sync", "request_id": "", "payload": frame});
        mallory
            .send("mesh_message", Some("bob"), message)
            .await
            .expect("send");
    }
    // alice's real write follows; once bob has it, the forgery had its chance.
    put(&mut a, "orders", json!("hold everything")).await;
    let v = wait_value(&mut b, "orders", CONVERGE).await;
    assert_eq!(v["value"], "hold everything");
    assert_eq!(v["conflicts"], json!([]), "the forged event got in: {v}");
    let history = meshwork_tests::memory_ipc::ok(
        &mut b,
        "memory_history",
        json!({"key": "orders"}),
        "memory_history",
    )
    .await;
    assert_eq!(
        history["events"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
}
