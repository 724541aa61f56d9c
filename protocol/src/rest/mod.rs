//! The registry's REST bodies (PROTOCOL.md §4–5).
//!
//! Field names and defaults follow what chatixia 0.4 agents send and read: a heartbeat carries
//! only `agent_id` and `skill_names`, tasks carry float unix timestamps, records carry RFC 3339
//! strings.

pub mod agents;
pub mod auth;
pub mod card;
pub mod pairing;
pub mod stream;
pub mod tasks;
pub mod topology;

pub use agents::{AgentInfo, AgentRecord, Capabilities, Health, HeartbeatRequest};
pub use auth::{IceConfig, IceServer, Role, TokenResponse, WsTicket};
pub use pairing::{
    ApproveResponse, ClaimRequest, ClaimResponse, GenerateCodeResponse, PairRequest, PairResponse,
    PairingEntry, PairingStatus,
};
pub use stream::{HubUpdate, HUB_STREAM_PATH};
pub use tasks::{
    CreateTaskRequest, CreateTaskResponse, HeartbeatResponse, Task, TaskDelivery, TaskState,
    TaskStep,
};
pub use topology::{MeshEdge, NodeKind, Topology, TopologyNode};

use serde::{Deserialize, Serialize};

/// The body of every HTTP error: `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// `{"status": "ok"}`, the body of upstream's plain acknowledgements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusOk {
    /// Always `"ok"`.
    pub status: String,
}

impl Default for StatusOk {
    fn default() -> Self {
        Self {
            status: "ok".into(),
        }
    }
}
