//! The registry's always-on memory replica (issue 14, ADR 0016), over real signaling
//! sockets: peers that are never online at the same time converge through it, a forget
//! erases the value's bytes from its database, and an operator can turn it off.

use meshwork_protocol::{
    identity::Identity,
    memory::{sync, Author, Limits, Links, Replica, SyncMessage},
    PeerId,
};
use meshwork_tests::{
    http::{call, Cred},
    signal_client::SignalClient,
    RegistryOptions, RegistryProcess,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn registry(extra: &[(&str, &str)]) -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_a": {"peer_id": "alice"},
            "ak_b": {"peer_id": "bob"},
        }})),
        env: extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    })
}

/// A peer with a replica, speaking to the registry's replica over its signaling socket.
struct MemoryPeer {
    ws: SignalClient,
    replica: Replica,
    author: Author,
}

impl MemoryPeer {
    async fn join(reg: &RegistryProcess, api_key: &str, name: &str) -> (Self, Value) {
        let (_, body) = call(reg, Method::POST, "/api/token", Cred::ApiKey(api_key), None).await;
        let jwt = body["token"].as_str().expect("jwt").to_owned();
        let mut ws = SignalClient::connect(&reg.ws_url(), &jwt, name)
            .await
            .expect("ws");
        let identity = Identity::from_seed([name.len() as u8; 32]);
        ws.send(
            "register",
            None,
            json!({"kind": "native", "memory": true,
                "identity_key": identity.public().encode()}),
        )
        .await
        .expect("register");
        let list = ws.expect("peer_list").await.expect("peer_list");
        let peer = Self {
            ws,
            replica: Replica::new(Limits::default()),
            author: Author {
                peer: PeerId::new(name),
                identity,
            },
        };
        (peer, list)
    }

    async fn send(&mut self, frame: &SyncMessage) {
        let payload = serde_json::to_value(frame).expect("frame");
        self.ws
            .send("memory_sync", None, payload)
            .await
            .expect("send");
    }

    /// Answers the registry's frames until it has been quiet for a moment.
    async fn sync_until_quiet(&mut self) {
        while let Ok(frame) = self.ws.next_frame(Duration::from_millis(500)).await {
            if frame["type"] != "memory_sync" {
                continue;
            }
            let msg: SyncMessage = serde_json::from_value(frame["payload"].clone()).expect("frame");
            let step = sync::handle(&mut self.replica, msg);
            for reply in step.replies {
                self.send(&reply).await;
            }
        }
    }

    async fn put(&mut self, key: &str, value: Value) {
        let applied = self
            .replica
            .put(&self.author, key.into(), value, Links::default(), 1_000)
            .expect("put");
        for frame in sync::push(&applied.events, &Limits::default()) {
            self.send(&frame).await;
        }
    }

    async fn forget(&mut self, key: &str) {
        let applied = self
            .replica
            .forget(&self.author, key.into(), 2_000)
            .expect("forget");
        for frame in sync::push(&applied.events, &Limits::default()) {
            self.send(&frame).await;
        }
    }
}

#[tokio::test]
async fn two_peers_never_online_together_converge_through_the_registry_replica() {
    let reg = registry(&[]);
    let (mut alice, list) = MemoryPeer::join(&reg, "ak_a", "alice").await;
    assert_eq!(list["payload"]["memory"], true, "{list}");
    alice.sync_until_quiet().await;
    alice.put("plan/next", json!("ship it")).await;
    alice.sync_until_quiet().await;
    let (_, metrics) = call(&reg, Method::GET, "/metrics", Cred::Admin, None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(metrics.contains("meshwork_memory_events 1"), "{metrics}");
    alice.ws.close().await;

    // bob arrives after alice has gone.
    let (mut bob, _) = MemoryPeer::join(&reg, "ak_b", "bob").await;
    let have = bob
        .ws
        .expect("memory_sync")
        .await
        .expect("the registry's have");
    assert_eq!(have["payload"]["type"], "memory_have");
    bob.send(&sync::open(&bob.replica)).await;
    bob.sync_until_quiet().await;
    let got = bob.replica.get("plan/next", None);
    assert!(got.found, "bob never got alice's value");
    assert_eq!(got.value, json!("ship it"));
    assert_eq!(got.author.as_ref().map(PeerId::as_str), Some("alice"));
}

#[tokio::test]
async fn the_registry_replica_survives_a_restart_and_forget_erases_its_bytes() {
    let reg = registry(&[]);
    let marker = "SECRET-MEMORY-VALUE-5c1e";
    let (mut alice, _) = MemoryPeer::join(&reg, "ak_a", "alice").await;
    alice.sync_until_quiet().await;
    alice.put("secret", json!(marker)).await;
    alice.sync_until_quiet().await;
    assert!(
        !reg.stored_copies_of(marker).is_empty(),
        "the value was stored"
    );

    alice.forget("secret").await;
    alice.sync_until_quiet().await;
    assert_eq!(
        reg.stored_copies_of(marker),
        Vec::<String>::new(),
        "bytes left behind"
    );

    // A replica that missed the forget offers the value again: it is not resurrected.
    let data = reg.kill9();
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_b": {"peer_id": "bob"}}})),
        data_dir: Some(data),
        ..Default::default()
    });
    let (mut bob, _) = MemoryPeer::join(&reg, "ak_b", "bob").await;
    bob.send(&sync::open(&bob.replica)).await;
    bob.sync_until_quiet().await;
    let history = bob.replica.history("secret", None);
    assert_eq!(history.len(), 2, "put and forget both survive the restart");
    assert!(history.iter().all(|h| h.value == Value::Null));
    assert!(history[0].forgotten);
    assert!(!bob.replica.get("secret", None).found);
    assert_eq!(reg.stored_copies_of(marker), Vec::<String>::new());
}

#[tokio::test]
async fn an_operator_can_turn_the_registry_replica_off() {
    let reg = registry(&[("MEMORY_REPLICA", "false")]);
    let (mut alice, list) = MemoryPeer::join(&reg, "ak_a", "alice").await;
    assert!(list["payload"].get("memory").is_none(), "{list}");
    alice.send(&sync::open(&alice.replica)).await;
    let error = alice.ws.expect("error").await.expect("error");
    assert_eq!(error["payload"]["code"], "not_permitted");
    let message = error["payload"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("no memory replica"), "{message}");
}

#[tokio::test]
async fn a_forged_or_tampered_event_is_refused_by_the_registry_replica() {
    let reg = registry(&[]);
    let (mut alice, _) = MemoryPeer::join(&reg, "ak_a", "alice").await;
    alice.sync_until_quiet().await;
    let applied = alice
        .replica
        .put(
            &alice.author,
            "k".into(),
            json!("honest"),
            Links::default(),
            1_000,
        )
        .expect("put");
    let event = applied.events[0].clone();

    // The body swapped for another value: its hash no longer matches what was signed.
    let mut tampered = event.clone();
    tampered.body = Some("\"forged\"".into());
    // Signed by another key than the author's.
    let mallory = Author {
        peer: PeerId::new("alice"),
        identity: Identity::from_seed([66; 32]),
    };
    let mut other = Replica::new(Limits::default());
    let forged = other
        .put(
            &mallory,
            "k".into(),
            json!("as alice"),
            Links::default(),
            1_000,
        )
        .expect("forged put")
        .events;
    for events in [vec![tampered], forged] {
        let frame = SyncMessage::MemoryEvents {
            events,
            more: false,
        };
        alice.send(&frame).await;
    }
    alice.sync_until_quiet().await;
    let held = |m: &str| m.contains("meshwork_memory_events 0");
    let (_, metrics) = call(&reg, Method::GET, "/metrics", Cred::Admin, None).await;
    assert!(held(metrics.as_str().unwrap_or_default()), "{metrics}");

    // The honest event is then taken.
    alice
        .send(&SyncMessage::MemoryEvents {
            events: vec![event],
            more: false,
        })
        .await;
    alice.sync_until_quiet().await;
    let (_, metrics) = call(&reg, Method::GET, "/metrics", Cred::Admin, None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(metrics.contains("meshwork_memory_events 1"), "{metrics}");
}
