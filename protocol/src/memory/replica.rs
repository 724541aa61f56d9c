//! A replica: the events it holds, each author's contiguous chain, the pending buffer, and the
//! local writes. Reads live in [`super::projection`].

use super::{
    error::MemoryError,
    event::{Event, EventId, EventKind, Unsigned},
    pending::Pending,
    stats::Stats,
    version::Version,
};
pub use super::{
    limits::Limits,
    outcome::{Applied, Received},
};
use crate::{
    identity::{Identity, PublicKey},
    PeerId,
};
use std::collections::BTreeMap;

/// The local writer: the peer id and the identity key that signs its events.
#[derive(Debug, Clone)]
pub struct Author {
    /// The peer id events are written as.
    pub peer: PeerId,
    /// The key that signs them.
    pub identity: Identity,
}

/// The optional links of a put (`supersedes`, `derived_from` of `memory_put`).
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// Events the put replaces, besides those the writer had already seen.
    pub supersedes: Vec<EventId>,
    /// Provenance.
    pub derived_from: Vec<EventId>,
}

/// One replica of the shared memory.
#[derive(Debug, Default)]
pub struct Replica {
    pub(crate) limits: Limits,
    pub(crate) events: BTreeMap<EventId, Event>,
    /// Each author's events by seq - 1: contiguous, so the version vector names them exactly.
    pub(crate) chains: BTreeMap<PeerId, Vec<EventId>>,
    /// Each key's events in arrival order (projections sort them themselves).
    pub(crate) keys: BTreeMap<String, Vec<EventId>>,
    /// The identity key bound to each author: pinned by the shell from the registry, or on
    /// first use.
    pinned: BTreeMap<PeerId, PublicKey>,
    pending: Pending,
    pub(crate) version: Version,
    stats: Stats,
}

impl Replica {
    /// An empty replica.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Rebuilds a replica from stored events (any order). Returns also what must be erased in
    /// the store: bodies a forget covers whose erasure was not yet durable.
    pub fn restore(limits: Limits, mut events: Vec<Event>) -> (Self, Applied) {
        events.sort_by(|a, b| (&a.author, a.seq).cmp(&(&b.author, b.seq)));
        let mut replica = Self::new(limits);
        let applied = replica.receive(events);
        (replica, applied)
    }

    /// Binds `peer` to `key` (from the registry's register record); events by `peer` signed
    /// with another key are refused. Without a binding the first key seen is kept.
    pub fn pin_key(&mut self, peer: PeerId, key: PublicKey) {
        self.pinned.insert(peer, key);
    }

    /// The replica's version: how many events of each author it holds.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// Counters of what happened to received events.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The held event with this id.
    pub fn event(&self, id: &EventId) -> Option<&Event> {
        self.events.get(id)
    }

    /// Event `seq` of `author`, if held.
    pub fn event_at(&self, author: &PeerId, seq: u64) -> Option<&Event> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.chains
            .get(author)?
            .get(index)
            .and_then(|id| self.events.get(id))
    }

    /// How many out-of-order events are held.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// For each author whose chain has a gap before held events: (author, first missing seq,
    /// last missing seq).
    pub fn gaps(&self) -> Vec<(PeerId, u64, u64)> {
        let pending = self.pending.first_held();
        let gaps = pending.into_iter().map(|(author, first_held)| {
            let from = self.version.get(&author) + 1;
            (author, from, first_held.saturating_sub(1))
        });
        gaps.filter(|(_, from, to)| from <= to).collect()
    }

    /// Writes `value` under `key` as `author`: signed, applied, ready to persist and push.
    pub fn put(
        &mut self,
        author: &Author,
        key: String,
        value: serde_json::Value,
        links: Links,
        now_ms: u64,
    ) -> Result<Applied, MemoryError> {
        self.write(author, EventKind::Put, key, Some(value), links, now_ms)
    }

    /// Forgets `key` as `author`: every value of it this replica holds is erased at once.
    pub fn forget(
        &mut self,
        author: &Author,
        key: String,
        now_ms: u64,
    ) -> Result<Applied, MemoryError> {
        self.write(
            author,
            EventKind::Forget,
            key,
            None,
            Links::default(),
            now_ms,
        )
    }

    fn write(
        &mut self,
        author: &Author,
        kind: EventKind,
        key: String,
        value: Option<serde_json::Value>,
        links: Links,
        now_ms: u64,
    ) -> Result<Applied, MemoryError> {
        let seq = self.version.get(&author.peer) + 1;
        let mut deps = self.version.clone();
        deps.set(author.peer.clone(), 0);
        let event = Unsigned {
            author: author.peer.clone(),
            seq,
            prev: self
                .chains
                .get(&author.peer)
                .and_then(|c| c.last())
                .cloned(),
            kind,
            key,
            written_at: now_ms,
            supersedes: links.supersedes,
            derived_from: links.derived_from,
            deps,
            value,
        }
        .sign(&author.identity)?;
        self.check_key(&event)?;
        Ok(self.append(event))
    }

    /// Applies events received from a peer or the store. Refused ones are counted in
    /// [`Stats`], never applied.
    pub fn receive(&mut self, events: impl IntoIterator<Item = Event>) -> Applied {
        let mut applied = Applied::default();
        for event in events {
            if let Ok((_, more)) = self.receive_one(event) {
                applied.extend(more);
            }
        }
        applied
    }

    /// Applies one received event; an error says why it was refused (and is counted).
    pub fn receive_one(&mut self, event: Event) -> Result<(Received, Applied), MemoryError> {
        let result = self.admit(event);
        if let Err(error) = &result {
            match error {
                MemoryError::Forged | MemoryError::WrongAuthorKey(_) => self.stats.forged += 1,
                MemoryError::Equivocation => self.stats.equivocations += 1,
                _ => self.stats.invalid += 1,
            }
        }
        result
    }

    fn admit(&mut self, event: Event) -> Result<(Received, Applied), MemoryError> {
        let have = self.version.get(&event.author);
        if event.seq >= 1 && event.seq <= have {
            if self.event_at(&event.author, event.seq).map(|e| &e.id) == Some(&event.id) {
                self.stats.duplicates += 1;
                return Ok((Received::Duplicate, Applied::default()));
            }
            event.validate()?;
            return Err(MemoryError::Equivocation);
        }
        event.validate()?;
        self.check_key(&event)?;
        if event.seq > have + 1 {
            let (max_events, max_bytes) = (self.limits.pending_events, self.limits.pending_bytes);
            if self.pending.insert(event, max_events, max_bytes) {
                self.stats.pended += 1;
                return Ok((Received::Pending, Applied::default()));
            }
            self.stats.pending_dropped += 1;
            return Ok((Received::Dropped, Applied::default()));
        }
        self.check_prev(&event)?;
        let author = event.author.clone();
        let mut applied = self.append(event);
        // The gap before held successors may now be filled.
        while let Some(next) = self.pending.take(&author, self.version.get(&author) + 1) {
            if self.check_prev(&next).is_err() {
                self.stats.invalid += 1;
                break;
            }
            applied.extend(self.append(next));
        }
        self.pending.prune(&author, self.version.get(&author));
        Ok((Received::Applied, applied))
    }

    fn check_key(&self, event: &Event) -> Result<(), MemoryError> {
        match self.pinned.get(&event.author) {
            Some(key) if *key != event.author_key => {
                Err(MemoryError::WrongAuthorKey(event.author.to_string()))
            }
            _ => Ok(()),
        }
    }

    fn check_prev(&self, event: &Event) -> Result<(), MemoryError> {
        let last = self.chains.get(&event.author).and_then(|c| c.last());
        if last == event.prev.as_ref() {
            Ok(())
        } else {
            Err(MemoryError::BrokenChain)
        }
    }

    /// Adds the next event of its author's chain and applies forget semantics: a put that a
    /// held forget of its key did not see arrives without a body; a forget erases the body of
    /// every held put of its key it had seen or was concurrent with (not those written after
    /// it).
    fn append(&mut self, mut event: Event) -> Applied {
        let mut applied = Applied::default();
        let key_events = self.keys.entry(event.key.clone()).or_default();
        match event.kind {
            EventKind::Put => {
                let forgotten = key_events
                    .iter()
                    .filter_map(|id| self.events.get(id))
                    .any(|f| f.kind == EventKind::Forget && !event.has_seen(f));
                if forgotten && event.body.take().is_some() {
                    self.stats.bodies_erased += 1;
                }
            }
            EventKind::Forget => {
                for id in key_events.iter() {
                    if let Some(put) = self.events.get_mut(id) {
                        if !put.has_seen(&event) && put.body.take().is_some() {
                            self.stats.bodies_erased += 1;
                            applied.erased.push(put.id.clone());
                        }
                    }
                }
            }
        }
        key_events.push(event.id.clone());
        self.pinned
            .entry(event.author.clone())
            .or_insert(event.author_key);
        self.chains
            .entry(event.author.clone())
            .or_default()
            .push(event.id.clone());
        self.version.set(event.author.clone(), event.seq);
        self.events.insert(event.id.clone(), event.clone());
        self.stats.applied += 1;
        applied.events.push(event);
        applied
    }
}
