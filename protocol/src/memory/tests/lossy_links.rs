//! Three replicas syncing only through [`handle`] over links that drop, duplicate and reorder
//! frames, with small limits (the pending buffer overflows, answers come in rounds), converge
//! once the network heals.

use super::convergence::{all_events, op, snapshot, writers, Op, KEYS, WRITERS};
use crate::memory::{
    sync::{handle, open, push, SyncMessage},
    Author, Event, Limits, Links, Replica,
};
use proptest::prelude::*;
use serde_json::json;

/// One step of a lossy-network schedule between replicas that sync through [`handle`].
#[derive(Debug, Clone)]
enum Net {
    Write(Op),
    /// Delivers the message at `pick` of the link `from → to` (reordering); keeps a copy
    /// when `dup`.
    Deliver {
        from: usize,
        to: usize,
        pick: usize,
        dup: bool,
    },
    Drop {
        from: usize,
        to: usize,
        pick: usize,
    },
    /// Anti-entropy: `from` sends its version to `to`.
    Open {
        from: usize,
        to: usize,
    },
}

fn net() -> impl Strategy<Value = Net> {
    let link = (0..WRITERS, 0..WRITERS).prop_filter("no self link", |(a, b)| a != b);
    prop_oneof![
        3 => op().prop_filter("writes only", |o| !matches!(o, Op::Hear { .. })).prop_map(Net::Write),
        6 => (link.clone(), any::<usize>(), any::<bool>())
            .prop_map(|((from, to), pick, dup)| Net::Deliver { from, to, pick, dup }),
        1 => (link.clone(), any::<usize>()).prop_map(|((from, to), pick)| Net::Drop { from, to, pick }),
        2 => link.prop_map(|(from, to)| Net::Open { from, to }),
    ]
}

/// Replicas with small limits (so the pending buffer overflows and replies come in rounds)
/// and a queue of frames on every directed link.
struct Mesh {
    replicas: Vec<Replica>,
    links: Vec<Vec<Vec<SyncMessage>>>,
}

impl Mesh {
    fn new() -> Self {
        let limits = Limits {
            pending_events: 2,
            reply_bytes: 600,
            frame_bytes: 1200,
            ..Limits::default()
        };
        Self {
            replicas: (0..WRITERS).map(|_| Replica::new(limits)).collect(),
            links: vec![vec![Vec::new(); WRITERS]; WRITERS],
        }
    }

    /// Sends new events from `at` to every link except towards `except` (gossip).
    fn gossip(&mut self, at: usize, events: &[Event], except: Option<usize>) {
        let frames = push(events, &Limits::default());
        for to in (0..WRITERS).filter(|&to| to != at && Some(to) != except) {
            self.links[at][to].extend(frames.iter().cloned());
        }
    }

    fn deliver(&mut self, from: usize, to: usize, message: SyncMessage) {
        let step = handle(&mut self.replicas[to], message);
        self.links[to][from].extend(step.replies);
        self.gossip(to, &step.applied.events, Some(from));
    }

    fn step(&mut self, authors: &[Author], net: &Net) {
        match net {
            Net::Write(Op::Put { w, key, n, at }) => {
                let value = json!({ "n": n });
                let r = self.replicas[*w].put(
                    &authors[*w],
                    KEYS[*key].into(),
                    value,
                    Links::default(),
                    *at,
                );
                self.gossip(*w, &r.map(|a| a.events).unwrap_or_default(), None);
            }
            Net::Write(Op::Forget { w, key, at }) => {
                let r = self.replicas[*w].forget(&authors[*w], KEYS[*key].into(), *at);
                self.gossip(*w, &r.map(|a| a.events).unwrap_or_default(), None);
            }
            Net::Write(Op::Hear { .. }) => {}
            Net::Deliver {
                from,
                to,
                pick,
                dup,
            } => {
                let queue = &mut self.links[*from][*to];
                if queue.is_empty() {
                    return;
                }
                let i = pick % queue.len();
                let message = if *dup {
                    queue[i].clone()
                } else {
                    queue.remove(i)
                };
                self.deliver(*from, *to, message);
            }
            Net::Drop { from, to, pick } => {
                let queue = &mut self.links[*from][*to];
                if !queue.is_empty() {
                    let i = pick % queue.len();
                    queue.remove(i);
                }
            }
            Net::Open { from, to } => {
                let have = open(&self.replicas[*from]);
                self.links[*from][*to].push(have);
            }
        }
    }

    /// Heals the network: every link opens, then frames are delivered in order, losslessly,
    /// until every queue is empty.
    fn heal(&mut self) {
        for from in 0..WRITERS {
            for to in (0..WRITERS).filter(|&to| to != from) {
                let have = open(&self.replicas[from]);
                self.links[from][to].push(have);
            }
        }
        for _ in 0..10_000 {
            let busy = (0..WRITERS)
                .flat_map(|f| (0..WRITERS).map(move |t| (f, t)))
                .find(|&(f, t)| !self.links[f][t].is_empty());
            let Some((from, to)) = busy else { return };
            let message = self.links[from][to].remove(0);
            self.deliver(from, to, message);
        }
        panic!("the network did not quiesce");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_syncing_over_lossy_links_converge(schedule in prop::collection::vec(net(), 1..60)) {
        let authors = writers();
        let mut mesh = Mesh::new();
        for net in &schedule {
            mesh.step(&authors, net);
        }
        mesh.heal();
        let expected = snapshot(&mesh.replicas[0], None);
        let all = Replica::restore(Limits::default(), all_events(&mesh.replicas[0])).0;
        prop_assert_eq!(snapshot(&all, None), expected.clone());
        for r in &mesh.replicas[1..] {
            prop_assert_eq!(snapshot(r, None), expected.clone());
        }
        let written = schedule.iter().filter(|n| matches!(n, Net::Write(Op::Put { .. } | Op::Forget { .. }))).count();
        prop_assert_eq!(expected.0.iter().map(|(_, n)| n).sum::<u64>(), written as u64);
    }
}
