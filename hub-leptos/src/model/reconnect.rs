//! When the hub stream reconnects, and when a failing stream means the token is refused.
//!
//! A refused admin token makes the registry fail the WebSocket upgrade, which a browser only
//! reports as a close before any message. A registry that is restarting looks the same, so two
//! such closes in a row only *suspect* the token; a REST probe (401 or not) decides.

use meshwork_protocol::core::BackoffConfig;
use std::time::Duration;

/// The stream's backoff: 0.5 s, 1 s, 2 s, … capped at 10 s.
pub const STREAM_BACKOFF: BackoffConfig = BackoffConfig {
    base: Duration::from_millis(500),
    factor: 2,
    cap: Duration::from_secs(10),
};

/// What to do after the stream closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterClose {
    /// Reconnect after this delay.
    Retry(Duration),
    /// Ask the REST API whether the token is refused; if not, reconnect after this delay.
    ProbeToken(Duration),
}

/// Reconnect policy of one hub tab: counts failures since the last message.
#[derive(Debug, Clone, Default)]
pub struct Reconnect {
    /// Consecutive connections that ended without a single message; resets on a message.
    attempts: u32,
    /// Whether the current connection delivered a message (the snapshot).
    got_message: bool,
}

impl Reconnect {
    /// A new connection attempt starts.
    pub fn connecting(&mut self) {
        self.got_message = false;
    }

    /// A message arrived: the connection works, the next failure retries quickly again.
    pub fn message(&mut self) {
        self.got_message = true;
        self.attempts = 0;
    }

    /// The connection closed (or failed to open).
    pub fn closed(&mut self) -> AfterClose {
        if self.got_message {
            self.got_message = false;
            self.attempts = 0;
            return AfterClose::Retry(STREAM_BACKOFF.ceiling(0));
        }
        let delay = STREAM_BACKOFF.ceiling(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        if self.attempts >= 2 {
            AfterClose::ProbeToken(delay)
        } else {
            AfterClose::Retry(delay)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn failures_back_off_from_half_a_second_to_ten() {
        let mut r = Reconnect::default();
        let delays: Vec<Duration> = (0..7)
            .map(|_| {
                r.connecting();
                match r.closed() {
                    AfterClose::Retry(d) | AfterClose::ProbeToken(d) => d,
                }
            })
            .collect();
        let want = [500, 1000, 2000, 4000, 8000, 10_000, 10_000].map(ms);
        assert_eq!(delays, want);
    }

    #[test]
    fn two_closes_before_any_message_probe_the_token() {
        let mut r = Reconnect::default();
        r.connecting();
        assert_eq!(r.closed(), AfterClose::Retry(ms(500)));
        r.connecting();
        assert_eq!(r.closed(), AfterClose::ProbeToken(ms(1000)));
    }

    #[test]
    fn a_message_resets_the_backoff_and_the_suspicion() {
        let mut r = Reconnect::default();
        r.connecting();
        r.closed();
        r.connecting();
        r.message();
        assert_eq!(r.closed(), AfterClose::Retry(ms(500)));
        r.connecting();
        assert_eq!(r.closed(), AfterClose::Retry(ms(500)));
    }
}
