use super::{author, forget, put, replica, val};
use crate::memory::{replica::Received, Limits, MemoryError, Replica};

#[test]
fn local_writes_chain_by_seq_and_prev() {
    let mut r = replica();
    let a = author("alice", 1);
    let first = put(&mut r, &a, "k", val(1), 1);
    let second = put(&mut r, &a, "j", val(2), 2);
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(second.prev, Some(first.id));
    assert_eq!(r.version().get(&a.peer), 2);
}

#[test]
fn a_local_write_records_what_the_writer_had_seen_of_others() {
    let (mut ra, mut rb) = (replica(), replica());
    let (a, b) = (author("alice", 1), author("bob", 2));
    let e = put(&mut rb, &b, "k", val(1), 1);
    ra.receive([e]);
    let mine = put(&mut ra, &a, "k", val(2), 2);
    assert_eq!(mine.deps.get(&b.peer), 1);
    assert_eq!(
        mine.deps.get(&a.peer),
        0,
        "the author's own count is its seq"
    );
}

#[test]
fn events_after_a_gap_wait_until_it_fills() {
    let mut src = replica();
    let a = author("alice", 1);
    let events: Vec<_> = (1..=3).map(|n| put(&mut src, &a, "k", val(n), n)).collect();
    let mut r = replica();
    let (got, _) = r.receive_one(events[2].clone()).unwrap();
    assert_eq!(got, Received::Pending);
    assert_eq!(r.gaps(), vec![(a.peer.clone(), 1, 2)]);
    r.receive_one(events[1].clone()).unwrap();
    assert_eq!(r.version().get(&a.peer), 0);
    let (got, applied) = r.receive_one(events[0].clone()).unwrap();
    assert_eq!(got, Received::Applied);
    assert_eq!(applied.events.len(), 3);
    assert_eq!(r.version().get(&a.peer), 3);
    assert_eq!(r.pending_len(), 0);
}

#[test]
fn the_pending_buffer_is_bounded_and_counts_what_it_drops() {
    let mut src = replica();
    let a = author("alice", 1);
    let events: Vec<_> = (1..=5).map(|n| put(&mut src, &a, "k", val(n), n)).collect();
    let limits = Limits {
        pending_events: 2,
        ..Limits::default()
    };
    let mut r = Replica::new(limits);
    let outcomes: Vec<_> = events[1..]
        .iter()
        .map(|e| r.receive_one(e.clone()).unwrap().0)
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Received::Dropped).count(),
        2
    );
    assert_eq!(r.stats().pending_dropped, 2);
    assert_eq!(r.pending_len(), 2);
}

#[test]
fn duplicates_are_ignored_and_counted() {
    let mut src = replica();
    let e = put(&mut src, &author("alice", 1), "k", val(1), 1);
    let mut r = replica();
    r.receive([e.clone(), e.clone()]);
    assert_eq!(r.stats().duplicates, 1);
    assert_eq!(r.stats().applied, 1);
}

#[test]
fn a_second_event_with_the_same_seq_is_an_equivocation() {
    let a = author("alice", 1);
    let one = put(&mut replica(), &a, "k", val(1), 1);
    let other = put(&mut replica(), &a, "k", val(2), 1);
    let mut r = replica();
    r.receive([one]);
    assert_eq!(
        r.receive_one(other).map(|_| ()),
        Err(MemoryError::Equivocation)
    );
    assert_eq!(r.stats().equivocations, 1);
}

#[test]
fn an_author_speaking_with_another_key_is_refused() {
    let mut r = replica();
    let real = author("alice", 1);
    r.pin_key(real.peer.clone(), real.identity.public());
    let impostor = author("alice", 7);
    let forged = put(&mut replica(), &impostor, "k", val(1), 1);
    assert!(matches!(
        r.receive_one(forged),
        Err(MemoryError::WrongAuthorKey(_))
    ));
    assert_eq!(r.stats().forged, 1);
    assert!(r.version().is_empty());
}

#[test]
fn forged_and_tampered_events_are_counted_never_applied() {
    let a = author("alice", 1);
    let good = put(&mut replica(), &a, "k", val(1), 1);
    let mut bad_sig = good.clone();
    bad_sig.signature = author("x", 3).identity.sign(b"k");
    let mut bad_body = good.clone();
    bad_body.body = Some("{\"n\":99}".into());
    let mut r = replica();
    r.receive([bad_sig, bad_body]);
    assert_eq!(
        (r.stats().forged, r.stats().invalid, r.stats().applied),
        (1, 1, 0)
    );
    assert!(!r.get("k", None).found);
}

#[test]
fn a_forget_erases_bodies_and_reports_them() {
    let mut r = replica();
    let a = author("alice", 1);
    let p = put(&mut r, &a, "k", val(1), 1);
    let applied = r.forget(&a, "k".into(), 2).unwrap();
    assert_eq!(applied.erased, vec![p.id.clone()]);
    assert_eq!(r.event(&p.id).unwrap().body, None);
    assert_eq!(r.stats().bodies_erased, 1);
}

#[test]
fn a_forgotten_put_arriving_later_is_never_stored_with_its_body() {
    let (a, b) = (author("alice", 1), author("bob", 2));
    let mut offline = replica();
    let p = put(&mut offline, &b, "k", val(1), 1);
    let mut r = replica();
    let f = forget(&mut r, &a, "k", 5);
    let applied = r.receive([p.clone()]);
    assert_eq!(applied.events[0].body, None, "persisted without body");
    assert_eq!(r.event(&p.id).unwrap().body, None);
    assert!(!r.get("k", None).found);
    let _ = f;
}
