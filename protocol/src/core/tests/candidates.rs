//! Remote ICE candidates wait for the remote description, in order, within bounds.

use super::harness::*;
use crate::{
    core::{Action, Attempt, Event, MeshCore, SdpType},
    signaling::{PeerListPayload, SdpPayload, SignalType},
};

fn added(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::AddIceCandidate { candidate, .. } => Some(candidate.candidate.clone()),
            _ => None,
        })
        .collect()
}

fn core(name: &str) -> MeshCore {
    let mut core = MeshCore::new(id(name), config_for(name));
    core.handle(Event::SignalingConnected, at(0));
    drain(&mut core);
    core
}

/// Bob receives an offer from alice and returns the attempt of his answering connection.
fn accept_offer(bob: &mut MeshCore, now: u64) -> Attempt {
    let offer = SdpPayload {
        sdp: "offer".into(),
        identity: None,
    };
    bob.handle(relayed(SignalType::Offer, "alice", "bob", &offer), at(now));
    match &drain(bob)[..] {
        [Action::AcceptOffer { attempt, sdp, .. }] if sdp == "offer" => *attempt,
        other => panic!("expected one AcceptOffer, got {other:?}"),
    }
}

/// Alice (the smaller id) has offered to bob and sent her offer; returns her and the attempt.
fn offering_alice() -> (MeshCore, Attempt) {
    let mut alice = core("alice");
    let list = PeerListPayload {
        peers: vec![id("bob")],
        keys: Default::default(),
        memory: None,
    };
    alice.handle(from_registry(SignalType::PeerList, &list), at(1));
    let attempt = match &drain(&mut alice)[..] {
        [Action::CreateOffer { attempt, .. }] => *attempt,
        other => panic!("expected one CreateOffer, got {other:?}"),
    };
    let sdp_type = SdpType::Offer;
    alice.handle(
        Event::LocalDescription {
            peer: id("bob"),
            attempt,
            sdp_type,
            sdp: "o".into(),
        },
        at(2),
    );
    assert!(
        matches!(&drain(&mut alice)[..], [Action::SendSignal(f)] if f.kind == SignalType::Offer)
    );

    (alice, attempt)
}

/// Bob's answer (`sdp: "a"`) reaches alice.
fn answer_from_bob(alice: &mut MeshCore, now: u64) {
    let answer = SdpPayload {
        sdp: "a".into(),
        identity: None,
    };
    alice.handle(
        relayed(SignalType::Answer, "bob", "alice", &answer),
        at(now),
    );
}

#[test]
fn ice_candidates_before_offer_are_buffered() {
    let mut bob = core("bob");
    for i in 0..3 {
        bob.handle(
            relayed(
                SignalType::IceCandidate,
                "alice",
                "bob",
                &candidate(&format!("c{i}")),
            ),
            at(1),
        );
    }
    assert_eq!(drain(&mut bob), [], "nothing to add them to yet");
    let attempt = accept_offer(&mut bob, 2);
    bob.handle(
        relayed(SignalType::IceCandidate, "alice", "bob", &candidate("c3")),
        at(3),
    );
    assert_eq!(drain(&mut bob), [], "the offer is not applied yet");

    bob.handle(
        Event::RemoteDescriptionApplied {
            peer: id("alice"),
            attempt,
        },
        at(4),
    );
    assert_eq!(added(&drain(&mut bob)), ["c0", "c1", "c2", "c3"]);
    bob.handle(
        relayed(SignalType::IceCandidate, "alice", "bob", &candidate("c4")),
        at(5),
    );
    assert_eq!(
        added(&drain(&mut bob)),
        ["c4"],
        "later candidates pass straight through"
    );
}

#[test]
fn ice_candidates_before_answer_are_buffered() {
    let (mut alice, attempt) = offering_alice();
    for i in 0..2 {
        alice.handle(
            relayed(
                SignalType::IceCandidate,
                "bob",
                "alice",
                &candidate(&format!("c{i}")),
            ),
            at(3),
        );
    }
    assert_eq!(drain(&mut alice), []);
    answer_from_bob(&mut alice, 4);
    assert!(matches!(&drain(&mut alice)[..], [Action::ApplyAnswer { sdp, .. }] if sdp == "a"));
    alice.handle(
        relayed(SignalType::IceCandidate, "bob", "alice", &candidate("c2")),
        at(5),
    );
    assert_eq!(drain(&mut alice), [], "the answer is not applied yet");

    alice.handle(
        Event::RemoteDescriptionApplied {
            peer: id("bob"),
            attempt,
        },
        at(6),
    );
    assert_eq!(added(&drain(&mut alice)), ["c0", "c1", "c2"]);
}

#[test]
fn buffered_candidates_are_bounded() {
    let mut bob = core("bob");
    for i in 0..100 {
        bob.handle(
            relayed(
                SignalType::IceCandidate,
                "alice",
                "bob",
                &candidate(&format!("c{i}")),
            ),
            at(1),
        );
    }
    let attempt = accept_offer(&mut bob, 2);
    bob.handle(
        Event::RemoteDescriptionApplied {
            peer: id("alice"),
            attempt,
        },
        at(3),
    );
    let added = added(&drain(&mut bob));
    assert_eq!(added.len(), 64);
    assert_eq!(
        added.first().map(String::as_str),
        Some("c0"),
        "the earliest candidates are kept"
    );
}

#[test]
fn candidates_without_an_offer_are_dropped_after_handshake_timeout() {
    let mut bob = core("bob");
    bob.handle(
        relayed(SignalType::IceCandidate, "alice", "bob", &candidate("c0")),
        at(1_000),
    );
    assert_eq!(bob.next_timeout(), Some(at(11_000)));
    bob.handle_timeout(at(11_000));
    assert_eq!(bob.next_timeout(), None, "nothing left to wait for");

    let attempt = accept_offer(&mut bob, 11_001);
    bob.handle(
        Event::RemoteDescriptionApplied {
            peer: id("alice"),
            attempt,
        },
        at(11_002),
    );
    assert_eq!(added(&drain(&mut bob)), Vec::<String>::new());
}

/// Candidates signaled by this side, in order.
fn signaled(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendSignal(f) if f.kind == SignalType::IceCandidate => {
                let c: crate::signaling::IceCandidatePayload =
                    serde_json::from_value(f.payload.clone()).ok()?;
                Some(c.candidate)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_offerer_holds_its_candidates_until_the_answer_is_applied() {
    let (mut alice, attempt) = offering_alice();
    let local = |alice: &mut MeshCore, line: &str, now: u64| {
        alice.handle(
            Event::LocalCandidate {
                peer: id("bob"),
                attempt,
                candidate: candidate(line),
            },
            at(now),
        );
        drain(alice)
    };
    assert_eq!(signaled(&local(&mut alice, "a0", 3)), Vec::<String>::new());
    answer_from_bob(&mut alice, 4);
    drain(&mut alice);
    assert_eq!(
        signaled(&local(&mut alice, "a1", 5)),
        Vec::<String>::new(),
        "the answer is received but not applied: bob could not answer a check yet"
    );
    alice.handle(
        Event::RemoteDescriptionApplied {
            peer: id("bob"),
            attempt,
        },
        at(6),
    );
    assert_eq!(signaled(&drain(&mut alice)), ["a0", "a1"]);
    assert_eq!(
        signaled(&local(&mut alice, "a2", 7)),
        ["a2"],
        "later candidates go at once"
    );
}

#[test]
fn the_answerer_sends_its_candidates_at_once() {
    let mut bob = core("bob");
    let attempt = accept_offer(&mut bob, 1);
    bob.handle(
        Event::LocalCandidate {
            peer: id("alice"),
            attempt,
            candidate: candidate("b0"),
        },
        at(2),
    );
    assert_eq!(signaled(&drain(&mut bob)), ["b0"]);
}

#[test]
fn held_candidates_past_the_bound_go_at_once() {
    let (mut alice, attempt) = offering_alice();
    let mut sent = Vec::new();
    for i in 0..70 {
        alice.handle(
            Event::LocalCandidate {
                peer: id("bob"),
                attempt,
                candidate: candidate(&format!("a{i}")),
            },
            at(3),
        );
        sent.extend(signaled(&drain(&mut alice)));
    }
    assert_eq!(sent.len(), 70 - 64, "the first 64 wait for the answer");
    assert_eq!(sent.first().map(String::as_str), Some("a64"));
    answer_from_bob(&mut alice, 4);
    drain(&mut alice);
    alice.handle(
        Event::RemoteDescriptionApplied {
            peer: id("bob"),
            attempt,
        },
        at(5),
    );
    assert_eq!(signaled(&drain(&mut alice)).len(), 64, "none is lost");
}

/// Whether alice's offer to bob says bob is a meshwork peer, given the registry's list.
fn offer_knows_meshwork(
    keys: std::collections::BTreeMap<crate::PeerId, crate::identity::PublicKey>,
) -> bool {
    let mut alice = core("alice");
    let list = PeerListPayload {
        peers: vec![id("bob")],
        keys,
        memory: None,
    };
    alice.handle(from_registry(SignalType::PeerList, &list), at(1));
    match &drain(&mut alice)[..] {
        [Action::CreateOffer { meshwork_peer, .. }] => *meshwork_peer,
        other => panic!("expected one CreateOffer, got {other:?}"),
    }
}

#[test]
fn an_offer_says_whether_the_peer_is_known_to_run_meshwork() {
    assert!(
        !offer_knows_meshwork(Default::default()),
        "no identity key on record: maybe an upstream peer"
    );
    let key = identity_of("bob").public();
    assert!(offer_knows_meshwork(std::collections::BTreeMap::from([(
        id("bob"),
        key
    )])));
}
