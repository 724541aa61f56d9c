//! `Caller`: who sent a request, from its headers.
//!
//! Accepted credentials, in order: `Authorization: Bearer <admin token | JWT>`,
//! `X-Admin-Token`, `X-API-Key`, `X-Device-Token`. A credential that is present but wrong is a
//! 401 — it never degrades to anonymous.

use super::secrets::constant_time_eq;
use crate::{error::ApiError, state::AppState};
use axum::{extract::FromRequestParts, http::request::Parts};
use meshwork_protocol::{rest::Role, PeerId};
use std::sync::Arc;

/// The authenticated sender of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credential.
    Anonymous,
    /// The hub operator.
    Admin,
    /// A peer: an agent's API key, a device token, or a JWT.
    Peer {
        /// Its peer id.
        peer_id: PeerId,
        /// Its role.
        role: Role,
    },
}

impl Caller {
    /// Refuses anonymous callers unless the route is open (chatixia compatibility).
    pub fn require_any(&self, open: bool) -> Result<(), ApiError> {
        match self {
            Self::Anonymous if !open => Err(ApiError::unauthorized(
                "credential required: X-API-Key, X-Device-Token or Authorization: Bearer",
            )),
            _ => Ok(()),
        }
    }

    /// Refuses everyone but the admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Self::Admin => Ok(()),
            Self::Anonymous => Err(ApiError::unauthorized("admin token required")),
            Self::Peer { .. } => Err(ApiError::forbidden("admin role required")),
        }
    }

    /// Refuses anonymous callers; returns the peer id of a peer, `None` for the admin.
    pub fn require_identified(&self) -> Result<Option<&PeerId>, ApiError> {
        match self {
            Self::Admin => Ok(None),
            Self::Peer { peer_id, .. } => Ok(Some(peer_id)),
            Self::Anonymous => Err(ApiError::unauthorized(
                "credential required: X-API-Key, X-Device-Token or Authorization: Bearer",
            )),
        }
    }

    /// Whether this caller may act on a record owned by `owner`.
    pub fn owns(&self, owner: &PeerId) -> bool {
        match self {
            Self::Admin => true,
            Self::Peer { peer_id, .. } => peer_id == owner,
            Self::Anonymous => false,
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Resolves a bearer value: the admin token or a JWT.
pub fn bearer_caller(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    if constant_time_eq(token, &state.admin_token) {
        return Ok(Caller::Admin);
    }
    let claims = super::device::verify_jwt(state, token)?;
    Ok(match claims.role {
        Role::Admin => Caller::Admin,
        role => Caller::Peer {
            peer_id: claims.sub,
            role,
        },
    })
}

/// Resolves an API key.
pub fn api_key_caller(state: &AppState, key: &str) -> Result<Caller, ApiError> {
    let entry = state
        .api_keys
        .lookup(key)
        .ok_or_else(|| ApiError::unauthorized("unknown API key"))?;
    Ok(Caller::Peer {
        peer_id: entry.peer_id.clone(),
        role: entry.role,
    })
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        if let Some(auth) = header(parts, "authorization") {
            let token = auth
                .strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
                .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
            return bearer_caller(state, token.trim());
        }
        if let Some(token) = header(parts, "x-admin-token") {
            return if constant_time_eq(token, &state.admin_token) {
                Ok(Caller::Admin)
            } else {
                Err(ApiError::unauthorized("invalid admin token"))
            };
        }
        if let Some(key) = header(parts, "x-api-key") {
            return api_key_caller(state, key);
        }
        if let Some(token) = header(parts, "x-device-token") {
            return super::device::device_caller(state, token);
        }
        Ok(Caller::Anonymous)
    }
}
