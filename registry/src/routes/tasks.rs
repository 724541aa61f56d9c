//! `/api/hub/tasks[/{task_id}|/all]` and `/api/hub/heartbeat`: the task queue, the fallback
//! tier when peers cannot talk directly.

use super::{agents::owner_for, compat_open};
use crate::{
    access::Caller,
    clock::unix_now,
    error::{ApiError, ApiJson},
    events::Change,
    limits::ClientIp,
    state::AppState,
    store::Transition,
};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    Json,
};
use meshwork_protocol::{
    rest::{
        tasks::TaskUpdate, CreateTaskRequest, CreateTaskResponse, HeartbeatRequest,
        HeartbeatResponse, StatusOk, Task, TaskState,
    },
    PeerId,
};
use std::{sync::Arc, time::Duration};
use tokio::sync::broadcast::error::RecvError;

/// Most tasks one `GET /api/hub/tasks/all` returns: without `limit`, the newest this many
/// (upstream returned the whole table, which grows without bound).
pub const TASK_LIST_MAX: u64 = 1_000;

/// `GET /api/hub/tasks/all` paging (additive; upstream sends none): the newest `limit` tasks
/// after skipping the `offset` newest, oldest first like the unpaged list.
#[derive(Debug, serde::Deserialize)]
pub struct TaskPage {
    limit: Option<u64>,
    #[serde(default)]
    offset: u64,
}

/// Longest a heartbeat may wait for a task.
const MAX_HEARTBEAT_WAIT_SECS: u64 = 60;

/// Longest TTL accepted (a week): a task nobody will ever run should not live forever.
const MAX_TTL_SECS: u64 = 7 * 24 * 3600;

/// Longest skill, target or source id.
const MAX_ID_BYTES: usize = 256;

/// 413 when `len` is over `max`.
fn within(what: &str, len: usize, max: usize) -> Result<(), ApiError> {
    if len > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} of {len} bytes exceeds the {max}-byte limit"),
        ));
    }
    Ok(())
}

/// `POST /api/hub/tasks`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(req): ApiJson<CreateTaskRequest>,
) -> Result<Json<CreateTaskResponse>, ApiError> {
    caller.require_any(compat_open(&state))?;
    let budget = match &caller {
        Caller::Peer { peer_id, .. } => format!("peer {peer_id}"),
        Caller::Admin => "admin".to_owned(),
        Caller::Anonymous => format!("address {ip}"),
    };
    if let Err(retry) = state.limits.task_creates.hit(budget) {
        return Err(ApiError::too_many_requests(
            format!("too many tasks created; try again in {retry} s"),
            retry,
        ));
    }
    if req.skill.is_empty() && req.target_agent_id.is_empty() {
        return Err(ApiError::bad_request(
            "a task needs a skill or a target_agent_id",
        ));
    }
    for (what, id) in [
        ("skill", &req.skill),
        ("target_agent_id", &req.target_agent_id),
        ("source_agent_id", &req.source_agent_id),
    ] {
        if id.len() > MAX_ID_BYTES {
            return Err(ApiError::bad_request(format!(
                "{what} must be at most {MAX_ID_BYTES} bytes"
            )));
        }
    }
    let payload_len = serde_json::to_string(&req.payload).map_or(0, |p| p.len());
    within("payload", payload_len, state.config.max_task_payload_bytes)?;
    let ttl = req.ttl.unwrap_or(300);
    if ttl == 0 || ttl > MAX_TTL_SECS {
        return Err(ApiError::bad_request(format!(
            "ttl must be 1..={MAX_TTL_SECS} seconds"
        )));
    }
    let source_agent_id = sender(&state, &caller, req.source_agent_id).await?;
    let now = unix_now();
    let task = Task {
        id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
        skill: req.skill,
        target_agent_id: req.target_agent_id,
        source_agent_id,
        assigned_agent_id: String::new(),
        payload: if req.payload.is_null() {
            serde_json::json!({})
        } else {
            req.payload
        },
        state: TaskState::Pending,
        result: String::new(),
        error: String::new(),
        created_at: now,
        updated_at: now,
        ttl,
        delivery: None,
        timeline: Vec::new(),
    };
    state.db.insert_task(&task).await?;
    state.events.publish(Change::Tasks);
    tracing::info!(task_id = %task.id, skill = %task.skill, target = %task.target_agent_id, "task queued");
    // At mesh speed when the agent's sidecar is connected (ADR 0018); else it waits here.
    crate::task_delivery::offer(&state, &task).await;
    Ok(Json(CreateTaskResponse { task_id: task.id }))
}

/// The sender a task records: a peer's own peer id (when it names none) or one of its own
/// agents — never another's. The admin (the hub) may name any sender; an anonymous caller in
/// chatixia compatibility mode is taken at its word, as upstream did (docs/adr/0012).
async fn sender(state: &AppState, caller: &Caller, claimed: String) -> Result<String, ApiError> {
    let Caller::Peer { peer_id, .. } = caller else {
        return Ok(claimed);
    };
    if claimed.is_empty() || claimed == peer_id.as_str() {
        return Ok(peer_id.to_string());
    }
    match state.db.agent(&claimed).await? {
        Some(agent) if &agent.owner == peer_id => Ok(claimed),
        _ => Err(ApiError::forbidden(format!(
            "source_agent_id {claimed:?} is not an agent registered by your credential"
        ))),
    }
}

/// `GET /api/hub/tasks/all[?limit=N&offset=M]`: at most [`TASK_LIST_MAX`] tasks; the
/// `X-Total-Count` header says how many the store holds.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(page): Query<TaskPage>,
) -> Result<(HeaderMap, Json<Vec<Task>>), ApiError> {
    caller.require_any(false)?;
    let limit = page.limit.unwrap_or(TASK_LIST_MAX);
    if !(1..=TASK_LIST_MAX).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {TASK_LIST_MAX}"
        )));
    }
    let tasks = state.db.tasks_page(limit, page.offset).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-total-count",
        HeaderValue::from(state.db.task_count().await?),
    );
    Ok((headers, Json(tasks)))
}

/// `GET /api/hub/tasks/{task_id}`.
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    caller.require_any(compat_open(&state))?;
    state
        .db
        .task(&task_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("task {task_id:?} not found")))
}

/// `POST /api/hub/tasks/{task_id}`: the assigned agent's owner (or the admin) reports the
/// outcome; only legal transitions land.
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(task_id): Path<String>,
    ApiJson(update): ApiJson<TaskUpdate>,
) -> Result<Json<StatusOk>, ApiError> {
    caller.require_identified()?;
    let max = state.config.max_task_result_bytes;
    within("result", update.result.len(), max)?;
    within("error", update.error.len(), max)?;
    let task = state
        .db
        .task(&task_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {task_id:?} not found")))?;
    if update.state == TaskState::Assigned {
        return Err(ApiError::conflict(
            "tasks are assigned by heartbeats, not by updates",
        ));
    }
    if caller != Caller::Admin {
        let owner = match state.db.agent(&task.assigned_agent_id).await? {
            Some(agent) => agent.owner,
            None => PeerId::default(),
        };
        if task.assigned_agent_id.is_empty() || !caller.owns(&owner) {
            return Err(ApiError::forbidden(format!(
                "task {task_id:?} is not assigned to an agent of yours"
            )));
        }
    }
    match state
        .db
        .transition_task(
            &task_id,
            update.state,
            &update.result,
            &update.error,
            unix_now(),
        )
        .await?
    {
        Transition::Applied(task) => {
            state.events.publish(Change::Tasks);
            tracing::info!(task_id = %task.id, state = task.state.as_str(), "task updated");
            Ok(Json(StatusOk::default()))
        }
        Transition::NotFound => Err(ApiError::not_found(format!("task {task_id:?} not found"))),
        Transition::Illegal(from) => Err(ApiError::conflict(format!(
            "illegal transition {} -> {}",
            from.as_str(),
            update.state.as_str()
        ))),
    }
}

/// `POST /api/hub/heartbeat`: refreshes the caller's agent and hands it its pending tasks.
/// Bound to the credential: an agent cannot heartbeat as another and take its tasks.
pub async fn heartbeat(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(hb): ApiJson<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    if hb.agent_id.trim().is_empty() {
        return Err(ApiError::bad_request("agent_id must not be empty"));
    }
    let owner = owner_for(&state, &caller, &hb.agent_id).await?;
    let wait = Duration::from_secs(hb.wait_secs.unwrap_or(0).min(MAX_HEARTBEAT_WAIT_SECS));
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribed before the first look, so a task queued in between is not missed.
    let mut changes = state.events.subscribe();
    let info = state.db.heartbeat_agent(&hb, &owner, unix_now()).await?;
    let mut pending_tasks = state
        .db
        .assign_pending(&hb.agent_id, &info.capabilities.skills, unix_now())
        .await?;
    // Long poll (ours): the fallback tier's latency is the queue's, not the heartbeat period's.
    while pending_tasks.is_empty() && !wait.is_zero() {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(Change::Tasks) | Err(RecvError::Lagged(_)) => {
                    pending_tasks = state.db.assign_pending(
                        &hb.agent_id,
                        &info.capabilities.skills,
                        unix_now(),
                    ).await?;
                }
                Ok(_) => {}
                Err(RecvError::Closed) => break,
            },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = state.shutdown.cancelled() => break,
        }
    }
    state.events.publish(Change::Agents);
    state.events.publish(Change::Topology);
    if !pending_tasks.is_empty() {
        state.events.publish(Change::Tasks);
    }
    if !pending_tasks.is_empty() {
        tracing::info!(agent_id = %hb.agent_id, n = pending_tasks.len(), "tasks assigned");
    }
    Ok(Json(HeartbeatResponse {
        status: "ok".into(),
        pending_tasks,
    }))
}
