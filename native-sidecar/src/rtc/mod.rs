//! The webrtc-rs shell: one task per link attempt owns its `RTCPeerConnection` and performs
//! what the mesh core decides, in order; everything it observes goes back to the driver as
//! events tagged with the peer and the attempt, so the core can ignore stale ones.
//!
//! - [`settings`]: setting engine, configuration, bind addresses.
//! - [`link`]: the per-attempt task and its operations.
//! - [`handler`]: webrtc-rs callbacks → events.
//! - [`channel`]: the `mesh` DataChannel's event pump.

pub mod channel;
pub mod handler;
pub mod link;
pub mod settings;

use meshwork_protocol::{core::Attempt, core::Event, signaling::CandidateType, PeerId};

/// What the shell reports to the driver.
#[derive(Debug)]
pub enum RtcEvent {
    /// An event for the mesh core.
    Core(Event),
    /// A text message arrived on the channel.
    Text {
        /// From whom.
        peer: PeerId,
        /// On which attempt.
        attempt: Attempt,
        /// The message.
        text: String,
    },
    /// A binary message (a chunk of a large message) arrived.
    Binary {
        /// From whom.
        peer: PeerId,
        /// On which attempt.
        attempt: Attempt,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A message the driver handed to the link could not be written to the channel.
    SendFailed {
        /// Where it was going.
        peer: PeerId,
        /// Its `request_id`.
        request_id: String,
        /// Why.
        error: String,
    },
    /// The selected candidate pair of a link is known (for link reports).
    PathKnown {
        /// The peer.
        peer: PeerId,
        /// The attempt.
        attempt: Attempt,
        /// Local candidate type of the selected pair.
        candidate_type: Option<CandidateType>,
        /// Current RTT from ICE, milliseconds.
        rtt_ms: Option<f64>,
    },
}
