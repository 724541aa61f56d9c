//! The wasm peer, loaded when the tab joins the mesh (ADR 0020): the hub's own module holds
//! the dashboard only; `peer/peer.js` and its wasm (built by `scripts/build-peer.sh` next to
//! the hub) arrive on the first click on "Join the mesh". The hub drives the peer through its
//! JavaScript API, the same one any page uses (`wasm-peer/src/peer.rs`).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{prelude::*, JsCast};
use wasm_bindgen_futures::JsFuture;

/// Where the peer's module is served, below the page's origin.
pub const PEER_MODULE_PATH: &str = "/peer/peer.js";

#[wasm_bindgen(inline_js = "export function import_module(url) { return import(url); }")]
extern "C" {
    /// `import(url)`: a dynamic import (same origin, so the hub's CSP allows it).
    fn import_module(url: &str) -> Promise;
}

#[wasm_bindgen]
extern "C" {
    /// The peer's `MeshPeer` object (JavaScript API).
    #[derive(Clone)]
    pub type JsPeer;

    /// `peer.on(callback)`: every event, as a plain object with a `type`.
    #[wasm_bindgen(method)]
    fn on(this: &JsPeer, callback: &Function);

    /// `peer.join()`: a promise of this tab's peer id.
    #[wasm_bindgen(method)]
    fn join(this: &JsPeer) -> Promise;

    /// `peer.sendRequest(peer, json, timeout)`: the tier that took it.
    #[wasm_bindgen(method, catch, js_name = sendRequest)]
    fn send_request(
        this: &JsPeer,
        peer: &str,
        json: &str,
        timeout_ms: u32,
    ) -> Result<String, JsValue>;

    /// `peer.send(peer, json)`: the tier that took it.
    #[wasm_bindgen(method, catch)]
    fn send(this: &JsPeer, peer: &str, json: &str) -> Result<String, JsValue>;

    /// `peer.peers()`: the peers with an open channel.
    #[wasm_bindgen(method)]
    fn peers(this: &JsPeer) -> js_sys::Array;
}

/// An error value's message.
pub fn error_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// Loads the peer's module (once per page: the browser caches the import) and makes a peer
/// for the registry at `origin` with the admin `token`.
pub async fn load(origin: &str, token: &str) -> Result<JsPeer, String> {
    let url = format!("{origin}{PEER_MODULE_PATH}");
    let module = JsFuture::from(import_module(&url)).await.map_err(|e| {
        // A browser keeps a failed import for the page's life: only a reload retries it.
        let why = error_text(&e);
        format!("the peer's module did not load from {url} ({why}); reload the page to retry")
    })?;
    let get = |name: &str| Reflect::get(&module, &JsValue::from_str(name)).ok();
    let init = get("default")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or("the peer's module has no init function")?;
    let started = init.call0(&JsValue::NULL).map_err(|e| error_text(&e))?;
    JsFuture::from(Promise::resolve(&started))
        .await
        .map_err(|e| format!("the peer's wasm did not start: {}", error_text(&e)))?;
    let class = get("MeshPeer")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or("the peer's module has no MeshPeer")?;
    let args = js_sys::Array::of2(&JsValue::from_str(origin), &JsValue::from_str(token));
    let peer = Reflect::construct(&class, &args).map_err(|e| error_text(&e))?;
    Ok(peer.unchecked_into())
}

impl JsPeer {
    /// Calls `listener` with every event the peer reports.
    pub fn listen(&self, listener: impl Fn(JsValue) + 'static) {
        // The peer holds the callback for the page's life, as long as the peer itself.
        let callback = Closure::<dyn Fn(JsValue)>::new(listener).into_js_value();
        self.on(callback.unchecked_ref());
    }

    /// Joins the mesh; this tab's peer id.
    pub async fn join_mesh(&self) -> Result<String, String> {
        let id = JsFuture::from(self.join())
            .await
            .map_err(|e| error_text(&e))?;
        id.as_string()
            .ok_or_else(|| "join resolved to no peer id".to_owned())
    }

    /// Sends a tracked request (`message_json`, a MeshMessage) to `peer`.
    pub fn request(&self, peer: &str, message_json: &str, timeout_ms: u32) -> Result<(), String> {
        self.send_request(peer, message_json, timeout_ms)
            .map(|_tier| ())
            .map_err(|e| error_text(&e))
    }

    /// Sends a message (`message_json`, a MeshMessage) to `peer`.
    pub fn send_to(&self, peer: &str, message_json: &str) -> Result<(), String> {
        self.send(peer, message_json)
            .map(|_tier| ())
            .map_err(|e| error_text(&e))
    }

    /// The peers with an open channel, sorted.
    pub fn open_peers(&self) -> Vec<String> {
        let mut peers: Vec<String> = self.peers().iter().filter_map(|p| p.as_string()).collect();
        peers.sort();
        peers
    }
}
