//! The meshwork wire contract and the sans-IO mesh core.
//!
//! This crate is compiled twice: natively into the registry and the sidecar, and to
//! `wasm32-unknown-unknown` into the browser peer. It therefore owns no sockets, no clocks,
//! no threads and no randomness source: everything that happens arrives as an event and
//! everything that must happen leaves as an action (see [`core`]).
//!
//! # Layout
//! - [`ids`]: `PeerId`, the identity every contract speaks of.
//! - [`identity`]: Ed25519 identity keys, link proofs over DTLS fingerprints, sealing.
//! - [`signaling`]: WebSocket signaling frames (PROTOCOL.md §1).
//! - [`memory`]: the shared memory's sans-IO core: signed events, replicas, reads at a cut,
//!   sync messages (§6).
//! - [`mesh_message`]: the JSON carried on the `mesh` DataChannel (§2).
//! - [`framing`]: large DataChannel messages as binary chunks, small ones as plain text.
//! - [`ipc`]: sidecar ⇄ local agent JSON lines (§3).
//! - [`rest`]: the registry's REST bodies (§4–5).
//! - [`turn`]: TURN REST credentials.
//! - [`core`]: the mesh state machine: who offers, candidate buffering, link failure and
//!   re-offer, signaling reconnect backoff, request correlation.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod core;
pub mod framing;
pub mod identity;
pub mod ids;
pub mod ipc;
pub mod memory;
pub mod mesh_message;
pub mod rest;
pub mod signaling;
pub mod turn;

pub use ids::PeerId;
pub use ipc::{IpcCommand, IpcEvent};
pub use mesh_message::{MeshMessage, MeshMessageType};
pub use signaling::{SignalMessage, SignalType};
