//! JWTs per PROTOCOL.md §5: HS256 with `SIGNALING_SECRET`, claims `sub`, `role`, `iat`, `exp`,
//! plus (ours) `cid`, the id of the credential the token was issued from, so every use checks
//! that credential is still valid (docs/adr/0012-security-round-2.md).

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use meshwork_protocol::{rest::Role, PeerId};
use serde::{Deserialize, Serialize};

/// The claims of a meshwork JWT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Peer id.
    pub sub: PeerId,
    /// Role.
    pub role: Role,
    /// Issued at, unix seconds.
    pub iat: u64,
    /// Expires at, unix seconds.
    pub exp: u64,
    /// The issuing credential: an API key's id, a device's pairing (approval) id, or the admin
    /// session's id. A token whose credential is gone is refused on use.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cid: String,
}

/// Signing and verification keys.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl JwtKeys {
    /// Keys for a secret; tokens live `ttl_secs`.
    pub fn new(secret: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl_secs,
        }
    }

    /// Issues a token for a peer, naming the credential `cid` it was issued from.
    pub fn issue(
        &self,
        peer_id: &PeerId,
        role: Role,
        cid: &str,
        now: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: peer_id.clone(),
            role,
            iat: now,
            exp: now + self.ttl_secs,
            cid: cid.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verifies signature and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        crate::clock::unix_now() as u64
    }

    #[test]
    fn issued_token_verifies_with_its_claims() {
        let keys = JwtKeys::new("secret", 300);
        let token = keys
            .issue(&PeerId::from("a"), Role::Agent, "k1", now())
            .expect("sign");
        let claims = keys.verify(&token).expect("verify");
        assert_eq!(claims.sub.as_str(), "a");
        assert_eq!(claims.role, Role::Agent);
        assert_eq!(claims.exp - claims.iat, 300);
        assert_eq!(claims.cid, "k1");
    }

    #[test]
    fn token_signed_with_another_secret_is_refused() {
        let token = JwtKeys::new("one", 300)
            .issue(&PeerId::from("a"), Role::Agent, "k1", now())
            .expect("sign");
        assert!(JwtKeys::new("two", 300).verify(&token).is_err());
    }

    #[test]
    fn expired_token_is_refused() {
        let keys = JwtKeys::new("secret", 300);
        let token = keys
            .issue(&PeerId::from("a"), Role::Agent, "k1", now() - 1000)
            .expect("sign");
        assert!(keys.verify(&token).is_err());
    }
}
