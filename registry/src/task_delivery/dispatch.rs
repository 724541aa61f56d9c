//! Which pending task goes to which sidecar, and when: at once when a task is queued, again
//! whenever sidecars or agents change (a sidecar that registers gets what waited for its
//! agent), and the acknowledgement deadline on a timer.

use super::inflight::Sent;
use crate::{clock::unix_now, events::Change, state::AppState, store::StoredAgent};
use meshwork_protocol::{
    mesh_message::{MeshMessage, MeshMessageType},
    rest::{Health, Task},
    PeerId, SignalMessage, SignalType,
};
use serde_json::Value;
use std::{collections::HashSet, sync::Arc, time::Duration, time::Instant};
use tokio::sync::broadcast::error::RecvError;

/// How often acknowledgement deadlines are checked.
const TICK: Duration = Duration::from_millis(100);

/// The `task_request` payload for `task`, as the agents' own `delegate` sends it: the skill
/// and its arguments side by side. `None` when the arguments cannot travel that way (not an
/// object, or an argument named `skill` that would be overwritten): the heartbeat carries
/// those.
pub fn request_payload(task: &Task) -> Option<Value> {
    let Value::Object(args) = &task.payload else {
        return None;
    };
    if args
        .get("skill")
        .is_some_and(|s| s.as_str() != Some(task.skill.as_str()))
    {
        return None;
    }
    let mut payload = args.clone();
    payload.insert("skill".into(), Value::String(task.skill.clone()));
    Some(Value::Object(payload))
}

/// The agent (and its sidecar's connection) a pending task can go to over the mesh now,
/// among `agents`.
fn destination(
    state: &AppState,
    agents: &[StoredAgent],
    task: &Task,
) -> Option<(String, PeerId, u64)> {
    if task.target_agent_id.is_empty() && task.skill.is_empty() {
        return None;
    }
    for agent in agents {
        let info = &agent.info;
        let for_it = info.agent_id == task.target_agent_id
            || (task.target_agent_id.is_empty() && info.capabilities.skills.contains(&task.skill));
        // The sidecar must be the credential that registered the agent: a record cannot
        // steer its tasks to somebody else's sidecar.
        let sidecar = &agent.owner;
        if !for_it || &info.sidecar_peer_id != sidecar || agent.stored_health == Health::Offline {
            continue;
        }
        let Some(conn_id) = state.hub.task_connection(sidecar) else {
            continue;
        };
        if state.mesh_tasks.declined(&task.id, conn_id) {
            continue;
        }
        return Some((info.agent_id.clone(), sidecar.clone(), conn_id));
    }
    None
}

/// Sends `task` over the mesh if a sidecar can take it now; `true` when it went out.
async fn deliver(
    state: &AppState,
    agents: &[StoredAgent],
    task: &Task,
) -> crate::store::StoreResult<bool> {
    if state.mesh_tasks.contains(&task.id) {
        return Ok(false);
    }
    let Some(payload) = request_payload(task) else {
        return Ok(false);
    };
    let Some((agent_id, sidecar, conn_id)) = destination(state, agents, task) else {
        return Ok(false);
    };
    let now = unix_now();
    let note = format!("sent to {sidecar} over its signaling socket");
    if state
        .db
        .claim_for_mesh(&task.id, &agent_id, &note, now)
        .await?
        .is_none()
    {
        return Ok(false); // A heartbeat took it first, or it expired.
    }
    let mut request = MeshMessage::new(MeshMessageType::TaskRequest, task.id.clone(), payload);
    request.source_agent = task.source_agent_id.clone();
    request.target_agent = agent_id.clone();
    let mut frame = SignalMessage::from_registry(SignalType::MeshMessage, &request);
    frame.target_id = Some(sidecar.clone());
    // In flight before it is sent: the acknowledgement may come back at once.
    let sent = Sent {
        agent_id: agent_id.clone(),
        sidecar: sidecar.clone(),
        conn_id,
        sent_at: Instant::now(),
        received: false,
    };
    state.mesh_tasks.insert(&task.id, sent);
    if let Err(e) = state.hub.send_on(&sidecar, conn_id, frame.to_json()) {
        state.mesh_tasks.take_from(&task.id, &sidecar);
        state.mesh_tasks.decline(&task.id, conn_id);
        let note = format!("could not be sent to {sidecar} ({e:?}); back in the queue");
        state
            .db
            .unclaim(&task.id, &agent_id, &note, unix_now())
            .await?;
        return Ok(false);
    }
    tracing::info!(task_id = %task.id, agent_id = %agent_id, sidecar = %sidecar, "task sent over the mesh");
    Ok(true)
}

/// Offers one just-queued task to the mesh (the create handler calls this before answering,
/// so the task is on its way when the submitter hears its id).
pub async fn offer(state: &AppState, task: &Task) {
    let agents = if task.target_agent_id.is_empty() {
        state.db.agents().await
    } else {
        state
            .db
            .agent(&task.target_agent_id)
            .await
            .map(|a| a.into_iter().collect())
    };
    let delivered = match agents {
        Ok(agents) => deliver(state, &agents, task).await,
        Err(e) => Err(e),
    };
    match delivered {
        Ok(true) => state.events.publish(Change::Tasks),
        Ok(false) => {}
        Err(e) => tracing::error!(task_id = %task.id, error = %e, "mesh delivery failed"),
    }
}

/// Offers every pending task to the mesh.
pub async fn sweep(state: &AppState) {
    let pending = match state.db.pending_tasks(unix_now()).await {
        Ok(p) => p,
        Err(e) => return tracing::error!(error = %e, "reading pending tasks failed"),
    };
    let waiting: HashSet<&str> = pending.iter().map(|t| t.id.as_str()).collect();
    state.mesh_tasks.retain_declined(&waiting);
    if pending.is_empty() {
        return;
    }
    // Read once per sweep: a long queue for absent agents costs one query, not one per task.
    let agents = match state.db.agents().await {
        Ok(a) => a,
        Err(e) => return tracing::error!(error = %e, "reading agents failed"),
    };
    let mut sent = false;
    for task in &pending {
        match deliver(state, &agents, task).await {
            Ok(went) => sent |= went,
            Err(e) => tracing::error!(task_id = %task.id, error = %e, "mesh delivery failed"),
        }
    }
    if sent {
        state.events.publish(Change::Tasks);
    }
}

/// Tasks whose sidecar did not acknowledge in time go back to the queue.
async fn expire_acknowledgements(state: &AppState) {
    let timeout = Duration::from_millis(state.config.task_ack_timeout_ms);
    let Some(sent_before) = Instant::now().checked_sub(timeout) else {
        return;
    };
    let mut requeued = false;
    for (task_id, sent) in state.mesh_tasks.take_unacknowledged(sent_before) {
        state.mesh_tasks.decline(&task_id, sent.conn_id);
        let note = format!(
            "{} did not acknowledge it within {} ms; back in the queue",
            sent.sidecar,
            timeout.as_millis()
        );
        match state
            .db
            .unclaim(&task_id, &sent.agent_id, &note, unix_now())
            .await
        {
            Ok(back) => requeued |= back,
            Err(e) => tracing::error!(task_id = %task_id, error = %e, "requeue failed"),
        }
        tracing::warn!(task_id = %task_id, sidecar = %sent.sidecar, "task not acknowledged; back in the queue");
    }
    if requeued {
        state.events.publish(Change::Tasks);
    }
}

/// Runs until shutdown: sweeps when sidecars or agents change, checks deadlines on a timer.
pub async fn run(state: Arc<AppState>) {
    let mut changes = state.events.subscribe();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(Change::Topology | Change::Agents) | Err(RecvError::Lagged(_)) => sweep(&state).await,
                Ok(_) => {}
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => expire_acknowledgements(&state).await,
            _ = state.shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_protocol::rest::TaskState;
    use serde_json::json;

    fn task(skill: &str, payload: Value) -> Task {
        Task {
            id: "t1".into(),
            skill: skill.into(),
            target_agent_id: "bob".into(),
            source_agent_id: "hub".into(),
            assigned_agent_id: String::new(),
            payload,
            state: TaskState::Pending,
            result: String::new(),
            error: String::new(),
            created_at: 0.0,
            updated_at: 0.0,
            ttl: 300,
            delivery: None,
            timeline: Vec::new(),
        }
    }

    #[test]
    fn the_request_carries_the_skill_beside_its_arguments() {
        let payload = request_payload(&task("list_agents", json!({"message": "hi"})));
        assert_eq!(
            payload,
            Some(json!({"skill": "list_agents", "message": "hi"}))
        );
    }

    #[test]
    fn arguments_that_cannot_travel_as_delegate_sends_them_stay_in_the_queue() {
        assert_eq!(
            request_payload(&task("find_agent", json!({"skill": "x"}))),
            None
        );
        assert_eq!(request_payload(&task("echo", json!("text"))), None);
        let same = request_payload(&task("echo", json!({"skill": "echo"})));
        assert_eq!(same, Some(json!({"skill": "echo"})));
    }
}
