//! Device credentials (`X-Device-Token`, looked up by hash among approved pairings), and the
//! check that makes every JWT die with the credential it was issued from: a revoked device, a
//! removed API key, a changed admin token (docs/adr/0012-security-round-2.md).

use super::Caller;
use crate::auth::{jwt::Claims, secrets::sha256_hex};
use crate::{error::ApiError, state::AppState};
use meshwork_protocol::rest::{PairingStatus, Role};

/// Resolves a device token: the caller and its pairing (approval) id.
pub async fn device_caller(state: &AppState, token: &str) -> Result<(Caller, String), ApiError> {
    let pairing = state
        .db
        .pairing_by_token_hash(&sha256_hex(token))
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked device token"))?;
    Ok((
        Caller::Peer {
            peer_id: pairing.entry.peer_id,
            role: Role::Device,
        },
        pairing.entry.id,
    ))
}

/// Refuses a JWT whose issuing credential (`cid`) is no longer valid for its subject and
/// role: a device whose approval was revoked (a re-paired name is a new approval with a new
/// id, so the old token stays dead whatever the clock says), an API key no longer loaded, or
/// an admin session other than the current admin token's.
pub async fn check_live(state: &AppState, claims: &Claims) -> Result<(), ApiError> {
    let live = match claims.role {
        Role::Device => state
            .db
            .live_pairing_for_peer(&claims.sub)
            .await?
            .is_some_and(|p| p.entry.status == PairingStatus::Approved && p.entry.id == claims.cid),
        Role::Browser => crate::auth::secrets::constant_time_eq(&claims.cid, &state.admin_cid),
        Role::Agent | Role::Admin => state
            .api_keys
            .by_id(&claims.cid)
            .is_some_and(|e| e.peer_id == claims.sub && e.role == claims.role),
    };
    if live {
        Ok(())
    } else if claims.role == Role::Device {
        Err(ApiError::unauthorized("device revoked"))
    } else {
        Err(ApiError::unauthorized(
            "the credential this token was issued from is no longer valid",
        ))
    }
}

/// Verifies a JWT's signature and expiry, then that its credential is still valid.
pub async fn verify_jwt(state: &AppState, token: &str) -> Result<Claims, ApiError> {
    let claims = state
        .jwt
        .verify(token)
        .map_err(|e| ApiError::unauthorized(format!("invalid token: {e}")))?;
    check_live(state, &claims).await?;
    Ok(claims)
}
