//! `GET /metrics`: OpenMetrics text (Prometheus scrapes it); admin only (it reveals the state
//! of the mesh).

use crate::{access::Caller, error::ApiError, state::AppState};
use axum::{extract::State, http::header, response::IntoResponse};
use std::sync::Arc;

/// Renders the metrics.
pub async fn render(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let counts = state.db.task_counts().await?;
    let tasks: Vec<(&str, u64)> = counts.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    let body = state.metrics.render(state.hub.connection_count(), &tasks);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], body))
}
