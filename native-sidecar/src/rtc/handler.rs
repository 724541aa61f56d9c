//! webrtc-rs callbacks → events. Callbacks run on the connection's driver task, so they only
//! forward (an unbounded send never blocks).

use super::{channel, Sinks};
use meshwork_protocol::{
    core::{Attempt, ConnectionState, Event},
    signaling::IceCandidatePayload,
    PeerId,
};
use std::sync::{Arc, Mutex};
use webrtc::{
    data_channel::DataChannel,
    peer_connection::{
        PeerConnectionEventHandler, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    },
};

/// The channel a link uses, once created (offerer) or received (answerer).
pub type ChannelSlot = Arc<Mutex<Option<Arc<dyn DataChannel>>>>;

/// Forwards one connection's callbacks.
pub struct Handler {
    /// The remote peer.
    pub peer: PeerId,
    /// This connection's attempt.
    pub attempt: Attempt,
    /// To the driver.
    pub sinks: Sinks,
    /// Where the answerer stores the channel the offerer opened.
    pub channel: ChannelSlot,
}

impl Handler {
    fn core(&self, event: Event) {
        self.sinks.core(event);
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, ev: RTCPeerConnectionIceEvent) {
        match ev.candidate.to_json() {
            Ok(init) => self.core(Event::LocalCandidate {
                peer: self.peer.clone(),
                attempt: self.attempt,
                candidate: IceCandidatePayload {
                    candidate: init.candidate,
                    // webrtc-rs emits an empty mid; browsers want the data m-line's (0).
                    sdp_mid: init
                        .sdp_mid
                        .filter(|m| !m.is_empty())
                        .or_else(|| Some("0".into())),
                    sdp_m_line_index: init.sdp_mline_index,
                },
            }),
            Err(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "cannot encode local candidate")
            }
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let state = match state {
            RTCPeerConnectionState::New => ConnectionState::New,
            RTCPeerConnectionState::Connecting => ConnectionState::Connecting,
            RTCPeerConnectionState::Connected => ConnectionState::Connected,
            RTCPeerConnectionState::Disconnected => ConnectionState::Disconnected,
            RTCPeerConnectionState::Failed => ConnectionState::Failed,
            RTCPeerConnectionState::Closed => ConnectionState::Closed,
            _ => return,
        };
        tracing::debug!(peer = %self.peer, attempt = %self.attempt, ?state, "connection state");
        self.core(Event::ConnectionStateChanged {
            peer: self.peer.clone(),
            attempt: self.attempt,
            state,
        });
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let label = dc.label().await.unwrap_or_default();
        if label != "mesh" {
            tracing::warn!(peer = %self.peer, %label, "ignoring unexpected data channel");
            return;
        }
        if let Ok(mut slot) = self.channel.lock() {
            *slot = Some(dc.clone());
        }
        channel::spawn_pump(self.peer.clone(), self.attempt, dc, self.sinks.data.clone());
    }
}
