//! `MeshPeer`: a browser tab as a full mesh peer, for Rust and JavaScript. The hub loads it
//! as a module of its own (`/peer/peer.js`, ADR 0020) and uses the JavaScript API.
//!
//! ```js
//! import init, { MeshPeer } from "/peer/peer.js";
//! await init();
//! const peer = new MeshPeer(location.origin, adminToken);
//! peer.on((ev) => console.log(ev));          // {type: "peer_connected", peer: "bob"}, …
//! const me = await peer.join();               // "tab-1a2b3c4d"
//! peer.send("bob", JSON.stringify({type: "ping", request_id: "r1"}));
//!
//! // The shared memory (PROTOCOL.md §6): each call resolves to its reply's payload, as a
//! // sidecar's agents get it; an `error` reply rejects with its message.
//! peer.onMemory((ev) => console.log(ev));     // {type: "memory_changed", payload: {…}}
//! await peer.memorySubscribe("notes/");
//! const w = await peer.memoryPut("notes/a", JSON.stringify({text: "hi"}));  // {id, key, version, …}
//! const v = await peer.memoryGet("notes/a");  // {found, value, id, author, conflicts, …}
//! const old = await peer.memoryGet("notes/a", JSON.stringify(w.version));
//! ```

use crate::{
    driver::{self, Driver, Shared},
    idb::Durability,
    memory::Restored,
};
use meshwork_protocol::{
    core::Tier,
    ipc::{IpcCommand, IpcEvent},
    MeshMessage, PeerId,
};
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

    /// Adds a listener for the memory's events (`memory_changed` under the prefixes the
    /// page subscribed to).
    pub fn on_memory_event(&self, listener: impl Fn(&IpcEvent) + 'static) {
        self.shared
            .borrow_mut()
            .memory_listeners
            .push(Rc::new(listener));
    }

    /// Answers one shared-memory command (PROTOCOL.md §6) from the tab's replica. A write
    /// resolves once its event is in IndexedDB, then spreads to every reachable replica.
    pub async fn memory_command(&self, cmd: IpcCommand) -> IpcEvent {
        let mut answer = {
            let mut d = self.shared.borrow_mut();
            let now_ms = js_sys::Date::now() as u64;
            match d.memory.as_mut() {
                Some(memory) => memory.answer(cmd, now_ms),
                None => {
                    return IpcEvent::Error {
                        request_id: cmd.request_id().map(str::to_owned),
                        message: d.memory_missing.clone(),
                    }
                }
            }
        };
        let Some(applied) = answer.applied.take() else {
            return answer.reply;
        };
        let idb = self.shared.borrow().memory.as_ref().map(|m| m.idb());
        let stored = match idb.map(|idb| idb.write(&applied, Durability::Strict)) {
            Some(Ok(done)) => done.await,
            Some(Err(e)) => Err(e),
            None => Err("the tab left the mesh".into()),
        };
        {
            let mut d = self.shared.borrow_mut();
            let d = &mut *d;
            let Some(memory) = d.memory.as_mut() else {
                return answer.failed("the tab left the mesh");
            };
            if let Err(e) = stored {
                let why =
                    format!("IndexedDB refused the write ({e}); reload the page to write again");
                memory.break_writes(why.clone());
                return answer.failed(why);
            }
            let lines = memory.stored(applied);
            let page = lines.into_iter().filter(|(c, _)| *c == crate::memory::PAGE);
            d.memory_pending.extend(page.map(|(_, line)| line));
        }
        // Pushes the write to the other replicas and tells the subscribers.
        driver::run(&self.shared, |_, _| ());
        answer.reply
    }

    /// [`memory_command`](Self::memory_command) for JavaScript: a promise of the reply's
    /// payload, rejected with an `error` reply's message (or with why `cmd` is not one).
    /// Every JS memory call goes through this one promise (one future type in the wasm).
    fn memory_js(&self, cmd: Result<IpcCommand, JsValue>) -> js_sys::Promise {
        let peer = self.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            match peer.memory_command(cmd?).await {
                IpcEvent::Error { message, .. } => Err(js_error(message)),
                reply => {
                    let value = to_js(&reply)?;
                    js_sys::Reflect::get(&value, &"payload".into())
                }
            }
        })
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

/// A version vector given as JSON text.
fn version(json: Option<String>) -> Result<Option<meshwork_protocol::memory::Version>, JsValue> {
    json.map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| js_error(format!("`at` is not a version: {e}")))
}

/// A serializable value as a plain JS object (through JSON).
fn to_js(value: &impl serde::Serialize) -> Result<JsValue, JsValue> {
    let json = serde_json::to_string(value).map_err(|e| js_error(e.to_string()))?;
    js_sys::JSON::parse(&json)
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
            if let Ok(value) = to_js(event) {
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
        // The replica opens before the mesh starts, so the first link hears what it holds.
        let memory = match Restored::open().await {
            Ok(restored) => Some(restored),
            Err(e) => {
                self.shared.borrow_mut().memory_missing =
                    format!("the tab has no shared memory: IndexedDB is unavailable ({e})");
                None
            }
        };
        if self.shared.borrow().mesh.is_some() {
            return Err(js_error("already joined"));
        }
        self.shared.borrow_mut().start_core(token.peer_id, memory);
        driver::run(&self.shared, |_, _| ());
        Ok(id)
    }

    /// Starts the mesh as `peer_id` without asking the registry for it first (tests: the
    /// core then connects, retries and times out exactly as after `join`).
    #[doc(hidden)]
    #[wasm_bindgen(js_name = startAs)]
    pub fn start_as(&self, peer_id: &str) {
        self.shared
            .borrow_mut()
            .start_core(PeerId::new(peer_id), None);
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

    /// `memory_put` (PROTOCOL.md §6): writes `value_json` (JSON text) at `key`; resolves to
    /// the `memory_written` payload once the event is in IndexedDB.
    #[wasm_bindgen(js_name = memoryPut)]
    pub fn memory_put(
        &self,
        key: String,
        value_json: String,
        supersedes: Option<Vec<String>>,
        derived_from: Option<Vec<String>>,
    ) -> js_sys::Promise {
        let ids = |ids: Option<Vec<String>>| -> Result<Vec<_>, JsValue> {
            ids.unwrap_or_default()
                .into_iter()
                .map(|id| meshwork_protocol::memory::EventId::try_from(id).map_err(js_error))
                .collect()
        };
        let cmd = (|| {
            let value = serde_json::from_str(&value_json)
                .map_err(|e| js_error(format!("the value is not JSON: {e}")))?;
            Ok(IpcCommand::MemoryPut {
                request_id: String::new(),
                key,
                value,
                supersedes: ids(supersedes)?,
                derived_from: ids(derived_from)?,
            })
        })();
        self.memory_js(cmd)
    }

    /// `memory_get`: the value at `key`, now or at the version `at_json` (JSON text of a
    /// version vector, e.g. from an earlier reply); resolves to the `memory_value` payload.
    #[wasm_bindgen(js_name = memoryGet)]
    pub fn memory_get(&self, key: String, at_json: Option<String>) -> js_sys::Promise {
        let cmd = version(at_json).map(|at| IpcCommand::MemoryGet {
            request_id: String::new(),
            key,
            at,
        });
        self.memory_js(cmd)
    }

    /// `memory_list`: the keys under `prefix` (at most `limit`), now or at `at_json`.
    #[wasm_bindgen(js_name = memoryList)]
    pub fn memory_list(
        &self,
        prefix: String,
        at_json: Option<String>,
        limit: Option<u32>,
    ) -> js_sys::Promise {
        let cmd = version(at_json).map(|at| IpcCommand::MemoryList {
            request_id: String::new(),
            prefix,
            at,
            limit: limit.map(|l| l as usize),
        });
        self.memory_js(cmd)
    }

    /// `memory_history`: every event of `key`, oldest first.
    #[wasm_bindgen(js_name = memoryHistory)]
    pub fn memory_history(&self, key: String) -> js_sys::Promise {
        self.memory_js(Ok(IpcCommand::MemoryHistory {
            request_id: String::new(),
            key,
        }))
    }

    /// `memory_forget`: erases `key`'s values on every replica the forget reaches.
    #[wasm_bindgen(js_name = memoryForget)]
    pub fn memory_forget(&self, key: String) -> js_sys::Promise {
        self.memory_js(Ok(IpcCommand::MemoryForget {
            request_id: String::new(),
            key,
        }))
    }

    /// `memory_subscribe`: `onMemory` listeners hear of every event under `prefix`.
    #[wasm_bindgen(js_name = memorySubscribe)]
    pub fn memory_subscribe(&self, prefix: String) -> js_sys::Promise {
        self.memory_js(Ok(IpcCommand::MemorySubscribe {
            request_id: String::new(),
            prefix,
        }))
    }

    /// Calls `callback(event)` for every memory event (`{type: "memory_changed", payload}`).
    #[wasm_bindgen(js_name = onMemory)]
    pub fn on_memory(&self, callback: js_sys::Function) {
        self.on_memory_event(move |event| {
            if let Ok(value) = to_js(event) {
                // A throwing listener must not break the peer.
                let _ = callback.call1(&JsValue::NULL, &value);
            }
        });
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
        d.leave_memory();
        if let Some(mut mesh) = d.mesh.take() {
            mesh.shell.close_all();
        }
    }
}
