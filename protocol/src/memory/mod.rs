//! The shared memory's sans-IO core (PROTOCOL.md §6, ADR 0016).
//!
//! Every write is a signed [`Event`] in its author's hash-linked chain; a replica holds the
//! events, answers reads as projections of them at any [`Version`] (a consistent cut), and
//! exchanges missing events with other replicas through [`sync`] messages. No I/O here: the
//! shells persist what [`Applied`] reports through a [`store::EventStore`] and carry the
//! [`SyncMessage`]s over their links.
//! - [`event`]: the event, its canonical signed header and its validation.
//! - [`version`]: version vectors.
//! - [`limits`], [`outcome`]: a replica's bounds, and what applying events changed.
//! - [`replica`]: events, per-author chains, the pending buffer, local writes, forget.
//! - [`projection`]: `get` / `list` / `history` at a cut, with the conflict rule.
//! - [`sync`]: the messages two replicas exchange, and the pure function answering them.
//! - [`store`]: what the shells must persist, and an in-memory store for tests.
//! - [`agent`]: the replica as agents use it: §6 commands, replies and subscriptions.
//! - [`time`]: `written_at` as RFC 3339.

pub mod agent;
pub mod error;
pub mod event;
pub mod limits;
pub mod outcome;
mod pending;
pub mod projection;
pub mod replica;
pub mod stats;
pub mod store;
mod subscriptions;
pub mod sync;
pub mod time;
pub mod version;

#[cfg(test)]
mod tests;

pub use agent::{AgentMemory, Answer, ClientId, Outgoing, Received};
pub use error::MemoryError;
pub use event::{Event, EventId, EventKind};
pub use projection::{HistoryEntry, ListItem, ValueRead, ValuesRead};
pub use replica::{Applied, Author, Limits, Links, Replica};
pub use stats::Stats;
pub use sync::SyncMessage;
pub use version::Version;

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}
