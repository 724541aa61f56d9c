//! `GET /api/hub/network/topology`: agents and online peers as nodes; edges only from the
//! links peers report open (ours — upstream drew a full mesh of whoever was active).

use super::agents::to_record;
use crate::{access::Caller, clock::unix_now, error::ApiError, state::AppState};
use axum::{extract::State, Json};
use meshwork_protocol::{
    rest::{Health, MeshEdge, NodeKind, Topology, TopologyNode},
    signaling::{CandidateType, PeerKind},
    PeerId,
};
use std::{collections::BTreeMap, sync::Arc};

/// `GET /api/hub/network/topology`.
pub async fn get_topology(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Topology>, ApiError> {
    caller.require_any(false)?;
    Ok(Json(build(&state).await?))
}

/// The topology now.
pub async fn build(state: &AppState) -> crate::store::StoreResult<Topology> {
    let now = unix_now();
    let online = state.hub.online();
    let links = state.hub.links();
    let reported = |peer: &PeerId| -> Vec<PeerId> {
        links
            .iter()
            .find(|(p, _)| p == peer)
            .map(|(_, l)| l.iter().map(|i| i.peer_id.clone()).collect())
            .unwrap_or_default()
    };

    let fingerprints: BTreeMap<String, String> = state
        .db
        .identity_keys()
        .await?
        .into_iter()
        .map(|k| (k.peer_id, k.fingerprint))
        .collect();
    let fingerprint = |peer: &PeerId| fingerprints.get(peer.as_str()).cloned();
    let mut nodes = Vec::new();
    let agents = state.db.agents().await?;
    for agent in agents {
        let record = to_record(state, agent, now);
        let peer = record.info.sidecar_peer_id.clone();
        nodes.push(TopologyNode {
            kind: NodeKind::Agent,
            online: online.iter().any(|o| o.peer_id == peer),
            mesh_peers: reported(&peer),
            key_fingerprint: fingerprint(&peer),
            agent_id: record.info.agent_id,
            sidecar_peer_id: peer,
            hostname: record.info.hostname,
            ip: record.info.ip,
            port: record.info.port,
            mode: record.info.capabilities.mode,
            skills_count: record.info.capabilities.skills.len(),
            health: record.health,
        });
    }
    for peer in &online {
        if nodes.iter().any(|n| n.sidecar_peer_id == peer.peer_id) {
            continue;
        }
        nodes.push(TopologyNode {
            kind: match peer.kind {
                PeerKind::Native => NodeKind::Sidecar,
                PeerKind::Browser => NodeKind::Browser,
            },
            agent_id: String::new(),
            sidecar_peer_id: peer.peer_id.clone(),
            hostname: String::new(),
            ip: String::new(),
            port: 0,
            mode: String::new(),
            skills_count: 0,
            health: Health::Active,
            online: true,
            mesh_peers: reported(&peer.peer_id),
            key_fingerprint: fingerprint(&peer.peer_id),
        });
    }

    // One edge per pair; when both ends report, keep the measured figures of either, and
    // call the path relayed when either end says so (each end sees only its own side).
    let mut edges: BTreeMap<(PeerId, PeerId), MeshEdge> = BTreeMap::new();
    for (reporter, infos) in &links {
        for info in infos {
            if &info.peer_id == reporter {
                continue;
            }
            let (a, b) = if reporter < &info.peer_id {
                (reporter.clone(), info.peer_id.clone())
            } else {
                (info.peer_id.clone(), reporter.clone())
            };
            let edge = edges.entry((a.clone(), b.clone())).or_insert(MeshEdge {
                from_peer: a,
                to_peer: b,
                rtt_ms: None,
                candidate_type: None,
                verified: info.verified,
            });
            // Verified only when every end that reports it says so.
            edge.verified &= info.verified;
            edge.rtt_ms = edge.rtt_ms.or(info.rtt_ms);
            edge.candidate_type = match (edge.candidate_type, info.candidate_type) {
                (_, Some(CandidateType::Relay)) => Some(CandidateType::Relay),
                (mine, theirs) => mine.or(theirs),
            };
        }
    }
    Ok(Topology {
        nodes,
        mesh_edges: edges.into_values().collect(),
    })
}
