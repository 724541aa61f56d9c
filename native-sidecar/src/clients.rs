//! The connected IPC clients (the agent, `listen`, `send`): events go to every client,
//! errors about a command only to its sender. A client that falls behind pauses the
//! channel reads (`ipc_queue`); one that stays behind without reading for
//! [`STUCK_AFTER`] is dropped, so it cannot stall the others for good.

use crate::ipc::ClientId;
use crate::ipc_queue::ClientQueue;
use meshwork_protocol::ipc::IpcEvent;
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// How long a client may stay backlogged without draining before it is dropped.
pub const STUCK_AFTER: Duration = Duration::from_secs(30);

/// One client's queue and how long it has been behind.
struct Client {
    queue: ClientQueue,
    /// Since when it is backlogged, and how much it had queued then.
    behind: Option<(Instant, usize)>,
}

/// Every connected client.
#[derive(Default)]
pub struct Clients {
    clients: BTreeMap<ClientId, Client>,
}

impl Clients {
    /// A client connected.
    pub fn add(&mut self, id: ClientId, queue: ClientQueue) {
        self.clients.insert(
            id,
            Client {
                queue,
                behind: None,
            },
        );
    }

    /// A client left (or was dropped).
    pub fn remove(&mut self, id: ClientId) {
        self.clients.remove(&id);
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Tells one client.
    pub fn reply(&mut self, id: ClientId, event: IpcEvent) {
        let stuck = self
            .clients
            .get(&id)
            .is_some_and(|c| c.queue.push(event.to_line()).is_err());
        if stuck {
            self.drop_stuck(id);
        }
    }

    /// Tells every client.
    pub fn emit(&mut self, event: IpcEvent) {
        let line = event.to_line();
        let stuck: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.queue.push(line.clone()).is_err())
            .map(|(id, _)| *id)
            .collect();
        for id in stuck {
            self.drop_stuck(id);
        }
    }

    /// Hangs up on a client that stopped reading: its connection ends (and reports
    /// `Disconnected`, so an absent agent is noticed), the others go on.
    fn drop_stuck(&mut self, id: ClientId) {
        tracing::warn!(client = id, "IPC client stopped reading; disconnected");
        if let Some(client) = self.clients.remove(&id) {
            client.queue.hang_up.cancel();
        }
    }

    /// Whether some client is behind: channel reads wait until it drains. Drops clients
    /// that have not drained for [`STUCK_AFTER`] (then the others go on).
    pub fn backlogged(&mut self, now: Instant) -> bool {
        let mut stuck = Vec::new();
        let mut behind = false;
        for (id, client) in &mut self.clients {
            if !client.queue.backlogged() {
                client.behind = None;
                continue;
            }
            let queued = client.queue.queued();
            match client.behind {
                // It drained some since: a slow reader, not a stuck one.
                Some((_, then)) if queued < then => client.behind = Some((now, queued)),
                Some((since, _)) if now.duration_since(since) >= STUCK_AFTER => stuck.push(*id),
                Some(_) => {}
                None => client.behind = Some((now, queued)),
            }
            behind = true;
        }
        for id in stuck {
            self.drop_stuck(id);
        }
        behind && self.clients.values().any(|c| c.queue.backlogged())
    }

    /// When the earliest backlogged client would count as stuck.
    pub fn stuck_deadline(&self) -> Option<Instant> {
        self.clients
            .values()
            .filter_map(|c| c.behind.map(|(since, _)| since + STUCK_AFTER))
            .min()
    }
}
