//! Six-digit single-use pairing codes, valid `CODE_TTL_SECS`. Kept in memory only: a restart
//! voids unused codes (an admin makes a new one in a second), never an approval.
//!
//! A code also dies after [`MAX_WRONG_TRIES`] wrong codes were tried while it was outstanding,
//! from whichever addresses: per-address limits alone fall to many source addresses, and a
//! million codes leave a guesser 10 in 1,000,000 per code the admin issues.

use rand::Rng;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Wrong codes tried, in total across all addresses, before every outstanding code dies.
pub const MAX_WRONG_TRIES: u32 = 10;

struct Code {
    expires: Instant,
    /// Wrong codes tried since this one was issued.
    wrong_tries: u32,
}

/// The outstanding codes.
pub struct PairingCodes {
    ttl: Duration,
    codes: Mutex<HashMap<String, Code>>,
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
        codes.retain(|_, c| c.expires > now);
        let mut rng = rand::thread_rng();
        loop {
            let code = format!("{:06}", rng.gen_range(0..1_000_000u32));
            if !codes.contains_key(&code) {
                let entry = Code {
                    expires: now + self.ttl,
                    wrong_tries: 0,
                };
                codes.insert(code.clone(), entry);
                return code;
            }
        }
    }

    /// Uses up a code: `true` once for a valid, unexpired code. A wrong code counts against
    /// every outstanding code; those that reach [`MAX_WRONG_TRIES`] die.
    pub fn redeem(&self, code: &str, now: Instant) -> bool {
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = codes.remove(code) {
            return found.expires > now;
        }
        let before = codes.len();
        codes.retain(|_, c| {
            c.wrong_tries += 1;
            c.wrong_tries < MAX_WRONG_TRIES && c.expires > now
        });
        if codes.len() < before {
            tracing::warn!(
                voided = before - codes.len(),
                "pairing codes voided after {MAX_WRONG_TRIES} wrong tries; generate a new one"
            );
        }
        false
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
    fn a_code_dies_after_ten_wrong_tries() {
        let codes = PairingCodes::new(Duration::from_secs(300));
        let t0 = Instant::now();
        let code = codes.issue(t0);
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for _ in 0..MAX_WRONG_TRIES {
            assert!(!codes.redeem(wrong, t0));
        }
        assert!(!codes.redeem(&code, t0), "voided");
    }

    #[test]
    fn an_expired_code_is_refused() {
        let codes = PairingCodes::new(Duration::from_secs(300));
        let t0 = Instant::now();
        let code = codes.issue(t0);
        assert!(!codes.redeem(&code, t0 + Duration::from_secs(301)));
    }
}
