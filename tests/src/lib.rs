//! Test support for the end-to-end suites: start real meshwork processes on ephemeral
//! loopback ports and talk to them over their real protocols.
//!
//! # Layout
//! - [`browser`]: headless Chromium over WebDriver.
//! - [`cli`]: the benchmark binaries' flags (`--help`, one-line errors, exit code 2).
//! - [`chatixia`]: `ChatixiaAgent`, a real chatixia agent (PyPI) running our sidecar.
//! - [`bins`]: where the workspace's binaries are (built by `cargo build --workspace --bins`).
//! - [`firewall`]: nftables rules that take direct UDP paths away between two addresses.
//! - [`http`]: REST calls with a chosen credential.
//! - [`nats`]: a NATS cluster of real `nats-server` processes.
//! - [`postgres`]: a PostgreSQL database per registry instead of SQLite (`MESHWORK_TEST_POSTGRES`).
//! - [`relay_load`]: offer/answer load through registries, for the benchmarks.
//! - [`registry_cluster`]: registries sharing PostgreSQL and NATS.
//! - [`registry`]: `RegistryProcess`, a registry child process with its own data dir.
//! - [`sidecar`]: `SidecarProcess` and `IpcClient`, a sidecar child process and its agent socket.
//! - [`signal_client`]: a signaling WebSocket client that waits for frames with timeouts.
//! - [`stats`]: percentiles and RSS for the benchmark binaries.
//! - [`turn`]: `TurnServer`, Debian's coturn on loopback with TURN REST credentials.
//! - [`wait`]: polling with a deadline, for conditions that have no event to wait on.

pub mod bins;
pub mod browser;
pub mod chatixia;
pub mod cli;
pub mod firewall;
pub mod http;
pub mod memory_ipc;
pub mod nats;
pub mod postgres;
pub mod registry;
pub mod registry_cluster;
pub mod relay_load;
pub mod sidecar;
pub mod signal_client;
pub mod signal_proxy;
pub mod stats;
pub mod turn;
pub mod wait;

pub use registry::{RegistryOptions, RegistryProcess};
pub use sidecar::{IpcClient, SidecarProcess};
pub use signal_client::SignalClient;
