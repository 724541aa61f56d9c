//! Agent records: `POST /api/registry/agents`, heartbeats and health.

use crate::ids::PeerId;
use serde::{Deserialize, Serialize};

fn default_port() -> u16 {
    8080
}

/// What an agent can do.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// Skill names.
    #[serde(default)]
    pub skills: Vec<String>,
    /// MCP servers the agent runs.
    #[serde(default)]
    pub mcp_servers: Vec<String>,
    /// Number of goals the agent pursues.
    #[serde(default)]
    pub goals_count: u32,
    /// Agent mode, e.g. `"interactive"`.
    #[serde(default)]
    pub mode: String,
}

/// The body of `POST /api/registry/agents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent's name.
    pub agent_id: String,
    /// Host it runs on.
    #[serde(default)]
    pub hostname: String,
    /// Address it advertises.
    #[serde(default)]
    pub ip: String,
    /// Port it advertises.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Peer id of its sidecar, `"<agent_id>-sidecar"` for chatixia agents.
    #[serde(default)]
    pub sidecar_peer_id: PeerId,
    /// Skills and the like.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Free-form status.
    #[serde(default)]
    pub status: String,
    /// Free-form mode.
    #[serde(default)]
    pub mode: String,
}

/// Health derived from heartbeat recency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Heartbeat within the active window (90 s by default).
    Active,
    /// Heartbeat within the stale window (270 s by default).
    Stale,
    /// No heartbeat for longer.
    Offline,
}

impl Health {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Stale => "stale",
            Self::Offline => "offline",
        }
    }
}

/// An agent as the registry lists it: `AgentInfo` plus health and timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// What the agent said about itself.
    #[serde(flatten)]
    pub info: AgentInfo,
    /// Health now.
    pub health: Health,
    /// First registration, RFC 3339.
    pub registered_at: String,
    /// Last heartbeat, RFC 3339.
    pub last_heartbeat: String,
}

/// The body of `POST /api/hub/heartbeat`. chatixia sends only `agent_id` and `skill_names`;
/// fields left empty do not overwrite what the registry knows (ours).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// The agent's name.
    pub agent_id: String,
    /// Host it runs on.
    #[serde(default)]
    pub hostname: String,
    /// Address it advertises.
    #[serde(default)]
    pub ip: String,
    /// Port it advertises (0 = unchanged).
    #[serde(default)]
    pub port: u16,
    /// Free-form status.
    #[serde(default)]
    pub status: String,
    /// Free-form mode.
    #[serde(default)]
    pub mode: String,
    /// Number of skills.
    #[serde(default)]
    pub skills_count: u32,
    /// Number of goals.
    #[serde(default)]
    pub goals_count: u32,
    /// Seconds since the agent started.
    #[serde(default)]
    pub uptime_seconds: u64,
    /// Skill names; replace the advertised skills when present.
    #[serde(default)]
    pub skill_names: Vec<String>,
    /// Peer id of its sidecar.
    #[serde(default)]
    pub sidecar_peer_id: PeerId,
    /// (ours) Long poll: when no task is waiting, hold the answer up to this many seconds
    /// (max 60) and return as soon as one is queued for this agent. Absent: answer at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_secs: Option<u64>,
}
