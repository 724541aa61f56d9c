use super::{author, put, replica, val};
use crate::memory::{
    sync::{handle, open, push, SyncMessage, WantRange},
    Limits, Replica,
};
use serde_json::json;

/// Delivers `messages` to `to` and returns its replies (one lossless hop).
fn deliver(to: &mut Replica, messages: Vec<SyncMessage>) -> Vec<SyncMessage> {
    messages
        .into_iter()
        .flat_map(|m| handle(to, m).replies)
        .collect()
}

/// Exchanges frames between two replicas until both are quiet.
fn settle(a: &mut Replica, b: &mut Replica) {
    let mut to_b = vec![open(a)];
    let mut to_a = vec![open(b)];
    for _ in 0..100 {
        if to_a.is_empty() && to_b.is_empty() {
            return;
        }
        let from_b = deliver(b, std::mem::take(&mut to_b));
        let from_a = deliver(a, std::mem::take(&mut to_a));
        to_a = from_b;
        to_b = from_a;
    }
    panic!("sync did not settle");
}

#[test]
fn two_replicas_exchange_what_the_other_lacks_on_link_open() {
    let (mut ra, mut rb) = (replica(), replica());
    let (a, b) = (author("alice", 1), author("bob", 2));
    for n in 0..5 {
        put(&mut ra, &a, &format!("a{n}"), val(n), n);
        put(&mut rb, &b, &format!("b{n}"), val(n), n);
    }
    settle(&mut ra, &mut rb);
    assert_eq!(ra.version(), rb.version());
    assert_eq!(ra.list("", None, None), rb.list("", None, None));
    assert_eq!(ra.list("", None, None).items.len(), 10);
}

#[test]
fn frames_stay_under_the_frame_limit_and_big_answers_come_in_rounds() {
    let limits = Limits {
        reply_bytes: 20_000,
        ..Limits::default()
    };
    let (mut ra, mut rb) = (Replica::new(limits), Replica::new(limits));
    let a = author("alice", 1);
    for n in 0..40 {
        put(&mut ra, &a, &format!("k{n}"), json!("x".repeat(3000)), n);
    }
    let replies = handle(&mut ra, open(&rb)).replies;
    for frame in &replies {
        assert!(serde_json::to_vec(frame).unwrap().len() <= limits.frame_bytes);
    }
    assert!(matches!(
        replies.last(),
        Some(SyncMessage::MemoryEvents { more: true, .. })
    ));
    settle(&mut ra, &mut rb);
    assert_eq!(rb.version(), ra.version());
}

#[test]
fn an_event_larger_than_a_frame_is_sent_alone() {
    let mut r = replica();
    let a = author("alice", 1);
    put(&mut r, &a, "small", val(1), 1);
    let big = put(&mut r, &a, "big", json!("x".repeat(100_000)), 2);
    put(&mut r, &a, "small2", val(1), 3);
    let events: Vec<_> = (1..=3)
        .filter_map(|s| r.event_at(&a.peer, s).cloned())
        .collect();
    let frames = push(&events, &Limits::default());
    assert_eq!(frames.len(), 3);
    assert!(matches!(&frames[1], SyncMessage::MemoryEvents { events, .. } if events[0] == big));
}

#[test]
fn a_pushed_event_after_a_gap_asks_for_the_missing_range() {
    let (mut ra, mut rb) = (replica(), replica());
    let a = author("alice", 1);
    let _first = put(&mut ra, &a, "k", val(1), 1);
    let second = put(&mut ra, &a, "k", val(2), 2);
    let step = handle(
        &mut rb,
        SyncMessage::MemoryEvents {
            events: vec![second],
            more: false,
        },
    );
    let want = SyncMessage::MemoryWant {
        ranges: vec![WantRange {
            author: a.peer.clone(),
            from: 1,
            to: 1,
        }],
    };
    assert_eq!(step.replies, vec![want.clone()]);
    let answer = handle(&mut ra, want).replies;
    let applied: usize = answer
        .into_iter()
        .map(|m| handle(&mut rb, m).applied.events.len())
        .sum();
    assert_eq!(applied, 2);
    assert_eq!(rb.get("k", None).value, val(2));
}

#[test]
fn sync_frames_have_a_stable_wire_form() {
    let have = SyncMessage::MemoryHave {
        version: [("alice".into(), 2)].into_iter().collect(),
    };
    assert_eq!(
        serde_json::to_string(&have).unwrap(),
        r#"{"type":"memory_have","version":{"alice":2}}"#
    );
    let parsed: SyncMessage =
        serde_json::from_str(r#"{"type":"memory_events","events":[]}"#).unwrap();
    assert_eq!(
        parsed,
        SyncMessage::MemoryEvents {
            events: vec![],
            more: false
        }
    );
}

#[test]
fn a_frame_missing_its_field_is_refused() {
    assert!(serde_json::from_str::<SyncMessage>(r#"{"type":"memory_have"}"#).is_err());
    assert!(serde_json::from_str::<SyncMessage>(r#"{"type":"memory_nope","events":[]}"#).is_err());
    let want = r#"{"type":"memory_want","ranges":[{"author":"a","from":1,"to":2}]}"#;
    assert!(matches!(
        serde_json::from_str(want),
        Ok(SyncMessage::MemoryWant { .. })
    ));
}
