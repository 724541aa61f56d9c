//! The table of connected peers: who is registered, where to send their frames, and the links
//! they report open.

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
}

#[derive(Default)]
struct HubInner {
    peers: HashMap<PeerId, PeerSlot>,
    links: HashMap<PeerId, Vec<LinkInfo>>,
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
        };
        if let Some(old) = self.lock().peers.insert(peer_id.clone(), slot) {
            tracing::info!(peer_id = %peer_id, "second connection replaces the first");
            old.kill.cancel();
        }
        conn_id
    }

    /// Marks a connection registered; returns the peer list for it, and tells the others.
    /// `None` when the connection has been replaced meanwhile.
    pub fn register(
        &self,
        peer_id: &PeerId,
        conn_id: u64,
        peer: Registration,
    ) -> Option<Vec<(PeerId, Option<PublicKey>)>> {
        let mut inner = self.lock();
        let slot = inner
            .peers
            .get_mut(peer_id)
            .filter(|s| s.conn_id == conn_id)?;
        let identity_key = peer.identity_key;
        slot.registered = true;
        slot.kind = peer.kind;
        slot.takes_mesh_messages = peer.takes_mesh_messages;
        slot.identity_key = identity_key;
        slot.takes_memory = peer.takes_memory;
        slot.takes_tasks = peer.takes_tasks && peer.takes_mesh_messages;
        let joined = SignalMessage::from_registry(
            SignalType::PeerJoined,
            &PeerJoinedPayload {
                peer_id: peer_id.clone(),
                identity_key,
            },
        )
        .to_json();
        let mut others = Vec::new();
        for (id, slot) in inner
            .peers
            .iter()
            .filter(|(id, s)| *id != peer_id && s.registered)
        {
            others.push((id.clone(), slot.identity_key));
            if slot.tx.try_send(joined.clone()).is_err() {
                tracing::warn!(peer_id = %id, "peer_joined dropped: peer not keeping up");
            }
        }
        others.sort_by(|a, b| a.0.cmp(&b.0));
        Some(others)
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
            broadcast_left(&inner, peer_id, LeaveReason::Disconnected);
        }
    }

    /// Cuts a revoked peer off: closes its connection and tells every other peer it left with
    /// reason `revoked`, so they close their DataChannels to it. `false` if it was not online.
    pub fn revoke(&self, peer_id: &PeerId) -> bool {
        let mut inner = self.lock();
        let Some(slot) = inner.peers.remove(peer_id) else {
            return false;
        };
        slot.kill.cancel();
        inner.links.remove(peer_id);
        broadcast_left(&inner, peer_id, LeaveReason::Revoked);
        true
    }

    /// Sends a frame of type `kind` to a registered peer.
    pub fn relay(
        &self,
        target: &PeerId,
        kind: SignalType,
        frame: String,
    ) -> Result<(), RelayError> {
        let inner = self.lock();
        let slot = inner
            .peers
            .get(target)
            .filter(|s| s.registered)
            .ok_or(RelayError::UnknownTarget)?;
        if kind == SignalType::MeshMessage && !slot.takes_mesh_messages {
            return Err(RelayError::Declined);
        }
        slot.tx.try_send(frame).map_err(|_| RelayError::Congested)
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
        inner.links.insert(peer_id.clone(), links);
        true
    }

    /// Registered peers now.
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
        peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        peers
    }

    /// Every peer's latest link report.
    pub fn links(&self) -> Vec<(PeerId, Vec<LinkInfo>)> {
        let inner = self.lock();
        let mut links: Vec<_> = inner
            .links
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        links.sort_by(|a, b| a.0.cmp(&b.0));
        links
    }

    /// Number of open signaling connections.
    pub fn connection_count(&self) -> usize {
        self.lock().peers.len()
    }
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
pub fn peer_list_frame(peers: Vec<(PeerId, Option<PublicKey>)>, memory: bool) -> String {
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
