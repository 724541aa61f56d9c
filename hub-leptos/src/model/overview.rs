//! The overview cards' numbers.

use meshwork_protocol::rest::Topology;
use meshwork_protocol::rest::{AgentRecord, Health, PairingEntry, PairingStatus, Task, TaskState};

/// Counts shown in `section#overview`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overview {
    /// Agents whose health is `active`.
    pub agents_online: usize,
    /// Every agent record.
    pub agents_total: usize,
    /// Tasks waiting for an agent.
    pub tasks_pending: usize,
    /// Tasks handed to an agent.
    pub tasks_assigned: usize,
    /// Tasks that failed or expired.
    pub tasks_failed: usize,
    /// Pairing requests waiting for the admin.
    pub devices_pending: usize,
    /// Reported open links.
    pub links: usize,
}

impl Overview {
    /// Counts everything the stream delivered.
    pub fn new(
        agents: &[AgentRecord],
        tasks: &[Task],
        pairings: &[PairingEntry],
        topology: &Topology,
    ) -> Self {
        let tasks_in = |state| tasks.iter().filter(|t| t.state == state).count();
        Self {
            agents_online: agents.iter().filter(|a| a.health == Health::Active).count(),
            agents_total: agents.len(),
            tasks_pending: tasks_in(TaskState::Pending),
            tasks_assigned: tasks_in(TaskState::Assigned),
            tasks_failed: tasks_in(TaskState::Failed),
            devices_pending: pairings
                .iter()
                .filter(|p| p.status == PairingStatus::PendingApproval)
                .count(),
            links: topology.mesh_edges.len(),
        }
    }
}

/// Whether the agent's sidecar holds a signaling connection now (`td.in-mesh`).
pub fn in_mesh(agent: &AgentRecord, topology: &Topology) -> bool {
    let peer = &agent.info.sidecar_peer_id;
    !peer.as_str().is_empty()
        && topology
            .nodes
            .iter()
            .any(|n| n.online && &n.sidecar_peer_id == peer)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn agent(id: &str, health: &str) -> AgentRecord {
        serde_json::from_value(json!({
            "agent_id": id, "sidecar_peer_id": format!("{id}-sidecar"), "health": health,
            "registered_at": "2025-01-01T00:00:00Z", "last_heartbeat": "2025-01-01T00:00:00Z",
            "capabilities": {"skills": ["echo"]}
        }))
        .expect("agent")
    }

    pub(crate) fn task(id: &str, state: &str, target: &str) -> Task {
        serde_json::from_value(json!({
            "id": id, "state": state, "target_agent_id": target, "skill": "echo",
            "created_at": 1.0, "updated_at": 1.0
        }))
        .expect("task")
    }

    fn topology() -> Topology {
        serde_json::from_value(json!({
            "nodes": [
                {"kind": "agent", "agent_id": "a", "sidecar_peer_id": "a-sidecar",
                 "health": "active", "online": true},
                {"kind": "agent", "agent_id": "b", "sidecar_peer_id": "b-sidecar",
                 "health": "stale", "online": false}
            ],
            "mesh_edges": [{"from_peer": "a-sidecar", "to_peer": "tab-1"}]
        }))
        .expect("topology")
    }

    #[test]
    fn counts_each_card() {
        let agents = [agent("a", "active"), agent("b", "stale")];
        let tasks = [
            task("t1", "pending", "a"),
            task("t2", "assigned", "a"),
            task("t3", "failed", "b"),
            task("t4", "failed", "b"),
        ];
        let pairing: PairingEntry = serde_json::from_value(json!({
            "id": "p1", "agent_name": "dev", "peer_id": "dev", "status": "pending_approval",
            "created_at": 1.0
        }))
        .expect("pairing");
        let o = Overview::new(&agents, &tasks, &[pairing], &topology());
        assert_eq!(
            o,
            Overview {
                agents_online: 1,
                agents_total: 2,
                tasks_pending: 1,
                tasks_assigned: 1,
                tasks_failed: 2,
                devices_pending: 1,
                links: 1,
            }
        );
    }

    #[test]
    fn an_agent_is_in_the_mesh_only_while_its_sidecar_node_is_online() {
        let t = topology();
        assert!(in_mesh(&agent("a", "active"), &t));
        assert!(!in_mesh(&agent("b", "stale"), &t));
        assert!(!in_mesh(&agent("c", "active"), &t));
    }
}
