//! Credentials: API keys (agents), JWTs (peers), the admin token, secrets, tickets, and the
//! origin and host rules. Who a request's caller is lives in `access`.

pub mod admin;
pub mod api_keys;
pub mod host;
pub mod jwt;
pub mod origin;
pub mod secrets;
pub mod tickets;
