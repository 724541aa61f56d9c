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
    /// How the task reached the agent that holds (or held) it **(ours, ADR 0018)**; absent
    /// while it waits in the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<TaskDelivery>,
    /// Every state the task went through, oldest first **(ours, ADR 0018)**.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TaskStep>,
}

/// How a queued task reached its agent **(ours, ADR 0018)**.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskDelivery {
    /// Sent at once as a `task_request` over the agent's sidecar's signaling socket; the
    /// agent's `task_response` completed it.
    Mesh,
    /// Handed out in the answer to the agent's heartbeat; the agent reported over REST.
    Heartbeat,
}

impl TaskDelivery {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mesh => "mesh",
            Self::Heartbeat => "heartbeat",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Mesh, Self::Heartbeat]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One entry of a task's timeline **(ours, ADR 0018)**.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStep {
    /// Unix seconds.
    pub at: f64,
    /// The state the task entered.
    pub state: TaskState,
    /// How it was delivered, on entering `assigned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<TaskDelivery>,
    /// What happened, in words (e.g. why it went back to the queue).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
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
