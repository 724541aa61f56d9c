//! Device pairing (PROTOCOL.md §4–5): one-time codes, device names, and token pickup.
//!
//! The flow: the admin generates a six-digit code; the device sends it with a name (and, ours,
//! a claim secret) and becomes a `pending_approval` entry; the admin approves, which mints a
//! device token — returned to the admin once, stored only as a SHA-256 hash. A device that sent
//! a claim secret is usually already waiting on `claim`; for `PICKUP_TTL_SECS` after the
//! approval the first claim that proves the secret gets the same token ([`DeviceTokens`]
//! derives it from the entry id, so no copy of it is kept anywhere).
//!
//! Codes and claims live in the store, so with registries sharing one (ADR 0023, 0024) a
//! device may get its code from one, pair on another and claim on a third, and a restart
//! between approval and claim loses nothing.

pub mod codes;
pub mod names;
pub mod tokens;

pub use tokens::DeviceTokens;

/// Prefix of device tokens.
pub const DEVICE_TOKEN_PREFIX: &str = "dt_";

/// Seconds a pairing code stays valid.
pub const CODE_TTL_SECS: u64 = 300;

/// Seconds after the approval during which the device may claim its token.
pub const PICKUP_TTL_SECS: u64 = 300;
