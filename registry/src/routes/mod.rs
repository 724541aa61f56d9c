//! REST routes, one file per resource, named after its URL.

pub mod agents;
pub mod cards;
pub mod hub_static;
pub mod hub_stream;
pub mod ice_config;
pub mod identity;
pub mod metrics;
pub mod pairing;
pub mod tasks;
pub mod token;
pub mod topology;
pub mod ws_ticket;

use crate::{
    auth::{
        host::{host_allowed, origin_hosts},
        origin::origin_allowed,
    },
    error::ApiError,
    signaling::connection::ws_handler,
    state::AppState,
};
use axum::{
    extract::{DefaultBodyLimit, Request, State},
    http::{header, HeaderName, HeaderValue, Method},
    middleware,
    response::{IntoResponse, Response},
    routing::{any, delete, get, post},
    Router,
};
use std::sync::Arc;
use tower_http::cors::CorsLayer;

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
        .route("/api/ws-ticket", post(ws_ticket::issue))
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
        .route("/api/hub/stream", get(hub_stream::stream))
        .route("/api/identity", get(identity::list))
        .route("/api/identity/{peer_id}", delete(identity::reset))
        .route("/api/pairing/generate-code", post(pairing::generate_code))
        .route("/api/pairing/pair", post(pairing::pair))
        .route("/api/pairing/pending", get(pairing::pending))
        .route("/api/pairing/all", get(pairing::all))
        .route("/api/pairing/{id}/approve", post(pairing::approve))
        .route("/api/pairing/{id}/reject", post(pairing::reject))
        .route("/api/pairing/{id}/revoke", post(pairing::revoke))
        .route("/api/pairing/{id}/claim", post(pairing::claim))
        .route("/.well-known/agent-card.json", get(cards::registry_card))
        .route("/.well-known/agent.json", get(cards::registry_card))
        .route("/metrics", get(metrics::render))
        .route("/ws", get(ws_handler))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track_http,
        ))
        .route("/api", any(api_not_found))
        .route("/api/", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_foreign_origin,
        ));
    let app = api.fallback(hub_static::serve);
    let app = match cors_layer(&state.config.cors_origins) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    let public_hosts = Arc::new(origin_hosts(&state.config.public_origin));
    app.layer(middleware::from_fn(
        move |request: Request, next: middleware::Next| {
            let public_hosts = public_hosts.clone();
            async move {
                if host_allowed(request.headers(), &public_hosts) {
                    next.run(request).await
                } else {
                    ApiError::forbidden(
                        "this registry does not answer to that host name (set PUBLIC_ORIGIN)",
                    )
                    .into_response()
                }
            }
        },
    ))
    .with_state(state)
}

/// Every refusal is `{"error": …}` JSON, also those axum writes itself as plain text (a wrong
/// method, an undecodable path segment or query string): found by the `http_surface` fuzz
/// target.
async fn json_errors(request: Request, next: middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned()
    } else {
        text
    };
    let mut json = ApiError::new(status, message).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            json.headers_mut().insert(name, value.clone());
        }
    }
    json
}

/// Browsers on other origins get nothing: their requests are refused before any handler runs
/// (so not even a "simple" cross-site POST has an effect), unless listed in `CORS_ORIGINS`.
async fn refuse_foreign_origin(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: middleware::Next,
) -> Response {
    if origin_allowed(request.headers(), &state.config.cors_origins) {
        next.run(request).await
    } else {
        ApiError::forbidden("cross-origin requests are not allowed (see CORS_ORIGINS)")
            .into_response()
    }
}

/// CORS for the origins an operator listed; none by default (same origin only).
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("x-device-token"),
                HeaderName::from_static("x-admin-token"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
