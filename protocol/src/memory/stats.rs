//! Counters of what a replica did with the events it was given.

use serde::Serialize;

/// What happened to received events, for `/metrics` and tests. Refused events are counted
/// here and never applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Events applied (local and remote).
    pub applied: u64,
    /// Events already held, ignored.
    pub duplicates: u64,
    /// Events held back waiting for an earlier event of the same author.
    pub pended: u64,
    /// Out-of-order events dropped because the pending buffer was full.
    pub pending_dropped: u64,
    /// Events whose signature did not verify, or signed by a key not bound to the author.
    pub forged: u64,
    /// Events refused for any other reason (bad id, body not matching its hash, sizes, chain).
    pub invalid: u64,
    /// Authors caught signing two different events with the same seq.
    pub equivocations: u64,
    /// Bodies erased by forgets (on arrival of the forget or of the forgotten put).
    pub bodies_erased: u64,
}
