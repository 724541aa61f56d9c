//! Reads: the current value of a key, a prefix listing and a key's history, each at a cut.
//!
//! The conflict rule (ADR 0016): a key's *heads* are its live puts that no other live put of
//! the key had seen or names in `supersedes`. The winner is the head with the highest
//! `(written_at, id)`, the same on every replica; the other heads are the `conflicts`. A put is
//! *forgotten* when the replica holds a forget of its key that the put had not seen; forgotten
//! puts are gone from every read at every cut (their bodies are erased), a put written after
//! a forget (having seen it) is a new live value.

use super::{
    event::{Event, EventId, EventKind},
    replica::Replica,
    time::rfc3339,
    version::Version,
};
use crate::PeerId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A losing concurrent value in a `memory_value` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// The event id.
    pub id: EventId,
    /// Its author.
    pub author: PeerId,
    /// Its value.
    pub value: Value,
    /// RFC 3339.
    pub written_at: String,
}

/// The body of a `memory_value` reply (without `request_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueRead {
    /// The key read.
    pub key: String,
    /// Whether the key has a live value at the cut.
    pub found: bool,
    /// The winning value, or null.
    pub value: Value,
    /// The winning event.
    pub id: Option<EventId>,
    /// Its author.
    pub author: Option<PeerId>,
    /// RFC 3339.
    pub written_at: Option<String>,
    /// The other concurrent values, best first.
    pub conflicts: Vec<Conflict>,
    /// The winner's provenance.
    pub derived_from: Vec<EventId>,
    /// The cut read; pass it back as `at` to read the same again.
    pub version: Version,
}

/// One item of a `memory_values` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListItem {
    /// The key.
    pub key: String,
    /// The winning value.
    pub value: Value,
    /// The winning event.
    pub id: EventId,
    /// Its author.
    pub author: PeerId,
    /// RFC 3339.
    pub written_at: String,
    /// How many concurrent values lost.
    pub conflicts: usize,
}

/// The body of a `memory_values` reply (without `request_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValuesRead {
    /// Keys with a live value, in key order.
    pub items: Vec<ListItem>,
    /// The cut read.
    pub version: Version,
}

/// One event of a `memory_history` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The event id.
    pub id: EventId,
    /// Its author.
    pub author: PeerId,
    /// Put or forget.
    pub kind: EventKind,
    /// The value; null for forgets and forgotten puts.
    pub value: Value,
    /// RFC 3339.
    pub written_at: String,
    /// Events it replaced.
    pub supersedes: Vec<EventId>,
    /// Its provenance.
    pub derived_from: Vec<EventId>,
    /// Whether a forget erased its value.
    pub forgotten: bool,
}

impl Replica {
    /// `memory_get`: the key's value at `at` (default: now).
    pub fn get(&self, key: &str, at: Option<&Version>) -> ValueRead {
        let cut = self.cut(at);
        let mut heads = self.heads(key, &cut);
        let mut read = ValueRead {
            key: key.to_owned(),
            found: !heads.is_empty(),
            value: Value::Null,
            id: None,
            author: None,
            written_at: None,
            conflicts: Vec::new(),
            derived_from: Vec::new(),
            version: cut,
        };
        if heads.is_empty() {
            return read;
        }
        let winner = heads.remove(0);
        read.value = winner.value().unwrap_or(Value::Null);
        read.id = Some(winner.id.clone());
        read.author = Some(winner.author.clone());
        read.written_at = Some(rfc3339(winner.written_at));
        read.derived_from = winner.derived_from.clone();
        read.conflicts = heads
            .into_iter()
            .map(|e| Conflict {
                id: e.id.clone(),
                author: e.author.clone(),
                value: e.value().unwrap_or(Value::Null),
                written_at: rfc3339(e.written_at),
            })
            .collect();
        read
    }

    /// `memory_list`: keys starting with `prefix` that have a live value, in key order, at
    /// most `limit` of them.
    pub fn list(&self, prefix: &str, at: Option<&Version>, limit: Option<usize>) -> ValuesRead {
        let cut = self.cut(at);
        let mut items = Vec::new();
        let keys = self.keys.range::<str, _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        ));
        for (key, _) in keys.take_while(|(k, _)| k.starts_with(prefix)) {
            if limit.is_some_and(|n| items.len() >= n) {
                break;
            }
            let heads = self.heads(key, &cut);
            if let Some(winner) = heads.first() {
                items.push(ListItem {
                    key: key.clone(),
                    value: winner.value().unwrap_or(Value::Null),
                    id: winner.id.clone(),
                    author: winner.author.clone(),
                    written_at: rfc3339(winner.written_at),
                    conflicts: heads.len() - 1,
                });
            }
        }
        ValuesRead {
            items,
            version: cut,
        }
    }

    /// `memory_history`: every event of the key inside the cut, oldest first by
    /// `(written_at, id)`.
    pub fn history(&self, key: &str, at: Option<&Version>) -> Vec<HistoryEntry> {
        let cut = self.cut(at);
        let mut events = self.key_events(key, &cut);
        events.sort_by(|a, b| (a.written_at, &a.id).cmp(&(b.written_at, &b.id)));
        events
            .into_iter()
            .map(|e| {
                let forgotten = self.is_forgotten(e);
                let value = match forgotten {
                    true => Value::Null,
                    false => e.value().unwrap_or(Value::Null),
                };
                HistoryEntry {
                    id: e.id.clone(),
                    author: e.author.clone(),
                    kind: e.kind,
                    value,
                    written_at: rfc3339(e.written_at),
                    supersedes: e.supersedes.clone(),
                    derived_from: e.derived_from.clone(),
                    forgotten,
                }
            })
            .collect()
    }

    /// The version a read at `at` sees: what was asked for, of what this replica holds.
    fn cut(&self, at: Option<&Version>) -> Version {
        at.map_or_else(|| self.version.clone(), |at| at.meet(&self.version))
    }

    fn key_events(&self, key: &str, cut: &Version) -> Vec<&Event> {
        let ids = self.keys.get(key).map_or(&[][..], Vec::as_slice);
        ids.iter()
            .filter_map(|id| self.events.get(id))
            .filter(|e| cut.covers(&e.author, e.seq))
            .collect()
    }

    /// Whether a held forget of the put's key erased it (whatever the cut: erasure is
    /// physical, so no read brings a forgotten value back).
    fn is_forgotten(&self, put: &Event) -> bool {
        put.kind == EventKind::Put
            && self.keys.get(&put.key).is_some_and(|ids| {
                ids.iter()
                    .filter_map(|id| self.events.get(id))
                    .any(|f| f.kind == EventKind::Forget && !put.has_seen(f))
            })
    }

    /// The key's heads at the cut, winner first, then the conflicts best first.
    fn heads(&self, key: &str, cut: &Version) -> Vec<&Event> {
        let live: Vec<&Event> = self
            .key_events(key, cut)
            .into_iter()
            .filter(|e| e.kind == EventKind::Put && !self.is_forgotten(e))
            .collect();
        let mut heads: Vec<&Event> = live
            .iter()
            .filter(|p| {
                !live
                    .iter()
                    .any(|q| q.has_seen(p) || q.supersedes.contains(&p.id))
            })
            .copied()
            .collect();
        heads.sort_by(|a, b| (b.written_at, &b.id).cmp(&(a.written_at, &a.id)));
        heads
    }
}
