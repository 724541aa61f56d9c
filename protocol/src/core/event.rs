//! What the shell tells the core.

use super::peer::Attempt;
use crate::{
    ids::PeerId,
    mesh_message::MeshMessage,
    signaling::{IceCandidatePayload, SignalMessage},
};
use std::time::Duration;

/// Which half of an SDP exchange a local description is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// Made by the offerer after `CreateOffer`.
    Offer,
    /// Made by the answerer after `AcceptOffer`.
    Answer,
}

/// `RTCPeerConnectionState`, as a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Just created.
    New,
    /// ICE/DTLS in progress.
    Connecting,
    /// Transport up.
    Connected,
    /// Transport lost, may come back: the core starts its grace timer.
    Disconnected,
    /// Transport gone for good.
    Failed,
    /// Closed locally.
    Closed,
}

/// One input to [`MeshCore::handle`](super::MeshCore::handle).
///
/// Events about a peer connection carry the [`Attempt`] the core gave in `CreateOffer` /
/// `AcceptOffer`; events of an attempt the core has moved past are ignored, so a shell may
/// report late callbacks of a closed connection without harm. A shell that fails to create
/// or negotiate a connection reports `ConnectionStateChanged { state: Failed }`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The signaling WebSocket is open.
    SignalingConnected,
    /// The signaling WebSocket closed, or a `ConnectSignaling` attempt failed.
    SignalingDisconnected,
    /// A frame arrived on the signaling WebSocket.
    SignalReceived(SignalMessage),
    /// The shell's connection produced its offer or answer.
    LocalDescription {
        /// The remote peer.
        peer: PeerId,
        /// The attempt the connection belongs to.
        attempt: Attempt,
        /// Offer or answer.
        sdp_type: SdpType,
        /// The session description.
        sdp: String,
    },
    /// The shell's connection gathered a local ICE candidate.
    LocalCandidate {
        /// The remote peer.
        peer: PeerId,
        /// The attempt the connection belongs to.
        attempt: Attempt,
        /// The candidate, ready for the wire.
        candidate: IceCandidatePayload,
    },
    /// The remote description (offer or answer) was applied to the connection.
    RemoteDescriptionApplied {
        /// The remote peer.
        peer: PeerId,
        /// The attempt the connection belongs to.
        attempt: Attempt,
    },
    /// The `mesh` DataChannel opened.
    ChannelOpened {
        /// The remote peer.
        peer: PeerId,
        /// The attempt the connection belongs to.
        attempt: Attempt,
    },
    /// The `mesh` DataChannel closed.
    ChannelClosed {
        /// The remote peer.
        peer: PeerId,
        /// The attempt the connection belongs to.
        attempt: Attempt,
    },
    /// The peer connection changed state.
    ConnectionStateChanged {
        /// The remote peer.
        peer: PeerId,
        /// The attempt the connection belongs to.
        attempt: Attempt,
        /// The new state.
        state: ConnectionState,
    },
    /// Something arrived on the peer's channel that the shell handles itself (liveness only).
    DataReceived {
        /// The sender.
        peer: PeerId,
    },
    /// A `MeshMessage` arrived on the peer's channel; the core answers keepalives, matches
    /// responses to requests and emits `Deliver` for everything else.
    MessageReceived {
        /// The sender.
        peer: PeerId,
        /// The parsed message.
        message: MeshMessage,
    },
    /// The application sent a request and wants a `RequestTimedOut` if no response comes.
    RequestSent {
        /// The request's `request_id`.
        request_id: String,
        /// Where it was sent.
        peer: PeerId,
        /// How long to wait for a response.
        timeout: Duration,
    },
    /// The application asked to connect to `peer` now.
    ConnectRequested {
        /// The peer to connect to.
        peer: PeerId,
    },
}
