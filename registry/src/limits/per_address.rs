//! At most `max` events per minute per key — a client address, or a caller — governor's
//! keyed GCRA: a burst of `max`, then one more every `60 s / max`.

use governor::{
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::keyed::DefaultKeyedStateStore,
    Quota, RateLimiter,
};
use std::{hash::Hash, net::IpAddr, num::NonZeroU32};

/// Per-key limits (per client address by default).
pub struct PerAddress<K: Hash + Eq + Clone = IpAddr, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
}

fn per_minute(max: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(max).unwrap_or(NonZeroU32::MIN))
}

impl<K: Hash + Eq + Clone> PerAddress<K> {
    /// `max` events per minute per key (at least one).
    pub fn new(max: u32) -> Self {
        Self::with_clock(max, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> PerAddress<K, C> {
    /// The same on `clock` (tests).
    pub fn with_clock(max: u32, clock: C) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(per_minute(max), clock.clone()),
            clock,
        }
    }

    /// Counts one event; `Err(seconds until one more is allowed)` when over the limit.
    pub fn hit(&self, key: K) -> Result<(), u64> {
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }

    /// Forgets keys whose budget is full again.
    pub fn prune(&self) {
        self.limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn refuses_after_max_then_allows_at_the_rate() {
        let clock = FakeRelativeClock::default();
        let limiter = PerAddress::with_clock(5, clock.clone());
        for _ in 0..5 {
            assert!(limiter.hit(IP).is_ok());
        }
        assert_eq!(limiter.hit(IP), Err(12), "one more every 60 s / 5");
        assert!(limiter.hit(OTHER).is_ok(), "limits are per address");
        clock.advance(Duration::from_secs(12));
        assert!(limiter.hit(IP).is_ok());
        assert!(limiter.hit(IP).is_err());
    }
}
