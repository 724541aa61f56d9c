//! What sidecars say about the tasks the registry sent them: whether the agent got one
//! (`task_received`), the agent's `task_response`, and a sidecar leaving with tasks in flight.

use super::inflight::Sent;
use crate::{clock::unix_now, events::Change, state::AppState};
use meshwork_protocol::{
    mesh_message::{MeshMessage, MeshMessageType},
    rest::TaskState,
    signaling::TaskReceivedPayload,
    PeerId,
};
use serde_json::Value;
use std::time::Instant;

/// A sidecar's `task_received`. Not delivered: the task goes back to the queue at once. A
/// late acknowledgement (after the deadline requeued the task) takes the task back if it is
/// still waiting, so the agent that has it is the one that answers.
pub async fn on_received(state: &AppState, sidecar: &PeerId, received: TaskReceivedPayload) {
    let id = &received.request_id;
    if received.delivered {
        if state.mesh_tasks.mark_received(id, sidecar) {
            return;
        }
        return late_acknowledgement(state, sidecar, id).await;
    }
    let Some(sent) = state.mesh_tasks.take_from(id, sidecar) else {
        return;
    };
    state.mesh_tasks.decline(id, sent.conn_id);
    let reason = received.reason.unwrap_or_else(|| "no reason given".into());
    let note = format!("{sidecar} could not hand it to its agent ({reason}); back in the queue");
    requeue(state, id, &sent, &note).await;
}

async fn late_acknowledgement(state: &AppState, sidecar: &PeerId, id: &str) {
    let Some(agent_id) = waiting_for(state, sidecar, id).await else {
        tracing::warn!(task_id = %id, sidecar = %sidecar, "late acknowledgement of a task handed out since; it may run twice");
        return;
    };
    let note = format!("{sidecar} acknowledged it late; its agent has it");
    match state
        .db
        .claim_for_mesh(id, &agent_id, &note, unix_now())
        .await
    {
        Ok(Some(_)) => {
            let Some(conn_id) = state.hub.task_connection(sidecar) else {
                return;
            };
            let sent = Sent {
                agent_id,
                sidecar: sidecar.clone(),
                conn_id,
                sent_at: Instant::now(),
                received: true,
            };
            state.mesh_tasks.insert(id, sent);
            state.events.publish(Change::Tasks);
        }
        Ok(None) => {}
        Err(e) => tracing::error!(task_id = %id, error = %e, "reclaiming a task failed"),
    }
}

/// The agent (of `sidecar`) a pending task `id` is addressed to, if any.
async fn waiting_for(state: &AppState, sidecar: &PeerId, id: &str) -> Option<String> {
    let task = state.db.task(id).await.ok()??;
    if task.state != TaskState::Pending || task.target_agent_id.is_empty() {
        return None;
    }
    let agent = state.db.agent(&task.target_agent_id).await.ok()??;
    (&agent.owner == sidecar).then_some(task.target_agent_id)
}

/// An agent's answer, sent to the registry's reserved peer id through its sidecar.
/// `Err` says why it was refused (the sidecar's agent hears it).
pub async fn on_answer(
    state: &AppState,
    sidecar: &PeerId,
    answer: MeshMessage,
) -> Result<(), String> {
    if answer.kind != MeshMessageType::TaskResponse {
        return Err(format!(
            "the registry takes only task_response messages, not {}",
            answer.kind.as_str()
        ));
    }
    let id = answer.request_id.as_str();
    let agent_id = match state.mesh_tasks.take_from(id, sidecar) {
        Some(sent) => sent.agent_id,
        // Not in flight (the deadline requeued it, or a restart forgot it): the answer still
        // counts if the task waits for this sidecar's agent.
        None => adopt(state, sidecar, id).await?,
    };
    let (next, result, error) = outcome(
        &answer.payload.to_value(),
        state.config.max_task_result_bytes,
    );
    match state
        .db
        .finish_assigned(id, &agent_id, next, &result, &error, unix_now())
        .await
    {
        Ok(Some(_)) => {
            state.events.publish(Change::Tasks);
            tracing::info!(task_id = %id, state = next.as_str(), "task answered over the mesh");
            Ok(())
        }
        Ok(None) => Err(format!(
            "task {id:?} is not waiting for an answer from {agent_id}"
        )),
        Err(e) => {
            tracing::error!(task_id = %id, error = %e, "storing a task's answer failed");
            Err("the registry cannot store the answer right now".into())
        }
    }
}

/// The agent a task not in flight may be answered for by `sidecar`: the one it is assigned
/// to, or (still pending) addressed to — then it is handed to that agent first.
async fn adopt(state: &AppState, sidecar: &PeerId, id: &str) -> Result<String, String> {
    let unknown = || format!("no task {id:?} is waiting for an answer from {sidecar}");
    let task = state.db.task(id).await.ok().flatten().ok_or_else(unknown)?;
    let assignee_is_ours = || async {
        state
            .db
            .agent(&task.assigned_agent_id)
            .await
            .ok()
            .flatten()
            .is_some_and(|a| &a.owner == sidecar)
    };
    match task.state {
        TaskState::Assigned if assignee_is_ours().await => Ok(task.assigned_agent_id.clone()),
        TaskState::Pending => {
            let agent_id = waiting_for(state, sidecar, id).await.ok_or_else(unknown)?;
            let note = format!("{sidecar} answered it after it went back to the queue");
            match state
                .db
                .claim_for_mesh(id, &agent_id, &note, unix_now())
                .await
            {
                Ok(Some(_)) => Ok(agent_id),
                _ => Err(unknown()),
            }
        }
        _ => Err(unknown()),
    }
}

/// A `task_response` payload as a task outcome: `{"result", "error"}` as chatixia sends it
/// (a non-empty `error` fails the task). A result over the limit fails it instead.
pub fn outcome(payload: &Value, max_bytes: usize) -> (TaskState, String, String) {
    let text = |v: Option<&Value>| match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let error = text(payload.get("error"));
    let result = text(payload.get("result"));
    if !error.is_empty() {
        let error = truncate(error, max_bytes);
        return (TaskState::Failed, String::new(), error);
    }
    if result.len() > max_bytes {
        let error = format!(
            "result of {} bytes exceeds the {max_bytes}-byte limit",
            result.len()
        );
        return (TaskState::Failed, String::new(), error);
    }
    (TaskState::Completed, result, String::new())
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// A sidecar's signaling connection closed: what it had not acknowledged goes back to the
/// queue, and so does what its agent had not answered — that answer can no longer arrive
/// (the one case where an agent may run a task twice: its first result was lost).
pub async fn sidecar_gone(state: &AppState, sidecar: &PeerId, conn_id: u64) {
    for (id, sent) in state.mesh_tasks.take_connection(sidecar, conn_id) {
        let note = if sent.received {
            format!("{sidecar} disconnected before its agent answered; back in the queue")
        } else {
            format!("{sidecar} disconnected before acknowledging it; back in the queue")
        };
        requeue(state, &id, &sent, &note).await;
    }
}

async fn requeue(state: &AppState, id: &str, sent: &Sent, note: &str) {
    match state.db.unclaim(id, &sent.agent_id, note, unix_now()).await {
        Ok(true) => {
            tracing::info!(task_id = %id, %note, "task back in the queue");
            state.events.publish(Change::Tasks);
        }
        Ok(false) => {}
        Err(e) => tracing::error!(task_id = %id, error = %e, "requeue failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chatixia_answers_become_outcomes() {
        let done = outcome(&json!({"result": "## Mesh Agents", "error": ""}), 100);
        assert_eq!(
            done,
            (TaskState::Completed, "## Mesh Agents".into(), String::new())
        );
        let failed = outcome(&json!({"error": "unknown skill: echo"}), 100);
        assert_eq!(
            failed,
            (
                TaskState::Failed,
                String::new(),
                "unknown skill: echo".into()
            )
        );
        let json_result = outcome(&json!({"result": {"n": 1}}), 100);
        assert_eq!(json_result.1, r#"{"n":1}"#);
    }

    #[test]
    fn an_oversized_result_fails_the_task() {
        let (state, result, error) = outcome(&json!({"result": "x".repeat(11)}), 10);
        assert_eq!((state, result.as_str()), (TaskState::Failed, ""));
        assert!(error.contains("11 bytes"), "{error}");
        let (_, _, error) = outcome(&json!({"error": "é".repeat(10)}), 5);
        assert_eq!(error, "éé");
    }
}
