//! The webrtc-rs shell: one task per link attempt owns its `RTCPeerConnection` and performs
//! what the mesh core decides, in order; everything it observes goes back to the driver as
//! core events tagged with the peer and the attempt (the core ignores stale ones).
//!
//! - [`settings`]: setting engine, configuration, bind addresses.
//! - [`link`]: the per-attempt task and its operations.
//! - [`handler`]: webrtc-rs callbacks → events.
//! - [`channel`]: the `mesh` DataChannel's event pump.
//! - [`path`]: reading the selected candidate pair.

pub mod channel;
pub mod handler;
pub mod link;
pub mod path;
pub mod settings;

use meshwork_protocol::core::Event;
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// How many channel events (messages, open, close) wait for the driver before the channel
/// pumps stop reading: then webrtc-rs stops draining SCTP and the sender is slowed by flow
/// control instead of this process growing.
pub const DATA_QUEUE: usize = 64;

/// Where link tasks report.
#[derive(Clone)]
pub struct Sinks {
    /// Connection lifecycle: descriptions, candidates, states, paths, write failures (a
    /// handful per link; never blocks a webrtc-rs callback).
    pub control: mpsc::UnboundedSender<Event>,
    /// Channel open, data and close, in the channel's order; bounded (see [`DATA_QUEUE`]).
    pub data: mpsc::Sender<Event>,
    /// Woken whenever a link's send queue drains, so a driver that paused its agents'
    /// input resumes.
    pub room: Arc<Notify>,
}

impl Sinks {
    /// Reports a lifecycle event.
    pub fn core(&self, event: Event) {
        let _ = self.control.send(event);
    }
}
