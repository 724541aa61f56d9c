//! What registries send each other over NATS: JSON, each message wrapped with the id of the
//! registry that sent it.

use meshwork_protocol::{signaling::SignalType, PeerId};
use serde::{Deserialize, Serialize};

/// A message and the registry it came from.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The sending registry's id.
    pub from: String,
    /// The message.
    pub body: T,
}

/// A signaling frame for a peer connected to another registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forward {
    /// The target peer.
    pub to: PeerId,
    /// The frame's type (a `mesh_message` goes only to peers that take them).
    pub kind: SignalType,
    /// The frame, as the sender sent it.
    pub text: String,
    /// Who sent it: a refusal goes back to this peer.
    pub from_peer: PeerId,
}
