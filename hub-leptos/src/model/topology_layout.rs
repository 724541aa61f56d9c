//! Where `svg#topology` draws each node and link: a circle of nodes sorted by peer id.

use super::format;
use meshwork_protocol::rest::{Health, MeshEdge, NodeKind, Topology, TopologyNode};
use std::collections::HashMap;

/// Width of the SVG's viewBox (it scales to its container).
pub const VIEW_W: f64 = 640.0;
/// Height of the SVG's viewBox.
pub const VIEW_H: f64 = 440.0;
/// Room kept around the circle for node labels.
const MARGIN: f64 = 70.0;

/// A node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedNode {
    /// `data-peer-id`: the node's `sidecar_peer_id` (its agent id when it has none).
    pub id: String,
    /// Text under the node.
    pub label: String,
    /// Agent, sidecar or browser.
    pub kind: NodeKind,
    /// Fill colour.
    pub health: Health,
    /// Whether it holds a signaling connection now.
    pub online: bool,
    /// Centre.
    pub x: f64,
    /// Centre.
    pub y: f64,
}

/// A link, drawn when both ends are nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedEdge {
    /// `data-from`.
    pub from: String,
    /// `data-to`.
    pub to: String,
    /// The hover text and the screen-reader line.
    pub title: String,
    /// `(x1, y1, x2, y2)`, `None` when an end is not a known node.
    pub line: Option<(f64, f64, f64, f64)>,
}

/// The whole drawing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    /// Nodes, sorted by id.
    pub nodes: Vec<PlacedNode>,
    /// Links, in the registry's order.
    pub edges: Vec<PlacedEdge>,
}

/// The class suffix of a node kind (`kind-agent`, …).
pub fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Agent => "agent",
        NodeKind::Sidecar => "sidecar",
        NodeKind::Browser => "browser",
    }
}

/// A node's key: its peer id, or its agent id for an agent without a sidecar.
pub fn node_key(node: &TopologyNode) -> String {
    if node.sidecar_peer_id.as_str().is_empty() {
        node.agent_id.clone()
    } else {
        node.sidecar_peer_id.to_string()
    }
}

/// `"<from> ↔ <to>: <rtt> ms, <candidate type>, verified|unverified"`; "rtt n/a" when unmeasured.
pub fn edge_title(edge: &MeshEdge) -> String {
    let rtt = edge.rtt_ms.map_or_else(
        || "rtt n/a".to_owned(),
        |ms| format!("{} ms", format::rtt(ms)),
    );
    let candidate = edge
        .candidate_type
        .and_then(|c| serde_json::to_value(c).ok())
        .and_then(|v| v.as_str().map(str::to_owned));
    let trust = if edge.verified {
        "verified"
    } else {
        "unverified"
    };
    match candidate {
        Some(c) => format!("{} ↔ {}: {rtt}, {c}, {trust}", edge.from_peer, edge.to_peer),
        None => format!("{} ↔ {}: {rtt}, {trust}", edge.from_peer, edge.to_peer),
    }
}

/// Cosine: the browser's `Math.cos` in the hub (Rust's own would add ~6 KB of libm to the
/// wasm), the standard library's natively (unit tests).
fn cos(x: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Math::cos(x);
    #[cfg(not(target_arch = "wasm32"))]
    return x.cos();
}

/// Sine, like [`cos`].
fn sin(x: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Math::sin(x);
    #[cfg(not(target_arch = "wasm32"))]
    return x.sin();
}

/// Places every node on a circle (one node sits in the middle).
pub fn layout(topology: &Topology) -> Layout {
    let mut nodes: Vec<&TopologyNode> = topology.nodes.iter().collect();
    nodes.sort_by_key(|n| node_key(n));
    nodes.dedup_by_key(|n| node_key(n));
    let n = nodes.len();
    let (cx, cy) = (VIEW_W / 2.0, VIEW_H / 2.0);
    let radius = (VIEW_W.min(VIEW_H) / 2.0 - MARGIN).max(0.0);
    let placed: Vec<PlacedNode> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let (x, y) = if n == 1 {
                (cx, cy)
            } else {
                let angle =
                    -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n as f64;
                (cx + radius * cos(angle), cy + radius * sin(angle))
            };
            let id = node_key(node);
            let label = if node.agent_id.is_empty() {
                id.clone()
            } else {
                node.agent_id.clone()
            };
            PlacedNode {
                id,
                label,
                kind: node.kind,
                health: node.health,
                online: node.online,
                x: round(x),
                y: round(y),
            }
        })
        .collect();
    let at: HashMap<&str, (f64, f64)> =
        placed.iter().map(|p| (p.id.as_str(), (p.x, p.y))).collect();
    let edges = topology
        .mesh_edges
        .iter()
        .map(|e| {
            let from = at.get(e.from_peer.as_str());
            let to = at.get(e.to_peer.as_str());
            PlacedEdge {
                from: e.from_peer.to_string(),
                to: e.to_peer.to_string(),
                title: edge_title(e),
                line: from.zip(to).map(|(a, b)| (a.0, a.1, b.0, b.1)),
            }
        })
        .collect();
    Layout {
        nodes: placed,
        edges,
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn topology() -> Topology {
        serde_json::from_value(json!({
            "nodes": [
                {"kind": "browser", "sidecar_peer_id": "tab-1", "health": "active", "online": true},
                {"kind": "agent", "agent_id": "alice", "sidecar_peer_id": "alice-sidecar",
                 "health": "stale"},
                {"kind": "agent", "agent_id": "solo", "health": "offline"}
            ],
            "mesh_edges": [
                {"from_peer": "alice-sidecar", "to_peer": "tab-1", "rtt_ms": 1.5,
                 "candidate_type": "host"},
                {"from_peer": "tab-1", "to_peer": "ghost"}
            ]
        }))
        .expect("topology")
    }

    #[test]
    fn nodes_sit_on_a_circle_sorted_by_peer_id() {
        let l = layout(&topology());
        let ids: Vec<&str> = l.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["alice-sidecar", "solo", "tab-1"]);
        let first = &l.nodes[0];
        assert_eq!((first.x, first.y), (VIEW_W / 2.0, MARGIN));
        assert_eq!(first.label, "alice");
        for n in &l.nodes {
            let r = ((n.x - VIEW_W / 2.0).powi(2) + (n.y - VIEW_H / 2.0).powi(2)).sqrt();
            assert!((r - (VIEW_H / 2.0 - MARGIN)).abs() < 0.2, "{n:?}");
        }
    }

    #[test]
    fn edges_carry_their_tooltip_and_skip_unknown_ends() {
        let l = layout(&topology());
        assert_eq!(
            l.edges[0].title,
            "alice-sidecar ↔ tab-1: 1.5 ms, host, unverified"
        );
        assert!(l.edges[0].line.is_some());
        assert_eq!(l.edges[1].title, "tab-1 ↔ ghost: rtt n/a, unverified");
        assert!(l.edges[1].line.is_none());
    }

    #[test]
    fn a_single_node_sits_in_the_middle() {
        let mut t = topology();
        t.nodes.truncate(1);
        let l = layout(&t);
        assert_eq!((l.nodes[0].x, l.nodes[0].y), (VIEW_W / 2.0, VIEW_H / 2.0));
    }
}
