//! Who offers, full meshes, handshake timeouts, stale attempts and restarts.

use super::harness::*;
use crate::{
    core::{Action, ConnectionState, Event, LinkState, MeshCore},
    signaling::{PeerListPayload, SdpPayload, SignalType},
};
use std::time::Duration;

#[test]
fn two_peers_connect_with_exactly_one_offer() {
    let net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    assert_eq!(net.node(&a).offers_sent(), 1);
    assert_eq!(net.node(&b).offers_sent(), 0);
    assert_eq!(
        net.node(&b)
            .count(|x| matches!(x, Action::CreateOffer { .. })),
        0
    );
    assert_eq!(net.node(&a).count(connected_to(&b)), 1);
    assert_eq!(net.node(&b).count(connected_to(&a)), 1);
    assert!(net.now < at(200), "took {:?}", net.now);
}

#[test]
fn three_peers_form_full_mesh() {
    let mut net = Net::meshed(&["a", "b", "c"]);
    let offers: Vec<usize> = ["a", "b", "c"]
        .map(|n| net.node(&id(n)).offers_sent())
        .into();
    assert_eq!(
        offers,
        [2, 1, 0],
        "each pair negotiated exactly once, by its smaller id"
    );
    net.run_for(Duration::from_secs(20));
    assert!(net.is_meshed());
    for n in ["a", "b", "c"] {
        assert_eq!(
            net.node(&id(n))
                .count(|x| matches!(x, Action::PeerDisconnected { .. })),
            0
        );
        assert_eq!(net.node(&id(n)).mesh.core.connected_peers().len(), 2);
    }
}

#[test]
fn handshake_timeout_retries() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice"), net.add("bob"));
    net.blocked_relay.insert((a.clone(), b.clone()));
    net.run_until(at(1_000), |n| n.node(&a).count(offer_to(&b)) == 1);
    let first = net.now;
    assert_eq!(
        net.node(&a).mesh.core.link_state(&b),
        Some(LinkState::Connecting)
    );

    net.run_until(first + Duration::from_millis(9_999), |_| false);
    assert_eq!(
        net.node(&a).count(close_of(&b)),
        0,
        "closed before the handshake timeout"
    );
    net.run_until(first + Duration::from_secs(10), |_| false);
    assert_eq!(
        net.node(&a).times(close_of(&b)),
        [first + Duration::from_secs(10)]
    );
    assert_eq!(
        net.node(&a).mesh.core.link_state(&b),
        Some(LinkState::Retrying)
    );

    net.blocked_relay.clear();
    net.run_until_meshed(Duration::from_secs(5));
    let offers = net.node(&a).times(offer_to(&b));
    assert_eq!(offers.len(), 2);
    let retry_delay = offers[1].as_millis() - offers[0].as_millis() - 10_000;
    assert!(
        (250..=500).contains(&retry_delay),
        "first re-offer after {retry_delay} ms"
    );
    assert_eq!(
        net.node(&b)
            .count(|x| matches!(x, Action::CreateOffer { .. })),
        0
    );
}

#[test]
fn stale_timer_is_ignored() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice"), net.add("bob"));
    net.run_until(at(1_000), |n| n.node(&a).count(offer_to(&b)) == 1);
    let first_attempt = net.node(&a).pcs[&b].attempt;
    let stale_deadline = net
        .node(&a)
        .mesh
        .core
        .next_timeout()
        .expect("handshake deadline");
    assert_eq!(stale_deadline, net.now + Duration::from_secs(10));

    // Attempt 1 fails at once; attempt 2 connects long before attempt 1's deadline.
    let failed = ConnectionState::Failed;
    net.inject(
        &a,
        Event::ConnectionStateChanged {
            peer: b.clone(),
            attempt: first_attempt,
            state: failed,
        },
    );
    net.run_until_meshed(Duration::from_secs(2));
    let before = net.node(&a).log.len();

    net.run_until(stale_deadline, |_| false);
    net.poke(&a); // A shell whose old timer fires exactly at the stale deadline.
    net.inject(
        &a,
        Event::ChannelClosed {
            peer: b.clone(),
            attempt: first_attempt,
        },
    );
    net.inject(
        &a,
        Event::ConnectionStateChanged {
            peer: b.clone(),
            attempt: first_attempt,
            state: failed,
        },
    );

    let since: Vec<&Action> = net.node(&a).log[before..].iter().map(|(_, x)| x).collect();
    assert!(
        since
            .iter()
            .all(|x| matches!(x, Action::SendKeepalive { .. } | Action::ProbePath { .. })),
        "stale timer or events acted: {since:?}"
    );
    assert!(net.linked(&a, &b));
}

#[test]
fn restarted_peer_reoffer_replaces_link() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.run_for(Duration::from_secs(1));
    let crash = net.now;
    net.kill(&a);
    net.add("alice"); // Restarts with a fresh core; offers bob as soon as it is listed.
    net.run_until_meshed(Duration::from_secs(2));

    let bob = net.node(&b);
    assert_eq!(bob.count(disconnected_from(&a)), 1);
    assert_eq!(bob.count(connected_to(&a)), 2);
    assert_eq!(bob.count(|x| matches!(x, Action::AcceptOffer { .. })), 2);
    let replaced = bob.times(disconnected_from(&a))[0];
    assert!(
        replaced < crash + Duration::from_secs(1),
        "replaced only at {replaced:?}"
    );
}

#[test]
fn restarted_answerer_is_reoffered_after_link_timeout() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let crash = net.now;
    net.kill(&b);
    net.add("bob"); // Bob only answers, so alice must notice the dead link herself.
    net.run_until_meshed(Duration::from_secs(10));
    assert!(
        net.now <= crash + Duration::from_secs(7),
        "reconnected only at {:?}",
        net.now
    );
    assert_eq!(net.node(&a).count(connected_to(&b)), 2);
}

#[test]
fn answer_from_a_peer_we_did_not_offer_to_is_ignored() {
    let mut core = MeshCore::new(id("alice"), config_for("alice"));
    core.handle(Event::SignalingConnected, at(0));
    drain(&mut core);
    let sdp = SdpPayload {
        sdp: "v=0".into(),
        identity: None,
    };
    core.handle(relayed(SignalType::Answer, "carol", "alice", &sdp), at(1));
    assert_eq!(drain(&mut core), []);
    assert_eq!(core.link_state(&id("carol")), None);
}

#[test]
fn connect_request_offers_only_from_the_offerer() {
    let mut alice = MeshCore::new(id("alice"), config_for("alice"));
    let mut bob = MeshCore::new(id("bob"), config_for("bob"));
    for core in [&mut alice, &mut bob] {
        core.handle(Event::SignalingConnected, at(0));
        core.handle(
            from_registry(
                SignalType::PeerList,
                &PeerListPayload {
                    peers: vec![],
                    keys: Default::default(),
                    memory: None,
                },
            ),
            at(1),
        );
        drain(core);
    }
    alice.handle(Event::ConnectRequested { peer: id("bob") }, at(2));
    bob.handle(Event::ConnectRequested { peer: id("alice") }, at(2));
    let actions = drain(&mut alice);
    assert!(
        matches!(&actions[..], [Action::CreateOffer { peer, ice_restart: false, .. }] if *peer == id("bob"))
    );
    assert_eq!(drain(&mut bob), []);
}
