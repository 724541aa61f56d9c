//! A fixed-window counter per client address: at most `max` events per `window`.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

/// Per-IP fixed windows.
pub struct WindowLimiter {
    max: u32,
    window: Duration,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl WindowLimiter {
    /// `max` events per `window` per address.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn with_window<R>(&self, ip: IpAddr, now: Instant, f: impl FnOnce(&mut Window) -> R) -> R {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = windows.entry(ip).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.duration_since(w.start) >= self.window {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        f(w)
    }

    fn retry_after(&self, w: &Window, now: Instant) -> u64 {
        self.window
            .saturating_sub(now.duration_since(w.start))
            .as_secs_f64()
            .ceil() as u64
    }

    /// Counts one event; `Err(seconds until the window ends)` when over the limit.
    pub fn hit(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        self.with_window(ip, now, |w| {
            if w.count >= self.max {
                return Err(self.retry_after(w, now));
            }
            w.count += 1;
            Ok(())
        })
    }

    /// Whether the address is over the limit, without counting.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        self.with_window(ip, now, |w| {
            if w.count >= self.max {
                Err(self.retry_after(w, now))
            } else {
                Ok(())
            }
        })
    }

    /// Counts one event without refusing it (failures are counted after the fact).
    pub fn record(&self, ip: IpAddr, now: Instant) {
        self.with_window(ip, now, |w| w.count = w.count.saturating_add(1));
    }

    /// Drops windows that have ended.
    pub fn prune(&self, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.retain(|_, w| now.duration_since(w.start) < self.window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn refuses_after_max_until_the_window_ends() {
        let limiter = WindowLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.hit(IP, t0).is_ok());
        }
        assert_eq!(limiter.hit(IP, t0 + Duration::from_secs(20)), Err(40));
        assert!(limiter.hit(OTHER, t0).is_ok(), "limits are per address");
        assert!(limiter.hit(IP, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn recorded_failures_trip_check() {
        let limiter = WindowLimiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        limiter.record(IP, t0);
        assert!(limiter.check(IP, t0).is_ok());
        limiter.record(IP, t0);
        assert!(limiter.check(IP, t0).is_err());
        limiter.prune(t0 + Duration::from_secs(61));
        assert!(limiter.check(IP, t0 + Duration::from_secs(61)).is_ok());
    }
}
