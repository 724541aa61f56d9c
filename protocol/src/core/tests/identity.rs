//! Identity (ADR 0015): links between keyed peers are bound to their keys, a registry in the
//! middle is caught, and the registry tier carries only ciphertext between keyed peers.

use super::harness::*;
use crate::{
    core::{Action, AppEvent, Config, Event, MeshCore, Route, RouteError},
    mesh_message::{MeshMessage, MeshMessageType},
    signaling::{PeerListPayload, SdpPayload, SignalType},
};
use serde_json::json;
use std::{collections::BTreeMap, time::Duration};

fn keyed(net: &mut Net, name: &str) -> crate::ids::PeerId {
    net.add_with(name, keyed_config(name))
}

fn verified_connection(net: &Net, of: &str, to: &str) -> Option<bool> {
    net.node(&id(of))
        .log
        .iter()
        .rev()
        .find_map(|(_, a)| match a {
            Action::PeerConnected { peer, verified } if *peer == id(to) => Some(*verified),
            _ => None,
        })
}

fn identity_errors(net: &Net, of: &str) -> Vec<String> {
    net.node(&id(of))
        .app
        .iter()
        .filter_map(|e| match e {
            AppEvent::Error { message, .. } if message.contains("identity check failed") => {
                Some(message.clone())
            }
            _ => None,
        })
        .collect()
}

fn note(text: &str) -> MeshMessage {
    MeshMessage::new(MeshMessageType::AgentPrompt, "m1", json!({"text": text}))
}

#[test]
fn keyed_peers_connect_verified_both_ways() {
    let mut net = Net::new();
    keyed(&mut net, "alice");
    keyed(&mut net, "bob");
    net.run_until_meshed(Duration::from_secs(5));
    assert_eq!(verified_connection(&net, "alice", "bob"), Some(true));
    assert_eq!(verified_connection(&net, "bob", "alice"), Some(true));
}

#[test]
fn first_verified_contact_pins_the_key() {
    let mut net = Net::new();
    keyed(&mut net, "alice");
    keyed(&mut net, "bob");
    net.run_until_meshed(Duration::from_secs(5));
    let pinned = |of: &str, peer: &str| {
        net.node(&id(of)).count(|a| {
            matches!(a, Action::RememberKey { peer: p, key }
                if *p == id(peer) && *key == identity_of(peer).public())
        })
    };
    assert_eq!(pinned("alice", "bob"), 1);
    assert_eq!(pinned("bob", "alice"), 1);
}

#[test]
fn a_rewritten_fingerprint_refuses_the_link_and_the_registry_tier() {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    net.rewrite_fingerprint_from.insert(a.clone());
    keyed(&mut net, "alice");
    keyed(&mut net, "bob");
    net.run_for(Duration::from_secs(3));
    assert!(!net.linked(&a, &b));
    assert_eq!(net.node(&b).count(connected_to(&a)), 0);
    let errors = identity_errors(&net, "bob");
    assert!(!errors.is_empty(), "bob was not told");
    assert!(errors[0].contains("alice") && errors[0].contains("DTLS fingerprint"));
    assert_eq!(
        net.send_routed(&b, &a, note("hi")),
        Err(RouteError::IdentityRefused(a.clone()))
    );
}

#[test]
fn a_rewritten_answer_is_refused_by_the_offerer() {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    net.rewrite_fingerprint_from.insert(b.clone());
    keyed(&mut net, "alice");
    keyed(&mut net, "bob");
    net.run_for(Duration::from_secs(3));
    assert!(!net.linked(&a, &b));
    let errors = identity_errors(&net, "alice");
    assert!(errors
        .iter()
        .any(|e| e.contains("bob") && e.contains("answer")));
    assert_eq!(
        net.send_routed(&a, &b, note("hi")),
        Err(RouteError::IdentityRefused(b))
    );
}

#[test]
fn a_peer_without_a_key_connects_unverified() {
    let mut net = Net::new();
    keyed(&mut net, "alice");
    net.add("bob");
    net.run_until_meshed(Duration::from_secs(5));
    assert_eq!(verified_connection(&net, "alice", "bob"), Some(false));
    // bob has no key of his own, but alice's signed offer still proves her to him.
    assert_eq!(verified_connection(&net, "bob", "alice"), Some(true));
    assert!(identity_errors(&net, "alice").is_empty());
}

#[test]
fn registry_tier_messages_between_keyed_peers_are_sealed() {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    net.blocked_ice.insert((a.clone(), b.clone()));
    keyed(&mut net, "alice");
    keyed(&mut net, "bob");
    net.run_for(Duration::from_secs(1));
    let marker = "MARKER-7f3a";
    assert_eq!(net.send_routed(&a, &b, note(marker)), Ok(Route::Registry));
    net.run_for(Duration::from_millis(50));
    let delivered: Vec<_> = net
        .node(&b)
        .app
        .iter()
        .filter_map(|e| match e {
            AppEvent::Message {
                message, verified, ..
            } => Some((message.payload.to_value()["text"].clone(), *verified)),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [(json!(marker), true)]);
    assert!(!net.relayed_mesh_messages.is_empty());
    for frame in &net.relayed_mesh_messages {
        assert!(!frame.contains(marker), "plaintext relayed: {frame}");
        assert!(frame.contains("sealed"));
    }
}

#[test]
fn registry_tier_messages_to_an_unkeyed_peer_are_plain_and_unverified() {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    net.blocked_ice.insert((a.clone(), b.clone()));
    keyed(&mut net, "alice");
    net.add("bob");
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.send_routed(&a, &b, note("plain")), Ok(Route::Registry));
    net.run_for(Duration::from_millis(50));
    assert!(net.relayed_mesh_messages[0].contains("plain"));
    assert!(net.node(&b).app.iter().any(|e| matches!(
        e,
        AppEvent::Message {
            verified: false,
            ..
        }
    )));
}

/// bob pinned alice's real key earlier; now the registry announces another one for alice.
#[test]
fn a_pinned_key_catches_a_substituted_key() {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    let impostor = Config {
        identity: Some(identity_of("mallory")),
        ..keyed_config("alice")
    };
    net.add_with("alice", impostor);
    let bob = Config {
        known_keys: BTreeMap::from([(a.clone(), identity_of("alice").public())]),
        ..keyed_config("bob")
    };
    net.add_with("bob", bob);
    net.run_for(Duration::from_secs(3));
    assert!(!net.linked(&a, &b));
    let errors = identity_errors(&net, "bob");
    assert!(errors.iter().any(|e| e.contains("pinned")), "{errors:?}");
}

/// One core by hand: bob knows alice's key from the registry.
fn bob_knowing_alice() -> MeshCore {
    let mut bob = MeshCore::new(id("bob"), keyed_config("bob"));
    bob.handle(Event::SignalingConnected, at(0));
    let list = PeerListPayload {
        peers: vec![id("alice")],
        keys: BTreeMap::from([(id("alice"), identity_of("alice").public())]),
        memory: None,
    };
    bob.handle(from_registry(SignalType::PeerList, &list), at(1));
    drain(&mut bob);
    bob
}

fn problems(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Problem { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_unsigned_offer_from_a_keyed_peer_is_refused() {
    let mut bob = bob_knowing_alice();
    let offer = SdpPayload {
        sdp: format!("v=0\r\n{}", fingerprint_line(&id("alice"))),
        identity: None,
    };
    bob.handle(relayed(SignalType::Offer, "alice", "bob", &offer), at(2));
    let actions = drain(&mut bob);
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::AcceptOffer { .. })));
    assert!(problems(&actions)[0].contains("not signed"));
}

#[test]
fn a_replayed_offer_is_refused() {
    let mut bob = bob_knowing_alice();
    let sdp = format!("v=0\r\n{}", fingerprint_line(&id("alice")));
    let proof = crate::identity::LinkProof::sign(
        &identity_of("alice"),
        crate::identity::LinkRole::Offer,
        &id("alice"),
        &id("bob"),
        &sdp,
        "00ff".into(),
        None,
    );
    let offer = SdpPayload {
        sdp,
        identity: Some(proof),
    };
    bob.handle(relayed(SignalType::Offer, "alice", "bob", &offer), at(2));
    assert!(drain(&mut bob)
        .iter()
        .any(|a| matches!(a, Action::AcceptOffer { .. })));
    bob.handle(relayed(SignalType::Offer, "alice", "bob", &offer), at(3));
    let actions = drain(&mut bob);
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::AcceptOffer { .. })));
    assert!(problems(&actions)[0].contains("replayed"));
}

#[test]
fn a_forged_offer_does_not_cut_an_open_verified_link() {
    let mut net = Net::new();
    let (a, b) = (id("alice"), id("bob"));
    keyed(&mut net, "alice");
    keyed(&mut net, "bob");
    net.run_until_meshed(Duration::from_secs(5));
    let forged = SdpPayload {
        sdp: "v=0\r\na=fingerprint:sha-256 66:66".into(),
        identity: None,
    };
    net.inject(&b, relayed(SignalType::Offer, "alice", "bob", &forged));
    net.run_for(Duration::from_millis(100));
    assert!(net.linked(&a, &b));
    assert_eq!(net.node(&b).count(disconnected_from(&a)), 0);
}
