//! The one contract between the core and a platform, and the one dispatch that applies the
//! core's actions through it.
//!
//! A platform (webrtc-rs natively, web-sys in a tab, the simulated world in the core's
//! tests) implements [`Shell`]: it turns calls into platform work and reports what the
//! platform observes back as [`Event`]s. [`Mesh`] owns the core and a shell and is the only
//! code that reads actions, so every shell runs the same dispatch — the deterministic tests
//! included.

use super::{
    data::SendPlan, Action, Attempt, Event, MeshCore, Purpose, Route, RouteError, Tier, Time,
};
use crate::{
    framing::Frame,
    identity::PublicKey,
    ids::PeerId,
    memory::SyncMessage,
    mesh_message::MeshMessage,
    rest::IceServer,
    signaling::{IceCandidatePayload, SignalMessage},
};
use std::time::Duration;

/// What the application is told: IPC events natively; in a tab, these very events (as
/// plain objects with a `type`, the wasm peer's `PeerEvent`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AppEvent {
    /// The signaling socket opened or closed.
    Signaling {
        /// Whether it is open now.
        connected: bool,
    },
    /// The DataChannel to `peer` opened.
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// Whether the link is bound to the peer's identity key (ADR 0015).
        verified: bool,
    },
    /// The open DataChannel to `peer` is gone.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A message for the application arrived.
    Message {
        /// The sender.
        from: PeerId,
        /// The message, untouched.
        message: MeshMessage,
        /// Round trip of the request it answers, when that request was tracked.
        rtt_ms: Option<u64>,
        /// The tier that carried it.
        via: Tier,
        /// Whether the sender is proven (a verified channel, or a sealed registry message).
        verified: bool,
    },
    /// A tracked request got no response in time.
    RequestTimedOut {
        /// The request's id.
        request_id: String,
        /// Where it went.
        peer: PeerId,
    },
    /// Something went wrong that the application must hear about; the mesh carries on.
    Error {
        /// The peer it concerns, if one.
        #[serde(skip_serializing_if = "Option::is_none")]
        peer: Option<PeerId>,
        /// What happened.
        message: String,
    },
}

/// How a new connection starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStart {
    /// Create the `mesh` channel and make an offer; `meshwork_peer` as in
    /// [`Action::CreateOffer`].
    Offer {
        /// The peer is known to run meshwork.
        meshwork_peer: bool,
    },
    /// Apply this remote offer and make an answer.
    Answer(String),
}

/// What a platform does for the core. Every method returns at once; outcomes come back as
/// [`Event`]s tagged with the attempt.
pub trait Shell {
    /// Open the signaling WebSocket (fetching a token first); report `SignalingConnected`
    /// (with `IceServers`) or `SignalingDisconnected`.
    fn connect_signaling(&mut self);
    /// Send a frame on the signaling socket; give it back if it cannot be sent now.
    fn send_signal(&mut self, frame: SignalMessage) -> Result<(), SignalMessage>;
    /// Build a peer connection for `attempt` (closing any other to `peer`) and start it.
    fn create_link(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        start: LinkStart,
        ice_servers: Vec<IceServer>,
    );
    /// Apply the remote answer to the connection of `attempt`.
    fn apply_answer(&mut self, peer: &PeerId, attempt: Attempt, sdp: String);
    /// Add a remote candidate to the connection of `attempt`.
    fn add_candidate(&mut self, peer: &PeerId, attempt: Attempt, candidate: IceCandidatePayload);
    /// Close the connection of `attempt`, without reporting back.
    fn close_link(&mut self, peer: &PeerId, attempt: Attempt);
    /// Write one message's frames, in order, on the channel of `attempt`. `Err` when the
    /// channel refuses now (not open, closing, task gone); a write that fails later is
    /// reported as `WriteFailed` with the same `purpose`.
    fn write(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        frames: Vec<Frame>,
        purpose: Purpose,
    ) -> Result<(), String>;
    /// Read the selected candidate pair of the connection of `attempt`; report
    /// `PathObserved`.
    fn probe_path(&mut self, peer: &PeerId, attempt: Attempt);
    /// Fetch the registry's ICE servers; report `IceServers` or `IceServersFailed`.
    fn fetch_ice_servers(&mut self);
    /// Tell the application.
    fn notify(&mut self, event: AppEvent);
    /// Remember `key` as `peer`'s identity key across restarts (native: the data directory).
    /// Does nothing by default: the core keeps its pins for its own lifetime.
    fn remember_key(&mut self, _peer: &PeerId, _key: &PublicKey) {}
    /// Sees every action before it is applied (logs, test records). Does nothing by default.
    fn observe(&mut self, _action: &Action) {}
}

/// A mesh peer: the core and the shell it drives.
#[derive(Debug)]
pub struct Mesh<S> {
    /// The state machine.
    pub core: MeshCore,
    /// The platform.
    pub shell: S,
    /// What arrived for this peer's replica ([`Mesh::pump_memory`]; dropped by a peer that
    /// keeps none, since the core routes memory only to peers that said they keep one).
    pub memory_inbox: super::MemoryInbox,
}

impl<S: Shell> Mesh<S> {
    /// A peer; call [`flush`](Self::flush) to perform its first action (connect).
    pub fn new(core: MeshCore, shell: S) -> Self {
        Self {
            core,
            shell,
            memory_inbox: super::MemoryInbox::default(),
        }
    }

    /// Feeds one event and performs what follows. The application hears when signaling
    /// opens or closes (before what follows from it).
    pub fn handle(&mut self, event: Event, now: Time) {
        match event {
            Event::SignalingConnected => self.shell.notify(AppEvent::Signaling { connected: true }),
            Event::SignalingDisconnected if self.core.is_signaling_connected() => {
                self.shell.notify(AppEvent::Signaling { connected: false })
            }
            _ => {}
        }
        self.core.handle(event, now);
        self.flush(now);
    }

    /// A signaling frame as it arrived: parsed here, and one that is not a frame is
    /// reported to the application (the socket stays).
    pub fn handle_signal_text(&mut self, text: &str, now: Time) {
        match SignalMessage::parse(text) {
            Ok(frame) => self.handle(Event::SignalReceived(frame), now),
            Err(e) => self.shell.notify(AppEvent::Error {
                peer: None,
                message: format!("unparseable signaling frame ignored: {e}"),
            }),
        }
    }

    /// Acts on every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.core.handle_timeout(now);
        self.flush(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn next_timeout(&self) -> Option<Time> {
        self.core.next_timeout()
    }

    /// Sends an application message on the tier the core picks: the pair's open channel,
    /// else the registry — also when the channel refuses it now (closing). Says which tier
    /// took it.
    pub fn send(
        &mut self,
        peer: &PeerId,
        message: &MeshMessage,
        now: Time,
    ) -> Result<Tier, RouteError> {
        let sent = match self.core.plan_send(peer, message) {
            Ok(SendPlan::Channel {
                attempt,
                frames,
                tier,
            }) => match self.shell.write(peer, attempt, frames, Purpose::Unicast) {
                Ok(()) => Ok(tier),
                Err(_) => self.core.channel_refused(peer, message),
            },
            Ok(SendPlan::Registry) => Ok(Tier::Registry),
            Err(e) => Err(e),
        };
        self.flush(now);
        sent
    }

    /// Sends one memory sync frame to `peer` (its channel, else the registry tier, sealed
    /// between keyed peers). Refused for peers without a key: they hold no replica.
    pub fn send_memory(
        &mut self,
        peer: &PeerId,
        frame: &SyncMessage,
        now: Time,
    ) -> Result<Tier, RouteError> {
        if !self.core.speaks_memory(peer) {
            return Err(RouteError::Unreachable(peer.clone()));
        }
        if peer.as_str() == crate::signaling::REGISTRY_PEER_ID {
            let sent = self
                .core
                .send_memory_to_registry(frame)
                .map(|()| Tier::Registry);
            self.flush(now);
            return sent;
        }
        self.send(peer, &super::memory_message(frame), now)
    }

    /// Sends one sync frame to every replica this peer can reach except `except` (the one a
    /// frame came from): new events spread, and nobody gets back what it sent.
    pub fn push_memory(&mut self, frame: &SyncMessage, except: Option<&PeerId>, now: Time) {
        for peer in self.core.memory_peers() {
            if Some(&peer) != except {
                // An unreachable replica catches up through the next `memory_have`.
                let _ = self.send_memory(&peer, frame, now);
            }
        }
    }

    /// Sends a request and tracks it: its response arrives with `rtt_ms`, or the
    /// application hears `RequestTimedOut` after `timeout`.
    pub fn request(
        &mut self,
        peer: &PeerId,
        message: &MeshMessage,
        timeout: Duration,
        now: Time,
    ) -> Result<Tier, RouteError> {
        let tier = self.send(peer, message, now)?;
        let event = Event::RequestSent {
            request_id: message.request_id.clone(),
            peer: peer.clone(),
            timeout,
        };
        self.handle(event, now);
        Ok(tier)
    }

    /// Sends `message` on every open channel (never through the registry: a broadcast is
    /// for the peers this one is linked with). Returns how many channels took it.
    pub fn broadcast(&mut self, message: &MeshMessage, now: Time) -> usize {
        let (links, frames) = self.core.broadcast_plan(message);
        let sent = links
            .iter()
            .filter(|(peer, attempt)| {
                let copy = frames.clone();
                self.shell
                    .write(peer, *attempt, copy, Purpose::Broadcast)
                    .is_ok()
            })
            .count();
        self.flush(now);
        sent
    }

    /// Performs every queued action, oldest first.
    pub fn flush(&mut self, now: Time) {
        while let Some(action) = self.core.poll_action() {
            self.shell.observe(&action);
            self.apply(action, now);
        }
    }

    fn apply(&mut self, action: Action, now: Time) {
        let shell = &mut self.shell;
        match action {
            Action::ConnectSignaling => shell.connect_signaling(),
            Action::SendSignal(frame) => {
                if let Err(frame) = shell.send_signal(frame) {
                    self.core.handle(Event::SignalDropped(frame), now);
                }
            }
            Action::CreateOffer {
                peer,
                attempt,
                ice_servers,
                meshwork_peer,
                ..
            } => {
                let start = LinkStart::Offer { meshwork_peer };
                shell.create_link(&peer, attempt, start, ice_servers)
            }
            Action::AcceptOffer {
                peer,
                attempt,
                sdp,
                ice_servers,
            } => shell.create_link(&peer, attempt, LinkStart::Answer(sdp), ice_servers),
            Action::ApplyAnswer { peer, attempt, sdp } => shell.apply_answer(&peer, attempt, sdp),
            Action::AddIceCandidate {
                peer,
                attempt,
                candidate,
            } => shell.add_candidate(&peer, attempt, candidate),
            Action::ClosePeer { peer, attempt } => shell.close_link(&peer, attempt),
            Action::SendKeepalive {
                peer,
                attempt,
                message,
            } => {
                // A refused keepalive is harmless: silence fails the link by itself.
                let frames = vec![Frame::Text(message.to_json())];
                let _ = shell.write(&peer, attempt, frames, Purpose::Keepalive);
            }
            Action::ProbePath { peer, attempt } => shell.probe_path(&peer, attempt),
            Action::FetchIceServers => shell.fetch_ice_servers(),
            Action::PeerConnected { peer, verified } => {
                if self.core.memory_enabled() && self.core.speaks_memory(&peer) {
                    self.memory_inbox.opened.push(peer.clone());
                }
                shell.notify(AppEvent::PeerConnected { peer, verified })
            }
            Action::RememberKey { peer, key } => shell.remember_key(&peer, &key),
            Action::MemoryFrame { peer, frame } => {
                if self.core.memory_enabled() {
                    self.memory_inbox.frames.push((peer, frame));
                }
            }
            Action::PeerDisconnected { peer } => shell.notify(AppEvent::PeerDisconnected { peer }),
            Action::Deliver {
                peer,
                message,
                rtt_ms,
                via,
                verified,
            } => {
                let via = match via {
                    Route::Channel => Tier::of(via, self.core.path_type(&peer)),
                    Route::Registry => Tier::Registry,
                };
                self.shell.notify(AppEvent::Message {
                    from: peer,
                    message,
                    rtt_ms,
                    via,
                    verified,
                });
            }
            Action::RequestTimedOut { request_id, peer } => {
                shell.notify(AppEvent::RequestTimedOut { request_id, peer })
            }
            Action::SignalingError { message, .. } => shell.notify(AppEvent::Error {
                peer: None,
                message: format!("registry: {message}"),
            }),
            Action::Undeliverable {
                peer,
                request_id,
                reason,
            } => {
                let message = Action::undeliverable_text(&peer, request_id.as_deref(), &reason);
                shell.notify(AppEvent::Error {
                    peer: Some(peer),
                    message,
                });
            }
            Action::Problem { peer, message } => shell.notify(AppEvent::Error { peer, message }),
        }
    }
}
