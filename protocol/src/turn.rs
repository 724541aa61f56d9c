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

#[cfg(test)]
mod tests {
    use super::*;

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
