//! Browser mesh peer — NOT IMPLEMENTED YET.
//!
//! Placeholder created by the foundation issue so the workspace has its final layout. The
//! browser peer (web-sys `RTCPeerConnection` shell around `meshwork_protocol::core`, with
//! wasm-bindgen exports) is built by the "Browser peer" issue. This crate exports nothing.
#![forbid(unsafe_code)]
