//! Change notifications inside the registry: who waits for a pairing decision, and (for the
//! hub's live stream) what changed. Subscribers re-read the state they care about; the bus
//! carries only which part changed, so a slow subscriber that lags loses nothing it cannot
//! re-read.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use tokio::sync::{broadcast, mpsc};

/// Which part of the registry's state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// In a cluster, changes made here also go to the other registries (ADR 0024).
    cluster: OnceLock<mpsc::Sender<Change>>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(256).0,
            cluster: OnceLock::new(),
        }
    }
}

impl Events {
    /// Announces a change made here (no one listening is fine), to the cluster too.
    pub fn publish(&self, change: Change) {
        let _ = self.tx.send(change);
        if let Some(cluster) = self.cluster.get() {
            // A full queue drops it: changes only say what to re-read, and more follow.
            let _ = cluster.try_send(change);
        }
    }

    /// Announces a change another registry of the cluster made (not sent back out).
    pub fn publish_local(&self, change: Change) {
        let _ = self.tx.send(change);
    }

    /// From now on, changes made here also go to `cluster`.
    pub fn join_cluster(&self, cluster: mpsc::Sender<Change>) {
        let _ = self.cluster.set(cluster);
    }

    /// Listens for changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }
}
