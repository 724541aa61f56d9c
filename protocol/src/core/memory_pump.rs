//! A peer's replica meets the mesh (ADR 0016): the frames that arrived for it are applied,
//! stored and answered; links that open hear what it holds; local writes and newly received
//! events spread to every other replica. The sidecar and the tab pump through this one loop.

use super::{shell::Mesh, Shell, Time};
use crate::{
    ids::PeerId,
    memory::{AgentMemory, Applied, Outgoing, SyncMessage},
};

/// What arrived for the replica since the last pump.
#[derive(Debug, Default)]
pub struct MemoryInbox {
    /// Peers whose channel just opened (and that hold a replica).
    pub opened: Vec<PeerId>,
    /// Sync frames from other replicas, in arrival order.
    pub frames: Vec<(PeerId, SyncMessage)>,
}

impl MemoryInbox {
    /// Nothing arrived.
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty() && self.frames.is_empty()
    }
}

/// Where a shell keeps its replica's events (SQLite natively, IndexedDB in a tab).
pub trait MemoryStore {
    /// Stores what one step applied — its events, then its erasures — before anything that
    /// follows from it is sent; `Err` says why it could not.
    fn store(&mut self, applied: &Applied) -> Result<(), String>;
}

/// What one pump produced for the shell.
#[derive(Debug, Default)]
pub struct Pumped {
    /// `memory_changed` lines for subscribed clients.
    pub lines: Outgoing,
    /// Frames whose events could not be stored (not answered: the sender offers them
    /// again at the next `memory_have`).
    pub failures: Vec<String>,
}

impl<S: Shell> Mesh<S> {
    /// Moves the replica's sync traffic until nothing is left (an answer may bring more).
    pub fn pump_memory(
        &mut self,
        memory: &mut AgentMemory,
        store: &mut impl MemoryStore,
        now: Time,
    ) -> Pumped {
        let mut pumped = Pumped::default();
        loop {
            let inbox = std::mem::take(&mut self.memory_inbox);
            let pushes = memory.take_pushes();
            if inbox.is_empty() && pushes.is_empty() {
                return pumped;
            }
            if !inbox.opened.is_empty() {
                let have = memory.have();
                for peer in inbox.opened {
                    // Unreachable now: the next anti-entropy round catches it up.
                    let _ = self.send_memory(&peer, &have, now);
                }
            }
            for frame in &pushes {
                self.push_memory(frame, None, now);
            }
            for (from, frame) in inbox.frames {
                for (author, key) in self.core.author_keys(&frame) {
                    memory.pin_key(author, key);
                }
                let received = memory.receive(frame);
                if let Err(e) = store.store(&received.applied) {
                    pumped
                        .failures
                        .push(format!("memory events from {from} not stored: {e}"));
                    continue;
                }
                for reply in &received.replies {
                    let _ = self.send_memory(&from, reply, now);
                }
                for push in &received.pushes {
                    self.push_memory(push, Some(&from), now);
                }
                pumped.lines.extend(received.lines);
            }
        }
    }

    /// Anti-entropy: every replica we can reach hears what we hold, so a frame lost on the
    /// way (or a peer reachable only through the registry) is caught up.
    pub fn resync_memory(&mut self, memory: &AgentMemory, now: Time) {
        self.push_memory(&memory.have(), None, now);
    }
}
