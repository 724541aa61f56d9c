//! Keepalive probes on the `mesh` DataChannel.
//!
//! A keepalive is an ordinary §2 `ping`/`pong` whose `request_id` starts with
//! [`KEEPALIVE_PREFIX`], so peers that do not know about it still answer or pass it on,
//! while the core recognises and consumes its own probes before the application sees them.

use crate::mesh_message::{MeshMessage, MeshMessageType};
use serde_json::{json, Value};

/// The `request_id` prefix that marks a ping or pong as a transport keepalive.
pub const KEEPALIVE_PREFIX: &str = "mw-keepalive-";

/// The keepalive ping with sequence number `seq`.
pub fn keepalive_ping(seq: u64) -> MeshMessage {
    MeshMessage::new(
        MeshMessageType::Ping,
        format!("{KEEPALIVE_PREFIX}{seq}"),
        json!({}),
    )
}

/// The pong answering `ping` (it echoes the `request_id`, as §2 requires).
pub fn keepalive_pong(ping: &MeshMessage) -> MeshMessage {
    MeshMessage::new(
        MeshMessageType::Pong,
        ping.request_id.clone(),
        Value::Object(Default::default()),
    )
}

/// Whether `message` is a transport keepalive the application must never see.
pub fn is_keepalive(message: &MeshMessage) -> bool {
    matches!(message.kind, MeshMessageType::Ping | MeshMessageType::Pong)
        && message.request_id.starts_with(KEEPALIVE_PREFIX)
}
