//! TURN REST credentials (coturn `use-auth-secret`, PROTOCOL.md §5), minted by the registry
//! for `/api/config` and by a sidecar that was given `TURN_SECRET` itself.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Username `"<unix expiry>:<peer id>"` and credential `base64(HMAC-SHA1(secret, username))`.
pub fn rest_credential(secret: &str, peer_id: &str, expiry: u64) -> (String, String) {
    let username = format!("{expiry}:{peer_id}");
    let credential = match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(username.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => String::new(),
    };
    (username, credential)
}

/// The unix expiry a TURN REST username carries (`"<expiry>:<peer id>"`); `None` for a
/// username of another scheme (a static TURN user).
pub fn rest_expiry(username: &str) -> Option<u64> {
    username.split_once(':')?.0.parse().ok()
}

/// When a set of ICE servers' TURN REST credentials need renewing, and which are expired.
///
/// Pure (the caller passes the time) so the sidecar and the tab share one rule: renew halfway
/// to the earliest expiry but not more often than every [`MIN_RENEW_SECS`], and never hand an
/// expired credential to ICE (coturn would answer 401 and the link gets no relay candidates).
pub mod expiry {
    use super::rest_expiry;
    use crate::rest::IceServer;

    /// What a peer says when it drops an expired credential (log line or error event).
    pub const EXPIRED_TEXT: &str = "TURN credential expired: not offering this TURN server \
        (the registry's TURN_TTL_SECS is too short, or the clocks disagree); fetching fresh \
        credentials for the next attempt";

    /// The shortest time between two renewals, seconds: a registry with a tiny TTL must not
    /// make its peers poll it hot.
    pub const MIN_RENEW_SECS: u64 = 5;

    /// The earliest expiry (unix seconds) among the TURN REST credentials in `servers`.
    pub fn earliest(servers: &[IceServer]) -> Option<u64> {
        servers
            .iter()
            .filter_map(|s| s.username.as_deref())
            .filter_map(rest_expiry)
            .min()
    }

    /// Seconds from `now` until the credentials should be renewed; `None` when none expire.
    pub fn renew_after(servers: &[IceServer], now: u64) -> Option<u64> {
        let left = earliest(servers)?.saturating_sub(now);
        Some((left / 2).max(MIN_RENEW_SECS))
    }

    /// Splits `servers` into the usable ones and the TURN entries whose credential expired
    /// at or before `now`.
    pub fn split_expired(servers: &[IceServer], now: u64) -> (Vec<IceServer>, Vec<IceServer>) {
        servers.iter().cloned().partition(|s| {
            s.username
                .as_deref()
                .and_then(rest_expiry)
                .is_none_or(|at| at > now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::IceServer;

    fn turn(username: &str) -> IceServer {
        IceServer {
            urls: vec!["turn:127.0.0.1:3478".into()],
            username: Some(username.into()),
            credential: Some("c".into()),
        }
    }

    #[test]
    fn expired_turn_credentials_are_split_off_and_renewal_is_halfway_but_not_hot() {
        let stun = IceServer {
            urls: vec!["stun:127.0.0.1:3478".into()],
            username: None,
            credential: None,
        };
        let servers = vec![stun.clone(), turn("1000:alice"), turn("2000:alice")];
        let (usable, expired) = expiry::split_expired(&servers, 1000);
        assert_eq!(usable, vec![stun.clone(), turn("2000:alice")]);
        assert_eq!(expired, vec![turn("1000:alice")]);
        assert_eq!(expiry::earliest(&servers), Some(1000));
        assert_eq!(expiry::renew_after(&servers[2..], 1000), Some(500));
        assert_eq!(
            expiry::renew_after(&servers[1..2], 999),
            Some(5),
            "never hot"
        );
        assert_eq!(
            expiry::renew_after(&servers[..1], 1000),
            None,
            "nothing expires"
        );
    }

    #[test]
    fn expiry_is_read_from_rest_usernames_only() {
        assert_eq!(rest_expiry("1700000000:alice"), Some(1_700_000_000));
        assert_eq!(rest_expiry("1700000000:a:b"), Some(1_700_000_000));
        assert_eq!(rest_expiry("static-user"), None);
        assert_eq!(rest_expiry("x:alice"), None);
    }

    #[test]
    fn credential_matches_rfc_2104_hmac_sha1() {
        // printf %s '1700000000:alice' | openssl dgst -sha1 -hmac secret -binary | base64
        let (user, cred) = rest_credential("secret", "alice", 1_700_000_000);
        assert_eq!(user, "1700000000:alice");
        assert_eq!(cred, EXPECTED);
    }

    const EXPECTED: &str = "d8soP47RbdIKLDUOpnJPVQyq5Ts=";
}
