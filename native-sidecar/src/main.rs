//! `meshwork-sidecar` — NOT IMPLEMENTED YET.
//!
//! This crate is a placeholder created by the foundation issue so the workspace has its final
//! layout. The native sidecar (webrtc-rs shell around `meshwork_protocol::core`, chatixia IPC
//! over a Unix socket) is built by the "Native sidecar" issue. Until then the binary only says
//! so and exits with an error, so nobody mistakes it for a working peer.

fn main() -> std::process::ExitCode {
    eprintln!("meshwork-sidecar is not implemented yet (see the native sidecar issue)");
    std::process::ExitCode::from(2)
}
