//! `/api/pairing/*`: onboarding devices (PROTOCOL.md §4–5, `crate::pairing`).

use crate::{
    access::{caller::throttled, Caller},
    auth::secrets::{constant_time_eq, sha256_hex},
    clock::unix_now,
    error::{ApiError, ApiJson},
    events::Change,
    limits::ClientIp,
    pairing::{codes, names, CODE_TTL_SECS, PICKUP_TTL_SECS},
    state::AppState,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use meshwork_protocol::rest::{
    ApproveResponse, ClaimRequest, ClaimResponse, GenerateCodeResponse, PairRequest, PairResponse,
    PairingEntry, PairingStatus,
};
use prometheus_client::metrics::gauge::Gauge;
use std::{sync::Arc, time::Duration};

/// Counts a claim as waiting for as long as it is alive (the `/metrics` gauge).
struct WaitingClaim<'a>(&'a Gauge);

impl<'a> WaitingClaim<'a> {
    fn new(gauge: &'a Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for WaitingClaim<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Default and longest wait of a claim for a decision.
const CLAIM_WAIT_DEFAULT: u64 = 25;
const CLAIM_WAIT_MAX: u64 = 60;

/// `POST /api/pairing/generate-code` (admin).
pub async fn generate_code(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<GenerateCodeResponse>, ApiError> {
    caller.require_admin()?;
    let code = codes::issue(&*state.db, unix_now()).await?;
    tracing::info!("pairing code issued");
    Ok(Json(GenerateCodeResponse {
        code,
        expires_in: CODE_TTL_SECS,
    }))
}

/// `POST /api/pairing/pair`: a device asks to join. 5 tries / 60 s / IP, valid or not.
pub async fn pair(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<PairRequest>, ApiError>,
) -> Result<(StatusCode, Json<PairResponse>), ApiError> {
    if let Err(retry) = state.limits.pair_tries.hit(ip) {
        tracing::warn!(%ip, "pairing tries over the limit");
        return Err(ApiError::too_many_requests(
            format!("too many pairing attempts; try again in {retry} s"),
            retry,
        ));
    }
    let ApiJson(req) = body?;
    names::validate(&req.agent_name).map_err(ApiError::bad_request)?;
    if let Some(secret) = &req.claim_secret {
        if !(16..=256).contains(&secret.len()) {
            return Err(ApiError::bad_request(
                "claim_secret must be 16-256 characters",
            ));
        }
    }
    let peer_id = names::peer_id_for(&req.agent_name);
    if state.api_keys.has_peer(&peer_id)
        || state.db.live_pairing_for_peer(&peer_id).await?.is_some()
    {
        return Err(ApiError::conflict(format!(
            "the name {:?} is taken (peer id {peer_id}); choose another",
            req.agent_name
        )));
    }
    // The code is spent only by a request that could otherwise succeed.
    if !codes::redeem(&*state.db, req.code.trim(), unix_now()).await? {
        return Err(ApiError::forbidden("invalid or expired pairing code"));
    }
    let now = unix_now();
    let entry = PairingEntry {
        id: uuid::Uuid::new_v4().to_string(),
        agent_name: req.agent_name,
        peer_id,
        status: PairingStatus::PendingApproval,
        created_at: now,
        updated_at: now,
    };
    let claim_hash = req.claim_secret.as_deref().map(sha256_hex);
    state
        .db
        .insert_pairing(&entry, claim_hash.as_deref())
        .await?;
    if let Some(key) = &req.identity_key {
        state.db.set_pairing_key(&entry.id, key).await?;
    }
    state.events.publish(Change::Pairings);
    tracing::info!(id = %entry.id, peer_id = %entry.peer_id, %ip, "device awaits approval");
    Ok((
        StatusCode::CREATED,
        Json(PairResponse {
            id: entry.id,
            status: entry.status,
            peer_id: entry.peer_id,
        }),
    ))
}

/// `GET /api/pairing/pending` (admin).
pub async fn pending(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<PairingEntry>>, ApiError> {
    caller.require_admin()?;
    Ok(Json(
        state
            .db
            .pairings(Some(PairingStatus::PendingApproval))
            .await?,
    ))
}

/// `GET /api/pairing/all` (admin).
pub async fn all(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<PairingEntry>>, ApiError> {
    caller.require_admin()?;
    Ok(Json(state.db.pairings(None).await?))
}

async fn transition(
    state: &AppState,
    id: &str,
    to: PairingStatus,
    token_hash: Option<&str>,
) -> Result<PairingEntry, ApiError> {
    let stored = state
        .db
        .pairing(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no pairing entry {id}")))?;
    let from = stored.entry.status;
    let illegal = || {
        ApiError::conflict(format!(
            "entry {id} is {}; it cannot become {}",
            from.as_str(),
            to.as_str()
        ))
    };
    if !from.can_become(to) {
        return Err(illegal());
    }
    let now = unix_now();
    if !state
        .db
        .transition_pairing(id, from, to, now, token_hash)
        .await?
    {
        return Err(illegal());
    }
    state.events.publish(Change::Pairings);
    Ok(PairingEntry {
        status: to,
        updated_at: now,
        ..stored.entry
    })
}

/// `POST /api/pairing/{id}/approve` (admin): the device token, this once.
pub async fn approve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ApproveResponse>, ApiError> {
    caller.require_admin()?;
    let token = state.device_tokens.token_for(&id);
    let entry = transition(
        &state,
        &id,
        PairingStatus::Approved,
        Some(&sha256_hex(&token)),
    )
    .await?;
    if let Some(key) = state.db.pairing_key(&id).await? {
        // The admin approved this device: its key is the peer id's from now on.
        let peer = entry.peer_id.as_str();
        state
            .db
            .rebind_identity_key(peer, &key, "pairing", unix_now())
            .await?;
    }
    tracing::info!(id = %entry.id, peer_id = %entry.peer_id, "device approved");
    Ok(Json(ApproveResponse {
        id: entry.id,
        status: entry.status,
        device_token: token,
    }))
}

/// `POST /api/pairing/{id}/reject` (admin).
pub async fn reject(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PairingEntry>, ApiError> {
    caller.require_admin()?;
    let entry = transition(&state, &id, PairingStatus::Rejected, None).await?;
    tracing::info!(id = %entry.id, peer_id = %entry.peer_id, "device rejected");
    Ok(Json(entry))
}

/// `POST /api/pairing/{id}/revoke` (admin): the device is cut off at once.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PairingEntry>, ApiError> {
    caller.require_admin()?;
    let entry = transition(&state, &id, PairingStatus::Revoked, None).await?;
    state.hub.revoke(&entry.peer_id);
    state.events.publish(Change::Topology);
    tracing::warn!(id = %entry.id, peer_id = %entry.peer_id, "device revoked");
    Ok(Json(entry))
}

/// `POST /api/pairing/{id}/claim` (ours): the device waits for the decision and, once approved,
/// receives its token — the first claim only.
pub async fn claim(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ClaimRequest>,
) -> Result<(StatusCode, Json<ClaimResponse>), ApiError> {
    let wait = Duration::from_secs(
        req.wait_secs
            .unwrap_or(CLAIM_WAIT_DEFAULT)
            .min(CLAIM_WAIT_MAX),
    );
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = state.events.subscribe();
    let _waiting = WaitingClaim::new(&state.metrics.claims_waiting);
    loop {
        let stored = state
            .db
            .pairing(&id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no pairing entry {id}")))?;
        let secret_hash = sha256_hex(&req.claim_secret);
        let Some(expected) = stored.claim_hash.as_deref() else {
            return Err(ApiError::forbidden(
                "this pairing request carried no claim secret; ask the admin for the token",
            ));
        };
        throttled(&state, ip, "claim", &req.claim_secret, async {
            if constant_time_eq(&secret_hash, expected) {
                Ok(())
            } else {
                Err(ApiError::unauthorized("wrong claim secret"))
            }
        })
        .await?;
        let entry = stored.entry;
        let answer = |status: StatusCode, device_token: Option<String>| {
            Ok((
                status,
                Json(ClaimResponse {
                    id: entry.id.clone(),
                    status: entry.status,
                    peer_id: entry.peer_id.clone(),
                    device_token,
                }),
            ))
        };
        match entry.status {
            PairingStatus::PendingApproval => {}
            PairingStatus::Approved => {
                let now = unix_now();
                let in_time = stored
                    .approved_at
                    .is_some_and(|at| now - at <= PICKUP_TTL_SECS as f64);
                let first = in_time && state.db.claim_device_token(&entry.id, now).await?;
                let token = first.then(|| state.device_tokens.token_for(&entry.id));
                let Some(token) = token else {
                    return Err(ApiError::new(
                        StatusCode::GONE,
                        "the device token was already claimed, or waited too long (tokens wait \
                         300 s after the approval); the admin saw it when \
                         approving, or can revoke and pair the device again",
                    ));
                };
                tracing::info!(id = %entry.id, peer_id = %entry.peer_id, "device claimed its token");
                return answer(StatusCode::OK, Some(token));
            }
            PairingStatus::Rejected | PairingStatus::Revoked => {
                return Err(ApiError::forbidden(format!(
                    "pairing {}: {}",
                    entry.id,
                    entry.status.as_str()
                )));
            }
        }
        tokio::select! {
            _ = changes.recv() => {}
            _ = tokio::time::sleep_until(deadline) => {
                return answer(StatusCode::ACCEPTED, None);
            }
            _ = state.shutdown.cancelled() => return answer(StatusCode::ACCEPTED, None),
        }
    }
}
