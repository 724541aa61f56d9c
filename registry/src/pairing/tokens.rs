//! Device tokens derived from the signing secret and the pairing entry's id: the admin sees
//! the token when approving, the device's first claim gets the same one, and nothing but its
//! hash is ever stored. Anyone who could compute one holds the signing secret, which already
//! mints any JWT.

use super::DEVICE_TOKEN_PREFIX;
use crate::auth::secrets::credential_id;

/// Mints device tokens.
pub struct DeviceTokens {
    secret: String,
}

impl DeviceTokens {
    /// Tokens keyed with the registry's signing secret (the same on every registry of a
    /// cluster).
    pub fn new(signing_secret: &str) -> Self {
        Self {
            secret: signing_secret.to_owned(),
        }
    }

    /// The device token of pairing entry `id`: `dt_` + 32 hex digits of HMAC-SHA256.
    pub fn token_for(&self, id: &str) -> String {
        format!(
            "{DEVICE_TOKEN_PREFIX}{}",
            credential_id(&self.secret, "device-token", id)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_has_its_own_token_and_only_the_secret_makes_it() {
        let tokens = DeviceTokens::new("secret-one");
        let a = tokens.token_for("entry-a");
        assert!(a.starts_with("dt_") && a.len() == 35, "{a}");
        assert_eq!(a, tokens.token_for("entry-a"));
        assert_ne!(a, tokens.token_for("entry-b"));
        assert_ne!(a, DeviceTokens::new("secret-two").token_for("entry-a"));
    }
}
