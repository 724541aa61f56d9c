//! The hub dashboard: a Leptos app (client-side rendered) that the registry serves at `/`.
//!
//! It renders from the registry's event stream (`/api/hub/stream`: a snapshot, then whole
//! sections as they change) and never polls. It can also make its tab a full mesh peer: the
//! wasm peer is a module of its own, loaded on join and driven through its JavaScript API
//! (ADR 0020). It owns no mesh logic and no registry state: the protocol crate decides, the
//! registry knows, the hub shows.
//!
//! # Layout
//! - [`model`]: pure logic, tested natively — overview counts, task filters and form,
//!   topology layout, text formats, the stream's reconnect policy.
//! - [`browser`]: side effects — session token, REST calls, the stream's WebSocket, loading
//!   the peer, the `window.meshPeer` / `window.meshEvents` globals.
//! - [`state`]: reactive state shared through context — [`state::Hub`] (what the stream
//!   delivered, connection, session) and [`state::Mesh`] (this tab as a peer).
//! - [`views`]: one component per section of the page.
#![forbid(unsafe_code)]

pub mod browser;
pub mod model;
pub mod state;
pub mod views;

/// Trunk's entry point: adopts a `?token=` from the address bar, then mounts the hub.
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    // A panic reaches the console instead of an opaque "unreachable" trap.
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into())
    }));
    browser::session::adopt_url_token();
    browser::compat::init_mesh_events();
    leptos::mount::mount_to_body(views::App);
}
