//! Link failure, the disconnected grace period, silence detection and keepalives.

use super::harness::*;
use crate::{
    core::{Action, ConnectionState, Event},
    mesh_message::{MeshMessage, MeshMessageType},
};
use serde_json::json;
use std::time::Duration;

fn state(net: &Net, who: &str, peer: &str, state: ConnectionState) -> Event {
    let attempt = net.node(&id(who)).pcs[&id(peer)].attempt;
    Event::ConnectionStateChanged {
        peer: id(peer),
        attempt,
        state,
    }
}

#[test]
fn failed_link_is_reoffered_by_offerer() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    // Twice: an open channel resets the backoff, so the second re-offer is as quick.
    for round in 1..=2 {
        let failed_at = net.now;
        let event = state(&net, "alice", "bob", ConnectionState::Failed);
        net.inject(&a, event);
        assert_eq!(net.node(&a).count(disconnected_from(&b)), round);
        net.run_until_meshed(Duration::from_secs(2));

        let offers = net.node(&a).times(offer_to(&b));
        assert_eq!(offers.len(), round + 1);
        let delay = offers[round].as_millis() - failed_at.as_millis();
        assert!(
            (250..=500).contains(&delay),
            "round {round}: re-offered after {delay} ms"
        );
    }
    assert_eq!(
        net.node(&b)
            .count(|x| matches!(x, Action::CreateOffer { .. })),
        0
    );
    assert_eq!(
        net.node(&b).count(disconnected_from(&a)),
        2,
        "the close reached bob"
    );
    assert_eq!(net.node(&b).count(connected_to(&a)), 3);
}

#[test]
fn failed_link_answerer_waits_for_the_offer() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let event = state(&net, "bob", "alice", ConnectionState::Failed);
    net.inject(&b, event);
    assert_eq!(
        net.node(&b).mesh.core.link_state(&a),
        None,
        "the answerer does not retry itself"
    );
    net.run_until_meshed(Duration::from_secs(2));
    assert_eq!(
        net.node(&b)
            .count(|x| matches!(x, Action::CreateOffer { .. })),
        0
    );
    assert_eq!(net.node(&a).count(offer_to(&b)), 2);
}

#[test]
fn disconnected_grace_then_failure() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let t0 = net.now;
    let event = state(&net, "alice", "bob", ConnectionState::Disconnected);
    net.inject(&a, event);
    net.run_until(t0 + Duration::from_millis(3_999), |_| false);
    assert_eq!(
        net.node(&a).count(disconnected_from(&b)),
        0,
        "failed before the grace ended"
    );
    net.run_until(t0 + Duration::from_secs(4), |_| false);
    assert_eq!(
        net.node(&a).times(disconnected_from(&b)),
        [t0 + Duration::from_secs(4)]
    );
    net.run_until_meshed(Duration::from_secs(2));
}

#[test]
fn disconnected_recovers_within_grace() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let event = state(&net, "alice", "bob", ConnectionState::Disconnected);
    net.inject(&a, event);
    net.run_for(Duration::from_secs(3));
    let event = state(&net, "alice", "bob", ConnectionState::Connected);
    net.inject(&a, event);
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.node(&a).count(disconnected_from(&b)), 0);
    assert!(net.linked(&a, &b));
}

#[test]
fn silent_peer_declared_failed_after_link_timeout() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.run_for(Duration::from_millis(3_100));
    let killed = net.now;
    net.kill(&b); // No close, no ICE failure: only silence.
    net.run_for(Duration::from_secs(30));

    let noticed = net.node(&a).times(disconnected_from(&b));
    assert_eq!(noticed.len(), 1);
    let after = noticed[0].as_millis() - killed.as_millis();
    assert!((4_000..=6_000).contains(&after), "noticed after {after} ms");
    assert_eq!(
        net.node(&a).count(offer_to(&b)),
        1,
        "bob left the registry: no re-offer"
    );
}

#[test]
fn keepalives_are_not_delivered_to_app() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.run_for(Duration::from_secs(10));
    for (x, y) in [(&a, &b), (&b, &a)] {
        let keepalives = net
            .node(x)
            .count(|z| matches!(z, Action::SendKeepalive { .. }));
        assert!(keepalives >= 8, "{x} sent {keepalives} keepalives");
        assert_eq!(net.node(x).delivered(), []);
        assert_eq!(net.node(x).mesh.core.rtt_ms(y), Some(2 * DATA_DELAY));
    }

    let app_ping = MeshMessage::new(MeshMessageType::Ping, "app-1", json!({}));
    net.send_app(&a, &b, app_ping.clone(), None);
    net.run_for(Duration::from_millis(10));
    assert_eq!(
        net.node(&b).delivered(),
        [(a.clone(), app_ping, None)],
        "app pings pass"
    );
}
