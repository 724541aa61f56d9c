//! A2A agent cards: `GET /.well-known/agent.json`, `GET /api/registry/agents/{id}/card`.

use serde::{Deserialize, Serialize};

/// One skill on an agent card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSkill {
    /// Skill id (the skill name).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
}

/// What the card's endpoint supports.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentCapabilities {
    /// Streams partial results.
    #[serde(default)]
    pub streaming: bool,
}

/// An A2A agent card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCard {
    /// Display name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where to reach it.
    pub url: String,
    /// Version of the card's subject.
    pub version: String,
    /// Optional features.
    pub capabilities: AgentCapabilities,
    /// Input MIME types.
    pub default_input_modes: Vec<String>,
    /// Output MIME types.
    pub default_output_modes: Vec<String>,
    /// What it can do.
    pub skills: Vec<AgentSkill>,
}
