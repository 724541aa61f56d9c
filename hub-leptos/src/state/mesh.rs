//! `Mesh`: this tab as a full mesh peer (the wasm peer, loaded on join: ADR 0020), and what
//! the join panel shows about it.

use crate::browser::{
    self, compat,
    peer::{self, JsPeer},
};
use leptos::prelude::*;
use meshwork_protocol::{MeshMessage, MeshMessageType};
use serde_json::json;
use std::collections::HashMap;
use wasm_bindgen::JsValue;

/// How long a ping waits for its pong.
pub const PING_TIMEOUT_MS: u32 = 5000;
/// How long a direct message waits for its answer.
pub const DIRECT_TIMEOUT_MS: u32 = 10_000;

/// Where joining stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinState {
    /// Not joined.
    Idle,
    /// `join()` is running.
    Joining,
    /// Joined (see [`Mesh::signaling`] for the registry socket).
    Joined,
    /// `join()` failed; the button works again.
    Failed(String),
}

/// What a sent request was for, to route its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// `button.ping`: the answer sets the peer's RTT.
    Ping,
    /// `form#dc-form`: the answer goes to `ul#dc-replies`.
    Direct,
}

/// One line of `ul#dc-replies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Unique, for keyed rendering.
    pub key: u64,
    /// The text.
    pub text: String,
    /// Whether it reports a timeout or an error.
    pub failed: bool,
}

/// This tab in the mesh. All fields are `Copy` handles.
#[derive(Clone, Copy)]
pub struct Mesh {
    /// The peer, once its module loaded (the first press of the join button).
    peer: StoredValue<Option<JsPeer>, LocalStorage>,
    /// Requests awaiting an answer: request id → purpose.
    pending: StoredValue<HashMap<String, Purpose>>,
    /// This tab's peer id once joined.
    pub me: RwSignal<Option<String>>,
    /// Join progress.
    pub state: RwSignal<JoinState>,
    /// Whether the peer's signaling socket to the registry is open.
    pub signaling: RwSignal<bool>,
    /// Peers with an open DataChannel, sorted.
    pub peers: RwSignal<Vec<String>>,
    /// Last ping result per peer ("12 ms", "no reply").
    pub rtts: RwSignal<HashMap<String, String>>,
    /// Answers to direct messages, newest first.
    pub replies: RwSignal<Vec<Reply>>,
    /// The last error the peer reported.
    pub last_error: RwSignal<Option<String>>,
}

impl Mesh {
    /// A tab that has not joined.
    pub fn new() -> Self {
        Self {
            peer: StoredValue::new_local(None),
            pending: StoredValue::new(HashMap::new()),
            me: RwSignal::new(None),
            state: RwSignal::new(JoinState::Idle),
            signaling: RwSignal::new(false),
            peers: RwSignal::new(Vec::new()),
            rtts: RwSignal::new(HashMap::new()),
            replies: RwSignal::new(Vec::new()),
            last_error: RwSignal::new(None),
        }
    }

    /// Joins the mesh with the admin session `token` (the button's action): loads the peer's
    /// module the first time, then joins.
    pub fn join(&self, token: String) {
        self.state.set(JoinState::Joining);
        let this = *self;
        leptos::task::spawn_local(async move {
            let joined = match this.loaded_peer(&token).await {
                Ok(peer) => peer.join_mesh().await,
                Err(e) => Err(e),
            };
            match joined {
                Ok(id) => {
                    this.me.set(Some(id));
                    this.state.set(JoinState::Joined);
                }
                Err(text) => this.state.set(JoinState::Failed(text)),
            }
        });
    }

    /// The peer, loading its module and wiring its events the first time.
    async fn loaded_peer(&self, token: &str) -> Result<JsPeer, String> {
        if let Some(peer) = self.peer.with_value(Clone::clone) {
            return Ok(peer);
        }
        let peer = peer::load(&browser::origin(), token).await?;
        let this = *self;
        let answerer = peer.clone();
        peer.listen(move |event| {
            compat::push_mesh_event(&event);
            this.on_event(&answerer, &event);
        });
        compat::expose_peer(&peer);
        self.peer.set_value(Some(peer.clone()));
        Ok(peer)
    }

    fn on_event(&self, peer: &JsPeer, event: &JsValue) {
        let text = |value: &JsValue, name: &str| field(value, name).as_string().unwrap_or_default();
        match text(event, "type").as_str() {
            "signaling" => self
                .signaling
                .set(field(event, "connected").as_bool() == Some(true)),
            "peer_connected" | "peer_disconnected" => self.peers.set(peer.open_peers()),
            "message" => {
                let from = text(event, "from");
                let message = field(event, "message");
                let request_id = text(&message, "request_id");
                if text(&message, "type") == "ping" {
                    let pong = MeshMessage::new(MeshMessageType::Pong, request_id, json!({}));
                    let sent = serde_json::to_string(&pong)
                        .map_err(|e| e.to_string())
                        .and_then(|json| peer.send_to(&from, &json));
                    if let Err(e) = sent {
                        self.last_error.set(Some(e));
                    }
                    return;
                }
                let Some(rtt) = field(event, "rtt_ms").as_f64() else {
                    return;
                };
                match self.take_pending(&request_id) {
                    Some(Purpose::Ping) => self.set_rtt(&from, format!("{} ms", rtt as u64)),
                    Some(Purpose::Direct) => {
                        let payload = js_sys::JSON::stringify(&field(&message, "payload"))
                            .map(String::from)
                            .unwrap_or_default();
                        let via = text(event, "via");
                        let rtt = rtt as u64;
                        self.add_reply(format!("{from}: {payload} ({rtt} ms, {via})"), false);
                    }
                    None => {}
                }
            }
            "request_timed_out" => {
                let peer = text(event, "peer");
                match self.take_pending(&text(event, "request_id")) {
                    Some(Purpose::Ping) => self.set_rtt(&peer, "no reply".into()),
                    Some(Purpose::Direct) => self.add_reply(format!("no reply from {peer}"), true),
                    None => {}
                }
            }
            "error" => self.last_error.set(Some(text(event, "message"))),
            _ => {}
        }
    }

    fn take_pending(&self, request_id: &str) -> Option<Purpose> {
        let mut found = None;
        self.pending.update_value(|p| found = p.remove(request_id));
        found
    }

    fn set_rtt(&self, peer: &str, text: String) {
        self.rtts.update(|r| {
            r.insert(peer.to_owned(), text);
        });
    }

    fn add_reply(&self, text: String, failed: bool) {
        self.replies.update(|r| {
            let key = r.first().map_or(0, |l| l.key + 1);
            r.insert(0, Reply { key, text, failed });
            r.truncate(50);
        });
    }

    fn send_request(&self, to: &str, message: &MeshMessage, purpose: Purpose, timeout: u32) {
        let Some(peer) = self.peer.with_value(Clone::clone) else {
            return;
        };
        self.pending.update_value(|p| {
            p.insert(message.request_id.clone(), purpose);
        });
        let sent = serde_json::to_string(message)
            .map_err(|e| e.to_string())
            .and_then(|json| peer.request(to, &json, timeout));
        if let Err(e) = sent {
            self.take_pending(&message.request_id);
            match purpose {
                Purpose::Ping => self.set_rtt(to, e),
                Purpose::Direct => self.add_reply(format!("could not send to {to}: {e}"), true),
            }
        }
    }

    /// Pings `to` (`button.ping`); the answer sets its RTT.
    pub fn ping(&self, to: &str) {
        self.set_rtt(to, "…".into());
        let message = MeshMessage::new(MeshMessageType::Ping, browser::fresh_id("ping"), json!({}));
        self.send_request(to, &message, Purpose::Ping, PING_TIMEOUT_MS);
    }

    /// Sends a direct message (`form#dc-form`) of `kind` carrying `text`; a `task_request`
    /// runs `skill` of the peer's agent, as chatixia's `delegate` sends it.
    pub fn send_direct(&self, to: &str, kind: MeshMessageType, skill: &str, text: &str) {
        let payload = match kind {
            MeshMessageType::TaskRequest => json!({"skill": skill, "message": text}),
            _ => json!({ "message": text }),
        };
        let mut message = MeshMessage::new(kind, browser::fresh_id("hub"), payload);
        message.source_agent = self.me.get_untracked().unwrap_or_default();
        self.send_request(to, &message, Purpose::Direct, DIRECT_TIMEOUT_MS);
    }
}

/// `value[name]`, or `undefined`.
fn field(value: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

impl Default for Mesh {
    fn default() -> Self {
        Self::new()
    }
}
