//! The shared memory's transport through the mesh (issue 14, ADR 0016): sync frames ride the
//! pair's channel, else the registry tier (sealed between keyed peers), as MeshMessages of
//! type `memory_sync`, and never reach the application as messages.
//!
//! Decisions:
//! - Only peers with an identity key speak the memory (every meshwork peer has one; upstream
//!   sidecars do not, and would hand the frames to their agents as unknown messages).
//! - An arriving `memory_sync` goes to the shell's memory (`Action::MemoryFrame`), from any
//!   peer and either tier: events are signed, so the carrier does not need to be trusted.

use super::{trust::Expected, Action, MeshCore};
use crate::{
    ids::PeerId,
    memory::SyncMessage,
    mesh_message::{MeshMessage, MeshMessageType},
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
    /// Peers that hold a replica and can be reached now (open channel, or registered while
    /// the registry tier works), in id order.
    pub fn memory_peers(&self) -> Vec<PeerId> {
        self.peers
            .keys()
            .filter(|id| self.speaks_memory(id) && self.route(id).is_ok())
            .cloned()
            .collect()
    }

    /// Whether `peer` has an identity key (pinned or announced): a meshwork peer.
    pub fn speaks_memory(&self, peer: &PeerId) -> bool {
        matches!(self.trust.expected(peer), Expected::Key(_))
    }

    /// A `memory_sync` message from `peer`: handed to the shell's memory, never delivered.
    pub(super) fn on_memory_frame(&mut self, peer: PeerId, message: MeshMessage) {
        match serde_json::from_value::<SyncMessage>(message.payload) {
            Ok(frame) => self.emit(Action::MemoryFrame { peer, frame }),
            Err(e) => self.emit(Action::Problem {
                peer: Some(peer.clone()),
                message: format!("a memory frame from {peer} was dropped: {e}"),
            }),
        }
    }
}
