//! The `/ws` signaling relay (PROTOCOL.md §1).
//!
//! - [`hub`]: the table of connected peers and their link reports.
//! - [`connection`]: one WebSocket: authentication at upgrade, reader and writer tasks.
//! - [`frame`]: what to do with one text frame from a peer.

pub mod connection;
pub mod frame;
pub mod hub;
