//! Six-digit single-use pairing codes, valid `CODE_TTL_SECS`. Kept in memory only: a restart
//! voids unused codes (an admin makes a new one in a second), never an approval.

use rand::Rng;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// The outstanding codes.
pub struct PairingCodes {
    ttl: Duration,
    codes: Mutex<HashMap<String, Instant>>,
}

impl PairingCodes {
    /// Codes valid for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            codes: Mutex::new(HashMap::new()),
        }
    }

    /// A new code, distinct from every outstanding one.
    pub fn issue(&self, now: Instant) -> String {
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        codes.retain(|_, expires| *expires > now);
        let mut rng = rand::thread_rng();
        loop {
            let code = format!("{:06}", rng.gen_range(0..1_000_000u32));
            if !codes.contains_key(&code) {
                codes.insert(code.clone(), now + self.ttl);
                return code;
            }
        }
    }

    /// Uses up a code: `true` once for a valid, unexpired code.
    pub fn redeem(&self, code: &str, now: Instant) -> bool {
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        match codes.remove(code) {
            Some(expires) => expires > now,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_six_digits_and_single_use() {
        let codes = PairingCodes::new(Duration::from_secs(300));
        let t0 = Instant::now();
        let code = codes.issue(t0);
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        assert!(codes.redeem(&code, t0));
        assert!(!codes.redeem(&code, t0), "second use refused");
    }

    #[test]
    fn an_expired_code_is_refused() {
        let codes = PairingCodes::new(Duration::from_secs(300));
        let t0 = Instant::now();
        let code = codes.issue(t0);
        assert!(!codes.redeem(&code, t0 + Duration::from_secs(301)));
    }
}
