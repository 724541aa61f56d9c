//! `MeshPeer`: a browser tab as a full mesh peer, for Rust (the Leptos hub) and JavaScript.
//!
//! ```js
//! import init, { MeshPeer } from "./meshwork_wasm_peer.js";
//! await init();
//! const peer = new MeshPeer(location.origin, adminToken);
//! peer.on((ev) => console.log(ev));          // {type: "peer_connected", peer: "bob"}, …
//! const me = await peer.join();               // "tab-1a2b3c4d"
//! peer.send("bob", JSON.stringify({type: "ping", request_id: "r1"}));
//! ```

use crate::driver::{self, Driver, Shared};
use meshwork_protocol::{core::Tier, MeshMessage, PeerId};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// What a peer tells its application: the core's application events, the same ones a
/// sidecar turns into IPC events (serialized for JavaScript as objects with a `type`).
pub use meshwork_protocol::core::AppEvent as PeerEvent;

/// A browser tab in the mesh.
#[wasm_bindgen]
pub struct MeshPeer {
    shared: Shared,
}

/// A clone is another handle on the same peer (an `Rc`), e.g. one for Rust and one for JS.
impl Clone for MeshPeer {
    fn clone(&self) -> Self {
        Self {
            shared: Rc::clone(&self.shared),
        }
    }
}

impl MeshPeer {
    /// Adds a listener (Rust).
    pub fn on_event(&self, listener: impl Fn(&PeerEvent) + 'static) {
        self.shared.borrow_mut().listeners.push(Rc::new(listener));
    }

    /// Sends a message on the tier the core picks: the open channel, else the registry (also
    /// when the channel refuses because it is closing). Says which tier took it.
    pub fn send_message(&self, peer: &str, message: &MeshMessage) -> Result<Tier, String> {
        let peer = PeerId::new(peer);
        driver::run(&self.shared, |mesh, now| mesh.send(&peer, message, now))
            .ok_or_else(|| format!("unknown peer {peer}: this tab has not joined"))?
            .map_err(|e| e.to_string())
    }

    /// Sends a request and tracks it: its answer arrives as a `Message` with `rtt_ms`, or a
    /// `RequestTimedOut` after `timeout_ms`.
    pub fn request(
        &self,
        peer: &str,
        message: &MeshMessage,
        timeout_ms: u32,
    ) -> Result<Tier, String> {
        let peer = PeerId::new(peer);
        let timeout = std::time::Duration::from_millis(u64::from(timeout_ms));
        driver::run(&self.shared, |mesh, now| {
            mesh.request(&peer, message, timeout, now)
        })
        .ok_or_else(|| format!("unknown peer {peer}: this tab has not joined"))?
        .map_err(|e| e.to_string())
    }

    /// Peers with an open channel.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.shared
            .borrow()
            .mesh
            .as_ref()
            .map(|m| m.core.connected_peers())
            .unwrap_or_default()
    }
}

fn js_error(message: impl Into<String>) -> JsValue {
    js_sys::Error::new(&message.into()).into()
}

#[wasm_bindgen]
impl MeshPeer {
    /// A peer for the registry at `registry_url`, authenticated by the hub's admin session.
    #[wasm_bindgen(constructor)]
    pub fn new(registry_url: String, admin_token: String) -> MeshPeer {
        MeshPeer {
            shared: Driver::new(registry_url, admin_token, false),
        }
    }

    /// Use only TURN relay candidates.
    #[wasm_bindgen(js_name = relayOnly)]
    pub fn relay_only(&self) {
        self.shared.borrow_mut().relay_only = true;
    }

    /// Calls `callback(event)` for every event (plain objects with a `type`).
    pub fn on(&self, callback: js_sys::Function) {
        self.on_event(move |event| {
            let json = serde_json::to_string(event).unwrap_or_default();
            if let Ok(value) = js_sys::JSON::parse(&json) {
                // A throwing listener must not break the peer.
                let _ = callback.call1(&JsValue::NULL, &value);
            }
        });
    }

    /// Joins the mesh; resolves to this tab's peer id.
    pub async fn join(&self) -> Result<String, JsValue> {
        let (base, admin) = {
            let d = self.shared.borrow();
            if d.mesh.is_some() {
                return Err(js_error("already joined"));
            }
            (d.base.clone(), d.admin_token.clone())
        };
        let token = crate::registry::browser_token(&base, &admin, None)
            .await
            .map_err(js_error)?;
        let id = token.peer_id.to_string();
        self.shared.borrow_mut().start_core(token.peer_id);
        driver::run(&self.shared, |_, _| ());
        Ok(id)
    }

    /// Starts the mesh as `peer_id` without asking the registry for it first (tests: the
    /// core then connects, retries and times out exactly as after `join`).
    #[doc(hidden)]
    #[wasm_bindgen(js_name = startAs)]
    pub fn start_as(&self, peer_id: &str) {
        self.shared.borrow_mut().start_core(PeerId::new(peer_id));
        driver::run(&self.shared, |_, _| ());
    }

    /// This tab's peer id, once joined.
    pub fn id(&self) -> Option<String> {
        self.shared
            .borrow()
            .mesh
            .as_ref()
            .map(|m| m.core.id().to_string())
    }

    /// Sends a MeshMessage (JSON text) to a peer; returns the tier that took it (`"direct"`,
    /// `"relay"` or `"registry"`).
    pub fn send(&self, peer: &str, message_json: &str) -> Result<String, JsValue> {
        let message = MeshMessage::parse(message_json)
            .map_err(|e| js_error(format!("not a MeshMessage: {e}")))?;
        self.send_message(peer, &message)
            .map(|t| t.as_str().to_owned())
            .map_err(js_error)
    }

    /// Sends a request whose answer reports its round-trip time (see `request` in Rust).
    #[wasm_bindgen(js_name = sendRequest)]
    pub fn send_request(
        &self,
        peer: &str,
        message_json: &str,
        timeout_ms: u32,
    ) -> Result<String, JsValue> {
        let message = MeshMessage::parse(message_json)
            .map_err(|e| js_error(format!("not a MeshMessage: {e}")))?;
        self.request(peer, &message, timeout_ms)
            .map(|t| t.as_str().to_owned())
            .map_err(js_error)
    }

    /// Sends a MeshMessage (JSON text) on every open channel (never through the registry);
    /// returns how many took it.
    pub fn broadcast(&self, message_json: &str) -> Result<u32, JsValue> {
        let message = MeshMessage::parse(message_json)
            .map_err(|e| js_error(format!("not a MeshMessage: {e}")))?;
        let sent = driver::run(&self.shared, |mesh, now| mesh.broadcast(&message, now));
        Ok(u32::try_from(sent.unwrap_or(0)).unwrap_or(u32::MAX))
    }

    /// Peers with an open channel.
    pub fn peers(&self) -> Vec<String> {
        self.connected_peers()
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    /// Leaves the mesh: closes every channel and the signaling socket.
    pub fn close(&self) {
        let mut d = self.shared.borrow_mut();
        d.closed = true;
        if let Some(mut mesh) = d.mesh.take() {
            mesh.shell.close_all();
        }
    }
}
