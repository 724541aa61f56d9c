//! Events that arrived before an earlier event of their author: held, bounded, until the gap
//! fills.

use super::event::Event;
use crate::PeerId;
use std::collections::BTreeMap;

/// The out-of-order buffer. Bounded in count and bytes so a peer cannot make a replica hold
/// unbounded data; what does not fit is dropped and fetched again by sync.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    events: BTreeMap<(PeerId, u64), Event>,
    bytes: usize,
}

impl Pending {
    /// Holds `event` unless its slot is taken or the buffer would exceed the limits.
    pub(crate) fn insert(&mut self, event: Event, max_events: usize, max_bytes: usize) -> bool {
        let slot = (event.author.clone(), event.seq);
        if self.events.contains_key(&slot) {
            return true;
        }
        let weight = event.weight();
        if self.events.len() >= max_events || self.bytes + weight > max_bytes {
            return false;
        }
        self.bytes += weight;
        self.events.insert(slot, event);
        true
    }

    /// Takes the held event `seq` of `author`, if any.
    pub(crate) fn take(&mut self, author: &PeerId, seq: u64) -> Option<Event> {
        let event = self.events.remove(&(author.clone(), seq))?;
        self.bytes -= event.weight();
        Some(event)
    }

    /// For each author with held events: the first held seq (the gap ends just before it).
    pub(crate) fn first_held(&self) -> Vec<(PeerId, u64)> {
        let mut out: Vec<(PeerId, u64)> = Vec::new();
        for (author, seq) in self.events.keys() {
            if out.last().map(|(a, _)| a) != Some(author) {
                out.push((author.clone(), *seq));
            }
        }
        out
    }

    /// Drops every held event of `author` at or below `seq` (already applied by then).
    pub(crate) fn prune(&mut self, author: &PeerId, seq: u64) {
        let stale: Vec<u64> = self
            .events
            .range((author.clone(), 0)..=(author.clone(), seq))
            .map(|((_, s), _)| *s)
            .collect();
        for s in stale {
            self.take(author, s);
        }
    }

    /// How many events are held.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}
