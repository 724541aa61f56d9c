//! The task table's filters (`#task-filter-state`, `#task-filter-agent`).

use meshwork_protocol::rest::{AgentRecord, Task, TaskState};
use std::collections::BTreeSet;

/// The value of both filters' "everything" option.
pub const ALL: &str = "all";

/// Which tasks the table shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFilter {
    /// `None` shows every state.
    pub state: Option<TaskState>,
    /// `None` shows every agent; otherwise tasks targeted at or assigned to this agent.
    pub agent: Option<String>,
}

impl TaskFilter {
    /// From the two selects' values (`all` or a state / an agent id).
    pub fn from_values(state: &str, agent: &str) -> Self {
        Self {
            state: TaskState::parse(state),
            agent: (agent != ALL && !agent.is_empty()).then(|| agent.to_owned()),
        }
    }

    /// Whether the table shows `task`.
    pub fn matches(&self, task: &Task) -> bool {
        self.state.is_none_or(|s| task.state == s)
            && self
                .agent
                .as_deref()
                .is_none_or(|a| task.target_agent_id == a || task.assigned_agent_id == a)
    }

    /// The matching tasks, newest first.
    pub fn apply(&self, tasks: &[Task]) -> Vec<Task> {
        let mut shown: Vec<Task> = tasks.iter().filter(|t| self.matches(t)).cloned().collect();
        shown.sort_by(|a, b| b.created_at.total_cmp(&a.created_at).then(a.id.cmp(&b.id)));
        shown
    }
}

/// Agent ids the agent filter offers: registered agents and any a task names, sorted.
pub fn agent_choices(agents: &[AgentRecord], tasks: &[Task]) -> Vec<String> {
    let mut ids: BTreeSet<String> = agents.iter().map(|a| a.info.agent_id.clone()).collect();
    for t in tasks {
        for id in [&t.target_agent_id, &t.assigned_agent_id] {
            if !id.is_empty() {
                ids.insert(id.clone());
            }
        }
    }
    ids.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::overview::tests::{agent, task};

    #[test]
    fn filters_by_state_and_by_agent() {
        let tasks = [
            task("t1", "pending", "a"),
            task("t2", "failed", "a"),
            task("t3", "failed", "b"),
        ];
        let ids =
            |f: TaskFilter| -> Vec<String> { f.apply(&tasks).into_iter().map(|t| t.id).collect() };
        assert_eq!(ids(TaskFilter::from_values("all", "all")).len(), 3);
        assert_eq!(ids(TaskFilter::from_values("failed", "all")), ["t2", "t3"]);
        assert_eq!(ids(TaskFilter::from_values("failed", "a")), ["t2"]);
        assert_eq!(ids(TaskFilter::from_values("all", "b")), ["t3"]);
    }

    #[test]
    fn agent_choices_include_agents_named_only_by_tasks() {
        let agents = [agent("b", "active")];
        let tasks = [task("t1", "pending", "a"), task("t2", "pending", "")];
        assert_eq!(agent_choices(&agents, &tasks), ["a", "b"]);
    }
}
