//! What the core tells the shell to do.

use super::{peer::Attempt, route::Route};
use crate::{
    identity::PublicKey,
    ids::PeerId,
    mesh_message::MeshMessage,
    rest::IceServer,
    signaling::{IceCandidatePayload, SignalErrorCode, SignalMessage},
};

impl Action {
    /// For `Undeliverable`: the sentence an application is told (both shells say the same).
    pub fn undeliverable_text(peer: &PeerId, request_id: Option<&str>, reason: &str) -> String {
        let id = request_id.unwrap_or_default();
        format!("message {id} to {peer} not delivered by the registry: {reason}")
    }
}

/// One output of the core, taken with [`MeshCore::poll_action`](super::MeshCore::poll_action).
///
/// The core emits `ClosePeer` before any new `CreateOffer`/`AcceptOffer` for a peer it had a
/// connection with, so a shell holds at most one peer connection per peer.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open the signaling WebSocket; report `SignalingConnected` or `SignalingDisconnected`.
    ConnectSignaling,
    /// Send this frame on the signaling WebSocket (only emitted while it is connected).
    SendSignal(SignalMessage),
    /// Create a peer connection with a DataChannel labelled `"mesh"` and make an offer.
    CreateOffer {
        /// The remote peer.
        peer: PeerId,
        /// Tag every event of this connection with it.
        attempt: Attempt,
        /// Whether to restart ICE on an existing connection (the core currently always
        /// asks for a fresh connection instead).
        ice_restart: bool,
        /// The ICE servers to build it with (expired TURN credentials already left out).
        ice_servers: Vec<IceServer>,
        /// Whether the peer is known to run meshwork (an identity key is on record for it):
        /// such a peer answers an offer's `a=setup:active` as RFC 8842 says, so a shell may
        /// take the DTLS client role; an upstream peer may not (ADR 0021).
        meshwork_peer: bool,
    },
    /// Create a peer connection, apply this remote offer and make an answer.
    AcceptOffer {
        /// The remote peer.
        peer: PeerId,
        /// Tag every event of this connection with it.
        attempt: Attempt,
        /// The remote offer.
        sdp: String,
        /// The ICE servers to build it with (expired TURN credentials already left out).
        ice_servers: Vec<IceServer>,
    },
    /// Apply this remote answer to the offering connection.
    ApplyAnswer {
        /// The remote peer.
        peer: PeerId,
        /// The connection it belongs to.
        attempt: Attempt,
        /// The remote answer.
        sdp: String,
    },
    /// Add a remote ICE candidate (failures are harmless: it may belong to an older attempt).
    AddIceCandidate {
        /// The remote peer.
        peer: PeerId,
        /// The connection it belongs to.
        attempt: Attempt,
        /// The candidate.
        candidate: IceCandidatePayload,
    },
    /// Close the peer connection and forget it.
    ClosePeer {
        /// The remote peer.
        peer: PeerId,
        /// The connection to close.
        attempt: Attempt,
    },
    /// Send this keepalive `ping` or `pong` on the peer's channel (a failure is harmless:
    /// liveness notices a dead channel by itself).
    SendKeepalive {
        /// The remote peer.
        peer: PeerId,
        /// The connection whose channel carries it.
        attempt: Attempt,
        /// The message to send.
        message: MeshMessage,
    },
    /// Read the selected candidate pair of this open link and report `PathObserved`.
    ProbePath {
        /// The remote peer.
        peer: PeerId,
        /// The connection.
        attempt: Attempt,
    },
    /// Fetch the registry's ICE servers again (fresh TURN credentials, with a fresh token
    /// first where the shell's token may have expired); report `IceServers` or
    /// `IceServersFailed`.
    FetchIceServers,
    /// Something the application must hear about went wrong (a message dropped, a
    /// credential refused); the mesh carries on.
    Problem {
        /// The peer it concerns, if one.
        peer: Option<PeerId>,
        /// What happened, as the application is told.
        message: String,
    },
    /// The DataChannel to `peer` opened (IPC `peer_connected`).
    PeerConnected {
        /// The remote peer.
        peer: PeerId,
        /// Whether the link is bound to the peer's identity key.
        verified: bool,
    },
    /// The open DataChannel to `peer` is gone (IPC `peer_disconnected`).
    PeerDisconnected {
        /// The remote peer.
        peer: PeerId,
    },
    /// Hand this message to the application.
    Deliver {
        /// The sender.
        peer: PeerId,
        /// The message, untouched.
        message: MeshMessage,
        /// Round trip of the request this response answers, if the core tracked one.
        rtt_ms: Option<u64>,
        /// Which tier carried it.
        via: Route,
        /// Whether the sender is proven: a verified channel, or a sealed registry message.
        verified: bool,
    },
    /// No response to a tracked request arrived in time.
    RequestTimedOut {
        /// The request's `request_id`.
        request_id: String,
        /// Where it was sent.
        peer: PeerId,
    },
    /// Remember `key` as `peer`'s identity key (first verified contact); the native shell
    /// keeps it in its data directory so a later substitution is detected.
    RememberKey {
        /// The peer.
        peer: PeerId,
        /// Its key.
        key: PublicKey,
    },
    /// A memory sync frame from `peer` for the shell's replica (never an app message).
    MemoryFrame {
        /// The sender.
        peer: PeerId,
        /// The frame.
        frame: crate::memory::SyncMessage,
    },
    /// The registry refused a frame; for the shell to log.
    SignalingError {
        /// The registry's code, if it sent a known one.
        code: Option<SignalErrorCode>,
        /// The registry's explanation (or the raw payload if it was unreadable).
        message: String,
    },
    /// The registry could not carry a message sent through it (`mesh_message` refused): the
    /// application must learn it was not delivered.
    Undeliverable {
        /// Where it was going.
        peer: PeerId,
        /// Its `request_id`, when the registry named it.
        request_id: Option<String>,
        /// The registry's explanation.
        reason: String,
    },
}
