//! REST routes, one file per resource, named after its URL.

pub mod agents;
pub mod cards;
pub mod hub_static;
pub mod ice_config;
pub mod metrics;
pub mod tasks;
pub mod token;
pub mod topology;

use crate::{error::ApiError, signaling::connection::ws_handler, state::AppState};
use axum::{
    extract::DefaultBodyLimit,
    middleware,
    routing::{any, get, post},
    Router,
};
use std::sync::Arc;

/// The routes chatixia 0.4 agents call without credentials; opened by `MESHWORK_COMPAT=chatixia`.
pub const CHATIXIA_OPEN_ROUTES: [&str; 4] = [
    "GET /api/registry/agents",
    "GET /api/registry/route",
    "POST /api/hub/tasks",
    "GET /api/hub/tasks/{id}",
];

/// Whether the chatixia-open routes accept anonymous callers.
pub fn compat_open(state: &AppState) -> bool {
    state.config.compat == crate::config::Compat::Chatixia
}

async fn api_not_found() -> ApiError {
    ApiError::not_found("no such API route")
}

/// The whole application.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/token", post(token::issue))
        .route("/api/config", get(ice_config::get_config))
        .route(
            "/api/registry/agents",
            get(agents::list).post(agents::register),
        )
        .route(
            "/api/registry/agents/{agent_id}",
            get(agents::get_one).delete(agents::delete),
        )
        .route(
            "/api/registry/agents/{agent_id}/card",
            get(cards::agent_card),
        )
        .route("/api/registry/route", get(agents::route_by_skill))
        .route("/api/hub/tasks", post(tasks::create))
        .route("/api/hub/tasks/all", get(tasks::list))
        .route(
            "/api/hub/tasks/{task_id}",
            get(tasks::get_one).post(tasks::update),
        )
        .route("/api/hub/heartbeat", post(tasks::heartbeat))
        .route("/api/hub/network/topology", get(topology::get_topology))
        .route("/.well-known/agent.json", get(cards::registry_card))
        .route("/metrics", get(metrics::render))
        .route("/ws", get(ws_handler))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track_http,
        ))
        .route("/api/{*rest}", any(api_not_found))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
    api.fallback(hub_static::serve).with_state(state)
}
