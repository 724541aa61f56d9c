//! What applying events did, for the shell to persist and announce.

use super::event::{Event, EventId};

/// What applying events changed, for the shell to persist and announce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Newly applied events in order, as stored (a put that arrived already forgotten has no
    /// body): append each to the store, emit `memory_changed`, push to the other links.
    pub events: Vec<Event>,
    /// Events held before whose bodies a forget has just erased: erase them in the store.
    pub erased: Vec<EventId>,
}

impl Applied {
    pub(crate) fn extend(&mut self, other: Applied) {
        self.events.extend(other.events);
        self.erased.extend(other.erased);
    }
}

/// What became of one received event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Applied (with any held successors it unblocked).
    Applied,
    /// Already held.
    Duplicate,
    /// Held until an earlier event of its author arrives.
    Pending,
    /// Out of order and the pending buffer is full: dropped, sync fetches it again.
    Dropped,
}
