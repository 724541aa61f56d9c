//! Abuse limits: per-IP request windows, the WebSocket connection cap, per-peer signaling
//! budgets, and the client address they key on.

pub mod auth_throttle;
pub mod bucket;
pub mod client_ip;
pub mod window;

use crate::config::Config;
use std::sync::Arc;
use tokio::sync::Semaphore;
pub use {
    auth_throttle::AuthThrottle, bucket::TokenBucket, client_ip::ClientIp, window::WindowLimiter,
};

/// Every limit the registry enforces, built from the configuration.
pub struct Limits {
    /// `POST /api/token` requests per IP per minute.
    pub token_requests: WindowLimiter,
    /// Failed credential checks per IP per minute, on every route (then the address is locked
    /// out of everything but the credentials that already worked from it).
    pub auth: AuthThrottle,
    /// `POST /api/pairing/pair` tries per IP per minute.
    pub pair_tries: WindowLimiter,
    /// One permit per open signaling WebSocket.
    pub ws_slots: Arc<Semaphore>,
}

impl Limits {
    /// Limits as configured.
    pub fn new(config: &Config) -> Self {
        let minute = std::time::Duration::from_secs(60);
        Self {
            token_requests: WindowLimiter::new(config.token_rate_per_min, minute),
            auth: AuthThrottle::new(config.auth_failures_per_min, minute),
            pair_tries: WindowLimiter::new(config.pair_tries_per_min, minute),
            ws_slots: Arc::new(Semaphore::new(config.max_ws_connections)),
        }
    }

    /// Forgets windows that have ended (called by the maintenance loop).
    pub fn prune(&self) {
        let now = std::time::Instant::now();
        self.token_requests.prune(now);
        self.auth.prune(now);
        self.pair_tries.prune(now);
    }
}
