//! `Caller`: who sent a request, from its headers.
//!
//! Accepted credentials, in order: `Authorization: Bearer <admin token | JWT>`,
//! `X-Admin-Token`, `X-API-Key`, `X-Device-Token`. A credential that is present but wrong is a
//! 401 — it never degrades to anonymous. Every check goes through the address's
//! [`AuthThrottle`](crate::limits::AuthThrottle), whichever route it is on.

use crate::{
    auth::secrets::constant_time_eq,
    error::ApiError,
    limits::{auth_throttle::fingerprint, ClientIp},
    state::AppState,
};
use axum::{
    extract::FromRequestParts,
    http::{request::Parts, HeaderMap, StatusCode},
};
use meshwork_protocol::{rest::Role, PeerId};
use std::{net::IpAddr, sync::Arc, time::Instant};

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

/// Which kind of credential authenticated a request: `POST /api/token` issues JWTs only for a
/// primary credential, never for a JWT (a token must not outlive what it was issued from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No credential.
    None,
    /// The admin token.
    AdminToken,
    /// An API key, with its credential id.
    ApiKey {
        /// The key's id (`cid` of its JWTs).
        id: String,
    },
    /// A device token, with its pairing (approval) id.
    DeviceToken {
        /// The approval's id (`cid` of its JWTs).
        pairing_id: String,
    },
    /// A JWT.
    Jwt,
}

/// A caller and the credential that proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// Who.
    pub caller: Caller,
    /// With what.
    pub credential: Credential,
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Runs one credential check under the address's failure throttle: refused unchecked while
/// the address is locked (unless this credential already worked from it), a 401 counts as a
/// failure, a success is remembered.
pub async fn throttled<T>(
    state: &AppState,
    ip: IpAddr,
    kind: &str,
    secret: &str,
    check: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let throttle = &state.limits.auth;
    let fp = fingerprint(kind, secret);
    let now = Instant::now();
    if let Err(retry) = throttle.admit(ip, fp, now) {
        return Err(ApiError::too_many_requests(
            format!("too many failed credential checks from your address; try again in {retry} s"),
            retry,
        ));
    }
    match check.await {
        Ok(value) => {
            throttle.succeeded(ip, fp, now);
            Ok(value)
        }
        Err(e) => {
            if e.status == StatusCode::UNAUTHORIZED && throttle.failed(ip, now) {
                // One line per locked window, not one per guess: failures cannot flood the log.
                tracing::warn!(%ip, "address locked out after repeated failed credential checks");
            }
            Err(e)
        }
    }
}

/// Resolves a bearer value: the admin token or a JWT.
async fn bearer(state: &AppState, token: &str) -> Result<Authenticated, ApiError> {
    if constant_time_eq(token, &state.admin_token) {
        return Ok(Authenticated {
            caller: Caller::Admin,
            credential: Credential::AdminToken,
        });
    }
    let claims = super::device::verify_jwt(state, token).await?;
    let caller = match claims.role {
        Role::Admin => Caller::Admin,
        role => Caller::Peer {
            peer_id: claims.sub,
            role,
        },
    };
    Ok(Authenticated {
        caller,
        credential: Credential::Jwt,
    })
}

/// Authenticates a request's headers from address `ip`.
pub async fn authenticate(
    state: &AppState,
    ip: IpAddr,
    headers: &HeaderMap,
) -> Result<Authenticated, ApiError> {
    if let Some(auth) = header(headers, "authorization") {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?
            .trim();
        return throttled(state, ip, "bearer", token, bearer(state, token)).await;
    }
    if let Some(token) = header(headers, "x-admin-token") {
        return throttled(state, ip, "bearer", token, async {
            if constant_time_eq(token, &state.admin_token) {
                Ok(Authenticated {
                    caller: Caller::Admin,
                    credential: Credential::AdminToken,
                })
            } else {
                Err(ApiError::unauthorized("invalid admin token"))
            }
        })
        .await;
    }
    if let Some(key) = header(headers, "x-api-key") {
        return throttled(state, ip, "api-key", key, async {
            let entry = state
                .api_keys
                .lookup(key)
                .ok_or_else(|| ApiError::unauthorized("unknown API key"))?;
            Ok(Authenticated {
                caller: Caller::Peer {
                    peer_id: entry.peer_id.clone(),
                    role: entry.role,
                },
                credential: Credential::ApiKey {
                    id: entry.id.clone(),
                },
            })
        })
        .await;
    }
    if let Some(token) = header(headers, "x-device-token") {
        return throttled(state, ip, "device", token, async {
            let (caller, pairing_id) = super::device::device_caller(state, token).await?;
            Ok(Authenticated {
                caller,
                credential: Credential::DeviceToken { pairing_id },
            })
        })
        .await;
    }
    Ok(Authenticated {
        caller: Caller::Anonymous,
        credential: Credential::None,
    })
}

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        authenticate(state, ip, &parts.headers).await
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        Authenticated::from_request_parts(parts, state)
            .await
            .map(|a| a.caller)
    }
}
