//! The identity key pair and its wire form.

use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha512_256};
use std::fmt;

/// Why an identity operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A key that is not 32 bytes of base64url, or not a valid curve point.
    #[error("not an identity key: {0}")]
    BadKey(String),
    /// A signature that is not 64 bytes of base64url.
    #[error("malformed signature")]
    BadSignature,
    /// The signature does not verify against the key.
    #[error("signature does not verify")]
    Forged,
    /// A sealed message that does not open (wrong key, tampered, or not for us).
    #[error("sealed message does not open")]
    Unsealable,
}

/// A peer's secret identity key. Debug never prints the secret.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
}

impl Identity {
    /// The identity whose secret is `seed` (32 bytes from the OS or `crypto.getRandomValues`).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The 32 secret bytes, for the sidecar's key file.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public half, announced at `register`.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    /// Signs `message`; the signature's wire form is base64url.
    pub fn sign(&self, message: &[u8]) -> String {
        Base64UrlUnpadded::encode_string(&self.key.sign(message).to_bytes())
    }

    /// The X25519 secret derived from this key (the Ed25519 scalar), for sealing.
    pub(crate) fn x25519_secret(&self) -> x25519_dalek::StaticSecret {
        x25519_dalek::StaticSecret::from(self.key.to_scalar_bytes())
    }
}

impl PartialEq for Identity {
    fn eq(&self, other: &Self) -> bool {
        self.public() == other.public()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.public().fingerprint())
    }
}

/// A peer's public identity key; on the wire, 43 characters of unpadded base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses the wire form.
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let bad = || IdentityError::BadKey(text.chars().take(64).collect());
        let bytes = Base64UrlUnpadded::decode_vec(text.trim()).map_err(|_| bad())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| bad())
    }

    /// The wire form.
    pub fn encode(&self) -> String {
        Base64UrlUnpadded::encode_string(self.0.as_bytes())
    }

    /// A short form for people to compare: the first 8 bytes of SHA-512/256 of the key, hex in
    /// groups of four (`"1a2b 3c4d 5e6f 7a8b"`).
    pub fn fingerprint(&self) -> String {
        let digest = Sha512_256::digest(self.0.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let groups: Vec<&str> = (0..4).map(|i| &hex[i * 4..i * 4 + 4]).collect();
        groups.join(" ")
    }

    /// Whether `signature` (wire form) is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> Result<(), IdentityError> {
        let bytes = Base64UrlUnpadded::decode_vec(signature.trim())
            .map_err(|_| IdentityError::BadSignature)?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| IdentityError::BadSignature)?;
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.0
            .verify_strict(message, &signature)
            .map_err(|_| IdentityError::Forged)
    }

    /// The X25519 public key of the same peer, for sealing to it.
    pub(crate) fn x25519(&self) -> x25519_dalek::PublicKey {
        x25519_dalek::PublicKey::from(self.0.to_montgomery().to_bytes())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.encode())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_its_wire_form() {
        let me = Identity::from_seed([7; 32]);
        let key = me.public();
        assert_eq!(PublicKey::parse(&key.encode()), Ok(key));
        assert_eq!(key.encode().len(), 43);
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), key);
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(PublicKey::parse("not base64!").is_err());
        assert!(PublicKey::parse("AAAA").is_err());
    }

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let alice = Identity::from_seed([1; 32]);
        let mallory = Identity::from_seed([2; 32]);
        let signature = alice.sign(b"hello");
        assert_eq!(alice.public().verify(b"hello", &signature), Ok(()));
        assert_eq!(
            alice.public().verify(b"hellp", &signature),
            Err(IdentityError::Forged)
        );
        assert_eq!(
            mallory.public().verify(b"hello", &signature),
            Err(IdentityError::Forged)
        );
        assert_eq!(
            alice.public().verify(b"hello", "short"),
            Err(IdentityError::BadSignature)
        );
    }

    #[test]
    fn fingerprints_are_short_and_stable() {
        let key = Identity::from_seed([3; 32]).public();
        let fp = key.fingerprint();
        assert_eq!(fp.len(), 19);
        assert_eq!(fp, Identity::from_seed([3; 32]).public().fingerprint());
        assert_ne!(fp, Identity::from_seed([4; 32]).public().fingerprint());
        assert!(!format!("{:?}", Identity::from_seed([3; 32])).contains("0303"));
    }
}
