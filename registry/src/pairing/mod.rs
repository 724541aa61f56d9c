//! Device pairing (PROTOCOL.md §4–5): one-time codes, device names, and token pickup.
//!
//! The flow: the admin generates a six-digit code; the device sends it with a name (and, ours,
//! a claim secret) and becomes a `pending_approval` entry; the admin approves, which mints a
//! device token — returned to the admin once, stored only as a SHA-256 hash. A device that sent
//! a claim secret is usually already waiting on `claim`; the token waits for it in memory
//! (`Pickups`, never on disk) and goes to the first claim that proves the secret.

pub mod codes;
pub mod names;
pub mod pickups;

pub use codes::PairingCodes;
pub use pickups::Pickups;

/// Prefix of device tokens.
pub const DEVICE_TOKEN_PREFIX: &str = "dt_";

/// Seconds a pairing code stays valid.
pub const CODE_TTL_SECS: u64 = 300;

/// Seconds an approved token waits in memory for its device to claim it.
pub const PICKUP_TTL_SECS: u64 = 300;

/// A fresh device token: `dt_` + 32 hex digits.
pub fn new_device_token() -> String {
    format!(
        "{DEVICE_TOKEN_PREFIX}{}",
        crate::auth::secrets::random_hex(16)
    )
}
