//! The shared memory's transport through the mesh (issue 14, ADR 0016): sync frames ride the
//! pair's channel, else the registry tier (sealed between keyed peers), as MeshMessages of
//! type `memory_sync`, and never reach the application as messages.
//!
//! Decisions:
//! - Only peers with an identity key speak the memory (every meshwork peer has one; upstream
//!   sidecars do not, and would hand the frames to their agents as unknown messages).
//! - An arriving `memory_sync` goes to the shell's memory (`Action::MemoryFrame`), from any
//!   peer and either tier: events are signed, so the carrier does not need to be trusted.

use super::{trust::Expected, Action, MeshCore, RouteError};
use crate::{
    ids::PeerId,
    memory::SyncMessage,
    mesh_message::{MeshMessage, MeshMessageType},
    signaling::{SignalMessage, SignalType, REGISTRY_PEER_ID},
};

/// The MeshMessage type of memory sync frames.
pub const MEMORY_SYNC_TYPE: &str = "memory_sync";

/// Whether `message` is a memory sync frame.
pub fn is_memory_frame(message: &MeshMessage) -> bool {
    matches!(&message.kind, MeshMessageType::Other(kind) if kind == MEMORY_SYNC_TYPE)
}

/// The MeshMessage carrying one sync frame.
pub fn memory_message(frame: &SyncMessage) -> MeshMessage {
    let payload = serde_json::to_value(frame).unwrap_or_default();
    MeshMessage::new(
        MeshMessageType::Other(MEMORY_SYNC_TYPE.to_owned()),
        String::new(),
        payload,
    )
}

impl MeshCore {
    /// This peer keeps a replica ([`super::Config::memory`]).
    pub fn memory_enabled(&self) -> bool {
        self.config.memory
    }

    /// Peers that hold a replica and can be reached now (open channel, or registered while
    /// the registry tier works), in id order; first the registry (`"registry"`) when it keeps
    /// a replica and our signaling is up.
    pub fn memory_peers(&self) -> Vec<PeerId> {
        let registry = (self.registry_memory && self.is_signaling_connected())
            .then(|| PeerId::new(REGISTRY_PEER_ID));
        let peers = self
            .peers
            .keys()
            .filter(|id| self.speaks_memory(id) && self.route(id).is_ok())
            .cloned();
        registry.into_iter().chain(peers).collect()
    }

    /// Sends one sync frame to the registry's replica over the signaling socket.
    pub fn send_memory_to_registry(&mut self, frame: &SyncMessage) -> Result<(), RouteError> {
        let registry = PeerId::new(REGISTRY_PEER_ID);
        if !(self.registry_memory && self.is_signaling_connected()) {
            return Err(RouteError::Unreachable(registry));
        }
        let signal = SignalMessage::new(SignalType::MemorySync, self.me.clone(), None, frame);
        self.emit(Action::SendSignal(signal));
        Ok(())
    }

    /// Whether `peer` holds a replica: the registry when it said so, else a peer with an
    /// identity key (pinned or announced), i.e. a meshwork peer.
    pub fn speaks_memory(&self, peer: &PeerId) -> bool {
        if peer.as_str() == REGISTRY_PEER_ID {
            return self.registry_memory;
        }
        matches!(self.trust.expected(peer), Expected::Key(_))
    }

    /// The identity key this peer trusts for `peer` (pinned, else announced by the
    /// registry), for checking the author of memory events; `None` when unknown or in
    /// conflict.
    pub fn trusted_key(&self, peer: &PeerId) -> Option<crate::identity::PublicKey> {
        match self.trust.expected(peer) {
            Expected::Key(key) => Some(key),
            Expected::Nothing | Expected::Conflict { .. } => None,
        }
    }

    /// The keys to check a frame's event authors against: every author this peer trusts a
    /// key for (an author it knows nothing of is left to the replica: first key seen).
    pub fn author_keys(&self, frame: &SyncMessage) -> Vec<(PeerId, crate::identity::PublicKey)> {
        let SyncMessage::MemoryEvents { events, .. } = frame else {
            return Vec::new();
        };
        let mut keys: Vec<_> = events
            .iter()
            .filter_map(|e| Some((e.author.clone(), self.trusted_key(&e.author)?)))
            .collect();
        keys.dedup();
        keys
    }

    /// A `memory_sync` frame from `peer` (a MeshMessage's payload, or the registry's
    /// signaling frame): handed to the shell's memory, never delivered.
    pub(super) fn on_memory_frame(&mut self, peer: PeerId, payload: serde_json::Value) {
        match serde_json::from_value::<SyncMessage>(payload) {
            Ok(frame) => self.emit(Action::MemoryFrame { peer, frame }),
            Err(e) => self.emit(Action::Problem {
                peer: Some(peer.clone()),
                message: format!("a memory frame from {peer} was dropped: {e}"),
            }),
        }
    }
}
