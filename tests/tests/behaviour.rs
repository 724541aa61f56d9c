//! One behaviour suite, both shells: the same scenarios run against a native sidecar (its
//! agent on the IPC socket) and against a browser tab (the wasm peer's JS API in headless
//! Chromium), asserting the same outcomes. Both shells drive the same core through the
//! same dispatch (`core::Mesh`); this proves the platforms agree on what an application sees.
//!
//! The other peers are native sidecars: `ref` (linked), `nochan` (relay-only with no TURN:
//! never a channel, so the registry carries its messages) and `optout` (the same, with the
//! registry tier turned off: the registry refuses to carry to it).
//!
//! `ref` binds ICE to an address of its own, so the suite can take the subject's channel to
//! it away with an nftables rule (inside the test namespace) and see the registry take over.
//!
//! Not here, because no outside observer can provoke them: data of a replaced connection
//! attempt (core test `data_of_a_replaced_attempt_is_dropped_silently`) and a channel write
//! that fails after it was accepted (`a_write_that_fails_later_goes_through_the_registry`).

use meshwork_tests::{
    bins::scratch_dir,
    browser::Browser,
    firewall::Firewall,
    http::{admin_get, admin_post},
    registry::ADMIN_TOKEN,
    sidecar::EVENT_TIMEOUT,
    wait::until,
    IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::{json, Value};
use std::{net::Ipv4Addr, path::PathBuf, time::Duration};

/// Where every subject's ICE runs (the sidecar helper binds there; Chromium's only
/// interface in the test namespace is loopback).
const SUBJECT_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

const NAMES: [&str; 5] = ["subj", "ref", "nochan", "optout", "leaver"];

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

fn registry() -> RegistryProcess {
    let mut keys = serde_json::Map::new();
    for p in NAMES {
        keys.insert(format!("ak_{p}"), json!({"peer_id": p, "role": "agent"}));
    }
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({ "keys": keys })),
        hub_dist_dir: Some(dist()),
        ..Default::default()
    })
}

fn sidecar(reg: &RegistryProcess, name: &str, env: &[(&str, &str)]) -> SidecarProcess {
    let mut env = env.to_vec();
    env.push(("MESHWORK_KEEP_ALIVE", "1"));
    SidecarProcess::start_with(reg, &format!("ak_{name}"), name, &env)
}

/// IPC events in the shape the core's `AppEvent` serializes to (the tab's own shape).
fn normalize(ev: Value) -> Value {
    let p = &ev["payload"];
    match ev["type"].as_str().unwrap_or_default() {
        "message" => json!({"type": "message", "from": p["from_peer"], "message": p["message"],
            "via": p["via"]}),
        "peer_connected" | "peer_disconnected" => json!({"type": ev["type"], "peer": p["peer_id"]}),
        "request_timed_out" => json!({"type": "request_timed_out", "request_id": p["request_id"],
            "peer": p["peer_id"]}),
        "error" => json!({"type": "error", "message": p["message"]}),
        _ => ev,
    }
}

/// The peer under test, whichever platform it runs on.
trait Subject {
    /// Its peer id.
    fn id(&self) -> String;
    /// Sends `message` to `to`; the tier that took it, or the refusal.
    async fn send(&mut self, to: &str, message: Value) -> Result<String, String>;
    /// Sends a tracked request.
    async fn request(
        &mut self,
        to: &str,
        message: Value,
        timeout_ms: u64,
    ) -> Result<String, String>;
    /// Broadcasts on open channels.
    async fn broadcast(&mut self, message: Value);
    /// Events not yet taken, fetching what arrived meanwhile.
    async fn fetch(&mut self) -> Vec<Value>;
    /// Puts events back (they were not the ones asked for).
    fn keep(&mut self, events: Vec<Value>);

    /// Takes the first event matching `pred` within `timeout`; others stay for later.
    async fn wait_event(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let mut events = self.fetch().await;
            if let Some(i) = events.iter().position(&pred) {
                let found = events.remove(i);
                self.keep(events);
                return found;
            }
            self.keep(events);
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: no {what} within {EVENT_TIMEOUT:?}",
                self.id()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A native sidecar with its agent.
struct Native {
    _sidecar: SidecarProcess,
    ipc: IpcClient,
    pending: Vec<Value>,
}

impl Native {
    async fn sent_or_error(&mut self, request_id: &str) -> Result<String, String> {
        loop {
            let ev = self
                .ipc
                .next_event(EVENT_TIMEOUT)
                .await
                .expect("an answer to send");
            match ev["type"].as_str() {
                Some("sent") if ev["payload"]["request_id"] == request_id => {
                    return Ok(ev["payload"]["via"].as_str().unwrap_or_default().to_owned())
                }
                // A refusal of this send names it ("message <id> to <peer> not sent: …");
                // a later failure to deliver is an event for the application.
                Some("error")
                    if ev["payload"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains(request_id) && m.contains("not sent:")) =>
                {
                    return Err(ev["payload"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned())
                }
                _ => self.pending.push(normalize(ev)),
            }
        }
    }
}

impl Subject for Native {
    fn id(&self) -> String {
        "subj".into()
    }

    async fn send(&mut self, to: &str, message: Value) -> Result<String, String> {
        let id = message["request_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let cmd = json!({"type": "send", "payload": {"target_peer": to, "message": message,
            "ack": true}});
        self.ipc.send(cmd).await;
        self.sent_or_error(&id).await
    }

    async fn request(
        &mut self,
        to: &str,
        message: Value,
        timeout_ms: u64,
    ) -> Result<String, String> {
        let id = message["request_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let cmd = json!({"type": "send", "payload": {"target_peer": to, "message": message,
            "ack": true, "timeout_ms": timeout_ms}});
        self.ipc.send(cmd).await;
        self.sent_or_error(&id).await
    }

    async fn broadcast(&mut self, message: Value) {
        self.ipc
            .send(json!({"type": "broadcast", "payload": {"message": message}}))
            .await;
    }

    async fn fetch(&mut self) -> Vec<Value> {
        let mut events = std::mem::take(&mut self.pending);
        while let Ok(ev) = self.ipc.next_event(Duration::from_millis(1)).await {
            events.push(normalize(ev));
        }
        events
    }

    fn keep(&mut self, events: Vec<Value>) {
        self.pending = events;
    }
}

/// A browser tab that joined from the hub page.
struct Tab {
    browser: Browser,
    id: String,
    cursor: usize,
    pending: Vec<Value>,
}

impl Tab {
    async fn join(reg: &RegistryProcess) -> Tab {
        let browser = Browser::start().await;
        let page = reg.url(&format!("/?token={ADMIN_TOKEN}"));
        browser.client.goto(&page).await.expect("open page");
        let limit = Duration::from_secs(30);
        browser
            .wait_for("the wasm peer", limit, "return !!window.wasmBindings")
            .await;
        browser
            .eval("document.getElementById('join').click(); return true")
            .await;
        let id = browser
            .wait_for(
                "a peer id",
                limit,
                "return window.meshPeer && window.meshPeer.id()",
            )
            .await;
        let id = id.as_str().expect("peer id").to_owned();
        Tab {
            browser,
            id,
            cursor: 0,
            pending: Vec::new(),
        }
    }

    async fn call(&self, call: &str) -> Result<String, String> {
        let script = format!(
            "try {{ return {{ok: String({call})}}; }} catch (e) {{ return {{err: String(e.message || e)}}; }}"
        );
        let v = self.browser.eval(&script).await;
        match v["ok"].as_str() {
            Some(ok) => Ok(ok.to_owned()),
            None => Err(v["err"].as_str().unwrap_or_default().to_owned()),
        }
    }
}

impl Subject for Tab {
    fn id(&self) -> String {
        self.id.clone()
    }

    async fn send(&mut self, to: &str, message: Value) -> Result<String, String> {
        let (to, text) = (json!(to), json!(message.to_string()));
        self.call(&format!("window.meshPeer.send({to}, {text})"))
            .await
    }

    async fn request(
        &mut self,
        to: &str,
        message: Value,
        timeout_ms: u64,
    ) -> Result<String, String> {
        let (to, text) = (json!(to), json!(message.to_string()));
        self.call(&format!(
            "window.meshPeer.sendRequest({to}, {text}, {timeout_ms})"
        ))
        .await
    }

    async fn broadcast(&mut self, message: Value) {
        let text = json!(message.to_string());
        self.call(&format!("window.meshPeer.broadcast({text})"))
            .await
            .expect("broadcast");
    }

    async fn fetch(&mut self) -> Vec<Value> {
        let script = format!("return window.meshEvents.slice({})", self.cursor);
        let fresh = self.browser.eval(&script).await;
        let fresh = fresh.as_array().cloned().unwrap_or_default();
        self.cursor += fresh.len();
        let mut events = std::mem::take(&mut self.pending);
        events.extend(fresh);
        events
    }

    fn keep(&mut self, events: Vec<Value>) {
        self.pending = events;
    }
}

fn message(kind: &str, request_id: &str, payload: Value) -> Value {
    json!({"type": kind, "request_id": request_id, "payload": payload})
}

fn is_peer_event(ev: &Value, kind: &str, peer: &str) -> bool {
    ev["type"] == kind && ev["peer"] == peer
}

fn is_message(ev: &Value, from: &str, request_id: &str) -> bool {
    ev["type"] == "message" && ev["from"] == from && ev["message"]["request_id"] == request_id
}

/// An agent on a reference sidecar.
struct Other {
    _sidecar: SidecarProcess,
    ipc: IpcClient,
    /// The request ids of every message it received.
    seen: Vec<String>,
}

impl Other {
    async fn start(reg: &RegistryProcess, name: &str, env: &[(&str, &str)]) -> Other {
        let sidecar = sidecar(reg, name, env);
        let ipc = sidecar.ipc().await;
        Other {
            _sidecar: sidecar,
            ipc,
            seen: Vec::new(),
        }
    }

    async fn receive(&mut self, from: &str, request_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self
                .ipc
                .next_event(left)
                .await
                .unwrap_or_else(|e| panic!("waiting for {request_id} from {from}: {e}"));
            let ev = normalize(ev);
            if let Some(id) = ev["message"]["request_id"].as_str() {
                self.seen.push(id.to_owned());
            }
            if is_message(&ev, from, request_id) {
                return ev;
            }
        }
    }

    async fn send(&mut self, to: &str, message: Value) {
        let cmd = json!({"type": "send", "payload": {"target_peer": to, "message": message}});
        self.ipc.send(cmd).await;
    }
}

/// The scenarios, in order; every subject must pass each with the same outcome. `ref_addr`
/// is where `ref` binds ICE (one per test: the tests of this file run side by side).
async fn run_suite(reg: RegistryProcess, subject: &mut impl Subject, ref_addr: Ipv4Addr) {
    let me = subject.id();
    let bind = ref_addr.to_string();
    let mut reference = Other::start(&reg, "ref", &[("ICE_BIND_ADDRS", bind.as_str())]).await;
    let relay_only = [("ICE_TRANSPORT_POLICY", "relay")];
    let mut nochan = Other::start(&reg, "nochan", &relay_only).await;
    let opted_out = [
        ("ICE_TRANSPORT_POLICY", "relay"),
        ("MESHWORK_REGISTRY_TIER", "false"),
    ];
    let _optout = Other::start(&reg, "optout", &opted_out).await;

    // 1. connect: both ends hear of the channel.
    subject
        .wait_event("peer_connected ref", |e| {
            is_peer_event(e, "peer_connected", "ref")
        })
        .await;
    reference.ipc.wait_connected(&[me.as_str()]).await;

    // 2. a request and its response take the channel, and both ends say so.
    let request = message(
        "task_request",
        "t1",
        json!({"skill": "echo", "message": "hi"}),
    );
    assert_eq!(subject.send("ref", request).await, Ok("direct".into()));
    let got = reference.receive(&me, "t1").await;
    assert_eq!(got["via"], "direct");
    let response = message("task_response", "t1", json!({"result": "hi", "error": ""}));
    reference.send(&me, response).await;
    let back = subject
        .wait_event("t1's response", |e| is_message(e, "ref", "t1"))
        .await;
    assert_eq!(back["via"], "direct");

    // 3. a broadcast reaches the linked peer over its channel.
    subject
        .broadcast(message("agent_prompt", "b1", json!({"message": "all"})))
        .await;
    assert_eq!(reference.receive(&me, "b1").await["via"], "direct");

    // 4. 1 MiB each way arrives whole.
    let big = "ü".repeat(512 * 1024);
    let out = message("agent_prompt", "big1", json!({"message": big}));
    assert_eq!(subject.send("ref", out).await, Ok("direct".into()));
    let got = reference.receive(&me, "big1").await;
    assert_eq!(
        got["message"]["payload"]["message"].as_str(),
        Some(big.as_str())
    );
    reference
        .send(
            &me,
            message("agent_response", "big2", json!({"message": big})),
        )
        .await;
    let back = subject
        .wait_event("big2", |e| is_message(e, "ref", "big2"))
        .await;
    assert_eq!(
        back["message"]["payload"]["message"].as_str(),
        Some(big.as_str())
    );

    // 5. no channel: the registry carries both ways, and both ends say so.
    let q = message(
        "task_request",
        "n1",
        json!({"skill": "echo", "message": "hi"}),
    );
    assert_eq!(subject.send("nochan", q).await, Ok("registry".into()));
    assert_eq!(nochan.receive(&me, "n1").await["via"], "registry");
    assert!(
        !nochan.seen.iter().any(|id| id == "b1"),
        "a broadcast never takes the registry tier: {:?}",
        nochan.seen
    );
    nochan
        .send(&me, message("task_response", "n1", json!({"result": "hi"})))
        .await;
    let back = subject
        .wait_event("n1's response", |e| is_message(e, "nochan", "n1"))
        .await;
    assert_eq!(back["via"], "registry");

    // 6. the registry refuses to carry to a peer that opted out: the application hears it.
    let refused = message("task_request", "o1", json!({"skill": "echo"}));
    assert_eq!(subject.send("optout", refused).await, Ok("registry".into()));
    let error = subject
        .wait_event("the refusal of o1", |e| {
            e["type"] == "error" && e["message"].as_str().is_some_and(|m| m.contains("o1"))
        })
        .await;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("optout")),
        "{error}"
    );

    // 7. a tracked request without a response times out, and the application hears it.
    let unanswered = message("task_request", "q1", json!({"skill": "echo"}));
    assert_eq!(
        subject.request("ref", unanswered, 300).await,
        Ok("direct".into())
    );
    reference.receive(&me, "q1").await;
    let timed_out = subject
        .wait_event("q1's timeout", |e| e["type"] == "request_timed_out")
        .await;
    assert_eq!(
        timed_out,
        json!({"type": "request_timed_out", "request_id": "q1", "peer": "ref"})
    );

    // 8. a peer that leaves is reported.
    let mut leaver = sidecar(&reg, "leaver", &[]);
    subject
        .wait_event("peer_connected leaver", |e| {
            is_peer_event(e, "peer_connected", "leaver")
        })
        .await;
    assert!(leaver.terminate(), "leaver exits on SIGTERM");
    subject
        .wait_event("peer_disconnected leaver", |e| {
            is_peer_event(e, "peer_disconnected", "leaver")
        })
        .await;

    // 9. a revoked device is cut off at once.
    let code = admin_post(&reg, "/api/pairing/generate-code").await["code"]
        .as_str()
        .expect("a pairing code")
        .to_owned();
    let device_dir = scratch_dir("device");
    let token_file = device_dir.join("device_token");
    let _device = SidecarProcess::start_pairing(&reg, &code, "laptop", &token_file);
    let id = until(EVENT_TIMEOUT, "the pairing request", || async {
        admin_get(&reg, "/api/pairing/pending").await[0]["id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    admin_post(&reg, &format!("/api/pairing/{id}/approve")).await;
    let is_device = |e: &Value, kind: &str| is_peer_event(e, kind, "laptop-sidecar");
    subject
        .wait_event("the device connected", |e| is_device(e, "peer_connected"))
        .await;
    admin_post(&reg, &format!("/api/pairing/{id}/revoke")).await;
    subject
        .wait_event("the device cut off", |e| is_device(e, "peer_disconnected"))
        .await;

    // 10. the channel to ref dies: once the core notices, the registry carries instead.
    let firewall = Firewall::new();
    firewall.block_udp_between(SUBJECT_ADDR, ref_addr);
    subject
        .wait_event("ref's channel failing", |e| {
            is_peer_event(e, "peer_disconnected", "ref")
        })
        .await;
    let rerouted = message("task_request", "d1", json!({"skill": "echo"}));
    assert_eq!(subject.send("ref", rerouted).await, Ok("registry".into()));
    assert_eq!(reference.receive(&me, "d1").await["via"], "registry");
    drop(firewall);
    subject
        .wait_event("ref's channel back", |e| {
            is_peer_event(e, "peer_connected", "ref")
        })
        .await;

    // 11. the registry dies: open channels stay and carry messages — also well past the
    // links' silence timeout (a tracked request that nobody answers marks the time).
    drop(reg); // SIGKILL
    let marker = message("task_request", "m1", json!({"skill": "echo"}));
    assert_eq!(
        subject.request("ref", marker, 7_000).await,
        Ok("direct".into())
    );
    reference.receive(&me, "m1").await;
    subject
        .wait_event("the marker's timeout", |e| {
            e["type"] == "request_timed_out" && e["request_id"] == "m1"
        })
        .await;
    let after = message("agent_prompt", "k1", json!({"message": "still here"}));
    assert_eq!(subject.send("ref", after).await, Ok("direct".into()));
    assert_eq!(reference.receive(&me, "k1").await["via"], "direct");
}

#[tokio::test]
async fn a_native_sidecar_passes_the_behaviour_suite() {
    let reg = registry();
    let sidecar = sidecar(&reg, "subj", &[]);
    let ipc = sidecar.ipc().await;
    let mut subject = Native {
        _sidecar: sidecar,
        ipc,
        pending: Vec::new(),
    };
    run_suite(reg, &mut subject, Ipv4Addr::new(127, 0, 0, 3)).await;
}

#[tokio::test]
async fn a_browser_tab_passes_the_behaviour_suite() {
    assert!(
        dist().join("index.html").exists(),
        "dist/ is not built (trunk build --release)"
    );
    let reg = registry();
    let mut subject = Tab::join(&reg).await;
    run_suite(reg, &mut subject, Ipv4Addr::new(127, 0, 0, 4)).await;
    subject.browser.close().await;
}
