//! End-to-end sealing of registry-tier messages between keyed peers: the registry relays
//! ciphertext only.
//!
//! Sender and recipient derive one key per direction from their identity keys (X25519 of the
//! Ed25519 keys, then HKDF-SHA-512/256 over both public keys), and each message is sealed with
//! XChaCha20-Poly1305 under a fresh random 24-byte nonce with both peer ids as associated
//! data. Only the two peers can make or open it, so an opened message also proves its sender;
//! the recipient drops nonces it has already seen (replays).

use super::{Identity, IdentityError, PublicKey};
use crate::ids::PeerId;
use base64ct::{Base64UrlUnpadded, Encoding};
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha512_256;

/// A sealed `mesh_message` payload: `{"sealed": {"nonce": …, "ciphertext": …}}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// 24 random bytes, base64url.
    pub nonce: String,
    /// The AEAD ciphertext with its tag, base64url.
    pub ciphertext: String,
}

/// The derived key of one direction between two identities. Deriving costs an X25519
/// agreement; callers keep it per peer (the core does) instead of deriving per message.
#[derive(Clone)]
pub struct SealKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// The key for messages from us (`identity`) to the holder of `recipient`.
    pub fn outgoing(identity: &Identity, recipient: &PublicKey) -> Result<Self, IdentityError> {
        let cipher = cipher(identity, &identity.public(), recipient, recipient)?;
        Ok(Self { cipher })
    }

    /// The key for messages from the holder of `sender` to us (`identity`).
    pub fn incoming(identity: &Identity, sender: &PublicKey) -> Result<Self, IdentityError> {
        let cipher = cipher(identity, sender, &identity.public(), sender)?;
        Ok(Self { cipher })
    }
}

impl Sealed {
    /// Seals `plaintext` from `from` (holding `identity`) to `to` (holding `recipient`).
    pub fn seal(
        identity: &Identity,
        from: &PeerId,
        to: &PeerId,
        recipient: &PublicKey,
        nonce: [u8; 24],
        plaintext: &[u8],
    ) -> Result<Self, IdentityError> {
        let key = SealKey::outgoing(identity, recipient)?;
        Self::seal_with(&key, from, to, nonce, plaintext)
    }

    /// Seals `plaintext` from `from` to `to` under an outgoing [`SealKey`].
    pub fn seal_with(
        key: &SealKey,
        from: &PeerId,
        to: &PeerId,
        nonce: [u8; 24],
        plaintext: &[u8],
    ) -> Result<Self, IdentityError> {
        let ciphertext = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &associated_data(from, to),
                },
            )
            .map_err(|_| IdentityError::Unsealable)?;
        Ok(Self {
            nonce: Base64UrlUnpadded::encode_string(&nonce),
            ciphertext: Base64UrlUnpadded::encode_string(&ciphertext),
        })
    }

    /// Opens a message sealed by `sender` (whose id is `from`) to us (`to`, holding
    /// `identity`).
    pub fn open(
        &self,
        identity: &Identity,
        from: &PeerId,
        to: &PeerId,
        sender: &PublicKey,
    ) -> Result<Vec<u8>, IdentityError> {
        self.open_with(&SealKey::incoming(identity, sender)?, from, to)
    }

    /// Opens a message from `from` to `to` under an incoming [`SealKey`].
    pub fn open_with(
        &self,
        key: &SealKey,
        from: &PeerId,
        to: &PeerId,
    ) -> Result<Vec<u8>, IdentityError> {
        let nonce =
            Base64UrlUnpadded::decode_vec(&self.nonce).map_err(|_| IdentityError::Unsealable)?;
        if nonce.len() != 24 {
            return Err(IdentityError::Unsealable);
        }
        let ciphertext = Base64UrlUnpadded::decode_vec(&self.ciphertext)
            .map_err(|_| IdentityError::Unsealable)?;
        key.cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &associated_data(from, to),
                },
            )
            .map_err(|_| IdentityError::Unsealable)
    }
}

/// The cipher for messages from `sender_key` to `recipient_key`; `identity` is ours and
/// `other` the far end's key.
fn cipher(
    identity: &Identity,
    sender_key: &PublicKey,
    recipient_key: &PublicKey,
    other: &PublicKey,
) -> Result<XChaCha20Poly1305, IdentityError> {
    let shared = identity.x25519_secret().diffie_hellman(&other.x25519());
    if !shared.was_contributory() {
        return Err(IdentityError::Unsealable); // A low-order key: nothing secret to derive.
    }
    let mut info = b"meshwork seal v1".to_vec();
    info.extend_from_slice(sender_key.as_bytes());
    info.extend_from_slice(recipient_key.as_bytes());
    let mut key = [0u8; 32];
    Hkdf::<Sha512_256>::new(None, shared.as_bytes())
        .expand(&info, &mut key)
        .map_err(|_| IdentityError::Unsealable)?;
    XChaCha20Poly1305::new_from_slice(&key).map_err(|_| IdentityError::Unsealable)
}

fn associated_data(from: &PeerId, to: &PeerId) -> Vec<u8> {
    let mut out = Vec::new();
    for id in [from, to] {
        out.extend_from_slice(&(id.as_str().len() as u64).to_be_bytes());
        out.extend_from_slice(id.as_str().as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parties() -> (Identity, Identity, PeerId, PeerId) {
        (
            Identity::from_seed([1; 32]),
            Identity::from_seed([2; 32]),
            PeerId::new("alice"),
            PeerId::new("bob"),
        )
    }

    #[test]
    fn the_recipient_opens_what_the_sender_sealed() {
        let (alice, bob, a, b) = parties();
        let sealed = Sealed::seal(&alice, &a, &b, &bob.public(), [9; 24], b"secret").unwrap();
        assert!(!sealed.ciphertext.contains("secret"));
        let opened = sealed.open(&bob, &a, &b, &alice.public()).unwrap();
        assert_eq!(opened, b"secret");
    }

    #[test]
    fn nobody_else_opens_it_and_tampering_is_caught() {
        let (alice, bob, a, b) = parties();
        let mallory = Identity::from_seed([3; 32]);
        let sealed = Sealed::seal(&alice, &a, &b, &bob.public(), [9; 24], b"secret").unwrap();
        assert!(sealed.open(&mallory, &a, &b, &alice.public()).is_err());
        // Claimed to come from someone else, or redirected to another id.
        assert!(sealed.open(&bob, &a, &b, &mallory.public()).is_err());
        assert!(sealed
            .open(&bob, &PeerId::new("carol"), &b, &alice.public())
            .is_err());
        let mut tampered = sealed.clone();
        tampered.ciphertext.replace_range(0..1, "A");
        if tampered != sealed {
            assert!(tampered.open(&bob, &a, &b, &alice.public()).is_err());
        }
        // Mallory cannot seal as alice: bob opens with alice's key and fails.
        let forged = Sealed::seal(&mallory, &a, &b, &bob.public(), [8; 24], b"x").unwrap();
        assert!(forged.open(&bob, &a, &b, &alice.public()).is_err());
    }

    #[test]
    fn the_two_directions_use_different_keys() {
        let (alice, bob, a, b) = parties();
        let to_bob = Sealed::seal(&alice, &a, &b, &bob.public(), [5; 24], b"m").unwrap();
        let to_alice = Sealed::seal(&bob, &a, &b, &alice.public(), [5; 24], b"m").unwrap();
        assert_ne!(to_bob.ciphertext, to_alice.ciphertext);
    }
}
