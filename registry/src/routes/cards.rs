//! A2A agent cards: the registry's own at `/.well-known/agent-card.json` (the current A2A
//! path) and the legacy `/.well-known/agent.json` (public, describes the registry only) and each agent's at `/api/registry/agents/{agent_id}/card`.

use crate::{access::Caller, error::ApiError, state::AppState};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    Json,
};
use meshwork_protocol::rest::card::{AgentCapabilities, AgentCard, AgentSkill};
use std::sync::Arc;

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn text_modes() -> Vec<String> {
    vec!["text/plain".into(), "application/json".into()]
}

/// `GET /.well-known/agent-card.json` (and the legacy `/.well-known/agent.json`).
pub async fn registry_card(headers: HeaderMap) -> Json<AgentCard> {
    let url = base_url(&headers);
    Json(AgentCard {
        name: "meshwork registry".into(),
        description: "Registry of a meshwork agent mesh: routes tasks to agents by skill and \
                      queues them when peers cannot reach each other directly."
            .into(),
        url: format!("{url}/api/hub/tasks"),
        version: env!("CARGO_PKG_VERSION").into(),
        capabilities: AgentCapabilities { streaming: false },
        default_input_modes: text_modes(),
        default_output_modes: text_modes(),
        skills: vec![AgentSkill {
            id: "route_task".into(),
            name: "Route a task".into(),
            description: "Queue a task for the agent that advertises its skill.".into(),
        }],
    })
}

/// `GET /api/registry/agents/{agent_id}/card`.
pub async fn agent_card(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
) -> Result<Json<AgentCard>, ApiError> {
    caller.require_any(false)?;
    let agent = state
        .db
        .agent(&agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {agent_id:?} not found")))?;
    let info = agent.info;
    Ok(Json(AgentCard {
        name: info.agent_id.clone(),
        description: format!("meshwork agent {} on {}", info.agent_id, info.hostname),
        url: format!(
            "{}/api/registry/agents/{}",
            base_url(&headers),
            info.agent_id
        ),
        version: env!("CARGO_PKG_VERSION").into(),
        capabilities: AgentCapabilities { streaming: true },
        default_input_modes: text_modes(),
        default_output_modes: text_modes(),
        skills: info
            .capabilities
            .skills
            .iter()
            .map(|s| AgentSkill {
                id: s.clone(),
                name: s.clone(),
                description: String::new(),
            })
            .collect(),
    }))
}
