//! Credentials: API keys (agents), JWTs (peers), the admin token, and the `Caller` extractor.

pub mod admin;
pub mod api_keys;
pub mod caller;
pub mod device;
pub mod host;
pub mod jwt;
pub mod origin;
pub mod secrets;
pub mod tickets;

pub use caller::Caller;
