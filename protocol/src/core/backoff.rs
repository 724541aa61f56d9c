//! Exponential backoff with equal jitter.

use super::{rng::Rng, time::millis};
use std::time::Duration;

/// How a backoff grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The ceiling of the first delay.
    pub base: Duration,
    /// Each failure multiplies the ceiling by this.
    pub factor: u32,
    /// The ceiling never exceeds this.
    pub cap: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            factor: 2,
            cap: Duration::from_secs(30),
        }
    }
}

impl BackoffConfig {
    /// The ceiling for the `attempt`-th consecutive failure (0-based): `min(cap, base·factor^n)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let grown =
            millis(self.base).saturating_mul(u64::from(self.factor).saturating_pow(attempt));
        Duration::from_millis(grown.min(millis(self.cap)))
    }
}

/// A failure counter that turns into delays.
///
/// Equal jitter: a delay lies in `[ceiling/2, ceiling]`, so it still grows visibly while
/// peers that failed together spread out instead of retrying in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    /// A backoff with no failures yet.
    pub fn new(config: BackoffConfig) -> Self {
        Self { config, attempt: 0 }
    }

    /// The delay before the next try; counts one more failure.
    pub fn next_delay(&mut self, rng: &mut Rng) -> Duration {
        let ceiling = millis(self.config.ceiling(self.attempt));
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        Duration::from_millis(half + rng.up_to(ceiling - half))
    }

    /// Forgets all failures: the next delay is short again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Consecutive failures counted so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}
