//! What a task's detail shows: how it was delivered and the timeline of its states, in words.

use meshwork_protocol::rest::{Task, TaskDelivery};

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLine {
    /// Time since the task was queued, e.g. "+1.2 ms", "+15 s".
    pub offset: String,
    /// The state entered.
    pub state: &'static str,
    /// How it was delivered, when it entered `assigned`.
    pub via: Option<&'static str>,
    /// What happened.
    pub note: String,
}

/// How the task reached its agent, in words.
pub fn delivery(task: &Task) -> &'static str {
    match task.delivery {
        Some(TaskDelivery::Mesh) => "over the mesh (sent at once to the agent's sidecar)",
        Some(TaskDelivery::Heartbeat) => "through the queue (in the agent's heartbeat answer)",
        None => "not delivered (waiting in the queue)",
    }
}

/// "+0.8 ms", "+45 ms", "+13.8 s", "+4 min" after the task was queued.
pub fn offset(seconds: f64) -> String {
    let ms = (seconds * 1000.0).max(0.0);
    if ms < 10.0 {
        format!("+{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("+{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("+{:.1} s", ms / 1000.0)
    } else {
        format!("+{:.0} min", ms / 60_000.0)
    }
}

/// The task's timeline, oldest first.
pub fn timeline(task: &Task) -> Vec<StepLine> {
    task.timeline
        .iter()
        .map(|step| StepLine {
            offset: offset(step.at - task.created_at),
            state: step.state.as_str(),
            via: step.via.map(TaskDelivery::as_str),
            note: step.note.clone(),
        })
        .collect()
}

/// The payload as indented JSON.
pub fn payload(task: &Task) -> String {
    serde_json::to_string_pretty(&task.payload).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_timeline_reads_as_offsets_states_and_notes() {
        let task: Task = serde_json::from_value(json!({
            "id": "t1", "state": "completed", "created_at": 100.0, "updated_at": 100.05,
            "delivery": "mesh",
            "timeline": [
                {"at": 100.0, "state": "pending", "note": "queued"},
                {"at": 100.0012, "state": "assigned", "via": "mesh", "note": "sent to bob-sidecar"},
                {"at": 100.045, "state": "completed", "note": "answered over the mesh"}
            ]
        }))
        .expect("task");
        let lines = timeline(&task);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].offset, "+1.2 ms");
        assert_eq!(lines[1].via, Some("mesh"));
        assert_eq!(lines[2].offset, "+45 ms");
        assert_eq!(lines[2].state, "completed");
        assert!(delivery(&task).contains("over the mesh"));
        assert_eq!(offset(15.2), "+15.2 s");
    }
}
