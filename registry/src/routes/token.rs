//! `POST /api/token`: exchange an API key (or, later, a device token) for a JWT.

use crate::{auth::Caller, clock::unix_now, error::ApiError, state::AppState};
use axum::{extract::State, Json};
use meshwork_protocol::rest::TokenResponse;
use std::sync::Arc;

/// Issues a JWT for the caller's peer id.
pub async fn issue(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<TokenResponse>, ApiError> {
    let (peer_id, role) = match caller {
        Caller::Peer { peer_id, role } => (peer_id, role),
        Caller::Admin | Caller::Anonymous => {
            return Err(ApiError::unauthorized(
                "X-API-Key or X-Device-Token required",
            ))
        }
    };
    let token = state
        .jwt
        .issue(&peer_id, role, unix_now() as u64)
        .map_err(ApiError::internal)?;
    Ok(Json(TokenResponse {
        token,
        peer_id,
        role,
    }))
}
