//! The tab's replica of the shared memory (PROTOCOL.md §6, ADR 0019): the protocol crate's
//! [`AgentMemory`] over an IndexedDB store. Commands and replies are §6's, as a sidecar's
//! agents send and receive them; the page is client 0.
//!
//! A local write is in IndexedDB (strict durability) before its reply resolves. Received
//! events are stored in arrival order, one transaction per step, without waiting.

use crate::{
    idb::{Durability, Idb},
    sink::{self, Sink},
};
use meshwork_protocol::{
    core::MemoryStore,
    identity::Identity,
    ipc::IpcCommand,
    memory::{AgentMemory, Answer, Applied, Limits, Outgoing, Replica},
    PeerId,
};
use std::rc::Rc;

/// The page's client id in [`AgentMemory`].
pub const PAGE: u64 = 0;

/// How often every reachable replica hears what the tab holds (anti-entropy), as a sidecar.
pub const RESYNC_MS: u32 = 10_000;

/// A replica restored from IndexedDB, before the tab has a peer id.
pub struct Restored {
    /// The events, verified and applied.
    pub replica: Replica,
    /// The database.
    pub idb: Rc<Idb>,
}

impl Restored {
    /// Opens the tab's database and rebuilds the replica from it; erasures a closed tab
    /// left undone are made now.
    pub async fn open() -> Result<Self, String> {
        let idb = Idb::open().await?;
        let events = idb.load().await?;
        let (replica, restored) = Replica::restore(Limits::default(), events);
        if !restored.erased.is_empty() {
            let erasures = Applied {
                events: Vec::new(),
                erased: restored.erased,
            };
            idb.write(&erasures, Durability::Strict)?.await?;
        }
        Ok(Self {
            replica,
            idb: Rc::new(idb),
        })
    }
}

/// The tab's replica and its store.
pub struct TabMemory {
    pub(crate) agent: AgentMemory,
    pub(crate) store: TabStore,
}

impl TabMemory {
    /// Serves `restored` as `me`, signing with `identity`.
    pub fn new(restored: Restored, identity: Option<Identity>, me: PeerId, sink: Sink) -> Self {
        Self {
            agent: AgentMemory::new(restored.replica, identity, Some(me)),
            store: TabStore {
                idb: restored.idb,
                sink,
            },
        }
    }

    /// Answers `cmd` now; a write's events come back to be stored before its reply goes.
    pub fn answer(&mut self, cmd: IpcCommand, now_ms: u64) -> Answer {
        self.agent.answer(PAGE, cmd, now_ms)
    }

    /// A local write's transaction failed: writes stop with `why` (reads go on).
    pub fn break_writes(&mut self, why: String) {
        self.agent.stop_writes(why);
    }

    /// A write's events are durable: subscribers hear of them, and they spread.
    pub fn stored(&mut self, applied: Applied) -> Outgoing {
        self.agent.stored(applied)
    }

    /// The database, for a local write's transaction.
    pub fn idb(&self) -> Rc<Idb> {
        Rc::clone(&self.store.idb)
    }
}

/// Received events go to IndexedDB without waiting; a failed transaction is reported to the
/// page (sync offers the events again).
pub struct TabStore {
    idb: Rc<Idb>,
    sink: Sink,
}

impl MemoryStore for TabStore {
    fn store(&mut self, applied: &Applied) -> Result<(), String> {
        if applied.events.is_empty() && applied.erased.is_empty() {
            return Ok(());
        }
        let done = self.idb.write(applied, Durability::Default)?;
        let sink = self.sink.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = done.await {
                sink::error(&sink, format!("memory events not stored in IndexedDB: {e}"));
            }
        });
        Ok(())
    }
}
