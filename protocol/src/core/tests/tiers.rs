//! The tiers an application message can take: the pair's channel while it is open, the
//! registry when there is none, and a clear refusal when neither can carry it.

use super::harness::*;
use crate::{
    core::{Action, Event, MeshCore, Route, RouteError},
    mesh_message::{MeshMessage, MeshMessageType},
    signaling::{ErrorPayload, PeerListPayload, SignalErrorCode, SignalType},
};
use serde_json::json;
use std::time::Duration;

fn request(request_id: &str) -> MeshMessage {
    MeshMessage::new(
        MeshMessageType::TaskRequest,
        request_id,
        json!({"skill": "echo", "message": "hi"}),
    )
}

fn response(request_id: &str) -> MeshMessage {
    MeshMessage::new(
        MeshMessageType::TaskResponse,
        request_id,
        json!({"result": "hi", "error": ""}),
    )
}

/// alice and bob are registered but their ICE never connects.
fn unlinked_pair() -> Net {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    net.blocked_ice.insert((a.clone(), b.clone()));
    net.add("alice");
    net.add("bob");
    net.run_for(Duration::from_secs(1));
    assert!(!net.linked(&a, &b));
    net
}

#[test]
fn messages_take_the_open_channel() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    assert_eq!(net.send_routed(&a, &b, request("r1")), Ok(Route::Channel));
    net.run_for(Duration::from_millis(10));
    assert_eq!(
        net.node(&b).delivered_via(),
        [(a, "r1".to_owned(), Route::Channel)]
    );
}

#[test]
fn a_pair_without_a_channel_exchanges_requests_through_the_registry() {
    let mut net = unlinked_pair();
    let (a, b) = (id("alice"), id("bob"));
    net.inject(
        &a,
        Event::RequestSent {
            request_id: "r1".into(),
            peer: b.clone(),
            timeout: Duration::from_secs(5),
        },
    );
    assert_eq!(net.send_routed(&a, &b, request("r1")), Ok(Route::Registry));
    net.run_for(Duration::from_millis(20));
    assert_eq!(
        net.node(&b).delivered_via(),
        [(a.clone(), "r1".to_owned(), Route::Registry)]
    );

    assert_eq!(net.send_routed(&b, &a, response("r1")), Ok(Route::Registry));
    net.run_for(Duration::from_millis(20));
    assert_eq!(
        net.node(&a).delivered_via(),
        [(b.clone(), "r1".to_owned(), Route::Registry)]
    );
    let rtt = net.node(&a).delivered()[0].2;
    assert_eq!(
        rtt,
        Some(20 + SIGNAL_DELAY),
        "bob answered at 20 ms; one registry hop back"
    );
    assert!(
        !net.linked(&a, &b),
        "registry traffic does not pretend to be a link"
    );
}

#[test]
fn a_channel_that_dies_hands_over_to_the_registry() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.blocked_data.insert((a.clone(), b.clone()));
    net.blocked_data.insert((b.clone(), a.clone()));
    net.blocked_ice.insert((a.clone(), b.clone()));
    let done = net.run_until(at(30_000), |n| {
        n.node(&id("alice")).count(disconnected_from(&id("bob"))) > 0
    });
    assert!(done, "alice noticed the dead channel");
    assert_eq!(net.send_routed(&a, &b, request("r2")), Ok(Route::Registry));
    net.run_for(Duration::from_millis(20));
    assert!(net
        .node(&b)
        .delivered_via()
        .contains(&(a, "r2".to_owned(), Route::Registry)));
}

#[test]
fn registry_messages_do_not_keep_a_dead_channel_alive() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.blocked_data.insert((a.clone(), b.clone()));
    net.blocked_data.insert((b.clone(), a.clone()));
    net.blocked_ice.insert((a.clone(), b.clone()));
    let start = net.now;
    let mut n = 0;
    // A registry message from bob every 500 ms for 10 s: the channel still times out.
    while net.now.saturating_since(start) < Duration::from_secs(10) {
        let frame = crate::signaling::SignalMessage::new(
            SignalType::MeshMessage,
            b.clone(),
            Some(a.clone()),
            &request(&format!("k{n}")),
        );
        net.inject(&a, Event::SignalReceived(frame));
        n += 1;
        net.run_for(Duration::from_millis(500));
    }
    assert_eq!(net.node(&a).count(disconnected_from(&b)), 1);
}

#[test]
fn unknown_peers_and_a_lost_registry_are_refused_clearly() {
    let mut net = unlinked_pair();
    let (a, b) = (id("alice"), id("bob"));
    assert_eq!(
        net.send_routed(&a, &id("carol"), request("r3")),
        Err(RouteError::UnknownPeer(id("carol")))
    );
    net.drop_signaling(&a, false);
    net.run_for(Duration::from_millis(50));
    assert_eq!(
        net.send_routed(&a, &b, request("r4")),
        Err(RouteError::Unreachable(b.clone()))
    );
}

#[test]
fn a_message_the_registry_refuses_is_reported_undeliverable() {
    let (a, b) = (id("alice"), id("bob"));
    let mut core = MeshCore::new(a.clone(), config_for("alice"));
    core.handle(Event::SignalingConnected, at(0));
    let list = PeerListPayload {
        peers: vec![b.clone()],
        keys: Default::default(),
        memory: None,
    };
    core.handle(from_registry(SignalType::PeerList, &list), at(1));
    drain(&mut core);
    assert_eq!(core.route(&b), Ok(Route::Registry));
    assert_eq!(core.send_via_registry(&b, &request("r5")), Ok(()));
    let sent = drain(&mut core);
    assert!(
        matches!(&sent[..], [Action::SendSignal(f)] if f.kind == SignalType::MeshMessage
            && f.target_id.as_ref() == Some(&b)
            && f.payload["request_id"] == "r5"),
        "{sent:?}"
    );
    let refusal = ErrorPayload {
        code: SignalErrorCode::UnknownTarget,
        message: "unknown target \"bob\"".into(),
        refused: Some(SignalType::MeshMessage),
        target_id: Some(b.clone()),
        request_id: Some("r5".into()),
    };
    core.handle(from_registry(SignalType::Error, &refusal), at(2));
    assert_eq!(
        drain(&mut core),
        [Action::Undeliverable {
            peer: b,
            request_id: Some("r5".into()),
            reason: "unknown target \"bob\"".into()
        }]
    );
}

#[test]
fn messages_too_large_for_one_signaling_frame_are_refused() {
    let mut net = unlinked_pair();
    let (a, b) = (id("alice"), id("bob"));
    let big = MeshMessage::new(
        MeshMessageType::TaskRequest,
        "big",
        json!({"blob": "x".repeat(70 * 1024)}),
    );
    assert!(matches!(
        net.send_routed(&a, &b, big),
        Err(RouteError::TooLarge { limit, .. }) if limit == 60 * 1024
    ));
}

#[test]
fn a_peer_with_the_registry_tier_off_never_sends_through_it() {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    net.blocked_ice.insert((a.clone(), b.clone()));
    let config = crate::core::Config {
        registry_tier: false,
        ..config_for("alice")
    };
    net.add_with("alice", config);
    net.add("bob");
    net.run_for(Duration::from_secs(1));
    assert_eq!(
        net.send_routed(&a, &b, request("r6")),
        Err(RouteError::Unreachable(b.clone()))
    );
    // Nor does it receive through it: alice registered without the tier, so the registry
    // refuses bob's message and bob's application hears which one.
    assert_eq!(net.send_routed(&b, &a, request("r7")), Ok(Route::Registry));
    net.run_for(Duration::from_millis(20));
    assert!(net.node(&a).delivered_via().is_empty());
    let undeliverable = net
        .node(&b)
        .log
        .iter()
        .any(|(_, x)| matches!(x, Action::Undeliverable { peer, request_id: Some(r), .. } if *peer == a && r == "r7"));
    assert!(undeliverable, "bob learns r7 was not delivered");
}
