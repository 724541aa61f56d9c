//! `GET /api/identity` and `DELETE /api/identity/{peer_id}` **(new, ADR 0015)**: the identity
//! keys bound to peer ids, and the admin's reset (a device that lost its key, or an agent
//! that moved to another machine).

use crate::{access::Caller, error::ApiError, events::Change, state::AppState, store::BoundKey};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use std::sync::Arc;

/// `GET /api/identity` (admin): every bound key.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<BoundKey>>, ApiError> {
    caller.require_admin()?;
    Ok(Json(state.db.identity_keys().await?))
}

/// `DELETE /api/identity/{peer_id}` (admin): the next registration binds a new key.
pub async fn reset(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(peer_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    if !state.db.reset_identity_key(&peer_id).await? {
        return Err(ApiError::not_found(format!(
            "no identity key is bound to {peer_id:?}"
        )));
    }
    tracing::warn!(peer_id = %peer_id, "identity key reset by an admin");
    state.events.publish(Change::Topology);
    Ok(StatusCode::NO_CONTENT)
}
