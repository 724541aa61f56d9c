//! Approved device tokens waiting for their device's claim: in memory only, each handed out at
//! most once, forgotten after `PICKUP_TTL_SECS` or a restart (the admin still has the token
//! from the approval, and can revoke and re-pair).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Tokens by pairing entry id.
pub struct Pickups {
    ttl: Duration,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl Pickups {
    /// Tokens wait `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Leaves a token for entry `id`; `false` (and nothing changes) if one is already waiting.
    pub fn put(&self, id: &str, token: String, now: Instant) -> bool {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, (_, expires)| *expires > now);
        if tokens.contains_key(id) {
            return false;
        }
        tokens.insert(id.to_owned(), (token, now + self.ttl));
        true
    }

    /// Takes the token for entry `id`, once.
    pub fn take(&self, id: &str, now: Instant) -> Option<String> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .remove(id)
            .filter(|(_, expires)| *expires > now)
            .map(|(token, _)| token)
    }

    /// Forgets the token for entry `id` (rejected or revoked before pickup).
    pub fn discard(&self, id: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_taken_once_and_expires() {
        let pickups = Pickups::new(Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(pickups.put("a", "dt_x".into(), t0));
        assert!(!pickups.put("a", "dt_other".into(), t0), "never replaced");
        assert_eq!(pickups.take("a", t0).as_deref(), Some("dt_x"));
        assert_eq!(pickups.take("a", t0), None);
        assert!(pickups.put("b", "dt_y".into(), t0));
        assert_eq!(pickups.take("b", t0 + Duration::from_secs(301)), None);
    }
}
