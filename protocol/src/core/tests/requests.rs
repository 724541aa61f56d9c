//! Request timeouts, response correlation and pass-through of everything else.

use super::harness::*;
use crate::{
    core::Action,
    mesh_message::{MeshMessage, MeshMessageType},
};
use serde_json::json;
use std::time::Duration;

fn message(kind: MeshMessageType, request_id: &str) -> MeshMessage {
    MeshMessage::new(kind, request_id, json!({"skill": "echo"}))
}

fn timeouts(net: &Net, who: &str) -> Vec<Action> {
    let log = &net.node(&id(who)).log;
    log.iter()
        .filter(|(_, x)| matches!(x, Action::RequestTimedOut { .. }))
        .map(|(_, x)| x.clone())
        .collect()
}

#[test]
fn request_times_out() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.send_app(
        &a,
        &b,
        message(MeshMessageType::TaskRequest, "r1"),
        Some(Duration::from_secs(3)),
    );
    net.run_for(Duration::from_millis(2_999));
    assert_eq!(timeouts(&net, "alice"), []);
    net.run_for(Duration::from_millis(1));
    let expected = Action::RequestTimedOut {
        request_id: "r1".into(),
        peer: b.clone(),
    };
    assert_eq!(timeouts(&net, "alice"), [expected]);

    let late = message(MeshMessageType::TaskResponse, "r1");
    net.send_app(&b, &a, late.clone(), None);
    net.run_for(Duration::from_millis(10));
    assert_eq!(
        net.node(&a).delivered(),
        [(b, late, None)],
        "late responses still arrive"
    );
}

#[test]
fn response_resolves_request_with_rtt() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let request = message(MeshMessageType::TaskRequest, "r2");
    net.send_app(&a, &b, request.clone(), Some(Duration::from_secs(30)));
    net.run_for(Duration::from_millis(10));
    assert_eq!(net.node(&b).delivered(), [(a.clone(), request, None)]);

    let response = message(MeshMessageType::TaskResponse, "r2");
    net.send_app(&b, &a, response.clone(), None);
    net.run_for(Duration::from_secs(40));
    let rtt = 10 + DATA_DELAY; // Sent at t0, answered at t0 + 10 ms, one hop back.
    assert_eq!(net.node(&a).delivered(), [(b, response, Some(rtt))]);
    assert_eq!(
        timeouts(&net, "alice"),
        [],
        "a resolved request never times out"
    );
}

#[test]
fn response_from_another_peer_does_not_resolve_request() {
    let mut net = Net::meshed(&["alice", "bob", "carol"]);
    let (a, b, c) = (id("alice"), id("bob"), id("carol"));
    net.send_app(
        &a,
        &b,
        message(MeshMessageType::SkillQuery, "r3"),
        Some(Duration::from_secs(1)),
    );
    let forged = message(MeshMessageType::SkillResponse, "r3");
    net.send_app(&c, &a, forged.clone(), None);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.node(&a).delivered(), [(c, forged, None)]);
    assert_eq!(timeouts(&net, "alice").len(), 1);
}

#[test]
fn unknown_message_types_are_delivered() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let text = r#"{"type":"weird_thing","request_id":"x","payload":{"k":1},"trace":"t-1"}"#;
    let weird = MeshMessage::parse(text).expect("valid JSON");
    assert_eq!(weird.kind, MeshMessageType::Other("weird_thing".into()));
    net.send_app(&a, &b, weird.clone(), None);
    net.run_for(Duration::from_millis(10));
    let delivered = net.node(&b).delivered();
    assert_eq!(delivered, [(a, weird, None)]);
    assert_eq!(
        delivered[0].1.extra["trace"], "t-1",
        "unknown fields survive too"
    );
}
