//! The globals the browser tests (and curious developers) use: `window.meshPeer`, a JS handle
//! on this tab's peer, and `window.meshEvents`, every `PeerEvent` as a plain object.

use js_sys::{Array, Reflect};
use meshwork_wasm_peer::{MeshPeer, PeerEvent};
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

/// Appends one event to `window.meshEvents`.
pub fn push_mesh_event(event: &PeerEvent) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(events) = Reflect::get(&window, &JsValue::from_str("meshEvents")) else {
        return;
    };
    let Ok(json) = serde_json::to_string(event) else {
        return;
    };
    if let (Some(events), Ok(value)) = (events.dyn_ref::<Array>(), js_sys::JSON::parse(&json)) {
        events.push(&value);
    }
}

/// Sets `window.meshPeer` to a JS handle sharing `peer`.
pub fn expose_peer(peer: &MeshPeer) {
    set_global("meshPeer", &JsValue::from(peer.clone()));
}
