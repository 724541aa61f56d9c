//! The memory's transport through the mesh (ADR 0016): sync frames ride the channel or the
//! sealed registry tier, reach the shell's replica and never the application, and replicas
//! driven only through `Mesh::send_memory` converge.

use super::harness::*;
use crate::{
    core::{AppEvent, Config, RouteError, Tier},
    ids::PeerId,
    memory::{sync, Author, Limits, Links, Replica},
};
use serde_json::json;
use std::{collections::BTreeMap, time::Duration};

fn keyed_net(names: &[&str]) -> Net {
    let mut net = Net::new();
    for name in names {
        let config = Config {
            memory: true,
            ..keyed_config(name)
        };
        net.add_with(name, config);
    }
    net
}

fn author(name: &str) -> Author {
    Author {
        peer: id(name),
        identity: identity_of(name),
    }
}

/// Lets every replica answer the frames its shell got, until nothing moves.
fn pump(net: &mut Net, replicas: &mut BTreeMap<PeerId, Replica>) {
    for _ in 0..20 {
        net.run_for(Duration::from_millis(50));
        let mut moved = false;
        let ids: Vec<PeerId> = replicas.keys().cloned().collect();
        for me in &ids {
            for (from, frame) in net.take_memory_frames(me) {
                moved = true;
                let step = sync::handle(replicas.get_mut(me).expect("replica"), frame);
                for reply in step.replies {
                    let _ = net.send_memory(me, &from, &reply);
                }
                // New events go to every other memory peer (delta push).
                if !step.applied.events.is_empty() {
                    let limits = Limits::default();
                    for frame in sync::push(&step.applied.events, &limits) {
                        for peer in net.memory_peers(me) {
                            if peer != from {
                                let _ = net.send_memory(me, &peer, &frame);
                            }
                        }
                    }
                }
            }
        }
        if !moved {
            break;
        }
    }
}

/// Every peer says what it holds to every memory peer (what shells do on link open).
fn open_all(net: &mut Net, replicas: &BTreeMap<PeerId, Replica>) {
    for (me, replica) in replicas {
        for peer in net.memory_peers(me) {
            net.send_memory(me, &peer, &sync::open(replica))
                .expect("send memory_have");
        }
    }
}

#[test]
fn memory_frames_reach_the_replica_and_never_the_application() {
    let mut net = keyed_net(&["alice", "bob"]);
    net.run_until_meshed(Duration::from_secs(5));
    let (a, b) = (id("alice"), id("bob"));
    let replica = Replica::new(Limits::default());
    assert_eq!(net.memory_peers(&a), std::slice::from_ref(&b));
    let tier = net
        .send_memory(&a, &b, &sync::open(&replica))
        .expect("sent");
    assert_ne!(tier, Tier::Registry);
    net.run_for(Duration::from_millis(20));
    let frames = net.take_memory_frames(&b);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0, a);
    assert!(!net
        .node(&b)
        .app
        .iter()
        .any(|e| matches!(e, AppEvent::Message { .. })));
}

#[test]
fn unkeyed_peers_get_no_memory_frames() {
    let mut net = Net::new();
    net.add_with("alice", keyed_config("alice"));
    net.add("bob");
    net.run_until_meshed(Duration::from_secs(5));
    let (a, b) = (id("alice"), id("bob"));
    assert!(net.memory_peers(&a).is_empty());
    let replica = Replica::new(Limits::default());
    assert_eq!(
        net.send_memory(&a, &b, &sync::open(&replica)),
        Err(RouteError::Unreachable(b))
    );
}

/// Keyed alice and bob whose ICE never connects (the registry tier only), with empty replicas.
fn registry_only_pair() -> (Net, BTreeMap<PeerId, Replica>) {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    net.blocked_ice.insert((a.clone(), b.clone()));
    for name in ["alice", "bob"] {
        let config = Config {
            memory: true,
            ..keyed_config(name)
        };
        net.add_with(name, config);
    }
    net.run_for(Duration::from_secs(1));
    let replicas = BTreeMap::from([
        (a, Replica::new(Limits::default())),
        (b, Replica::new(Limits::default())),
    ]);
    (net, replicas)
}

#[test]
fn memory_frames_through_the_registry_are_sealed() {
    let (mut net, mut replicas) = registry_only_pair();
    let (a, b) = (id("alice"), id("bob"));
    let marker = "MEMORY-MARKER-42";
    replicas
        .get_mut(&a)
        .expect("alice")
        .put(
            &author("alice"),
            "notes/x".into(),
            json!(marker),
            Links::default(),
            1_000,
        )
        .expect("put");
    open_all(&mut net, &replicas);
    pump(&mut net, &mut replicas);
    let got = replicas[&b].get("notes/x", None);
    assert!(got.found, "bob never got alice's put");
    assert_eq!(got.value, json!(marker));
    for frame in &net.relayed_mesh_messages {
        assert!(
            !frame.contains(marker),
            "plaintext memory through the registry"
        );
    }
}

#[test]
fn replicas_driven_through_the_mesh_converge_after_a_partition() {
    let names = ["alice", "bob", "carol"];
    let mut net = keyed_net(&names);
    net.run_until_meshed(Duration::from_secs(5));
    let mut replicas: BTreeMap<PeerId, Replica> = names
        .iter()
        .map(|n| (id(n), Replica::new(Limits::default())))
        .collect();
    // Each writes on its own, unsynced (as if partitioned), twice to one shared key.
    for (i, name) in names.iter().enumerate() {
        let r = replicas.get_mut(&id(name)).expect("replica");
        r.put(
            &author(name),
            "shared".into(),
            json!(name),
            Links::default(),
            1_000 + i as u64,
        )
        .expect("put");
        r.put(
            &author(name),
            format!("own/{name}"),
            json!(i),
            Links::default(),
            2_000,
        )
        .expect("put");
    }
    open_all(&mut net, &replicas);
    pump(&mut net, &mut replicas);
    let views: Vec<_> = replicas
        .values()
        .map(|r| {
            (
                r.version().clone(),
                r.get("shared", None),
                r.list("", None, None),
            )
        })
        .collect();
    assert!(views.windows(2).all(|w| w[0] == w[1]), "replicas differ");
    let shared = &views[0].1;
    assert!(shared.found);
    assert_eq!(
        shared.conflicts.len(),
        2,
        "three concurrent puts: one winner, two conflicts"
    );
}

#[test]
fn a_large_backlog_crosses_the_sealed_registry_tier_in_frames_that_fit() {
    let (mut net, mut replicas) = registry_only_pair();
    let (a, b) = (id("alice"), id("bob"));
    let alice = replicas.get_mut(&a).expect("alice");
    for i in 0..300u64 {
        let value = json!({"i": i, "text": "x".repeat(1000)});
        alice
            .put(
                &author("alice"),
                format!("k/{i:03}"),
                value,
                Links::default(),
                i,
            )
            .expect("put");
    }
    open_all(&mut net, &replicas);
    pump(&mut net, &mut replicas);
    assert_eq!(replicas[&b].version(), replicas[&a].version());
    assert_eq!(replicas[&b].list("k/", None, None).items.len(), 300);
    let problems: Vec<_> = net
        .node(&a)
        .app
        .iter()
        .filter(|e| matches!(e, AppEvent::Error { .. }))
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
}

/// A store for the shared pump: every step persisted into a `MemStore`.
#[derive(Default)]
struct Stored(crate::memory::store::MemStore);

impl crate::core::MemoryStore for Stored {
    fn store(&mut self, applied: &crate::memory::Applied) -> Result<(), String> {
        crate::memory::store::persist(&mut self.0, applied).map_err(|e| match e {})
    }
}

fn agent_put(key: &str, value: serde_json::Value) -> crate::ipc::IpcCommand {
    crate::ipc::IpcCommand::MemoryPut {
        request_id: format!("put-{key}"),
        key: key.into(),
        value,
        supersedes: Vec::new(),
        derived_from: Vec::new(),
    }
}

#[test]
fn the_shared_pump_syncs_on_link_open_pushes_writes_and_tells_subscribers() {
    use crate::{ipc::IpcEvent, memory::AgentMemory};
    let names = ["alice", "bob", "carol"];
    let mut net = keyed_net(&names);
    let mut memories: BTreeMap<PeerId, (AgentMemory, Stored)> = names
        .iter()
        .map(|n| {
            let agent = AgentMemory::new(
                Replica::new(Limits::default()),
                Some(identity_of(n)),
                Some(id(n)),
            );
            (id(n), (agent, Stored::default()))
        })
        .collect();
    // alice writes before any link is up; carol subscribes.
    let (alice_mem, alice_store) = memories.get_mut(&id("alice")).expect("alice");
    let answer = alice_mem.answer(1, agent_put("early", json!(1)), 1_000);
    assert!(matches!(answer.reply, IpcEvent::MemoryWritten { .. }));
    let applied = answer.applied.expect("a write applies");
    crate::core::MemoryStore::store(alice_store, &applied).expect("stored");
    alice_mem.stored(applied);
    let (carol_mem, _) = memories.get_mut(&id("carol")).expect("carol");
    let sub = crate::ipc::IpcCommand::MemorySubscribe {
        request_id: "s".into(),
        prefix: String::new(),
    };
    assert!(matches!(
        carol_mem.answer(7, sub, 0).reply,
        IpcEvent::MemorySubscribed { .. }
    ));

    let pump_all = |net: &mut Net, memories: &mut BTreeMap<PeerId, (AgentMemory, Stored)>| {
        let mut heard = Vec::new();
        for _ in 0..20 {
            net.run_for(Duration::from_millis(50));
            for (me, (memory, store)) in memories.iter_mut() {
                for (client, line) in net.pump_memory(me, memory, store) {
                    heard.push((me.clone(), client, line));
                }
            }
        }
        heard
    };
    // The links open: each side's pump says what it holds (nobody calls `open` by hand).
    net.run_until_meshed(Duration::from_secs(5));
    let heard = pump_all(&mut net, &mut memories);
    for (memory, store) in memories.values() {
        assert!(memory.replica().get("early", None).found);
        assert_eq!(
            crate::memory::store::EventStore::load_all(&store.0)
                .map(|e| e.len())
                .unwrap_or(0),
            1
        );
    }
    assert!(heard.iter().any(|(me, client, line)| me == &id("carol")
        && *client == 7
        && matches!(line, IpcEvent::MemoryChanged { key, .. } if key == "early")));

    // A later write is pushed to every replica without a new `memory_have`.
    let (bob_mem, bob_store) = memories.get_mut(&id("bob")).expect("bob");
    let answer = bob_mem.answer(1, agent_put("later", json!(2)), 2_000);
    let applied = answer.applied.expect("a write applies");
    crate::core::MemoryStore::store(bob_store, &applied).expect("stored");
    bob_mem.stored(applied);
    pump_all(&mut net, &mut memories);
    for (memory, store) in memories.values() {
        assert!(memory.replica().get("later", None).found);
        assert_eq!(
            crate::memory::store::EventStore::load_all(&store.0)
                .map(|e| e.len())
                .unwrap_or(0),
            2
        );
    }
}
