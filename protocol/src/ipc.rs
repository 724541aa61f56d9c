//! Sidecar ⇄ local agent JSON lines over a Unix socket (PROTOCOL.md §3), and the shared
//! memory's commands and replies (§6).

use crate::{
    core::Tier,
    ids::PeerId,
    memory::{EventId, EventKind, HistoryEntry, ValueRead, ValuesRead, Version},
    mesh_message::MeshMessage,
};
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
    /// Write a value (§6); answered with `memory_written`.
    MemoryPut {
        /// Chosen by the agent, carried by the reply.
        request_id: String,
        /// The key (non-empty, at most 512 bytes).
        key: String,
        /// Any JSON value whose encoding is at most 256 KiB.
        value: serde_json::Value,
        /// Events this write replaces.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        supersedes: Vec<EventId>,
        /// Provenance.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        derived_from: Vec<EventId>,
    },
    /// Read a key (§6); answered with `memory_value`.
    MemoryGet {
        /// Chosen by the agent.
        request_id: String,
        /// The key.
        key: String,
        /// Read at this version instead of now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<Version>,
    },
    /// List the keys under a prefix (§6); answered with `memory_values`.
    MemoryList {
        /// Chosen by the agent.
        request_id: String,
        /// Keys starting with this.
        prefix: String,
        /// Read at this version instead of now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<Version>,
        /// At most this many items.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
    /// A key's events (§6); answered with `memory_history`.
    MemoryHistory {
        /// Chosen by the agent.
        request_id: String,
        /// The key.
        key: String,
    },
    /// Forget a key everywhere (§6); answered with `memory_written`.
    MemoryForget {
        /// Chosen by the agent.
        request_id: String,
        /// The key.
        key: String,
    },
    /// Hear of every event under a prefix (§6); answered with `memory_subscribed`, then
    /// `memory_changed` per event.
    MemorySubscribe {
        /// Chosen by the agent.
        request_id: String,
        /// Keys starting with this.
        prefix: String,
    },
}

/// The memory commands' type names, for telling a malformed memory command (whose error
/// must carry its `request_id`) from other malformed lines.
pub const MEMORY_COMMANDS: [&str; 6] = [
    "memory_put",
    "memory_get",
    "memory_list",
    "memory_history",
    "memory_forget",
    "memory_subscribe",
];

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

    /// Whether this is one of the shared memory's commands (§6).
    pub fn is_memory(&self) -> bool {
        matches!(
            self,
            Self::MemoryPut { .. }
                | Self::MemoryGet { .. }
                | Self::MemoryList { .. }
                | Self::MemoryHistory { .. }
                | Self::MemoryForget { .. }
                | Self::MemorySubscribe { .. }
        )
    }

    /// A memory command's `request_id` (`None` for any other command).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::MemoryPut { request_id, .. }
            | Self::MemoryGet { request_id, .. }
            | Self::MemoryList { request_id, .. }
            | Self::MemoryHistory { request_id, .. }
            | Self::MemoryForget { request_id, .. }
            | Self::MemorySubscribe { request_id, .. } => Some(request_id),
            _ => None,
        }
    }

    /// Whether this memory command writes an event (`memory_put`, `memory_forget`).
    pub fn is_memory_write(&self) -> bool {
        matches!(self, Self::MemoryPut { .. } | Self::MemoryForget { .. })
    }

    /// The `request_id` of a line that did not parse, when it is a memory command that has
    /// one: its error reply must carry it (§6).
    pub fn memory_request_id(line: &str) -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let kind = value.get("type")?.as_str()?;
        if !MEMORY_COMMANDS.contains(&kind) {
            return None;
        }
        let id = value.get("payload")?.get("request_id")?.as_str()?;
        Some(id.to_owned())
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
    /// Answer to `memory_put` and `memory_forget`: the event is durable (§6).
    MemoryWritten {
        /// The command's.
        request_id: String,
        /// The event's id.
        id: EventId,
        /// The key written.
        key: String,
        /// The replica's version with the event.
        version: Version,
    },
    /// Answer to `memory_get` (§6).
    MemoryValue {
        /// The command's.
        request_id: String,
        /// The read.
        #[serde(flatten)]
        read: ValueRead,
    },
    /// Answer to `memory_list` (§6).
    MemoryValues {
        /// The command's.
        request_id: String,
        /// The read.
        #[serde(flatten)]
        read: ValuesRead,
    },
    /// Answer to `memory_history` (§6).
    MemoryHistory {
        /// The command's.
        request_id: String,
        /// The key.
        key: String,
        /// Its events, oldest first.
        events: Vec<HistoryEntry>,
    },
    /// Answer to `memory_subscribe` (§6).
    MemorySubscribed {
        /// The command's.
        request_id: String,
    },
    /// An event under a subscribed prefix was applied (§6).
    MemoryChanged {
        /// The key.
        key: String,
        /// The event's id.
        id: EventId,
        /// Its author.
        author: PeerId,
        /// Put or forget.
        kind: EventKind,
        /// The value; null for a forget.
        value: serde_json::Value,
    },
    /// The last line was refused, or a send could not be delivered (ours); for a memory
    /// command, why it failed (§6).
    Error {
        /// The failed memory command's `request_id`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// What went wrong.
        message: String,
    },
}

impl IpcEvent {
    /// An error that answers no particular command.
    pub fn error(message: impl Into<String>) -> Self {
        Self::Error {
            request_id: None,
            message: message.into(),
        }
    }

    /// Serializes to one line, without the trailing newline.
    pub fn to_line(&self) -> String {
        // Sized for a message's payload up front (growing by doubling copied it ~4 times).
        let payload = match self {
            Self::Message { message, .. } => message.payload.json().len(),
            _ => 0,
        };
        let mut out = Vec::with_capacity(payload + 256);
        if serde_json::to_writer(&mut out, self).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
