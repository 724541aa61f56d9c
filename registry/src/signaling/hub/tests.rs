//! The order of what the hub queues for a peer: its `peer_list` first, then every
//! announcement about peers that register or leave after it.

use super::*;

fn registration() -> Registration {
    Registration {
        kind: PeerKind::Native,
        takes_mesh_messages: true,
        identity_key: None,
        takes_memory: false,
        takes_tasks: false,
    }
}

fn id(s: &str) -> PeerId {
    PeerId::new(s)
}

struct Conn {
    peer: PeerId,
    conn_id: u64,
    rx: mpsc::Receiver<String>,
}

fn connect(hub: &SignalingHub, peer: &str) -> Conn {
    let (tx, rx) = mpsc::channel(16);
    let peer = id(peer);
    let conn_id = hub.connect(&peer, tx, CancellationToken::new());
    Conn { peer, conn_id, rx }
}

/// The frames queued for `conn`, as (type, payload).
fn queued(conn: &mut Conn) -> Vec<(SignalType, serde_json::Value)> {
    std::iter::from_fn(|| conn.rx.try_recv().ok())
        .map(|text| {
            let msg = SignalMessage::parse(&text).expect("the hub queues valid frames");
            (msg.kind, msg.payload)
        })
        .collect()
}

#[test]
fn a_peer_that_registers_right_after_another_is_announced_after_the_first_ones_list() {
    let hub = SignalingHub::default();
    let mut alice = connect(&hub, "alice");
    let mut bob = connect(&hub, "bob");
    // alice's registration and bob's follow each other with nothing in between: the
    // `peer_joined` about bob must not overtake alice's (empty) list, or alice would apply
    // the list last and unlist bob.
    assert_eq!(
        hub.register(&alice.peer, alice.conn_id, registration(), false),
        Some(0)
    );
    assert_eq!(
        hub.register(&bob.peer, bob.conn_id, registration(), true),
        Some(1)
    );
    let to_alice = queued(&mut alice);
    assert_eq!(to_alice.len(), 2, "{to_alice:?}");
    assert_eq!(to_alice[0].0, SignalType::PeerList);
    assert_eq!(to_alice[0].1["peers"], serde_json::json!([]));
    assert_eq!(to_alice[1].0, SignalType::PeerJoined);
    assert_eq!(to_alice[1].1["peer_id"], "bob");
    let to_bob = queued(&mut bob);
    assert_eq!(to_bob.len(), 1, "{to_bob:?}");
    assert_eq!(to_bob[0].0, SignalType::PeerList);
    assert_eq!(to_bob[0].1["peers"], serde_json::json!(["alice"]));
    assert_eq!(to_bob[0].1["memory"], true);
}

#[test]
fn a_peer_that_leaves_right_after_another_registers_is_announced_after_the_list() {
    let hub = SignalingHub::default();
    let mut carol = connect(&hub, "carol");
    hub.register(&carol.peer, carol.conn_id, registration(), false);
    let mut alice = connect(&hub, "alice");
    hub.register(&alice.peer, alice.conn_id, registration(), false);
    hub.disconnect(&carol.peer, carol.conn_id);
    let to_alice = queued(&mut alice);
    let kinds: Vec<SignalType> = to_alice.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [SignalType::PeerList, SignalType::PeerLeft]);
    assert_eq!(to_alice[0].1["peers"], serde_json::json!(["carol"]));
    assert_eq!(to_alice[1].1["peer_id"], "carol");
    let to_carol = queued(&mut carol);
    let kinds: Vec<SignalType> = to_carol.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [SignalType::PeerList, SignalType::PeerJoined]);
}

#[test]
fn a_replaced_connection_is_not_registered_and_gets_no_list() {
    let hub = SignalingHub::default();
    let mut old = connect(&hub, "alice");
    let mut new = connect(&hub, "alice");
    assert_eq!(
        hub.register(&old.peer, old.conn_id, registration(), false),
        None
    );
    assert!(queued(&mut old).is_empty());
    assert_eq!(
        hub.register(&new.peer, new.conn_id, registration(), false),
        Some(0)
    );
    assert_eq!(queued(&mut new).len(), 1);
}
