//! `AppState`: everything the handlers share, one field per concern.

use crate::{
    auth::{api_keys::ApiKeys, jwt::JwtKeys},
    config::Config,
    db::Db,
    metrics::Metrics,
    signaling::hub::SignalingHub,
};
use tokio_util::sync::CancellationToken;

/// Shared registry state, behind an `Arc`.
pub struct AppState {
    /// Configuration as parsed at startup.
    pub config: Config,
    /// The durable store.
    pub db: Db,
    /// API keys loaded from `API_KEYS_FILE` (or the dev key).
    pub api_keys: ApiKeys,
    /// JWT signing and verification.
    pub jwt: JwtKeys,
    /// Admin bearer token.
    pub admin_token: String,
    /// Connected signaling peers and their link reports.
    pub hub: SignalingHub,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Cancelled on shutdown; every background loop watches it.
    pub shutdown: CancellationToken,
}
