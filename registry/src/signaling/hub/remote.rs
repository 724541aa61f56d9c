//! Peers registered on the cluster's other registries (ADR 0024), and what this registry
//! tells them about its own. Every cluster decision about presence is made here, on the hub's
//! table, from [`Presence`] messages; `crate::cluster` only carries them over NATS.
//!
//! - A registry announces each peer that registers (`joined`), leaves (`left`) or is revoked,
//!   each link report, and every few seconds its whole list (`snapshot`, which also says it is
//!   alive). A `hello` from a registry that just started asks the others for their snapshots.
//! - One peer id on two registries: the later registration wins (`since_ms`, then the
//!   registry's id); the registry holding the older one closes it without telling its peers
//!   the peer left.
//! - A registry not heard from for the grace period is gone: its peers are reported left,
//!   unless they registered elsewhere meanwhile.

use super::{broadcast_joined, broadcast_left, revoke_here, HubInner, PeerSlot, SignalingHub};
use meshwork_protocol::{
    identity::PublicKey,
    signaling::{LeaveReason, LinkInfo, PeerKind},
    PeerId,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};
use tokio::sync::mpsc;

/// A peer as its registry announces it to the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemotePeer {
    /// Its id.
    pub peer_id: PeerId,
    /// Native or browser.
    pub kind: PeerKind,
    /// The identity key it registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<PublicKey>,
    /// It takes `mesh_message` frames (the registry tier).
    #[serde(default)]
    pub takes_mesh_messages: bool,
    /// It holds a memory replica.
    #[serde(default)]
    pub takes_memory: bool,
    /// It takes queued tasks over the mesh.
    #[serde(default)]
    pub takes_tasks: bool,
    /// Unix milliseconds of its registration.
    pub since_ms: u64,
}

/// What registries tell each other about their peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Presence {
    /// A peer registered here.
    Joined {
        /// The peer.
        peer: RemotePeer,
    },
    /// A peer here left.
    Left {
        /// Its id.
        peer_id: PeerId,
    },
    /// An admin revoked a peer: every registry closes its connection.
    Revoked {
        /// Its id.
        peer_id: PeerId,
    },
    /// A peer here reported its links.
    Links {
        /// Its id.
        peer_id: PeerId,
        /// The links it reports open.
        links: Vec<LinkInfo>,
    },
    /// Every peer registered here now; also says this registry is alive.
    Snapshot {
        /// The peers.
        peers: Vec<RemotePeer>,
    },
    /// This registry just started: send your snapshots.
    Hello,
}

/// Where a relayed frame goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Queued for a peer connected here.
    Here,
    /// The peer is connected to this registry of the cluster: forward it there.
    Remote(String),
}

/// This registry's place in the cluster: its id and the queue of what it announces.
pub struct ClusterLink {
    /// This registry's id in the cluster.
    pub instance: String,
    /// Announcements, published by `crate::cluster`.
    pub outbox: mpsc::Sender<Presence>,
}

/// A peer on another registry.
pub(super) struct RemoteSlot {
    /// The registry it is connected to.
    pub instance: String,
    /// What that registry announced.
    pub peer: RemotePeer,
}

/// The peers of the other registries, their link reports, and when each registry was last
/// heard from.
#[derive(Default)]
pub(super) struct RemoteTable {
    peers: HashMap<PeerId, RemoteSlot>,
    links: HashMap<PeerId, Vec<LinkInfo>>,
    heard: HashMap<String, Instant>,
}

impl RemoteTable {
    pub(super) fn get(&self, peer: &PeerId) -> Option<&RemoteSlot> {
        self.peers.get(peer)
    }

    pub(super) fn holds(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer)
    }

    pub(super) fn peers(&self) -> impl Iterator<Item = &RemotePeer> {
        self.peers.values().map(|s| &s.peer)
    }

    pub(super) fn links(&self) -> impl Iterator<Item = (&PeerId, &Vec<LinkInfo>)> {
        self.links.iter()
    }

    /// Drops `peer` (and its links); whether it was held.
    pub(super) fn forget(&mut self, peer: &PeerId) -> bool {
        self.links.remove(peer);
        self.peers.remove(peer).is_some()
    }
}

/// How `peer_id`'s registration here is announced.
pub(super) fn announcement(peer_id: &PeerId, slot: &PeerSlot) -> RemotePeer {
    RemotePeer {
        peer_id: peer_id.clone(),
        kind: slot.kind,
        identity_key: slot.identity_key,
        takes_mesh_messages: slot.takes_mesh_messages,
        takes_memory: slot.takes_memory,
        takes_tasks: slot.takes_tasks,
        since_ms: slot.since_ms,
    }
}

impl HubInner {
    /// Queues an announcement for the cluster (nothing without one). A full queue drops it:
    /// the next snapshot carries the same state.
    pub(super) fn announce(&self, message: Presence) {
        if let Some(link) = &self.cluster {
            if link.outbox.try_send(message).is_err() {
                tracing::warn!("cluster announcement dropped: NATS not keeping up");
            }
        }
    }

    fn my_instance(&self) -> &str {
        self.cluster.as_ref().map_or("", |c| c.instance.as_str())
    }

    /// `peer` registered on `instance`.
    fn remote_joined(&mut self, instance: &str, peer: RemotePeer) {
        if let Some(local) = self.peers.get(&peer.peer_id).filter(|s| s.registered) {
            let mine = (local.since_ms, self.my_instance());
            if mine > (peer.since_ms, instance) {
                return; // Ours is the later one: that registry closes its copy.
            }
            // Theirs is later: close ours; the mesh keeps the peer, nobody hears it left.
            if let Some(old) = self.peers.remove(&peer.peer_id) {
                tracing::info!(peer_id = %peer.peer_id, %instance, "connected again on another registry; closing this connection");
                old.kill.cancel();
            }
            self.links.remove(&peer.peer_id);
        }
        let known = self
            .remote
            .peers
            .get(&peer.peer_id)
            .is_some_and(|s| s.instance == instance && s.peer == peer);
        if known {
            return;
        }
        broadcast_joined(self, &peer.peer_id, peer.identity_key);
        self.remote.peers.insert(
            peer.peer_id.clone(),
            RemoteSlot {
                instance: instance.to_owned(),
                peer,
            },
        );
    }

    /// `peer_id` left `instance` (or was lost with it).
    fn remote_left(&mut self, instance: &str, peer_id: &PeerId) {
        let theirs = self
            .remote
            .peers
            .get(peer_id)
            .is_some_and(|s| s.instance == instance);
        if !theirs {
            return; // Already registered somewhere else since.
        }
        self.remote.forget(peer_id);
        let here = self.peers.get(peer_id).is_some_and(|s| s.registered);
        if !here {
            broadcast_left(self, peer_id, LeaveReason::Disconnected);
        }
    }
}

impl SignalingHub {
    /// Joins a cluster: from now on registrations, departures, revocations and link reports
    /// are announced through `link.outbox`.
    pub fn join_cluster(&self, link: ClusterLink) {
        self.lock().cluster = Some(link);
    }

    /// Every peer registered here, as announced to the cluster.
    pub fn local_snapshot(&self) -> Vec<RemotePeer> {
        let inner = self.lock();
        inner
            .peers
            .iter()
            .filter(|(_, s)| s.registered)
            .map(|(id, s)| announcement(id, s))
            .collect()
    }

    /// Applies what registry `instance` announced at `now`. `true` when it asks for this
    /// registry's snapshot (a `hello`).
    pub fn apply_presence(&self, instance: &str, message: Presence, now: Instant) -> bool {
        let mut inner = self.lock();
        if instance == inner.my_instance() {
            return false;
        }
        inner.remote.heard.insert(instance.to_owned(), now);
        match message {
            Presence::Joined { peer } => inner.remote_joined(instance, peer),
            Presence::Left { peer_id } => inner.remote_left(instance, &peer_id),
            Presence::Revoked { peer_id } => {
                revoke_here(&mut inner, &peer_id);
            }
            Presence::Links { peer_id, links } => {
                let theirs = inner
                    .remote
                    .peers
                    .get(&peer_id)
                    .is_some_and(|s| s.instance == instance);
                if theirs {
                    inner.remote.links.insert(peer_id, links);
                }
            }
            Presence::Snapshot { peers } => {
                let listed: HashSet<&PeerId> = peers.iter().map(|p| &p.peer_id).collect();
                let gone: Vec<PeerId> = inner
                    .remote
                    .peers
                    .iter()
                    .filter(|(id, s)| s.instance == instance && !listed.contains(id))
                    .map(|(id, _)| id.clone())
                    .collect();
                for peer_id in gone {
                    inner.remote_left(instance, &peer_id);
                }
                for peer in peers {
                    inner.remote_joined(instance, peer);
                }
            }
            Presence::Hello => return true,
        }
        false
    }

    /// Registries not heard from for `grace` are gone: their peers are reported left (unless
    /// they registered elsewhere meanwhile). Returns how many registries that was.
    pub fn expire_instances(&self, now: Instant, grace: Duration) -> usize {
        let mut inner = self.lock();
        let silent: Vec<String> = inner
            .remote
            .heard
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(**at) > grace)
            .map(|(id, _)| id.clone())
            .collect();
        for instance in &silent {
            tracing::warn!(%instance, "registry silent past the grace period; its peers are gone");
            inner.remote.heard.remove(instance);
            let theirs: Vec<PeerId> = inner
                .remote
                .peers
                .iter()
                .filter(|(_, s)| &s.instance == instance)
                .map(|(id, _)| id.clone())
                .collect();
            for peer_id in theirs {
                inner.remote_left(instance, &peer_id);
            }
        }
        silent.len()
    }
}
