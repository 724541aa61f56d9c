//! The building blocks on their own: correlator, backoff, PRNG, keepalive and frame helpers.

use super::harness::{at, id};
use crate::{
    core::{
        is_keepalive, keepalive_ping, keepalive_pong, link_report, Backoff, BackoffConfig,
        Correlator, Rng,
    },
    mesh_message::{MeshMessage, MeshMessageType},
    signaling::{LinkInfo, LinkReportPayload, SignalType},
};
use serde_json::json;
use std::time::Duration;

#[test]
fn correlator_expires_in_deadline_order() {
    let mut c = Correlator::new();
    c.insert("slow", 1, at(0), Duration::from_secs(5));
    c.insert("fast", 2, at(0), Duration::from_secs(1));
    c.insert("mid", 3, at(0), Duration::from_secs(3));
    assert_eq!(c.next_deadline(), Some(at(1_000)));
    assert_eq!(c.expire(at(999)), []);
    assert_eq!(
        c.expire(at(3_000)),
        [("fast".to_owned(), 2), ("mid".to_owned(), 3)]
    );
    assert_eq!(c.next_deadline(), Some(at(5_000)));
    assert_eq!(c.len(), 1);
}

#[test]
fn correlator_resolves_once_and_replaces_duplicates() {
    let mut c = Correlator::new();
    assert_eq!(c.insert("r", 'a', at(0), Duration::from_secs(1)), None);
    assert_eq!(c.insert("r", 'b', at(0), Duration::from_secs(9)), Some('a'));
    assert_eq!(
        c.next_deadline(),
        Some(at(9_000)),
        "the replaced deadline is gone"
    );
    assert_eq!(c.resolve("r"), Some('b'));
    assert_eq!(c.resolve("r"), None);
    assert!(c.is_empty());
    assert_eq!(c.next_deadline(), None);
}

#[test]
fn backoff_grows_to_the_cap_and_resets() {
    let config = BackoffConfig {
        base: Duration::from_millis(100),
        factor: 3,
        cap: Duration::from_secs(2),
    };
    let mut rng = Rng::new(7);
    let mut backoff = Backoff::new(config);
    let ceilings = [100, 300, 900, 2_000, 2_000];
    for ceiling in ceilings {
        let delay = backoff.next_delay(&mut rng).as_millis() as u64;
        assert!(
            (ceiling / 2..=ceiling).contains(&delay),
            "{delay} not in [{}, {ceiling}]",
            ceiling / 2
        );
    }
    assert_eq!(backoff.attempts(), 5);
    backoff.reset();
    assert!(backoff.next_delay(&mut rng) <= Duration::from_millis(100));
    assert_eq!(
        config.ceiling(u32::MAX),
        Duration::from_secs(2),
        "no overflow"
    );
}

#[test]
fn rng_is_deterministic_per_seed() {
    let take = |seed| {
        let mut rng = Rng::new(seed);
        [rng.next_u64(), rng.next_u64(), rng.up_to(10)]
    };
    assert_eq!(take(1), take(1));
    assert_ne!(take(1), take(2));
    assert!(take(3)[2] <= 10);
}

#[test]
fn keepalive_pong_echoes_ping_and_app_pings_are_not_keepalives() {
    let ping = keepalive_ping(42);
    assert_eq!(ping.request_id, "mw-keepalive-42");
    let pong = keepalive_pong(&ping);
    assert_eq!(
        (pong.kind.clone(), pong.request_id.as_str()),
        (MeshMessageType::Pong, "mw-keepalive-42")
    );
    assert!(is_keepalive(&ping) && is_keepalive(&pong));
    assert!(!is_keepalive(&MeshMessage::new(
        MeshMessageType::Ping,
        "app-1",
        json!({})
    )));
    let task = MeshMessage::new(MeshMessageType::TaskRequest, "mw-keepalive-1", json!({}));
    assert!(!is_keepalive(&task), "only ping and pong can be keepalives");
}

#[test]
fn link_report_helper_builds_the_wire_frame() {
    let links = vec![LinkInfo {
        peer_id: id("bob"),
        rtt_ms: Some(1.5),
        candidate_type: None,
        verified: false,
    }];
    let frame = link_report(&id("alice"), links.clone());
    assert_eq!(frame.kind, SignalType::LinkReport);
    assert_eq!(frame.target_id, None);
    assert_eq!(
        frame.payload_as::<LinkReportPayload>().ok(),
        Some(LinkReportPayload { links })
    );
    assert_eq!(
        frame.payload,
        json!({"links": [{"peer_id": "bob", "rtt_ms": 1.5}]})
    );
}
