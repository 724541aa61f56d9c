//! `GET /api/hub/network/topology`: nodes and the links peers report as open.

use crate::{ids::PeerId, rest::agents::Health, signaling::CandidateType};
use serde::{Deserialize, Serialize};

/// What a topology node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A registered agent (its sidecar may or may not be online).
    Agent,
    /// A native peer in the mesh with no agent record.
    Sidecar,
    /// A browser tab in the mesh.
    Browser,
}

/// One node. Agent nodes keep upstream's fields; peer nodes fill what they know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyNode {
    /// Agent, sidecar or browser.
    pub kind: NodeKind,
    /// Agent name; empty for peers without an agent record.
    #[serde(default)]
    pub agent_id: String,
    /// Peer id in the mesh (the sidecar's for agents).
    #[serde(default)]
    pub sidecar_peer_id: PeerId,
    /// Host name.
    #[serde(default)]
    pub hostname: String,
    /// Advertised address.
    #[serde(default)]
    pub ip: String,
    /// Advertised port.
    #[serde(default)]
    pub port: u16,
    /// Agent mode.
    #[serde(default)]
    pub mode: String,
    /// Number of skills.
    #[serde(default)]
    pub skills_count: usize,
    /// Health (peers without an agent record are `active` while connected).
    pub health: Health,
    /// Whether the peer holds a signaling connection now.
    #[serde(default)]
    pub online: bool,
    /// Peers this node reports open links to.
    #[serde(default)]
    pub mesh_peers: Vec<PeerId>,
    /// **(new, ADR 0015)** Short fingerprint of the identity key bound to the peer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
}

/// One reported open DataChannel between two peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshEdge {
    /// Reporting end (the smaller id when both ends report).
    pub from_peer: PeerId,
    /// Other end.
    pub to_peer: PeerId,
    /// Round-trip time in milliseconds, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Candidate type of the selected pair, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_type: Option<CandidateType>,
    /// **(new, ADR 0015)** Both ends' identity keys are bound to the link.
    #[serde(default)]
    pub verified: bool,
}

/// The answer to `GET /api/hub/network/topology`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Topology {
    /// Agents and peers.
    pub nodes: Vec<TopologyNode>,
    /// Reported links only (ours: upstream guessed a full mesh).
    pub mesh_edges: Vec<MeshEdge>,
}
