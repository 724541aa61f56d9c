//! Change notifications inside the registry: who waits for a pairing decision, and (for the
//! hub's live stream) what changed. Subscribers re-read the state they care about; the bus
//! carries only which part changed, so a slow subscriber that lags loses nothing it cannot
//! re-read.

use tokio::sync::broadcast;

/// Which part of the registry's state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// Agent records or their health.
    Agents,
    /// Tasks.
    Tasks,
    /// Pairing entries.
    Pairings,
    /// Connected peers or their reported links.
    Topology,
}

/// The change bus.
pub struct Events {
    tx: broadcast::Sender<Change>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(256).0,
        }
    }
}

impl Events {
    /// Announces a change (no one listening is fine).
    pub fn publish(&self, change: Change) {
        let _ = self.tx.send(change);
    }

    /// Listens for changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }
}
