//! The table of connected peers: who is registered, where to send their frames, and the links
//! they report open. In a cluster (ADR 0024) it also holds the peers registered on the other
//! registries ([`remote`]), so a peer list, a relay or a topology covers the whole mesh.

pub mod remote;
#[cfg(test)]
mod tests;

pub use remote::{ClusterLink, Presence, RemotePeer, Route};

use meshwork_protocol::{
    identity::PublicKey,
    signaling::{
        LeaveReason, LinkInfo, PeerJoinedPayload, PeerKind, PeerLeftPayload, PeerListPayload,
        SignalType,
    },
    PeerId, SignalMessage,
};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex, MutexGuard,
    },
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Frames queued for one peer before it counts as not keeping up.
pub const OUTBOUND_QUEUE: usize = 1024;

struct PeerSlot {
    /// Distinguishes this connection from an older one with the same peer id, so the older
    /// connection's clean-up cannot remove its replacement.
    conn_id: u64,
    tx: mpsc::Sender<String>,
    /// Cancelled to close this connection (replaced by a newer one, or revoked).
    kill: CancellationToken,
    registered: bool,
    kind: PeerKind,
    /// Whether it said it takes `mesh_message` frames (ADR 0010); upstream sidecars do not
    /// know them, and a peer may turn the registry tier off.
    takes_mesh_messages: bool,
    /// The identity key it registered with (already checked against the binding).
    identity_key: Option<PublicKey>,
    /// It holds a memory replica and takes `memory_sync` frames (ADR 0016).
    takes_memory: bool,
    /// It takes queued tasks as `task_request` frames and acknowledges them (ADR 0018);
    /// only meshwork sidecars with the registry tier on say so.
    takes_tasks: bool,
    /// Unix milliseconds of its registration: of two connections of one peer id on two
    /// registries, the later wins.
    since_ms: u64,
}

#[derive(Default)]
struct HubInner {
    peers: HashMap<PeerId, PeerSlot>,
    links: HashMap<PeerId, Vec<LinkInfo>>,
    /// Peers registered on other registries of the cluster, and what they hold.
    remote: remote::RemoteTable,
    /// The cluster this registry is part of, if any.
    cluster: Option<ClusterLink>,
}

/// Why a relay failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayError {
    /// The target is not a registered peer.
    UnknownTarget,
    /// The target's outbound queue is full.
    Congested,
    /// The target does not take registry-carried messages.
    Declined,
}

/// What a peer said about itself at `register` (already checked).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Registration {
    /// Native or browser.
    pub kind: PeerKind,
    /// It takes `mesh_message` frames (the registry tier).
    pub takes_mesh_messages: bool,
    /// Its identity key (checked against the binding).
    pub identity_key: Option<PublicKey>,
    /// It holds a memory replica.
    pub takes_memory: bool,
    /// It takes queued tasks over the mesh (ADR 0018).
    pub takes_tasks: bool,
}

/// A connected peer, as the topology sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlinePeer {
    /// Its id.
    pub peer_id: PeerId,
    /// Native or browser.
    pub kind: PeerKind,
    /// The identity key it registered with.
    pub identity_key: Option<PublicKey>,
}

/// Connected peers.
#[derive(Default)]
pub struct SignalingHub {
    inner: Mutex<HubInner>,
    next_conn: AtomicU64,
}

impl SignalingHub {
    fn lock(&self) -> MutexGuard<'_, HubInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a connection, replacing (and closing) any older one with the same peer id.
    pub fn connect(
        &self,
        peer_id: &PeerId,
        tx: mpsc::Sender<String>,
        kill: CancellationToken,
    ) -> u64 {
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        let slot = PeerSlot {
            conn_id,
            tx,
            kill,
            registered: false,
            kind: PeerKind::Native,
            takes_mesh_messages: false,
            identity_key: None,
            takes_memory: false,
            takes_tasks: false,
            since_ms: 0,
        };
        if let Some(old) = self.lock().peers.insert(peer_id.clone(), slot) {
            tracing::info!(peer_id = %peer_id, "second connection replaces the first");
            old.kill.cancel();
        }
        conn_id
    }

    /// Marks a connection registered, queues its `peer_list` (with `memory` when the registry
    /// keeps a replica), and tells the others. Returns how many peers the list names; `None`
    /// when the connection has been replaced meanwhile.
    ///
    /// The list is queued under the hub's lock: a `peer_joined` or `peer_left` about a peer
    /// that registers or leaves next is queued after it, so the peer never applies a list
    /// older than an announcement it already applied (a `peer_list` unlists everyone it does
    /// not name).
    pub fn register(
        &self,
        peer_id: &PeerId,
        conn_id: u64,
        peer: Registration,
        memory: bool,
    ) -> Option<usize> {
        let mut inner = self.lock();
        let slot = inner
            .peers
            .get_mut(peer_id)
            .filter(|s| s.conn_id == conn_id)?;
        let identity_key = peer.identity_key;
        let tx = slot.tx.clone();
        slot.registered = true;
        slot.kind = peer.kind;
        slot.takes_mesh_messages = peer.takes_mesh_messages;
        slot.identity_key = identity_key;
        slot.takes_memory = peer.takes_memory;
        slot.takes_tasks = peer.takes_tasks && peer.takes_mesh_messages;
        slot.since_ms = crate::clock::unix_millis();
        let announced = remote::announcement(peer_id, slot);
        let others = inner
            .peers
            .iter()
            .filter(|(id, s)| *id != peer_id && s.registered)
            .map(|(id, slot)| (id.clone(), slot.identity_key));
        let mut others: Vec<_> = others.collect();
        // Registered here now: a copy elsewhere is the older one (its registry closes it
        // when it hears of this one).
        inner.remote.forget(peer_id);
        others.extend(
            inner
                .remote
                .peers()
                .map(|p| (p.peer_id.clone(), p.identity_key)),
        );
        others.sort_by(|a, b| a.0.cmp(&b.0));
        others.dedup_by(|a, b| a.0 == b.0);
        let listed = others.len();
        let _ = tx.try_send(peer_list_frame(others, memory));
        broadcast_joined(&inner, peer_id, identity_key);
        inner.announce(Presence::Joined { peer: announced });
        Some(listed)
    }

    /// Removes a connection if it is still the current one for its peer id; tells the others.
    pub fn disconnect(&self, peer_id: &PeerId, conn_id: u64) {
        let mut inner = self.lock();
        let current = inner
            .peers
            .get(peer_id)
            .is_some_and(|s| s.conn_id == conn_id);
        if !current {
            return;
        }
        let was_registered = inner.peers.remove(peer_id).is_some_and(|s| s.registered);
        inner.links.remove(peer_id);
        if was_registered {
            // (Still in the mesh if it registered on another registry meanwhile.)
            if !inner.remote.holds(peer_id) {
                broadcast_left(&inner, peer_id, LeaveReason::Disconnected);
            }
            inner.announce(Presence::Left {
                peer_id: peer_id.clone(),
            });
        }
    }

    /// Cuts a revoked peer off: closes its connection and tells every other peer it left with
    /// reason `revoked`, so they close their DataChannels to it. `false` if it was not online.
    /// In a cluster the other registries do the same for a peer connected to them.
    pub fn revoke(&self, peer_id: &PeerId) -> bool {
        let mut inner = self.lock();
        inner.announce(Presence::Revoked {
            peer_id: peer_id.clone(),
        });
        revoke_here(&mut inner, peer_id)
    }

    /// Sends a frame of type `kind` to a registered peer here, or says which registry of the
    /// cluster holds it (the caller forwards it there).
    pub fn relay(
        &self,
        target: &PeerId,
        kind: SignalType,
        frame: String,
    ) -> Result<Route, RelayError> {
        let inner = self.lock();
        let Some(slot) = inner.peers.get(target).filter(|s| s.registered) else {
            let remote = inner.remote.get(target).ok_or(RelayError::UnknownTarget)?;
            if kind == SignalType::MeshMessage && !remote.peer.takes_mesh_messages {
                return Err(RelayError::Declined);
            }
            return Ok(Route::Remote(remote.instance.clone()));
        };
        if kind == SignalType::MeshMessage && !slot.takes_mesh_messages {
            return Err(RelayError::Declined);
        }
        slot.tx.try_send(frame).map_err(|_| RelayError::Congested)?;
        Ok(Route::Here)
    }

    /// The connection id of `peer`'s registered connection if it takes queued tasks over
    /// the mesh (ADR 0018).
    pub fn task_connection(&self, peer: &PeerId) -> Option<u64> {
        self.lock()
            .peers
            .get(peer)
            .filter(|s| s.registered && s.takes_tasks)
            .map(|s| s.conn_id)
    }

    /// Sends a registry-originated frame to `peer`'s connection `conn_id` (a task for it).
    pub fn send_on(&self, peer: &PeerId, conn_id: u64, frame: String) -> Result<(), RelayError> {
        let inner = self.lock();
        let slot = inner
            .peers
            .get(peer)
            .filter(|s| s.registered && s.conn_id == conn_id)
            .ok_or(RelayError::UnknownTarget)?;
        slot.tx.try_send(frame).map_err(|_| RelayError::Congested)
    }

    /// Whether this connection is the current, registered one for its peer id.
    pub fn is_registered(&self, peer_id: &PeerId, conn_id: u64) -> bool {
        self.lock()
            .peers
            .get(peer_id)
            .is_some_and(|s| s.conn_id == conn_id && s.registered)
    }

    /// Replaces the links a peer reports open.
    pub fn report_links(&self, peer_id: &PeerId, conn_id: u64, links: Vec<LinkInfo>) -> bool {
        let mut inner = self.lock();
        if inner
            .peers
            .get(peer_id)
            .is_none_or(|s| s.conn_id != conn_id)
        {
            return false;
        }
        inner.announce(Presence::Links {
            peer_id: peer_id.clone(),
            links: links.clone(),
        });
        inner.links.insert(peer_id.clone(), links);
        true
    }

    /// Registered peers now, here and on the cluster's other registries.
    pub fn online(&self) -> Vec<OnlinePeer> {
        let inner = self.lock();
        let mut peers: Vec<OnlinePeer> = inner
            .peers
            .iter()
            .filter(|(_, s)| s.registered)
            .map(|(id, s)| OnlinePeer {
                peer_id: id.clone(),
                kind: s.kind,
                identity_key: s.identity_key,
            })
            .collect();
        peers.extend(inner.remote.peers().map(|p| OnlinePeer {
            peer_id: p.peer_id.clone(),
            kind: p.kind,
            identity_key: p.identity_key,
        }));
        peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        peers.dedup_by(|a, b| a.peer_id == b.peer_id);
        peers
    }

    /// Every peer's latest link report, here and on the cluster's other registries.
    pub fn links(&self) -> Vec<(PeerId, Vec<LinkInfo>)> {
        let inner = self.lock();
        let mut links: Vec<_> = inner
            .links
            .iter()
            .chain(inner.remote.links())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        links.sort_by(|a, b| a.0.cmp(&b.0));
        links.dedup_by(|a, b| a.0 == b.0);
        links
    }

    /// Number of open signaling connections.
    pub fn connection_count(&self) -> usize {
        self.lock().peers.len()
    }
}

/// Tells every registered peer here (but `peer_id`) that `peer_id` joined.
fn broadcast_joined(inner: &HubInner, peer_id: &PeerId, identity_key: Option<PublicKey>) {
    let joined = SignalMessage::from_registry(
        SignalType::PeerJoined,
        &PeerJoinedPayload {
            peer_id: peer_id.clone(),
            identity_key,
        },
    )
    .to_json();
    for (id, slot) in inner
        .peers
        .iter()
        .filter(|(id, s)| *id != peer_id && s.registered)
    {
        if slot.tx.try_send(joined.clone()).is_err() {
            tracing::warn!(peer_id = %id, "peer_joined dropped: peer not keeping up");
        }
    }
}

/// Closes `peer_id`'s connection here (if any), forgets it elsewhere, and tells every peer
/// here it left, revoked. Whether it was online here.
fn revoke_here(inner: &mut HubInner, peer_id: &PeerId) -> bool {
    let here = inner.peers.remove(peer_id);
    let elsewhere = inner.remote.forget(peer_id);
    inner.links.remove(peer_id);
    if let Some(slot) = &here {
        slot.kill.cancel();
    }
    if here.is_some() || elsewhere {
        broadcast_left(inner, peer_id, LeaveReason::Revoked);
    }
    here.is_some()
}

fn broadcast_left(inner: &HubInner, peer_id: &PeerId, reason: LeaveReason) {
    let left = SignalMessage::from_registry(
        SignalType::PeerLeft,
        &PeerLeftPayload {
            peer_id: peer_id.clone(),
            reason,
        },
    )
    .to_json();
    for slot in inner.peers.values().filter(|s| s.registered) {
        let _ = slot.tx.try_send(left.clone());
    }
}

impl SignalingHub {
    /// Sends `frame` to every registered peer that holds a memory replica, except `except`;
    /// a peer not keeping up misses it (the next `memory_have` repairs that).
    pub fn push_memory(&self, except: &PeerId, frame: &str) {
        let inner = self.lock();
        for (id, slot) in inner.peers.iter() {
            if id != except && slot.registered && slot.takes_memory {
                let _ = slot.tx.try_send(frame.to_owned());
            }
        }
    }
}

/// Builds the `peer_list` frame for a peer: ids, and the keys of those that have one;
/// `memory` when the registry keeps a replica.
fn peer_list_frame(peers: Vec<(PeerId, Option<PublicKey>)>, memory: bool) -> String {
    let keys = peers
        .iter()
        .filter_map(|(id, key)| Some((id.clone(), (*key)?)))
        .collect();
    let peers = peers.into_iter().map(|(id, _)| id).collect();
    let payload = PeerListPayload {
        peers,
        keys,
        memory: memory.then_some(true),
    };
    SignalMessage::from_registry(SignalType::PeerList, &payload).to_json()
}
