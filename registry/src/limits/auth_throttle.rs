//! `AuthThrottle`: failed credential checks per client address, on every route that checks a
//! credential, keyed so an attacker cannot lock out a credential that works.
//!
//! An address that failed `max` checks in a window is locked for the rest of it: its requests
//! are refused with 429 *before* their credential is checked, so a locked address cannot
//! discover a new credential. The exception is a credential that already succeeded from that
//! address recently (an agent that keeps renewing, an open hub session): it is checked as
//! usual, so the guesser's failures never lock out the address's working credentials.

use super::WindowLimiter;
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a credential that succeeded stays exempt from its address's lockout.
const REMEMBER: Duration = Duration::from_secs(15 * 60);

/// Most remembered (address, credential) pairs; beyond it new ones are not remembered (they
/// are then subject to lockouts like any unknown credential).
const MAX_REMEMBERED: usize = 65_536;

/// A credential's fingerprint: the first 16 bytes of SHA-256 over its kind and value.
pub type Fingerprint = u128;

/// Fingerprints a presented credential (never stored as is).
pub fn fingerprint(kind: &str, secret: &str) -> Fingerprint {
    let mut hash = Sha256::new();
    hash.update(kind.as_bytes());
    hash.update([0]);
    hash.update(secret.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

/// Failure counts per address and the credentials that worked from each address.
pub struct AuthThrottle {
    failures: WindowLimiter,
    known: Mutex<HashMap<(IpAddr, Fingerprint), Instant>>,
}

impl AuthThrottle {
    /// Locks an address after `max_failures` failed checks within `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            failures: WindowLimiter::new(max_failures, window),
            known: Mutex::new(HashMap::new()),
        }
    }

    fn is_known(&self, ip: IpAddr, fp: Fingerprint, now: Instant) -> bool {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known
            .get(&(ip, fp))
            .is_some_and(|at| now.saturating_duration_since(*at) < REMEMBER)
    }

    /// Whether this credential may be checked now; `Err(seconds)` while the address is locked
    /// and the credential has not worked from it recently.
    pub fn admit(&self, ip: IpAddr, fp: Fingerprint, now: Instant) -> Result<(), u64> {
        match self.failures.check(ip, now) {
            Ok(()) => Ok(()),
            Err(_) if self.is_known(ip, fp, now) => Ok(()),
            Err(retry) => Err(retry),
        }
    }

    /// Counts a failed check; returns whether this failure locked the address.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> bool {
        let was_open = self.failures.check(ip, now).is_ok();
        self.failures.record(ip, now);
        was_open && self.failures.check(ip, now).is_err()
    }

    /// Remembers a credential that worked from `ip`.
    pub fn succeeded(&self, ip: IpAddr, fp: Fingerprint, now: Instant) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_REMEMBERED && !known.contains_key(&(ip, fp)) {
            known.retain(|_, at| now.saturating_duration_since(*at) < REMEMBER);
            if known.len() >= MAX_REMEMBERED {
                return;
            }
        }
        known.insert((ip, fp), now);
    }

    /// Forgets ended windows and stale credentials.
    pub fn prune(&self, now: Instant) {
        self.failures.prune(now);
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, at| now.saturating_duration_since(*at) < REMEMBER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_locked_address_keeps_its_working_credentials_only() {
        let throttle = AuthThrottle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        let good = fingerprint("api-key", "ak_alice");
        let fresh = fingerprint("api-key", "ak_unused");
        throttle.succeeded(IP, good, t0);
        assert!(!throttle.failed(IP, t0));
        assert!(!throttle.failed(IP, t0));
        assert!(throttle.failed(IP, t0), "the third failure locks");
        assert!(
            throttle.admit(IP, good, t0).is_ok(),
            "working credential passes"
        );
        assert!(
            throttle.admit(IP, fresh, t0).is_err(),
            "unknown one is not checked"
        );
        let later = t0 + Duration::from_secs(61);
        assert!(throttle.admit(IP, fresh, later).is_ok(), "the lock ends");
    }
}
