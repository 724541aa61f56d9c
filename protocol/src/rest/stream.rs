//! The hub's live stream (ours): `GET /api/hub/stream`, a WebSocket opened with
//! `Sec-WebSocket-Protocol: meshwork, <admin token>`. The registry sends a full `snapshot` on
//! connect, then what changed (coalesced): the whole agents, pairings or topology section when
//! it differs from what was last sent, and only the tasks that changed (`tasks_changed`), so a
//! large queue is not resent on every change. A client that reconnects is in sync again with
//! the next snapshot. Clients send nothing.

use super::{AgentRecord, PairingEntry, Task, Topology};
use serde::{Deserialize, Serialize};

/// Path of the stream.
pub const HUB_STREAM_PATH: &str = "/api/hub/stream";

/// One message of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubUpdate {
    /// Everything, on connect (and after the client fell behind).
    Snapshot {
        /// Every agent record, health derived now.
        agents: Vec<AgentRecord>,
        /// Every task.
        tasks: Vec<Task>,
        /// Every pairing entry (never a token).
        pairings: Vec<PairingEntry>,
        /// Nodes and reported links.
        topology: Topology,
    },
    /// Agent records or health changed.
    Agents {
        /// Every agent record.
        agents: Vec<AgentRecord>,
    },
    /// Tasks changed (every task; the registry now sends `TasksChanged` instead).
    Tasks {
        /// Every task.
        tasks: Vec<Task>,
    },
    /// These tasks are new or changed: replace each one with the same id, add the others.
    TasksChanged {
        /// The new or changed tasks, oldest first.
        tasks: Vec<Task>,
    },
    /// Pairing entries changed.
    Pairings {
        /// Every pairing entry.
        pairings: Vec<PairingEntry>,
    },
    /// Peers or links changed.
    Topology {
        /// Nodes and reported links.
        topology: Topology,
    },
}
