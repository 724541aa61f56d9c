//! Device credentials: `X-Device-Token` (looked up by hash among approved pairings), and the
//! check that makes revocation bite on every use of a device's JWT, not only at issue.

use super::{jwt::Claims, secrets::sha256_hex, Caller};
use crate::{error::ApiError, state::AppState};
use meshwork_protocol::rest::{PairingStatus, Role};

/// Resolves a device token.
pub fn device_caller(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let pairing = state
        .db
        .pairing_by_token_hash(&sha256_hex(token))?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked device token"))?;
    Ok(Caller::Peer {
        peer_id: pairing.entry.peer_id,
        role: Role::Device,
    })
}

/// Refuses a device JWT whose pairing is no longer approved, or that was issued before the
/// current approval of its peer id (a revoked device's token, after the name was re-paired).
pub fn check_live(state: &AppState, claims: &Claims) -> Result<(), ApiError> {
    if claims.role != Role::Device {
        return Ok(());
    }
    let live = state.db.live_pairing_for_peer(&claims.sub)?;
    let valid = live.is_some_and(|p| {
        p.entry.status == PairingStatus::Approved
            && p.approved_at
                .is_some_and(|at| claims.iat >= at.floor() as u64)
    });
    if valid {
        Ok(())
    } else {
        Err(ApiError::unauthorized("device revoked"))
    }
}

/// Verifies a JWT's signature and expiry, then that its device (if any) is still approved.
pub fn verify_jwt(state: &AppState, token: &str) -> Result<Claims, ApiError> {
    let claims = state
        .jwt
        .verify(token)
        .map_err(|e| ApiError::unauthorized(format!("invalid token: {e}")))?;
    check_live(state, &claims)?;
    Ok(claims)
}
