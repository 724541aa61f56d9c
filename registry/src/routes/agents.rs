//! `/api/registry/agents[/{agent_id}]` and `/api/registry/route?skill=`.

use super::compat_open;
use crate::{
    access::Caller,
    clock::{rfc3339, unix_now},
    error::{ApiError, ApiJson},
    events::Change,
    maintenance::derive_health,
    state::AppState,
    store::StoredAgent,
};
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use meshwork_protocol::rest::{AgentInfo, AgentRecord, Health, StatusOk};
use serde::Deserialize;
use std::sync::Arc;

/// The record as served, with health derived now.
pub fn to_record(state: &AppState, agent: StoredAgent, now: f64) -> AgentRecord {
    AgentRecord {
        health: derive_health(&state.config, agent.last_heartbeat, now),
        registered_at: rfc3339(agent.registered_at),
        last_heartbeat: rfc3339(agent.last_heartbeat),
        info: agent.info,
    }
}

/// `GET /api/registry/agents`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<AgentRecord>>, ApiError> {
    caller.require_any(compat_open(&state))?;
    let now = unix_now();
    let agents = state.db.agents().await?;
    Ok(Json(
        agents
            .into_iter()
            .map(|a| to_record(&state, a, now))
            .collect(),
    ))
}

/// `POST /api/registry/agents`: create or update; only the owner may update.
pub async fn register(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(info): ApiJson<AgentInfo>,
) -> Result<Json<StatusOk>, ApiError> {
    let owner = owner_for(&state, &caller, &info.agent_id).await?;
    if info.agent_id.trim().is_empty() {
        return Err(ApiError::bad_request("agent_id must not be empty"));
    }
    state.db.register_agent(&info, &owner, unix_now()).await?;
    state.events.publish(Change::Agents);
    state.events.publish(Change::Topology);
    tracing::info!(agent_id = %info.agent_id, owner = %owner, "agent registered");
    Ok(Json(StatusOk::default()))
}

/// The owner a caller acts as for `agent_id`: its own peer id for a new record; refused when
/// the record belongs to another credential.
pub async fn owner_for(
    state: &AppState,
    caller: &Caller,
    agent_id: &str,
) -> Result<meshwork_protocol::PeerId, ApiError> {
    let me = caller.require_identified()?.cloned();
    match state.db.agent(agent_id).await? {
        Some(existing) if caller.owns(&existing.owner) => Ok(existing.owner),
        Some(_) => Err(ApiError::forbidden(format!(
            "agent {agent_id:?} is registered by another credential"
        ))),
        None => Ok(me.unwrap_or_else(|| meshwork_protocol::PeerId::new("admin"))),
    }
}

/// `GET /api/registry/agents/{agent_id}`.
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(agent_id): Path<String>,
) -> Result<Json<AgentRecord>, ApiError> {
    caller.require_any(false)?;
    let agent = state
        .db
        .agent(&agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {agent_id:?} not found")))?;
    Ok(Json(to_record(&state, agent, unix_now())))
}

/// `DELETE /api/registry/agents/{agent_id}`: owner or admin; its assigned tasks return to the
/// queue.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(agent_id): Path<String>,
) -> Result<Json<StatusOk>, ApiError> {
    caller.require_identified()?;
    let agent = state
        .db
        .agent(&agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {agent_id:?} not found")))?;
    if !caller.owns(&agent.owner) {
        return Err(ApiError::forbidden(format!(
            "agent {agent_id:?} is registered by another credential"
        )));
    }
    state.db.delete_agent(&agent_id).await?;
    state.events.publish(Change::Agents);
    state.events.publish(Change::Topology);
    let requeued = state.db.requeue_assigned(&agent_id, unix_now()).await?;
    tracing::info!(agent_id = %agent_id, requeued, "agent deregistered");
    Ok(Json(StatusOk::default()))
}

/// `?skill=`.
#[derive(Deserialize)]
pub struct SkillQuery {
    skill: Option<String>,
}

/// `GET /api/registry/route?skill=X`: the first active agent advertising skill X.
pub async fn route_by_skill(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<SkillQuery>,
) -> Result<Json<AgentRecord>, (StatusCode, Json<serde_json::Value>)> {
    let refuse = |e: ApiError| (e.status, Json(serde_json::json!({ "error": e.message })));
    caller.require_any(compat_open(&state)).map_err(refuse)?;
    let skill = query
        .skill
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse(ApiError::bad_request("query parameter skill is required")))?;
    let now = unix_now();
    let agents = state.db.agents().await.map_err(|e| refuse(e.into()))?;
    agents
        .into_iter()
        .map(|a| to_record(&state, a, now))
        .find(|r| r.health == Health::Active && r.info.capabilities.skills.contains(&skill))
        .map(Json)
        .ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({ "error": "no agent found with skill", "skill": skill })),
            )
        })
}
