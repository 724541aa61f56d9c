//! Abuse limits: per-IP request windows, the WebSocket connection cap, per-peer signaling
//! budgets, and the client address they key on.

pub mod bucket;
pub mod client_ip;
pub mod window;

use crate::config::Config;
use std::sync::Arc;
use tokio::sync::Semaphore;
pub use {bucket::TokenBucket, client_ip::ClientIp, window::WindowLimiter};

/// Every limit the registry enforces, built from the configuration.
pub struct Limits {
    /// `POST /api/token` requests per IP per minute.
    pub token_requests: WindowLimiter,
    /// Failed `POST /api/token` attempts per IP per minute (then every attempt is refused).
    pub token_failures: WindowLimiter,
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
            token_failures: WindowLimiter::new(config.token_failures_per_min, minute),
            pair_tries: WindowLimiter::new(config.pair_tries_per_min, minute),
            ws_slots: Arc::new(Semaphore::new(config.max_ws_connections)),
        }
    }

    /// Forgets windows that have ended (called by the maintenance loop).
    pub fn prune(&self) {
        let now = std::time::Instant::now();
        self.token_requests.prune(now);
        self.token_failures.prune(now);
        self.pair_tries.prune(now);
    }
}
