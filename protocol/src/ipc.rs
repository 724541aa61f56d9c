//! Sidecar ⇄ local agent JSON lines over a Unix socket (PROTOCOL.md §3).

use crate::{core::Tier, ids::PeerId, mesh_message::MeshMessage};
use serde::{Deserialize, Serialize};

/// Agent → sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum IpcCommand {
    /// Send one message to one peer.
    Send {
        /// The receiving peer.
        target_peer: PeerId,
        /// The message.
        message: MeshMessage,
        /// Answer with `sent` naming the tier that took it (ours; chatixia agents never ask,
        /// so they never see the new event).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ack: bool,
        /// Track it as a request: when no response with its `request_id` arrives within this
        /// many milliseconds, the agent gets `request_timed_out` (ours; absent upstream).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Send one message to every connected peer.
    Broadcast {
        /// The message.
        message: MeshMessage,
    },
    /// Ask for the connected peers; answered with `peer_list`.
    ListPeers {},
    /// Ask the sidecar to connect to a peer now.
    Connect {
        /// The peer to connect to.
        target_peer_id: PeerId,
    },
}

impl IpcCommand {
    /// Parses one line. A missing `payload` is read as `{}`, as Python's `dict.get` would.
    pub fn parse_line(line: &str) -> Result<Self, serde_json::Error> {
        // Fast path: one pass over the line (large messages are megabytes).
        let first = match serde_json::from_str(line) {
            Ok(cmd) => return Ok(cmd),
            Err(e) => e,
        };
        if line.contains("\"payload\"") {
            return Err(first);
        }
        let mut value: serde_json::Value = serde_json::from_str(line)?;
        if let Some(obj) = value.as_object_mut() {
            obj.entry("payload")
                .or_insert_with(|| serde_json::json!({}));
        }
        serde_json::from_value(value)
    }
}

/// Sidecar → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum IpcEvent {
    /// A message arrived from a peer.
    Message {
        /// The sending peer.
        from_peer: PeerId,
        /// The message.
        message: MeshMessage,
        /// The tier that carried it (ours; an extra key upstream agents ignore).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<Tier>,
        /// Round trip of the request it answers, when that request was sent with
        /// `timeout_ms` (ours).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rtt_ms: Option<u64>,
        /// Whether the sender is proven by its identity key (ours, ADR 0015): a verified
        /// DataChannel, or a sealed registry-tier message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verified: Option<bool>,
    },
    /// Answer to a `send` with `ack`: the message left on this tier (ours).
    Sent {
        /// The receiving peer.
        target_peer: PeerId,
        /// The message's `request_id`.
        request_id: String,
        /// The tier that took it.
        via: Tier,
    },
    /// A DataChannel to this peer opened.
    PeerConnected {
        /// The peer.
        peer_id: PeerId,
        /// Whether the link is bound to the peer's identity key (ours, ADR 0015).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verified: Option<bool>,
    },
    /// The DataChannel to this peer closed.
    PeerDisconnected {
        /// The peer.
        peer_id: PeerId,
    },
    /// Answer to `list_peers`: peers with an open DataChannel.
    PeerList {
        /// The peers.
        peers: Vec<PeerId>,
    },
    /// A request sent with `timeout_ms` got no response in time (ours).
    RequestTimedOut {
        /// The request's id.
        request_id: String,
        /// Where it went.
        peer_id: PeerId,
    },
    /// The last line was refused, or a send could not be delivered (ours).
    Error {
        /// What went wrong.
        message: String,
    },
}

impl IpcEvent {
    /// Serializes to one line, without the trailing newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
