//! Peer identity: Ed25519 keys the registry cannot forge (issue 13, ADR 0015).
//!
//! Every meshwork peer holds one [`Identity`]. Its [`PublicKey`] is announced at `register`
//! and bound to the peer id by the registry; peers also pin the keys they have seen.
//! - [`keys`]: the key pair, its wire encoding and its short fingerprint.
//! - [`link_proof`]: the signature an `offer`/`answer` carries over its DTLS fingerprints,
//!   both peer ids and a fresh nonce, so the registry cannot swap the DTLS certificate.
//! - [`seal`]: end-to-end sealing of registry-tier messages between keyed peers.
//!
//! Primitives come from RustCrypto/dalek crates (ed25519-dalek, x25519-dalek,
//! chacha20poly1305, hkdf, sha2); nothing here is hand-rolled. Like the rest of this crate it
//! has no entropy source: key seeds and nonces come from the caller.

pub mod keys;
pub mod link_proof;
pub mod seal;

pub use keys::{Identity, IdentityError, PublicKey};
pub use link_proof::{sdp_fingerprints, LinkProof, LinkRole};
pub use seal::{SealKey, Sealed};
