//! Abuse limits: per-IP request rates and per-peer signaling budgets (governor), the failure
//! lockout (a fixed window of failures, which a rate limiter cannot express: it counts after
//! the fact and is checked without counting), the WebSocket connection cap, and the client
//! address they key on.

pub mod auth_throttle;
pub mod bucket;
pub mod client_ip;
pub mod per_address;
pub mod window;

use crate::config::Config;
use std::sync::Arc;
use tokio::sync::Semaphore;
pub use {
    auth_throttle::AuthThrottle, bucket::TokenBucket, client_ip::ClientIp, per_address::PerAddress,
    window::WindowLimiter,
};

/// Every limit the registry enforces, built from the configuration.
pub struct Limits {
    /// `POST /api/token` requests per IP per minute.
    pub token_requests: PerAddress,
    /// Failed credential checks per IP per minute, on every route (then the address is locked
    /// out of everything but the credentials that already worked from it).
    pub auth: AuthThrottle,
    /// `POST /api/pairing/pair` tries per IP per minute.
    pub pair_tries: PerAddress,
    /// `POST /api/hub/tasks` per caller per minute: each peer id, the admin, and each
    /// address of anonymous callers (chatixia compatibility mode) has its own budget.
    pub task_creates: PerAddress<String>,
    /// One permit per open signaling WebSocket.
    pub ws_slots: Arc<Semaphore>,
}

impl Limits {
    /// Limits as configured.
    pub fn new(config: &Config) -> Self {
        let minute = std::time::Duration::from_secs(60);
        Self {
            token_requests: PerAddress::new(config.token_rate_per_min),
            auth: AuthThrottle::new(config.auth_failures_per_min, minute),
            pair_tries: PerAddress::new(config.pair_tries_per_min),
            task_creates: PerAddress::new(config.task_create_per_min),
            ws_slots: Arc::new(Semaphore::new(config.max_ws_connections)),
        }
    }

    /// Forgets windows that have ended (called by the maintenance loop).
    pub fn prune(&self) {
        let now = std::time::Instant::now();
        self.token_requests.prune();
        self.auth.prune(now);
        self.pair_tries.prune();
        self.task_creates.prune();
    }
}
