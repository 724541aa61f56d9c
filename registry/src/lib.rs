//! The meshwork registry: the control plane of the mesh.
//!
//! It relays signaling between peers, keeps agent records and their health, queues tasks for
//! peers that cannot talk directly, hands out tokens and ICE configuration, builds the mesh
//! topology from the links peers report, and serves the hub. It never carries agent-to-agent
//! DataChannel traffic.
//!
//! # Layout
//! - [`config`]: command line and environment.
//! - [`connections`]: the accept loop: read timeouts, the cap on not-yet-upgraded connections.
//! - [`state`]: `AppState`, one field per concern, shared behind an `Arc`.
//! - [`store`]: the durable state (agents, tasks, settings, pairings, keys, memory) behind one
//!   trait: embedded SQLite by default, PostgreSQL for registries that share it.
//! - [`auth`]: API keys, JWTs, the admin token, and the `Caller` extractor.
//! - [`routes`]: one file per REST resource, named after its URL.
//! - [`signaling`]: the `/ws` relay: connections, peer table, link reports.
//! - [`pairing`]: device onboarding: codes, names, token pickup.
//! - [`limits`]: rate limits, connection caps, the client address.
//! - [`events`]: the in-process change bus.
//! - [`maintenance`]: the loop that derives health, requeues and expires tasks.
//! - [`task_delivery`]: queued tasks sent at once over a connected sidecar's signaling
//!   socket, the queue as their fallback (ADR 0018).
//! - [`metrics`]: counters and the Prometheus text rendering.
//! - [`error`]: `ApiError`, the `{"error": …}` responses.
//! - [`clock`]: wall-clock helpers (unix seconds, RFC 3339).
//! - [`cluster`]: registries that act as one over NATS (ADR 0024).
#![forbid(unsafe_code)]

pub mod access;
pub mod auth;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod connections;
pub mod error;
pub mod events;
pub mod limits;
pub mod maintenance;
pub mod memory;
pub mod metrics;
pub mod pairing;
pub mod routes;
pub mod server;
pub mod signaling;
pub mod state;
pub mod store;
pub mod task_delivery;
