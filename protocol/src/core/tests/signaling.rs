//! Signaling loss, reconnect backoff, registry notices and link reports.

use super::harness::*;
use crate::{
    core::{Action, BackoffConfig, Config, Event, MeshCore, Time},
    signaling::{ErrorPayload, SignalErrorCode, SignalType},
};
use std::time::Duration;

/// Fails `n` connect attempts in a row; returns the delays chosen and the time reached.
fn fail_connects(core: &mut MeshCore, mut now: Time, n: u32) -> (Vec<u64>, Time) {
    let mut delays = Vec::new();
    for _ in 0..n {
        core.handle(Event::SignalingDisconnected, now);
        let next = core.next_timeout().expect("a reconnect is scheduled");
        delays.push(next.as_millis() - now.as_millis());
        core.handle_timeout(Time::from_millis(next.as_millis() - 1));
        assert_eq!(drain(core), [], "reconnected early");
        core.handle_timeout(next);
        assert_eq!(drain(core), [Action::ConnectSignaling]);
        now = next;
    }
    (delays, now)
}

#[test]
fn signaling_reconnect_backs_off_exponentially_with_jitter() {
    let backoff = BackoffConfig::default();
    assert_eq!(
        backoff.ceiling(11),
        backoff.cap,
        "late attempts hit the cap"
    );
    let mut sequences = Vec::new();
    for seed in 0..20 {
        let mut core = MeshCore::new(
            id("alice"),
            Config {
                rng_seed: seed,
                ..Config::default()
            },
        );
        assert_eq!(drain(&mut core), [Action::ConnectSignaling]);
        let (delays, _) = fail_connects(&mut core, at(0), 12);
        for (k, delay) in delays.iter().enumerate() {
            let ceiling = backoff.ceiling(k as u32).as_millis() as u64;
            assert!(
                (ceiling / 2..=ceiling).contains(delay),
                "seed {seed} attempt {k}: {delay} ms outside [{}, {ceiling}]",
                ceiling / 2
            );
        }
        sequences.push(delays);
    }
    sequences.sort();
    sequences.dedup();
    assert!(sequences.len() > 15, "jitter differs between seeds");
}

#[test]
fn backoff_resets_after_good_connection() {
    let mut core = MeshCore::new(id("alice"), config_for("alice"));
    drain(&mut core);
    let (_, now) = fail_connects(&mut core, at(0), 5);

    // Up for one second only: not a good connection, the backoff keeps growing.
    core.handle(Event::SignalingConnected, now);
    drain(&mut core);
    let (delays, now) = fail_connects(&mut core, now + Duration::from_secs(1), 1);
    assert!(
        delays[0] >= 8_000,
        "a short connection reset the backoff: {delays:?}"
    );

    // Up for ten seconds: the next delay is short again.
    core.handle(Event::SignalingConnected, now);
    drain(&mut core);
    let (delays, _) = fail_connects(&mut core, now + Duration::from_secs(10), 1);
    assert!(
        (250..=500).contains(&delays[0]),
        "backoff not reset: {delays:?}"
    );
}

#[test]
fn signaling_loss_keeps_open_channels() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.drop_signaling(&a, false);
    net.run_for(Duration::from_secs(30));
    assert!(
        net.node(&a)
            .count(|x| matches!(x, Action::ConnectSignaling))
            > 5,
        "kept retrying"
    );
    for (x, y) in [(&a, &b), (&b, &a)] {
        assert_eq!(net.node(x).count(close_of(y)), 0);
        assert_eq!(net.node(x).count(disconnected_from(y)), 0);
    }
    assert!(net.linked(&a, &b));

    if let Some(node) = net.nodes.get_mut(&a) {
        node.mesh.shell.registry_reachable = true;
    }
    net.run_for(Duration::from_secs(30));
    assert!(net.node(&a).mesh.core.is_signaling_connected());
    assert!(net.linked(&a, &b));
    assert_eq!(
        net.node(&a).offers_sent(),
        1,
        "no renegotiation after reconnect"
    );
    assert_eq!(
        net.link_reports[&a],
        std::slice::from_ref(&b),
        "links reported again after reconnect"
    );
}

#[test]
fn peer_left_disconnected_keeps_open_link() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    net.drop_signaling(&b, false);
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.node(&a).count(close_of(&b)), 0);
    assert!(net.linked(&a, &b));
}

#[test]
fn peer_left_disconnected_closes_handshaking_link() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice"), net.add("bob"));
    net.blocked_relay.insert((a.clone(), b.clone()));
    net.run_until(at(1_000), |n| n.node(&a).count(offer_to(&b)) == 1);
    net.drop_signaling(&b, false);
    net.run_for(Duration::from_secs(30));
    assert_eq!(net.node(&a).count(close_of(&b)), 1);
    assert_eq!(
        net.node(&a).count(offer_to(&b)),
        1,
        "no re-offer to a peer that left"
    );
    assert_eq!(net.node(&a).mesh.core.link_state(&b), None);
}

#[test]
fn peer_left_revoked_closes_link() {
    let mut net = Net::meshed(&["alice", "bob"]);
    let (a, b) = (id("alice"), id("bob"));
    let revoked = net.now;
    net.revoke(&b);
    net.run_for(Duration::from_secs(30));
    let alice = net.node(&a);
    assert_eq!(alice.times(disconnected_from(&b)).len(), 1);
    assert!(
        alice.times(close_of(&b))[0] < revoked + Duration::from_millis(100),
        "closed at once"
    );
    assert_eq!(alice.count(offer_to(&b)), 1, "never re-offered");
    assert_eq!(alice.mesh.core.connected_peers(), []);
}

#[test]
fn registry_error_becomes_signaling_error() {
    let mut core = MeshCore::new(id("alice"), config_for("alice"));
    core.handle(Event::SignalingConnected, at(0));
    drain(&mut core);
    let error = ErrorPayload {
        code: SignalErrorCode::UnknownTarget,
        message: "no bob".into(),
        refused: None,
        target_id: None,
        request_id: None,
    };
    core.handle(from_registry(SignalType::Error, &error), at(1));
    let expected = Action::SignalingError {
        code: Some(SignalErrorCode::UnknownTarget),
        message: "no bob".into(),
    };
    assert_eq!(drain(&mut core), [expected]);
}

#[test]
fn register_frame_carries_kind_and_link_report_follows_open_links() {
    let mut net = Net::meshed(&["a", "b", "c"]);
    let register = net.node(&id("a")).log.iter().find_map(|(_, x)| match x {
        Action::SendSignal(f) if f.kind == SignalType::Register => Some(f.payload.clone()),
        _ => None,
    });
    assert_eq!(
        register,
        Some(serde_json::json!({"kind": "native", "registry_tier": true}))
    );
    assert_eq!(net.link_reports[&id("a")], [id("b"), id("c")]);
    net.kill(&id("c"));
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.link_reports[&id("a")], [id("b")]);
}
