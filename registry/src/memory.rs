//! The registry's always-on memory replica (issue 14, ADR 0016): peers sync with it over
//! their signaling sockets (`memory_sync` frames), so two agents that are never online at the
//! same time still converge. It authors nothing; it stores, answers and forwards signed
//! events. `MEMORY_REPLICA=false` turns it off.

use crate::db::{memory::MemoryStore, Db};
use meshwork_protocol::memory::{
    store::{persist, EventStore},
    sync, Limits, Replica, SyncMessage,
};
use std::sync::{Mutex, MutexGuard};

/// The replica and its store.
pub struct RegistryMemory {
    replica: Mutex<Replica>,
}

/// What one incoming frame produced.
pub struct Outcome {
    /// Frames back to the sender.
    pub replies: Vec<SyncMessage>,
    /// New events for every other peer with a replica (delta push).
    pub pushes: Vec<SyncMessage>,
}

impl RegistryMemory {
    /// Rebuilds the replica from the database (finishing erasures a crash interrupted).
    pub fn open(db: &Db) -> anyhow::Result<Self> {
        let events = MemoryStore(db).load_all()?;
        let count = events.len();
        let (replica, applied) = Replica::restore(Limits::default(), events);
        MemoryStore(db).erase_bodies(&applied.erased)?;
        tracing::info!(events = count, "memory replica loaded");
        Ok(Self {
            replica: Mutex::new(replica),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Replica> {
        self.replica.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// "I hold this": sent to a peer when it registers.
    pub fn have(&self) -> SyncMessage {
        sync::open(&self.lock())
    }

    /// Answers one frame from a peer; what it applied is durable before the replies go out.
    /// Events count only from authors whose identity key the registry has bound, checked
    /// against that key: no peer can write as another, nor as a peer id nobody holds.
    pub fn handle(&self, db: &Db, frame: SyncMessage) -> anyhow::Result<Outcome> {
        let mut replica = self.lock();
        let frame = match frame {
            SyncMessage::MemoryEvents { events, more } => {
                let mut kept = Vec::with_capacity(events.len());
                // One lookup per author per frame, not per event.
                let mut bound = std::collections::BTreeMap::new();
                for event in events {
                    if !bound.contains_key(&event.author) {
                        let key = db.identity_key(event.author.as_str())?;
                        if let Some(key) = key {
                            replica.pin_key(event.author.clone(), key);
                        }
                        bound.insert(event.author.clone(), key.is_some());
                    }
                    if bound.get(&event.author) == Some(&true) {
                        kept.push(event);
                    } else {
                        tracing::warn!(author = %event.author, "memory event from an author without a bound key dropped");
                    }
                }
                SyncMessage::MemoryEvents { events: kept, more }
            }
            other => other,
        };
        let step = sync::handle(&mut replica, frame);
        persist(&mut MemoryStore(db), &step.applied)?;
        let pushes = if step.applied.events.is_empty() {
            Vec::new()
        } else {
            sync::push(&step.applied.events, &Limits::default())
        };
        Ok(Outcome {
            replies: step.replies,
            pushes,
        })
    }

    /// Events held, for metrics and logs.
    pub fn events_held(&self) -> u64 {
        self.lock().version().iter().map(|(_, n)| n).sum()
    }
}
