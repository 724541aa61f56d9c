//! The browser mesh peer: the protocol crate's sans-IO mesh core driven by a web-sys shell
//! around the browser's own `RTCPeerConnection`, `RTCDataChannel` and `WebSocket`.
//!
//! The same core decides everything the native sidecar's core decides (who offers, glare,
//! candidate buffering, reconnect backoff, link failure, keepalives), so a tab and a sidecar
//! cannot drift apart. This crate only performs the core's actions and reports what the
//! browser observes.
//!
//! # Layout
//! - [`peer`]: `MeshPeer`, the API for Rust and (through wasm-bindgen) JavaScript.
//! - `driver`: the shared state, the one timer, and the entry for browser callbacks.
//! - `shell`: the core's `Shell` contract over the browser APIs below.
//! - `links`: one `RTCPeerConnection` per link attempt.
//! - `path`: the selected ICE path (direct or relayed) and its RTT, from `getStats()`.
//! - `signaling`: the registry WebSocket (opened with a single-use ticket, ADR 0013).
//! - [`http`]: HTTP with a bearer token (`gloo-net`).
//! - `registry`: the peer's calls: the token and the ICE servers.
//! - `sink`: where callbacks report (breaks what would be an import cycle).
//! - `memory`, `idb`: the tab's replica of the shared memory and its IndexedDB store.
//!
//! Every mesh decision (tiers, fallback, chunks, keepalives, path reads, TURN renewal, what
//! the application is told) is the core's; this crate translates.
#![forbid(unsafe_code)]

mod driver;
pub mod http;
mod idb;
mod links;
mod memory;
mod path;
pub mod peer;
mod registry;
mod shell;
mod signaling;
mod sink;

pub use peer::{MeshPeer, PeerEvent};

/// Trunk's entry point when this crate is the page itself (feature `standalone`). Joining is
/// the page's decision, so this does nothing (it also runs under wasm-bindgen-test, where it
/// must not touch the page).
#[cfg(feature = "standalone")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {}
