//! `POST /api/token`: exchange a credential for a peer JWT.
//!
//! - `X-API-Key` (agents) → a token for the key's peer id, role `agent`.
//! - `Authorization: Bearer <admin token>` → a token for a **browser tab** (docs/adr/0006):
//!   role `browser`, peer id `tab-…` (the tab's own from the optional body
//!   `{"peer_id": "tab-…"}` so it keeps its identity across renewals, else a fresh one). A
//!   browser never holds an agent API key.
//! - `X-Device-Token` (a paired, approved device) → role `device`, the pairing's peer id.
//!
//! A JWT is never exchanged for another: renewing needs the credential the token came from,
//! so a token dies with its key, device approval or admin token (docs/adr/0012).

use crate::{
    access::{
        caller::{Authenticated, Credential},
        Caller,
    },
    auth::secrets::random_hex,
    clock::unix_now,
    error::ApiError,
    limits::ClientIp,
    state::AppState,
};
use axum::{body::Bytes, extract::State, Json};
use meshwork_protocol::{
    rest::{Role, TokenResponse},
    PeerId,
};
use serde::Deserialize;
use std::sync::Arc;

/// Prefix of every browser tab's peer id; agents' ids cannot be claimed by a tab.
pub const TAB_PREFIX: &str = "tab-";

#[derive(Deserialize)]
struct TabRequest {
    #[serde(default)]
    peer_id: Option<String>,
}

fn valid_tab_id(id: &str) -> bool {
    id.strip_prefix(TAB_PREFIX).is_some_and(|rest| {
        (1..=64).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// Issues a JWT for the caller. Per client IP: at most `TOKEN_RATE_PER_MIN` requests; failed
/// credentials count towards the address's lockout like on every route (`AuthThrottle`).
pub async fn issue(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    auth: Result<Authenticated, ApiError>,
    body: Bytes,
) -> Result<Json<TokenResponse>, ApiError> {
    if let Err(retry) = state.limits.token_requests.hit(ip) {
        return Err(ApiError::too_many_requests(
            format!("too many token requests; try again in {retry} s"),
            retry,
        ));
    }
    let Authenticated { caller, credential } = auth?;
    let (peer_id, role, cid) = match (caller, credential) {
        (Caller::Peer { peer_id, role }, Credential::ApiKey { id }) => (peer_id, role, id),
        (Caller::Peer { peer_id, role }, Credential::DeviceToken { pairing_id }) => {
            (peer_id, role, pairing_id)
        }
        (Caller::Admin, Credential::AdminToken) => {
            (tab_id(&body)?, Role::Browser, state.admin_cid.clone())
        }
        (_, Credential::Jwt) => {
            return Err(ApiError::unauthorized(
                "a JWT cannot be renewed with itself; present the API key, device token or \
                 admin session it came from",
            ))
        }
        _ => {
            return Err(ApiError::unauthorized(
                "X-API-Key, X-Device-Token, or the hub's admin session required",
            ))
        }
    };
    let token = state
        .jwt
        .issue(&peer_id, role, &cid, unix_now() as u64)
        .map_err(ApiError::internal)?;
    Ok(Json(TokenResponse {
        token,
        peer_id,
        role,
    }))
}

fn tab_id(body: &[u8]) -> Result<PeerId, ApiError> {
    let requested = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<TabRequest>(body)
            .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?
            .peer_id
    };
    match requested {
        Some(id) if valid_tab_id(&id) => Ok(PeerId::new(id)),
        Some(id) => Err(ApiError::bad_request(format!(
            "a tab's peer id must be {TAB_PREFIX}<1-64 letters, digits, - or _>, not {id:?}"
        ))),
        None => Ok(PeerId::new(format!("{TAB_PREFIX}{}", random_hex(4)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_ids_cannot_impersonate_agents() {
        assert!(valid_tab_id("tab-1a2b"));
        assert!(!valid_tab_id("alice-sidecar"));
        assert!(!valid_tab_id("tab-"));
        assert!(!valid_tab_id("tab-a b"));
        assert!(!valid_tab_id(&format!("tab-{}", "x".repeat(65))));
    }
}
