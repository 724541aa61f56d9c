//! The shared state of one browser peer and the loop that performs the core's actions.
//!
//! Browser callbacks hold a `Weak` to the driver and enter through [`handle`] and friends.
//! Application listeners are called only after every borrow is released, so a listener may
//! call back into the peer (e.g. reply with `send`) safely.

use crate::{
    links::Link,
    path,
    peer::PeerEvent,
    registry,
    signaling::Signaling,
    timer::{now_ms, sleep_ms, Timeout},
};
use meshwork_protocol::{
    core::{self, Action, Attempt, Event, MeshCore, Tier, Time},
    framing::{self, Frame, Inboxes},
    rest::IceConfig,
    signaling::{CandidateType, PeerKind},
    turn::expiry,
    MeshMessage, PeerId,
};
use std::{
    cell::RefCell,
    collections::HashMap,
    rc::{Rc, Weak as RcWeak},
};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use web_sys::RtcDataChannel;

/// Shared handle on a driver.
pub type Shared = Rc<RefCell<Driver>>;
/// What callbacks hold.
pub type Weak = RcWeak<RefCell<Driver>>;

/// A listener for peer events.
pub type Listener = Rc<dyn Fn(&PeerEvent)>;

/// One browser peer.
pub struct Driver {
    /// The mesh core, once the first token named our peer id.
    pub core: Option<MeshCore>,
    /// Registry base URL (`http(s)://host:port`).
    pub base: String,
    /// The hub's admin token (the tab's credential, ADR 0006).
    pub admin_token: String,
    /// Only relay candidates.
    pub relay_only: bool,
    pub(crate) jwt: Option<String>,
    pub(crate) ice: IceConfig,
    pub(crate) signaling: Option<Signaling>,
    pub(crate) links: HashMap<PeerId, Link>,
    reassembly: Inboxes<PeerId, Attempt>,
    timer: Option<Timeout>,
    start: f64,
    pub(crate) listeners: Vec<Listener>,
    pending: Vec<PeerEvent>,
    next_message_id: u32,
    pub(crate) closed: bool,
    me: Weak,
}

impl Driver {
    /// A driver that has not joined yet.
    pub fn new(base: String, admin_token: String, relay_only: bool) -> Shared {
        Rc::new_cyclic(|me| {
            RefCell::new(Self {
                core: None,
                base: base.trim_end_matches('/').to_owned(),
                admin_token,
                relay_only,
                jwt: None,
                ice: IceConfig::default(),
                signaling: None,
                links: HashMap::new(),
                reassembly: Inboxes::default(),
                timer: None,
                start: now_ms(),
                listeners: Vec::new(),
                pending: Vec::new(),
                next_message_id: 1,
                closed: false,
                me: me.clone(),
            })
        })
    }

    fn now(&self) -> Time {
        Time::from_millis((now_ms() - self.start).max(0.0) as u64)
    }

    /// Frames for one message, with a fresh message id.
    pub fn frames(&mut self, message: &MeshMessage) -> Vec<Frame> {
        let id = self.next_message_id;
        self.next_message_id = self.next_message_id.wrapping_add(1);
        framing::encode(message.to_json(), id)
    }

    /// The path type of the open link to `peer`: what `getStats()` said, or `relay` when this
    /// tab allows nothing else.
    pub fn path_type(&self, peer: &PeerId) -> Option<CandidateType> {
        let probed = self.links.get(peer).and_then(|l| l.path);
        probed.or(self.relay_only.then_some(CandidateType::Relay))
    }

    /// The tier a message on `route` to or from `peer` takes.
    pub fn tier(&self, route: core::Route, peer: &PeerId) -> Tier {
        Tier::of(route, self.path_type(peer))
    }

    /// Starts the mesh core as `me`.
    pub fn start_core(&mut self, me: PeerId) {
        let config = core::Config {
            kind: PeerKind::Browser,
            rng_seed: (js_sys::Math::random() * u64::MAX as f64) as u64,
            ..Default::default()
        };
        self.core = Some(MeshCore::new(me, config));
    }
}

/// Sends frames on an open channel; false when it is not open.
pub fn send_frames(dc: &RtcDataChannel, frames: Vec<Frame>) -> bool {
    for frame in frames {
        let sent = match frame {
            Frame::Text(text) => dc.send_with_str(&text),
            Frame::Chunk(bytes) => dc.send_with_u8_array(&bytes),
        };
        if sent.is_err() {
            return false;
        }
    }
    true
}

/// Feeds an event to the core and performs what follows.
pub fn handle(weak: &Weak, event: Event) {
    let Some(shared) = weak.upgrade() else { return };
    {
        let mut d = shared.borrow_mut();
        if d.closed {
            return;
        }
        let now = d.now();
        if let Some(core) = d.core.as_mut() {
            core.handle(event, now);
        }
    }
    pump(&shared);
}

/// Reports a problem to the application.
pub fn report_error(weak: &Weak, message: String) {
    let Some(shared) = weak.upgrade() else { return };
    shared
        .borrow_mut()
        .pending
        .push(PeerEvent::Error { message });
    pump(&shared);
}

/// The signaling socket closed.
pub fn signaling_closed(weak: &Weak) {
    if let Some(shared) = weak.upgrade() {
        shared.borrow_mut().signaling = None;
        shared
            .borrow_mut()
            .pending
            .push(PeerEvent::Signaling { connected: false });
    }
    handle(weak, Event::SignalingDisconnected);
}

/// A link operation failed: the core treats the attempt as failed.
pub fn link_failed(weak: &Weak, peer: &PeerId, attempt: Attempt, error: JsValue) {
    let message = error.as_string().unwrap_or_else(|| format!("{error:?}"));
    report_error(weak, format!("link to {peer}: {message}"));
    let state = core::ConnectionState::Failed;
    handle(
        weak,
        Event::ConnectionStateChanged {
            peer: peer.clone(),
            attempt,
            state,
        },
    );
}

/// Tells the registry which links are open, with each one's path type and RTT (the core's
/// report, completed with what only the shell knows).
fn send_link_report(shared: &Shared) {
    let d = shared.borrow();
    let Some(core) = d.core.as_ref() else { return };
    let frame = core
        .link_report_with(|peer| (d.links.get(peer).and_then(|l| l.path), None))
        .to_json();
    if let Some(s) = &d.signaling {
        s.send(&frame);
    }
}

/// Reads the selected path of a link that just opened, and again twice while ICE may still
/// switch pairs; a change sends a fresh link report.
pub fn probe_path(weak: &Weak, peer: &PeerId, attempt: Attempt) {
    let (weak, peer) = (weak.clone(), peer.clone());
    spawn_local(async move {
        for delay_ms in [0, 500, 2000] {
            if delay_ms > 0 {
                sleep_ms(delay_ms).await;
            }
            let Some(shared) = weak.upgrade() else { return };
            let probe = {
                let d = shared.borrow();
                d.links
                    .get(&peer)
                    .filter(|l| l.attempt == attempt)
                    .map(|l| (l.pc.clone(), l.remote_relays.borrow().clone()))
            };
            let Some((pc, relays)) = probe else { return };
            let found = path::selected(&pc, &relays).await;
            let changed = {
                let mut d = shared.borrow_mut();
                match d.links.get_mut(&peer).filter(|l| l.attempt == attempt) {
                    Some(link) if found.is_some() && link.path != found => {
                        link.path = found;
                        true
                    }
                    _ => false,
                }
            };
            if changed {
                send_link_report(&shared);
            }
        }
    });
}

/// The answerer received the offerer's channel.
pub fn channel_received(weak: &Weak, peer: &PeerId, attempt: Attempt, dc: RtcDataChannel) {
    let Some(shared) = weak.upgrade() else { return };
    let mut d = shared.borrow_mut();
    if let Some(link) = d.links.get_mut(peer).filter(|l| l.attempt == attempt) {
        link.attach_channel(weak, peer, dc.clone());
        // The channel may already be open when it is handed over.
        if dc.ready_state() == web_sys::RtcDataChannelState::Open {
            drop(d);
            handle(
                weak,
                Event::ChannelOpened {
                    peer: peer.clone(),
                    attempt,
                },
            );
            probe_path(weak, peer, attempt);
        }
    }
}

fn current(shared: &Shared, peer: &PeerId, attempt: Attempt) -> bool {
    shared
        .borrow()
        .links
        .get(peer)
        .is_some_and(|l| l.attempt == attempt)
}

/// A text message arrived.
pub fn text_received(weak: &Weak, peer: &PeerId, attempt: Attempt, text: String) {
    let Some(shared) = weak.upgrade() else { return };
    if !current(&shared, peer, attempt) {
        return;
    }
    handle(weak, Event::DataReceived { peer: peer.clone() });
    match MeshMessage::parse(&text) {
        Ok(message) => handle(
            weak,
            Event::MessageReceived {
                peer: peer.clone(),
                message,
            },
        ),
        Err(e) => report_error(
            weak,
            format!("message from {peer} is not a MeshMessage: {e}"),
        ),
    }
}

/// A chunk of a large message arrived.
pub fn chunk_received(weak: &Weak, peer: &PeerId, attempt: Attempt, bytes: Vec<u8>) {
    let Some(shared) = weak.upgrade() else { return };
    if !current(&shared, peer, attempt) {
        return;
    }
    handle(weak, Event::DataReceived { peer: peer.clone() });
    let done = shared.borrow_mut().reassembly.push(peer, attempt, &bytes);
    match done {
        Ok(Some(text)) => text_received(weak, peer, attempt, text),
        Ok(None) => {}
        Err(e) => report_error(weak, format!("bad chunk from {peer}: {e}")),
    }
}

/// Performs queued actions, re-arms the timer, then tells the listeners.
pub fn pump(shared: &Shared) {
    loop {
        let action = {
            let mut d = shared.borrow_mut();
            match d.core.as_mut().and_then(MeshCore::poll_action) {
                Some(a) => a,
                None => break,
            }
        };
        apply(shared, action);
    }
    rearm(shared);
    let (events, listeners) = {
        let mut d = shared.borrow_mut();
        (std::mem::take(&mut d.pending), d.listeners.clone())
    };
    for event in &events {
        for listener in &listeners {
            listener(event);
        }
    }
}

fn rearm(shared: &Shared) {
    let mut d = shared.borrow_mut();
    let Some(deadline) = d.core.as_ref().and_then(MeshCore::next_timeout) else {
        d.timer = None;
        return;
    };
    let delay = deadline.as_millis() as f64 - (now_ms() - d.start);
    let weak = d.me.clone();
    d.timer = Timeout::new(delay, move || {
        let Some(shared) = weak.upgrade() else { return };
        {
            let mut d = shared.borrow_mut();
            let now = d.now();
            if let Some(core) = d.core.as_mut() {
                core.handle_timeout(now);
            }
        }
        pump(&shared);
    });
}

fn apply(shared: &Shared, action: Action) {
    let weak = Rc::downgrade(shared);
    match action {
        Action::ConnectSignaling => connect_signaling(shared),
        Action::SendSignal(msg) if msg.kind == meshwork_protocol::SignalType::LinkReport => {
            send_link_report(shared)
        }
        Action::SendSignal(msg) => {
            if let Some(s) = &shared.borrow().signaling {
                s.send(&msg.to_json());
            }
        }
        Action::CreateOffer { peer, attempt, .. } => {
            if let Some(link) = new_link(shared, &peer, attempt, true) {
                link.offer(&weak, &peer);
                shared.borrow_mut().links.insert(peer, link);
            }
        }
        Action::AcceptOffer { peer, attempt, sdp } => {
            if let Some(link) = new_link(shared, &peer, attempt, false) {
                link.answer(&weak, &peer, sdp);
                shared.borrow_mut().links.insert(peer, link);
            }
        }
        Action::ApplyAnswer { peer, attempt, sdp } => {
            if let Some(link) = shared
                .borrow()
                .links
                .get(&peer)
                .filter(|l| l.attempt == attempt)
            {
                link.apply_answer(&weak, &peer, sdp);
            }
        }
        Action::AddIceCandidate {
            peer,
            attempt,
            candidate,
        } => {
            if let Some(link) = shared
                .borrow()
                .links
                .get(&peer)
                .filter(|l| l.attempt == attempt)
            {
                link.add_candidate(candidate);
            }
        }
        Action::ClosePeer { peer, attempt } => {
            let mut d = shared.borrow_mut();
            if d.links.get(&peer).is_some_and(|l| l.attempt == attempt) {
                if let Some(link) = d.links.remove(&peer) {
                    link.close();
                }
                d.reassembly.forget(&peer);
            }
        }
        Action::SendKeepalive { peer, message } => {
            if let Some(dc) = shared.borrow().links.get(&peer).and_then(|l| l.dc.clone()) {
                let _ = dc.send_with_str(&message.to_json());
            }
        }
        Action::PeerConnected { peer } => shared
            .borrow_mut()
            .pending
            .push(PeerEvent::PeerConnected { peer }),
        Action::PeerDisconnected { peer } => shared
            .borrow_mut()
            .pending
            .push(PeerEvent::PeerDisconnected { peer }),
        Action::Deliver {
            peer,
            message,
            rtt_ms,
            via,
        } => {
            let mut d = shared.borrow_mut();
            let via = d.tier(via, &peer);
            d.pending.push(PeerEvent::Message {
                from: peer,
                message,
                rtt_ms,
                via,
            })
        }
        Action::Undeliverable {
            peer,
            request_id,
            reason,
        } => {
            let message = Action::undeliverable_text(&peer, request_id.as_deref(), &reason);
            shared
                .borrow_mut()
                .pending
                .push(PeerEvent::Error { message })
        }
        Action::RequestTimedOut { request_id, peer } => shared
            .borrow_mut()
            .pending
            .push(PeerEvent::RequestTimedOut { request_id, peer }),
        Action::SignalingError { message, .. } => {
            shared.borrow_mut().pending.push(PeerEvent::Error {
                message: format!("registry: {message}"),
            })
        }
    }
}

fn new_link(shared: &Shared, peer: &PeerId, attempt: Attempt, offerer: bool) -> Option<Link> {
    let weak = Rc::downgrade(shared);
    let mut d = shared.borrow_mut();
    if let Some(old) = d.links.remove(peer) {
        old.close();
    }
    d.reassembly.forget(peer);
    // Never hand ICE an expired TURN credential (coturn answers 401): say so, drop it, and
    // fetch fresh ones for the next attempt.
    let now = (now_ms() / 1000.0) as u64;
    let (usable, expired) = expiry::split_expired(&d.ice.ice_servers, now);
    if !expired.is_empty() {
        d.pending.push(PeerEvent::Error {
            message: expiry::EXPIRED_TEXT.into(),
        });
        let me = d.core.as_ref().map(|c| c.id().to_string());
        refresh_ice(&weak, d.base.clone(), d.admin_token.clone(), me);
    }
    let ice = IceConfig {
        ice_servers: usable,
    };
    match Link::new(&weak, peer, attempt, &ice, d.relay_only, offerer) {
        Ok(link) => Some(link),
        Err(e) => {
            d.pending.push(PeerEvent::Error {
                message: format!("cannot create a connection: {e:?}"),
            });
            None
        }
    }
}

/// Fetches the ICE servers again (fresh TURN credentials) for the attempts to come, with a
/// fresh token first: the one signaling connected with lives 5 minutes, credentials a day.
///
/// Takes what it needs as arguments: callers hold the driver borrowed.
fn refresh_ice(weak: &Weak, base: String, admin: String, me: Option<String>) {
    let weak = weak.clone();
    spawn_local(async move {
        let fetched = async {
            let token = registry::browser_token(&base, &admin, me.as_deref()).await?;
            registry::ice_config(&base, &token.token).await
        }
        .await;
        let Some(shared) = weak.upgrade() else { return };
        match fetched {
            Ok(ice) => shared.borrow_mut().ice = ice,
            Err(e) => report_error(&weak, format!("cannot refresh the ICE servers: {e}")),
        }
    });
}

/// Renews the token (same tab id), refreshes the ICE servers, opens the socket.
fn connect_signaling(shared: &Shared) {
    let weak = Rc::downgrade(shared);
    let (base, admin, me) = {
        let d = shared.borrow();
        (
            d.base.clone(),
            d.admin_token.clone(),
            d.core.as_ref().map(|c| c.id().to_string()),
        )
    };
    spawn_local(async move {
        let token = match registry::browser_token(&base, &admin, me.as_deref()).await {
            Ok(t) => t,
            Err(e) => {
                report_error(&weak, format!("cannot get a token: {e}"));
                return handle(&weak, Event::SignalingDisconnected);
            }
        };
        let ice = match registry::ice_config(&base, &token.token).await {
            Ok(ice) => ice,
            Err(e) => {
                report_error(
                    &weak,
                    format!("no ICE servers from the registry ({e}); host candidates only"),
                );
                Default::default()
            }
        };
        let ws_url = format!("{}/ws", base.replacen("http", "ws", 1));
        let Some(shared) = weak.upgrade() else { return };
        let opened = Signaling::open(&ws_url, &token.token, weak.clone());
        {
            let mut d = shared.borrow_mut();
            d.jwt = Some(token.token);
            d.ice = ice;
            match opened {
                Ok(s) => {
                    if let Some(old) = d.signaling.replace(s) {
                        old.close();
                    }
                    d.pending.push(PeerEvent::Signaling { connected: true });
                }
                Err(e) => {
                    d.pending.push(PeerEvent::Error {
                        message: format!("cannot open signaling: {e:?}"),
                    });
                    drop(d);
                    return handle(&weak, Event::SignalingDisconnected);
                }
            }
        }
        pump(&shared);
    });
}
