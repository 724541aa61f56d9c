//! The data path the core owns for both shells: stale attempts, chunks, bad input, write
//! failures, path reads, TURN credentials, dropped signaling frames.

use super::harness::*;
use crate::{
    core::{Action, AppEvent, Attempt, Event, Incoming, Purpose, Tier},
    framing,
    mesh_message::{MeshMessage, MeshMessageType},
    rest::IceServer,
    signaling::{CandidateType, LinkReportPayload, SignalMessage, SignalType},
    turn::expiry::EXPIRED_TEXT,
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

fn errors(net: &Net, who: &str) -> Vec<String> {
    net.node(&id(who))
        .app
        .iter()
        .filter_map(|e| match e {
            AppEvent::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn attempt(net: &Net, who: &str, peer: &str) -> Attempt {
    net.node(&id(who)).pcs[&id(peer)].attempt
}

#[test]
fn data_of_a_replaced_attempt_is_dropped_silently() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let old = attempt(&net, "bob", "alice");
    // alice offers again (as a restarted peer would): bob replaces the link.
    net.force_offer(&a, &b);
    net.run_until(at(net.now.as_millis() + 2_000), |n| {
        n.linked(&a, &b) && n.node(&b).pcs[&a].attempt != old
    });
    assert_ne!(attempt(&net, "bob", "alice"), old, "the link was replaced");
    let late_text = Event::Data {
        peer: a.clone(),
        attempt: old,
        data: Incoming::Text(request("old").to_json()),
    };
    net.inject(&b, late_text);
    let big = request(&"x".repeat(2 * framing::MAX_FRAME)).to_json();
    for frame in framing::encode(big, 9) {
        let framing::Frame::Chunk(bytes) = frame else {
            panic!("a large message is chunked");
        };
        let late_chunk = Event::Data {
            peer: a.clone(),
            attempt: old,
            data: Incoming::Binary(bytes),
        };
        net.inject(&b, late_chunk);
    }
    assert!(net.node(&b).delivered().is_empty());
    assert!(errors(&net, "bob").is_empty());
    assert!(net.linked(&a, &b));
}

#[test]
fn silence_while_the_shell_pauses_reads_does_not_fail_a_link() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.inject(&b, Event::ReadsPaused(true));
    // Nothing from alice reaches bob's core meanwhile (its data waits in the shell).
    net.blocked_data.insert((a.clone(), b.clone()));
    net.run_for(Duration::from_secs(20));
    assert_eq!(
        net.node(&b).count(disconnected_from(&a)),
        0,
        "paused is not dead"
    );
    net.blocked_data.remove(&(a.clone(), b.clone()));
    net.inject(&b, Event::ReadsPaused(false));
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.node(&b).count(disconnected_from(&a)), 0);
    assert!(net.linked(&a, &b));
    // Unpaused silence still fails the link.
    net.blocked_data.insert((a.clone(), b.clone()));
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.node(&b).count(disconnected_from(&a)), 1);
}

#[test]
fn a_broadcast_copy_that_fails_later_is_reported_not_rerouted() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let current = attempt(&net, "alice", "bob");
    let event = Event::WriteFailed {
        peer: id("bob"),
        attempt: current,
        frames: framing::encode(request("all").to_json(), 3),
        purpose: Purpose::Broadcast,
        error: "channel closed".into(),
    };
    net.inject(&id("alice"), event);
    net.run_for(Duration::from_millis(50));
    assert!(
        net.node(&id("bob")).delivered().is_empty(),
        "not through the registry"
    );
    let errors = errors(&net, "alice");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("broadcast all") && errors[0].contains("bob"));
}

#[test]
fn a_message_no_peer_would_reassemble_is_refused_at_once() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let huge = MeshMessage::new(
        MeshMessageType::AgentPrompt,
        "huge",
        json!({ "message": "x".repeat(framing::MAX_MESSAGE) }),
    );
    let refused = net.send_routed(&id("alice"), &id("bob"), huge);
    assert!(
        matches!(
            refused,
            Err(crate::core::RouteError::MessageTooLarge { .. })
        ),
        "{refused:?}"
    );
}

#[test]
fn a_message_that_is_not_a_mesh_message_is_reported_and_the_link_lives() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let current = attempt(&net, "bob", "alice");
    let event = Event::Data {
        peer: id("alice"),
        attempt: current,
        data: Incoming::Text("not json".into()),
    };
    net.inject(&id("bob"), event);
    let bad_chunk = Event::Data {
        peer: id("alice"),
        attempt: current,
        data: Incoming::Binary(vec![1, 2, 3]),
    };
    net.inject(&id("bob"), bad_chunk);
    let errors = errors(&net, "bob");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("alice") && errors[0].contains("not a MeshMessage"));
    assert!(errors[1].contains("chunk from alice"));
    net.run_for(Duration::from_secs(10));
    assert!(net.linked(&id("alice"), &id("bob")));
}

#[test]
fn a_large_message_is_chunked_and_arrives_whole() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let big = MeshMessage::new(
        MeshMessageType::AgentPrompt,
        "big",
        json!({ "message": "x".repeat(3 * framing::MAX_FRAME) }),
    );
    net.send_routed(&id("alice"), &id("bob"), big.clone())
        .expect("sent");
    net.run_for(Duration::from_millis(50));
    let delivered = net.node(&id("bob")).delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].1, big);
}

#[test]
fn a_write_that_fails_later_goes_through_the_registry() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let current = attempt(&net, "alice", "bob");
    let event = Event::WriteFailed {
        peer: id("bob"),
        attempt: current,
        frames: framing::encode(request("late").to_json(), 7),
        purpose: Purpose::Unicast,
        error: "channel closed".into(),
    };
    net.inject(&id("alice"), event);
    net.run_for(Duration::from_millis(50));
    let via = net.node(&id("bob")).delivered_via();
    assert_eq!(via.len(), 1);
    assert_eq!(via[0].1, "late");
    assert_eq!(via[0].2, crate::core::Route::Registry);
}

#[test]
fn a_failed_write_the_registry_cannot_carry_is_reported_to_the_sender() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let current = attempt(&net, "alice", "bob");
    let big = MeshMessage::new(
        MeshMessageType::AgentPrompt,
        "huge",
        json!({ "message": "x".repeat(2 * framing::MAX_FRAME) }),
    );
    let event = Event::WriteFailed {
        peer: id("bob"),
        attempt: current,
        frames: framing::encode(big.to_json(), 8),
        purpose: Purpose::Unicast,
        error: "channel closed".into(),
    };
    net.inject(&id("alice"), event);
    let errors = errors(&net, "alice");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("huge") && errors[0].contains("channel closed"));
}

#[test]
fn path_reads_follow_one_schedule_and_a_new_path_type_is_reported() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let opened = net.node(&a).times(connected_to(&b))[0];
    net.run_for(Duration::from_secs(25));
    let probes: Vec<u64> = net
        .node(&a)
        .times(|x| matches!(x, Action::ProbePath { peer, .. } if *peer == b))
        .iter()
        .map(|t| t.as_millis() - opened.as_millis())
        .collect();
    assert_eq!(probes[..6], [0, 100, 600, 2600, 12600, 22600]);

    let current = attempt(&net, "alice", "bob");
    let observed = Event::PathObserved {
        peer: b.clone(),
        attempt: current,
        candidate_type: Some(CandidateType::Relay),
        rtt_ms: Some(0.25),
    };
    net.inject(&a, observed);
    let reports: Vec<LinkReportPayload> = net
        .node(&a)
        .log
        .iter()
        .filter_map(|(_, x)| match x {
            Action::SendSignal(f) if f.kind == SignalType::LinkReport => f.payload_as().ok(),
            _ => None,
        })
        .collect();
    let last = reports.last().expect("a report");
    assert_eq!(last.links[0].candidate_type, Some(CandidateType::Relay));
    assert_eq!(last.links[0].rtt_ms, Some(0.25));
    let node = net.nodes.get_mut(&a).expect("alice");
    let now = node.now;
    assert_eq!(node.mesh.send(&b, &request("r"), now), Ok(Tier::Relay));
}

fn turn(expires: u64) -> IceServer {
    IceServer {
        urls: vec!["turn:127.0.0.1:3478".into()],
        username: Some(format!("{expires}:alice")),
        credential: Some("c".into()),
    }
}

#[test]
fn turn_credentials_are_renewed_halfway_to_expiry_and_retried_after_a_failure() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let a = id("alice");
    let given = net.now;
    let servers = vec![turn(1_000 + 100)];
    net.inject(
        &a,
        Event::IceServers {
            servers,
            unix_now: 1_000,
        },
    );
    net.run_for(Duration::from_secs(60));
    let fetches = net.node(&a).times(|x| matches!(x, Action::FetchIceServers));
    assert_eq!(fetches, [given + Duration::from_secs(50)]);
    let error = "registry unreachable".to_owned();
    net.inject(&a, Event::IceServersFailed { error });
    let failed = net.now;
    net.run_for(Duration::from_secs(6));
    let fetches = net.node(&a).times(|x| matches!(x, Action::FetchIceServers));
    assert_eq!(fetches.len(), 2);
    assert_eq!(fetches[1], failed + Duration::from_secs(5));
}

#[test]
fn an_expired_turn_credential_is_never_handed_to_ice() {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    net.add("alice");
    let servers = vec![
        turn(999),
        IceServer {
            urls: vec!["stun:127.0.0.1:3478".into()],
            username: None,
            credential: None,
        },
    ];
    net.inject(
        &a,
        Event::IceServers {
            servers,
            unix_now: 1_000,
        },
    );
    net.add("bob");
    net.run_until_meshed(Duration::from_secs(5));
    let offered: Vec<Vec<IceServer>> = net
        .node(&a)
        .log
        .iter()
        .filter_map(|(_, x)| match x {
            Action::CreateOffer {
                peer, ice_servers, ..
            } if *peer == b => Some(ice_servers.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(offered.len(), 1);
    assert_eq!(
        offered[0].len(),
        1,
        "only the STUN server: {:?}",
        offered[0]
    );
    assert!(errors(&net, "alice").iter().any(|e| e == EXPIRED_TEXT));
    assert_eq!(
        net.node(&a).count(|x| matches!(x, Action::FetchIceServers)),
        1
    );
}

#[test]
fn a_registry_tier_message_the_shell_could_not_send_is_reported() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let frame = SignalMessage::new(
        SignalType::MeshMessage,
        id("alice"),
        Some(id("bob")),
        &request("r5"),
    );
    net.inject(&id("alice"), Event::SignalDropped(frame));
    let errors = errors(&net, "alice");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("r5") && errors[0].contains("bob"));
}

#[test]
fn a_broadcast_takes_open_channels_only() {
    let mut net = Net::new();
    let (a, b, c) = (id("alice"), id("bob"), id("carol"));
    net.blocked_ice.insert((a.clone(), c.clone()));
    for n in ["alice", "bob", "carol"] {
        net.add(n);
    }
    assert!(net.run_until(at(5_000), |n| n.linked(&a, &b) && n.linked(&b, &c)));
    assert_eq!(net.broadcast(&a, request("all")), 1);
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.node(&b).delivered().len(), 1);
    assert!(
        net.node(&c).delivered().is_empty(),
        "no registry tier for broadcasts"
    );
}
