//! The storage contract the shells implement (native SQLite, browser IndexedDB, the
//! registry's database), and an in-memory store for tests.
//!
//! Durability: `memory_written` may be sent only once the local event's [`EventStore::append`]
//! — and, for a forget, the [`EventStore::erase_bodies`] of what it erased — is durable (one
//! transaction; with `PRAGMA secure_delete` natively so erased bytes do not linger). Remote
//! events may be persisted lazily: a lost one is fetched again by sync; but a remote forget's
//! erasures are committed with the forget. On start, [`super::Replica::restore`] rebuilds the
//! replica from [`EventStore::load_all`] and reports erasures still to make durable.
//! Async stores (IndexedDB) implement the same three operations as futures.

use super::{
    event::{Event, EventId},
    replica::Applied,
};
use std::{collections::BTreeMap, convert::Infallible};

/// Persistent storage of a replica's events.
pub trait EventStore {
    /// Why the store failed.
    type Error;
    /// Stores one event as given (with its body, or without if it arrived forgotten).
    fn append(&mut self, event: &Event) -> Result<(), Self::Error>;
    /// Removes the bodies of these events for good, keeping their headers.
    fn erase_bodies(&mut self, ids: &[EventId]) -> Result<(), Self::Error>;
    /// Every stored event, in any order.
    fn load_all(&self) -> Result<Vec<Event>, Self::Error>;
}

/// Persists what one replica step reported: appends, then erasures.
pub fn persist<S: EventStore>(store: &mut S, applied: &Applied) -> Result<(), S::Error> {
    for event in &applied.events {
        store.append(event)?;
    }
    store.erase_bodies(&applied.erased)
}

/// Events in memory: for tests and for peers that keep nothing.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    events: BTreeMap<EventId, Event>,
}

impl EventStore for MemStore {
    type Error = Infallible;

    fn append(&mut self, event: &Event) -> Result<(), Infallible> {
        self.events.insert(event.id.clone(), event.clone());
        Ok(())
    }

    fn erase_bodies(&mut self, ids: &[EventId]) -> Result<(), Infallible> {
        for id in ids {
            if let Some(event) = self.events.get_mut(id) {
                event.body = None;
            }
        }
        Ok(())
    }

    fn load_all(&self) -> Result<Vec<Event>, Infallible> {
        Ok(self.events.values().cloned().collect())
    }
}
