//! `AppState`: everything the handlers share, one field per concern.

use crate::{
    auth::{api_keys::ApiKeys, jwt::JwtKeys},
    config::Config,
    events::Events,
    limits::Limits,
    metrics::Metrics,
    pairing::DeviceTokens,
    signaling::hub::SignalingHub,
    store::SharedStore,
};
use tokio_util::sync::CancellationToken;

/// Shared registry state, behind an `Arc`.
pub struct AppState {
    /// Configuration as parsed at startup.
    pub config: Config,
    /// The durable store.
    pub db: SharedStore,
    /// API keys loaded from `API_KEYS_FILE` (or the dev key).
    pub api_keys: ApiKeys,
    /// JWT signing and verification.
    pub jwt: JwtKeys,
    /// Admin bearer token.
    pub admin_token: String,
    /// The admin session's credential id (`cid` of browser JWTs): a new admin token ends the
    /// tabs' tokens too.
    pub admin_cid: String,
    /// Connected signaling peers and their link reports.
    pub hub: SignalingHub,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Change notifications (pairing claims, the hub's live stream).
    pub events: Events,
    /// Rate limits and connection caps.
    pub limits: Limits,
    /// Device tokens, derived per pairing entry (the codes and claims are in the store).
    pub device_tokens: DeviceTokens,
    /// WebSocket tickets waiting to be redeemed (docs/adr/0013).
    pub tickets: crate::auth::tickets::Tickets,
    /// The shared memory's replica, unless `MEMORY_REPLICA=false` (ADR 0016).
    pub memory: Option<crate::memory::RegistryMemory>,
    /// Queued tasks sent over the mesh and not yet answered (ADR 0018).
    pub mesh_tasks: crate::task_delivery::inflight::Inflight,
    /// The registry cluster (NATS), when `NATS_URL` is set (ADR 0024).
    pub cluster: Option<std::sync::Arc<crate::cluster::Cluster>>,
    /// Cancelled on shutdown; every background loop watches it.
    pub shutdown: CancellationToken,
}
