//! The skills an agent advertises, for the forms that address it: the task form by agent id,
//! the Join panel by the peer id of the agent's sidecar.

use meshwork_protocol::rest::AgentRecord;

/// The skills agent `agent_id` advertises (empty when unknown).
pub fn of_agent(agents: &[AgentRecord], agent_id: &str) -> Vec<String> {
    agents
        .iter()
        .find(|a| a.info.agent_id == agent_id)
        .map(|a| a.info.capabilities.skills.clone())
        .unwrap_or_default()
}

/// The skills of the agent whose sidecar is `peer_id` (empty for tabs and unknown peers).
pub fn of_peer(agents: &[AgentRecord], peer_id: &str) -> Vec<String> {
    agents
        .iter()
        .find(|a| a.info.sidecar_peer_id.as_str() == peer_id)
        .map(|a| a.info.capabilities.skills.clone())
        .unwrap_or_default()
}

/// The skill a form should show after its target changed: the current one if the new target
/// advertises it (or advertises nothing, so free text stays), else its first skill.
pub fn keep_or_first(current: &str, advertised: &[String]) -> Option<String> {
    if advertised.is_empty() || advertised.iter().any(|s| s == current) {
        None
    } else {
        advertised.first().cloned()
    }
}

/// The hint under a skill field: what the target advertises.
pub fn hint(target: &str, advertised: &[String]) -> String {
    if target.is_empty() {
        String::new()
    } else if advertised.is_empty() {
        format!("{target} advertises no skills; type the skill's name.")
    } else {
        format!("{target} advertises: {}.", advertised.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::overview::tests::agent;

    #[test]
    fn skills_are_found_by_agent_and_by_its_sidecar() {
        let agents = [agent("alice", "active")];
        assert_eq!(of_agent(&agents, "alice"), ["echo"]);
        assert_eq!(of_peer(&agents, "alice-sidecar"), ["echo"]);
        assert!(of_agent(&agents, "bob").is_empty());
        assert!(of_peer(&agents, "tab-1").is_empty());
    }

    #[test]
    fn a_new_target_keeps_a_skill_it_has_and_free_text_where_it_advertises_none() {
        let skills = vec!["list_agents".to_owned(), "delegate".to_owned()];
        assert_eq!(keep_or_first("delegate", &skills), None);
        assert_eq!(keep_or_first("echo", &skills), Some("list_agents".into()));
        assert_eq!(keep_or_first("", &skills), Some("list_agents".into()));
        assert_eq!(keep_or_first("anything", &[]), None);
        assert!(hint("alice", &skills).contains("list_agents, delegate"));
        assert!(hint("tab", &[]).contains("no skills"));
    }
}
