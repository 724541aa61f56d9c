//! A peer's signaling budget: `rate` frames per second on average, bursts up to `burst` —
//! governor's GCRA, which behaves exactly like a token bucket of that size.

use governor::{
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::{InMemoryState, NotKeyed},
    Quota, RateLimiter,
};
use std::{num::NonZeroU32, time::Duration};

/// The quota for `rate` per second with bursts of `burst` (both at least tiny/one).
pub fn quota(rate: f64, burst: f64) -> Quota {
    let burst = NonZeroU32::new(burst.ceil().clamp(1.0, f64::from(u32::MAX)) as u32)
        .unwrap_or(NonZeroU32::MIN);
    let period =
        Duration::try_from_secs_f64(1.0 / rate.max(1e-3)).unwrap_or(Duration::from_secs(1000));
    Quota::with_period(period)
        .unwrap_or(Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst)
}

/// One peer's signaling budget.
pub struct TokenBucket<C: Clock = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            limiter: RateLimiter::direct(quota(rate, burst)),
        }
    }
}

impl<C: Clock> TokenBucket<C> {
    /// A full bucket on `clock` (tests).
    pub fn with_clock(rate: f64, burst: f64, clock: C) -> Self {
        Self {
            limiter: RateLimiter::direct_with_clock(quota(rate, burst), clock),
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self) -> bool {
        self.limiter.check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let clock = FakeRelativeClock::default();
        let mut bucket = TokenBucket::with_clock(10.0, 20.0, clock.clone());
        assert_eq!((0..30).filter(|_| bucket.take()).count(), 20);
        clock.advance(Duration::from_millis(500));
        assert_eq!((0..30).filter(|_| bucket.take()).count(), 5);
    }
}
