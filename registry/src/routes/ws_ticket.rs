//! `POST /api/ws-ticket`: a single-use, 30-second ticket for opening `/ws` or
//! `/api/hub/stream` with `?ticket=` (docs/adr/0013). It stands for the bearer it was issued
//! for — the admin token or a JWT — which is checked again when the ticket is redeemed.

use crate::{
    access::caller::{Authenticated, Credential},
    auth::tickets::TICKET_TTL,
    error::ApiError,
    state::AppState,
};
use axum::{extract::State, http::HeaderMap, Json};
use meshwork_protocol::rest::WsTicket;
use std::{sync::Arc, time::Instant};

/// Issues a ticket for the caller's bearer credential.
pub async fn issue(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ApiError>,
    headers: HeaderMap,
) -> Result<Json<WsTicket>, ApiError> {
    let refusal =
        || ApiError::unauthorized("a ticket needs `Authorization: Bearer <admin token or JWT>`");
    let auth = auth?;
    if !matches!(auth.credential, Credential::AdminToken | Credential::Jwt) {
        return Err(refusal());
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(refusal)?;
    let ticket = state.tickets.issue(bearer, Instant::now());
    Ok(Json(WsTicket {
        ticket,
        expires_in: TICKET_TTL.as_secs(),
    }))
}
