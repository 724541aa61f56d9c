//! What the shell tells the core.

use super::peer::Attempt;
use crate::{
    ids::PeerId,
    rest::IceServer,
    signaling::{CandidateType, IceCandidatePayload, SignalMessage},
};
use std::time::Duration;

/// What a channel write is for: it decides what happens when the write fails later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// An application message to one peer: re-routed through the registry, or reported.
    Unicast,
    /// One copy of a broadcast: reported, never re-routed (broadcasts take channels only).
    Broadcast,
    /// A keepalive: nothing to do (silence fails a dead channel).
    Keepalive,
}

/// One DataChannel message as the browser or webrtc-rs delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text message (a whole MeshMessage).
    Text(String),
    /// A binary message (one chunk of a large message, `framing`).
    Binary(Vec<u8>),
}

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
    /// A DataChannel message arrived on the connection of `attempt`: the core drops data of
    /// replaced attempts, reassembles chunks, parses, answers keepalives, matches responses
    /// and delivers the rest.
    Data {
        /// The sender.
        peer: PeerId,
        /// The attempt the connection belongs to.
        attempt: Attempt,
        /// What arrived.
        data: Incoming,
    },
    /// A message the shell accepted for the channel could not be written after all (the
    /// write failed later, asynchronously): the core re-routes or reports it.
    WriteFailed {
        /// Where it was going.
        peer: PeerId,
        /// The connection it was handed to.
        attempt: Attempt,
        /// The message's frames, as the core produced them.
        frames: Vec<crate::framing::Frame>,
        /// What the write was for, as the core said in `Shell::write`.
        purpose: Purpose,
        /// Why the write failed.
        error: String,
    },
    /// The shell stopped (`true`) or resumed (`false`) reading channel data on purpose
    /// (backpressure: the application is behind). While paused, silence is not a failure.
    ReadsPaused(bool),
    /// The shell read the selected candidate pair of an open link (after `ProbePath`).
    PathObserved {
        /// The remote peer.
        peer: PeerId,
        /// The attempt the connection belongs to.
        attempt: Attempt,
        /// The selected path's type (relayed when either end is a TURN allocation).
        candidate_type: Option<CandidateType>,
        /// ICE's current round trip on that pair, milliseconds.
        rtt_ms: Option<f64>,
    },
    /// The registry's ICE servers (at signaling connect, or after `FetchIceServers`).
    IceServers {
        /// The servers.
        servers: Vec<IceServer>,
        /// Wall-clock seconds since the Unix epoch now (TURN credentials expire in it).
        unix_now: u64,
    },
    /// A `FetchIceServers` failed; the current servers stay.
    IceServersFailed {
        /// Why.
        error: String,
    },
    /// The shell could not send a frame the core gave it (socket gone, queue full).
    SignalDropped(SignalMessage),
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
