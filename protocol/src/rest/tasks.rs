//! The task queue: `POST /api/hub/tasks`, updates, heartbeat pickup.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Task lifecycle: `pending → assigned → completed | failed`, and `pending → failed` on expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for an agent.
    Pending,
    /// Handed to an agent by a heartbeat.
    Assigned,
    /// Done, with a result.
    Completed,
    /// Failed, expired or refused, with an error.
    Failed,
}

impl TaskState {
    /// All states, in lifecycle order.
    pub const ALL: [TaskState; 4] = [Self::Pending, Self::Assigned, Self::Completed, Self::Failed];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Assigned => "assigned",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether no transition leaves this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }

    /// Whether `self → next` is a legal transition (ours: upstream allowed any).
    pub fn can_become(self, next: TaskState) -> bool {
        matches!(
            (self, next),
            (Self::Pending, Self::Assigned)
                | (Self::Pending, Self::Failed)
                | (Self::Assigned, Self::Completed)
                | (Self::Assigned, Self::Failed)
                | (Self::Assigned, Self::Pending)
        )
    }
}

fn default_ttl() -> u64 {
    300
}

/// One queued unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// 12-character id.
    pub id: String,
    /// Skill to run; may be empty for direct messages.
    #[serde(default)]
    pub skill: String,
    /// Agent meant to run it; empty means any agent with the skill.
    #[serde(default)]
    pub target_agent_id: String,
    /// Agent that submitted it.
    #[serde(default)]
    pub source_agent_id: String,
    /// Agent that picked it up.
    #[serde(default)]
    pub assigned_agent_id: String,
    /// Skill arguments.
    #[serde(default)]
    pub payload: Value,
    /// Lifecycle state.
    pub state: TaskState,
    /// Result text once completed.
    #[serde(default)]
    pub result: String,
    /// Error text once failed.
    #[serde(default)]
    pub error: String,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds.
    pub updated_at: f64,
    /// Seconds after `created_at` at which an unfinished task fails.
    #[serde(default = "default_ttl")]
    pub ttl: u64,
}

/// The body of `POST /api/hub/tasks`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateTaskRequest {
    /// Skill to run.
    #[serde(default)]
    pub skill: String,
    /// Agent meant to run it.
    #[serde(default)]
    pub target_agent_id: String,
    /// Submitting agent.
    #[serde(default)]
    pub source_agent_id: String,
    /// Skill arguments.
    #[serde(default)]
    pub payload: Value,
    /// Seconds to live (default 300).
    #[serde(default)]
    pub ttl: Option<u64>,
}

/// The answer to `POST /api/hub/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateTaskResponse {
    /// Id of the new task.
    pub task_id: String,
}

/// The body of `POST /api/hub/tasks/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskUpdate {
    /// The new state.
    pub state: TaskState,
    /// Result text; empty leaves it unchanged.
    #[serde(default)]
    pub result: String,
    /// Error text; empty leaves it unchanged.
    #[serde(default)]
    pub error: String,
}

/// The answer to `POST /api/hub/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Always `"ok"`.
    pub status: String,
    /// Tasks this heartbeat moved to `assigned` for the caller.
    pub pending_tasks: Vec<Task>,
}
