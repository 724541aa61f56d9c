//! Secret handling: generation, hashing, constant-time comparison.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the OS generator, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of a secret, hex-encoded: what lookups and storage use instead of the secret.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    // Hash first so the comparison also hides the length of the expected secret.
    sha256_hex(a)
        .as_bytes()
        .ct_eq(sha256_hex(b).as_bytes())
        .into()
}

/// A stable, non-secret id for a credential: HMAC-SHA256 keyed with the signing secret, so a
/// JWT can name the credential it came from without giving away a hash of a (possibly weak)
/// API key to guess against offline.
pub fn credential_id(signing_secret: &str, kind: &str, credential: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return sha256_hex(&format!("{kind}\0{credential}"))[..32].to_owned(),
    };
    mac.update(kind.as_bytes());
    mac.update(b"\0");
    mac.update(credential.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}
