//! The globals the browser tests (and curious developers) use: `window.meshPeer`, the JS
//! handle on this tab's peer, and `window.meshEvents`, every event the peer reported.

use super::peer::JsPeer;
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};

fn set_global(name: &str, value: &JsValue) {
    if let Some(window) = web_sys::window() {
        let _ = Reflect::set(&window, &JsValue::from_str(name), value);
    }
}

/// Creates `window.meshEvents = []` (at startup, before anyone joins).
pub fn init_mesh_events() {
    set_global("meshEvents", &Array::new());
}

/// Appends one event (the peer's plain object) to `window.meshEvents`.
pub fn push_mesh_event(event: &JsValue) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(events) = Reflect::get(&window, &JsValue::from_str("meshEvents")) else {
        return;
    };
    if let Some(events) = events.dyn_ref::<Array>() {
        events.push(event);
    }
}

/// Sets `window.meshPeer` to the peer.
pub fn expose_peer(peer: &JsPeer) {
    set_global("meshPeer", peer);
}
