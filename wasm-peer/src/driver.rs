//! The shared state of one browser peer: the mesh (core + web shell) once joined, the
//! application's listeners, and the one timer (`gloo-timers`) for the core's next deadline.
//!
//! Browser callbacks reach it through [`Report`] on a weak handle. Every entry runs the
//! mesh under one borrow, then releases it before calling listeners, so a listener may
//! call back into the peer (e.g. reply with `send`) safely.

use crate::{
    memory::{Restored, TabMemory, PAGE, RESYNC_MS},
    shell::WebShell,
    signaling::Signaling,
    sink::{Report, Sink},
};
use gloo_timers::callback::{Interval, Timeout};
use meshwork_protocol::{
    core::{self, AppEvent as PeerEvent, Attempt, Event, Mesh, MeshCore, Time},
    ipc::IpcEvent,
    signaling::PeerKind,
    PeerId,
};
use std::{
    cell::RefCell,
    collections::HashMap,
    rc::{Rc, Weak},
};
use web_sys::RtcDataChannel;

/// Milliseconds on the browser's monotonic clock (`performance.now()`): a wall-clock step
/// must not move the core's deadlines. Falls back to `Date.now()` without a window.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// Shared handle on a driver.
pub type Shared = Rc<RefCell<Driver>>;

/// A listener for peer events.
pub type Listener = Rc<dyn Fn(&PeerEvent)>;

/// A listener for the memory's events (`memory_changed` under subscribed prefixes).
pub type MemoryListener = Rc<dyn Fn(&IpcEvent)>;

/// One browser peer.
pub struct Driver {
    /// The mesh, once the first token named our peer id.
    pub mesh: Option<Mesh<WebShell>>,
    /// Registry base URL (`http(s)://host:port`).
    pub base: String,
    /// The hub's admin token (the tab's credential, ADR 0006).
    pub admin_token: String,
    /// Only relay candidates.
    pub relay_only: bool,
    pub(crate) listeners: Vec<Listener>,
    /// Events for the application that did not come from the mesh.
    pending: Vec<PeerEvent>,
    /// The shared memory's replica, once joined (ADR 0019).
    pub(crate) memory: Option<TabMemory>,
    /// Why there is no replica (not joined yet, or IndexedDB refused).
    pub(crate) memory_missing: String,
    pub(crate) memory_listeners: Vec<MemoryListener>,
    /// Memory events for the page, handed over with the peer events.
    pub(crate) memory_pending: Vec<IpcEvent>,
    /// Anti-entropy: every reachable replica hears what we hold, every [`RESYNC_MS`].
    resync: Option<Interval>,
    timer: Option<Timeout>,
    start: f64,
    pub(crate) closed: bool,
    me: Weak<RefCell<Driver>>,
}

impl Driver {
    /// A driver that has not joined yet.
    pub fn new(base: String, admin_token: String, relay_only: bool) -> Shared {
        Rc::new_cyclic(|me| {
            RefCell::new(Self {
                mesh: None,
                base: base.trim_end_matches('/').to_owned(),
                admin_token,
                relay_only,
                listeners: Vec::new(),
                pending: Vec::new(),
                memory: None,
                memory_missing: "the tab's memory opens when it joins the mesh".into(),
                memory_listeners: Vec::new(),
                memory_pending: Vec::new(),
                resync: None,
                timer: None,
                start: now_ms(),
                closed: false,
                me: me.clone(),
            })
        })
    }

    fn now(&self) -> Time {
        Time::from_millis((now_ms() - self.start).max(0.0) as u64)
    }

    /// Starts the mesh as `me`, with `memory` as its replica if it opened; [`run`] with a
    /// no-op then performs its first action.
    pub fn start_core(&mut self, me: PeerId, memory: Option<Restored>) {
        // One identity key per tab session (ADR 0015): the tab's peer id is fresh per join
        // too, so nothing outlives the tab. Without `crypto.getRandomValues` the tab runs
        // unkeyed (its links are then unverified) rather than with a guessable key.
        let identity = random_32().map(core_identity);
        let identity_for_core = identity.clone();
        let entropy = random_32().unwrap_or_default();
        let config = core::Config {
            identity: identity_for_core,
            entropy,
            kind: PeerKind::Browser,
            rng_seed: (js_sys::Math::random() * u64::MAX as f64) as u64,
            relay_only: self.relay_only,
            memory: memory.is_some(),
            ..Default::default()
        };
        let sink: Sink = self.me.clone();
        if let Some(restored) = memory {
            let memory = TabMemory::new(restored, identity.clone(), me.clone(), sink.clone());
            self.memory = Some(memory);
            let weak = self.me.clone();
            self.resync = Some(Interval::new(RESYNC_MS, move || {
                if let Some(shared) = weak.upgrade() {
                    resync(&shared);
                }
            }));
        }
        let shell = WebShell {
            base: self.base.clone(),
            admin_token: self.admin_token.clone(),
            relay_only: self.relay_only,
            me: me.clone(),
            signaling: None,
            links: HashMap::new(),
            pending: Vec::new(),
            sink,
        };
        self.mesh = Some(Mesh::new(MeshCore::new(me, config), shell));
    }

    /// Leaving: the replica stays in IndexedDB; this peer stops serving and syncing it.
    pub fn leave_memory(&mut self) {
        self.memory = None;
        self.resync = None;
        self.memory_missing = "the tab left the mesh".into();
    }

    /// Re-arms the one timer at the core's next deadline.
    fn rearm(&mut self) {
        let Some(deadline) = self.mesh.as_ref().and_then(Mesh::next_timeout) else {
            self.timer = None;
            return;
        };
        let delay = deadline.as_millis() as f64 - (now_ms() - self.start);
        let weak = self.me.clone();
        // Dropping the previous timer cancels it: there is one deadline at a time.
        self.timer = Some(Timeout::new(delay.clamp(0.0, 2e9) as u32, move || {
            if let Some(shared) = weak.upgrade() {
                run(&shared, |mesh, now| mesh.handle_timeout(now));
            }
        }));
    }
}

/// Runs `f` on the mesh (joined and not closed), performs what follows, re-arms the timer,
/// then — with no borrow held — tells the listeners. `None` when there is no mesh.
pub fn run<R>(cell: &RefCell<Driver>, f: impl FnOnce(&mut Mesh<WebShell>, Time) -> R) -> Option<R> {
    let done = {
        let mut d = cell.borrow_mut();
        let now = d.now();
        let closed = d.closed;
        let d = &mut *d;
        let result = match d.mesh.as_mut() {
            Some(mesh) if !closed => {
                let result = f(mesh, now);
                mesh.flush(now);
                if let Some(memory) = d.memory.as_mut() {
                    let pumped = mesh.pump_memory(&mut memory.agent, &mut memory.store, now);
                    let page = pumped.lines.into_iter().filter(|(c, _)| *c == PAGE);
                    d.memory_pending.extend(page.map(|(_, line)| line));
                    for message in pumped.failures {
                        d.pending.push(PeerEvent::Error {
                            peer: None,
                            message,
                        });
                    }
                }
                Some(result)
            }
            _ => None,
        };
        d.rearm();
        let mut events = std::mem::take(&mut d.pending);
        if let Some(mesh) = d.mesh.as_mut() {
            events.append(&mut mesh.shell.pending);
        }
        let memory_events = std::mem::take(&mut d.memory_pending);
        let memory_listeners = d.memory_listeners.clone();
        (
            result,
            events,
            d.listeners.clone(),
            memory_events,
            memory_listeners,
        )
    };
    let (result, events, listeners, memory_events, memory_listeners) = done;
    for event in &events {
        for listener in &listeners {
            listener(event);
        }
    }
    for event in &memory_events {
        for listener in &memory_listeners {
            listener(event);
        }
    }
    result
}

/// Anti-entropy round: every replica the tab reaches hears what it holds.
fn resync(cell: &RefCell<Driver>) {
    {
        let mut d = cell.borrow_mut();
        let now = d.now();
        let d = &mut *d;
        if let (Some(mesh), Some(memory), false) = (d.mesh.as_mut(), d.memory.as_ref(), d.closed) {
            mesh.resync_memory(&memory.agent, now);
        }
    }
    // Delivers what the round caused and re-arms the timer.
    run(cell, |_, _| ());
}

impl Report for RefCell<Driver> {
    fn event(&self, event: Event) {
        run(self, |mesh, now| mesh.handle(event, now));
    }

    fn signal_text(&self, text: String) {
        run(self, |mesh, now| mesh.handle_signal_text(&text, now));
    }

    fn channel(&self, peer: &PeerId, attempt: Attempt, channel: RtcDataChannel) {
        let open = run(self, |mesh, _| {
            mesh.shell.attach_channel(peer, attempt, channel)
        });
        if open == Some(true) {
            let peer = peer.clone();
            self.event(Event::ChannelOpened { peer, attempt });
        }
    }

    fn signaling_opened(&self, socket: Signaling) {
        run(self, |mesh, _| {
            if let Some(old) = mesh.shell.signaling.replace(socket) {
                old.close();
            }
        });
    }

    fn signaling_closed(&self) {
        run(self, |mesh, now| {
            mesh.shell.signaling = None;
            mesh.handle(Event::SignalingDisconnected, now);
        });
    }

    fn error(&self, message: String) {
        let event = PeerEvent::Error {
            peer: None,
            message,
        };
        self.borrow_mut().pending.push(event);
        run(self, |_, _| ());
    }
}

/// 32 bytes from `crypto.getRandomValues`.
fn random_32() -> Option<[u8; 32]> {
    let crypto = web_sys::window()?.crypto().ok()?;
    let mut bytes = [0u8; 32];
    crypto.get_random_values_with_u8_array(&mut bytes).ok()?;
    Some(bytes)
}

fn core_identity(seed: [u8; 32]) -> meshwork_protocol::identity::Identity {
    meshwork_protocol::identity::Identity::from_seed(seed)
}
