//! Convergence properties: any delivery order, duplication and partition schedule of the same
//! events gives the same projections and versions on every replica, forgets included; forged
//! events are refused and counted; reads at a cut are stable; sync converges over lossy links.

use super::author;
use crate::memory::{
    Author, Event, EventKind, HistoryEntry, Limits, Links, Replica, ValueRead, ValuesRead, Version,
};
use proptest::prelude::*;
use serde_json::json;

pub(super) const KEYS: [&str; 3] = ["a", "a/b", "b"];
pub(super) const WRITERS: usize = 3;

/// One step of a writers' script: a write, a forget, or one writer hearing all of another's.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Put {
        w: usize,
        key: usize,
        n: u8,
        at: u64,
    },
    Forget {
        w: usize,
        key: usize,
        at: u64,
    },
    Hear {
        from: usize,
        to: usize,
    },
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..WRITERS, 0..KEYS.len(), any::<u8>(), 0..4u64)
            .prop_map(|(w, key, n, at)| Op::Put { w, key, n, at }),
        1 => (0..WRITERS, 0..KEYS.len(), 0..4u64).prop_map(|(w, key, at)| Op::Forget { w, key, at }),
        2 => (0..WRITERS, 0..WRITERS).prop_map(|(from, to)| Op::Hear { from, to }),
    ]
}

pub(super) fn writers() -> Vec<Author> {
    (0..WRITERS)
        .map(|i| author(&format!("peer{i}"), i as u8 + 1))
        .collect()
}

pub(super) fn all_events(r: &Replica) -> Vec<Event> {
    let mut out = Vec::new();
    for (author, n) in r.version().iter() {
        out.extend((1..=n).filter_map(|s| r.event_at(author, s).cloned()));
    }
    out
}

/// Runs the script on one replica per writer; returns every event written, in chain order.
fn run(script: &[Op]) -> Vec<Event> {
    let authors = writers();
    let mut replicas: Vec<Replica> = (0..WRITERS)
        .map(|_| Replica::new(Limits::default()))
        .collect();
    let mut everything = Replica::new(Limits::default());
    for op in script {
        let applied = match op {
            Op::Put { w, key, n, at } => {
                let value = json!({ "n": n });
                replicas[*w].put(
                    &authors[*w],
                    KEYS[*key].into(),
                    value,
                    Links::default(),
                    *at,
                )
            }
            Op::Forget { w, key, at } => replicas[*w].forget(&authors[*w], KEYS[*key].into(), *at),
            Op::Hear { from, to } => {
                let events = all_events(&replicas[*from]);
                replicas[*to].receive(events);
                continue;
            }
        };
        if let Ok(applied) = applied {
            everything.receive(applied.events);
        }
    }
    all_events(&everything)
}

/// Everything a reader can see: the version, every key's value and history, the listing.
type Snapshot = (Version, Vec<ValueRead>, Vec<Vec<HistoryEntry>>, ValuesRead);

pub(super) fn snapshot(r: &Replica, at: Option<&Version>) -> Snapshot {
    let gets = KEYS.iter().map(|k| r.get(k, at)).collect();
    let histories: Vec<Vec<HistoryEntry>> = KEYS.iter().map(|k| r.history(k, at)).collect();
    for entry in histories.iter().flatten().filter(|h| h.forgotten) {
        assert_eq!(
            r.event(&entry.id).and_then(|e| e.body.clone()),
            None,
            "no resurrection"
        );
    }
    let version = at.map_or_else(|| r.version().clone(), |v| v.meet(r.version()));
    (version, gets, histories, r.list("", at, None))
}

/// A deterministic shuffle with duplicates, from a seed (xorshift).
fn shuffled(events: &[Event], seed: u64) -> Vec<Event> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out: Vec<Event> = events.to_vec();
    for e in events {
        if next() % 4 == 0 {
            out.push(e.clone());
        }
    }
    for i in (1..out.len()).rev() {
        out.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_delivery_order_gives_identical_projections(
        script in prop::collection::vec(op(), 1..16),
        seeds in prop::collection::vec(any::<u64>(), 3),
    ) {
        let events = run(&script);
        let reference = Replica::restore(Limits::default(), events.clone()).0;
        let expected = snapshot(&reference, None);
        for seed in seeds {
            let mut r = Replica::new(Limits::default());
            let order = shuffled(&events, seed);
            for chunk in order.chunks(1 + (seed % 5) as usize) {
                r.receive(chunk.to_vec());
            }
            prop_assert_eq!(snapshot(&r, None), expected.clone());
            prop_assert_eq!(r.pending_len(), 0);
        }
    }

    #[test]
    fn reads_at_an_earlier_version_are_stable_after_more_writes(
        script in prop::collection::vec(op(), 1..16),
        seed in any::<u64>(),
        cut in 0usize..16,
    ) {
        let events = shuffled(&run(&script), seed);
        let (early, late) = events.split_at(cut.min(events.len()));
        let mut r = Replica::new(Limits::default());
        r.receive(early.to_vec());
        let at = r.version().clone();
        let before = snapshot(&r, Some(&at));
        r.receive(late.to_vec());
        let after = snapshot(&r, Some(&at));
        prop_assert_eq!(&before.0, &after.0);
        // A later forget erases values at every cut (by design); other keys are untouched.
        // (An early event may have been held pending, so "later" means outside the cut.)
        let forgotten_later: Vec<&str> = events.iter()
            .filter(|e| e.kind == EventKind::Forget && !at.covers(&e.author, e.seq))
            .map(|e| e.key.as_str()).collect();
        for (i, key) in KEYS.iter().enumerate() {
            if !forgotten_later.contains(key) {
                prop_assert_eq!(&before.1[i], &after.1[i]);
                prop_assert_eq!(&before.2[i], &after.2[i]);
            }
        }
    }

    #[test]
    fn forged_or_tampered_events_are_refused_and_counted(
        script in prop::collection::vec(op(), 1..12),
        pick in any::<usize>(),
        how in 0..5u8,
    ) {
        let events = run(&script);
        prop_assume!(!events.is_empty());
        let mut bad = events[pick % events.len()].clone();
        let mallory = author("mallory", 99);
        match how {
            0 => bad.signature = mallory.identity.sign(b"not the header"),
            1 => bad.body = Some("{\"evil\":true}".into()),
            2 => bad.id = Event::clone(&events[(pick + 1) % events.len()]).id,
            3 => bad.author_key = mallory.identity.public(),
            _ => bad.key.push('!'),
        }
        prop_assume!(bad != events[pick % events.len()]);
        let mut r = Replica::new(Limits::default());
        r.receive([bad]);
        let stats = r.stats();
        prop_assert_eq!(stats.applied, 0);
        prop_assert_eq!(stats.forged + stats.invalid, 1);
        r.receive(events.clone());
        let reference = Replica::restore(Limits::default(), events).0;
        prop_assert_eq!(snapshot(&r, None), snapshot(&reference, None));
    }
}
