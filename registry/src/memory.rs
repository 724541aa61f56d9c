//! The registry's always-on memory replica (issue 14, ADR 0016): peers sync with it over
//! their signaling sockets (`memory_sync` frames), so two agents that are never online at the
//! same time still converge. It authors nothing; it stores, answers and forwards signed
//! events. `MEMORY_REPLICA=false` turns it off.

use crate::store::Store;
use meshwork_protocol::memory::{sync, Limits, Replica, SyncMessage};
use tokio::sync::{Mutex, MutexGuard};

/// The replica. Its lock is held until what a frame applied is committed, so two frames'
/// writes reach the store in the order the replica applied them (a forget never lands before
/// the event it erases).
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
    pub async fn open(db: &dyn Store) -> anyhow::Result<Self> {
        let events = db.memory_events().await?;
        let count = events.len();
        let (replica, applied) = Replica::restore(Limits::default(), events);
        db.memory_commit(Vec::new(), applied.erased).await?;
        tracing::info!(events = count, "memory replica loaded");
        Ok(Self {
            replica: Mutex::new(replica),
        })
    }

    async fn lock(&self) -> MutexGuard<'_, Replica> {
        self.replica.lock().await
    }

    /// "I hold this": sent to a peer when it registers.
    pub async fn have(&self) -> SyncMessage {
        sync::open(&*self.lock().await)
    }

    /// Answers one frame from a peer; what it applied is durable before the replies go out.
    /// Events count only from authors whose identity key the registry has bound, checked
    /// against that key: no peer can write as another, nor as a peer id nobody holds.
    pub async fn handle(&self, db: &dyn Store, frame: SyncMessage) -> anyhow::Result<Outcome> {
        let mut replica = self.lock().await;
        let frame = match frame {
            SyncMessage::MemoryEvents { events, more } => {
                let mut kept = Vec::with_capacity(events.len());
                // One lookup per author per frame, not per event.
                let mut bound = std::collections::BTreeMap::new();
                for event in events {
                    if !bound.contains_key(&event.author) {
                        let key = db.identity_key(event.author.as_str()).await?;
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
        db.memory_commit(step.applied.events.clone(), step.applied.erased.clone())
            .await?;
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
    pub async fn events_held(&self) -> u64 {
        self.lock().await.version().iter().map(|(_, n)| n).sum()
    }
}
