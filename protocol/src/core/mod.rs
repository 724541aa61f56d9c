//! The sans-IO mesh core: every mesh decision, no I/O.
//!
//! [`MeshCore`] is a deterministic state machine in the style of `quinn-proto`. It owns no
//! sockets, clocks, threads or entropy, so the native sidecar (webrtc-rs) and the browser peer
//! (web-sys) drive the very same logic and cannot drift apart.
//!
//! # Driving it
//! A platform implements [`Shell`] and wraps core and shell in a [`Mesh`], whose dispatch
//! is the only code that reads actions (the native sidecar, the browser tab and the
//! virtual-time tests all run it):
//! ```text
//! loop {
//!     mesh.handle(event, now);                 // for every platform event, or
//!     mesh.handle_timeout(now);                // when the time from next_timeout() is reached
//!     mesh.send(peer, message, now)?;          // for the application (also request, broadcast)
//!     re-arm ONE timer at mesh.next_timeout()  // tokio::time::sleep_until / setTimeout
//! }
//! ```
//! Calling `handle_timeout` early or late is harmless: it acts on whatever is due at `now`,
//! and every deadline belongs to the current state, so a timer left over from an earlier
//! attempt finds nothing to do.
//!
//! # Decisions
//! - Offer rule: the smaller id offers. On glare the smaller id's offer stands; the larger
//!   closes its own half-made connection and answers. Any other offer is accepted and
//!   replaces whatever link existed (a restarted peer re-offers), with `PeerDisconnected`
//!   first if that link was open.
//! - Signaling frames produced while signaling is down are dropped, not queued: SDP and
//!   candidates belong to one attempt, and after reconnect the `peer_list` makes the offerer
//!   re-offer every peer without a link, while handshake timeouts retry stuck attempts.
//! - The signaling backoff resets when a connection stayed up for `stable_after`; a
//!   `peer_list` alone does not reset it, so a registry that accepts and then drops us at
//!   once cannot make us reconnect in a tight loop.
//! - Backoff uses equal jitter: a delay lies in `[ceiling/2, ceiling]`.
//! - `peer_left` with `disconnected` closes only handshaking links; open channels live on
//!   until their own liveness says otherwise. `revoked` closes everything at once.
//! - Remote candidates that cannot be applied yet are buffered per peer (at most
//!   `max_buffered_candidates`, later ones dropped); without any handshake they are dropped
//!   after `handshake_timeout`. The offerer holds its own candidates until its answer is
//!   applied (the same bound; past it they go at once), so the remote's first checks can be
//!   answered (ADR 0021).
//! - Liveness: every open link is pinged each `keepalive_interval`; any data refreshes it;
//!   `link_timeout` of silence fails the link. Keepalive round trips feed the `link_report`.
//! - Application messages take the pair's open channel, else the registry (`mesh_message`
//!   frames over both signaling sockets) while both peers are registered; see [`Route`].
//!   Messages the registry carries do not count as liveness of the channel.
//! - A response from a different peer than the request went to is delivered but does not
//!   resolve the request; late responses are delivered with `rtt_ms: None`.
//! - The data path is the core's: data events name their attempt (a replaced attempt's data
//!   is dropped silently); chunks are reassembled per link; any data of the current attempt
//!   proves the link alive; a bad chunk or a message that is not a MeshMessage is dropped and
//!   the application is told; large messages get a fresh message id.
//! - Sending: the open channel, else the registry tier. A channel that refuses a message at
//!   once (closing, task gone) hands it to the registry; one that fails later
//!   (`WriteFailed`) too, when it fits; otherwise the application is told it was not sent.
//!   A broadcast takes open channels only. A `mesh_message` the shell could not send
//!   (`SignalDropped`) is reported; SDP and candidates are not (handshakes retry).
//! - Link reports are complete here: each open link's path type (read by the shell on the
//!   core's schedule: at open, +100 ms, +500 ms, +2 s, then every 10 s) and ICE's RTT, the
//!   keepalive RTT where ICE gave none; a new path type sends a new report.
//! - TURN credentials: renewed halfway to the earliest expiry, again 5 s after a failed
//!   fetch; a connection is never built with an expired one (the application is told, and
//!   fresh ones are fetched).
//! - Identity (ADR 0015, see `trust`): offers and answers carry a signature over their DTLS
//!   fingerprints; a link whose proof fails is never built and the pair gets no registry
//!   fallback; registry-tier messages between keyed peers are sealed end to end.
//! - Queued tasks (ADR 0018): a `task_request` from the registry's reserved peer id reaches
//!   the application like any registry-tier message, and the registry hears at once
//!   (`task_received`) whether an application was there to take it; messages to that id
//!   (the application's `task_response`) go to the registry over signaling, never sealed.
//! - The application hears [`AppEvent`]s: channel up/down, messages with their tier,
//!   request timeouts, and every error above, the same on every platform.

mod action;
mod backoff;
mod config;
mod correlator;
mod data;
mod event;
mod frames;
mod handshake;
mod ice;
mod keepalive;
mod liveness;
mod memory_link;
mod memory_pump;
mod paths;
mod peer;
mod registry_tasks;
mod requests;
mod rng;
mod route;
mod shell;
mod signaling_session;
mod time;
mod trust;

#[cfg(test)]
mod tests;

pub use action::Action;
pub use backoff::{Backoff, BackoffConfig};
pub use config::Config;
pub use correlator::Correlator;
pub use data::SendPlan;
pub use event::{ConnectionState, Event, Incoming, Purpose, SdpType};
pub use frames::link_report;
pub use keepalive::{is_keepalive, keepalive_ping, keepalive_pong, KEEPALIVE_PREFIX};
pub use memory_link::{is_memory_frame, memory_message, MEMORY_SYNC_TYPE};
pub use memory_pump::{MemoryInbox, MemoryStore, Pumped};
pub use peer::{Attempt, LinkState, Role};
pub use rng::Rng;
pub use route::{Route, RouteError, Tier};
pub use shell::{AppEvent, LinkStart, Mesh, Shell};
pub use time::{millis, Time};

use crate::{framing::Inboxes, ids::PeerId, signaling::SignalMessage};
use peer::{Link, Peer};
use requests::PendingRequest;
use std::collections::{BTreeMap, VecDeque};

/// Where the signaling connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signaling {
    /// `ConnectSignaling` emitted, outcome not reported yet.
    Connecting,
    /// Up since this time.
    Connected { since: Time },
    /// Down; emit `ConnectSignaling` at this time.
    WaitingToReconnect { at: Time },
}

/// The mesh state machine of one peer. See the [module docs](self) for how to drive it.
#[derive(Debug)]
pub struct MeshCore {
    me: PeerId,
    config: Config,
    /// Jitter source; seeded from the config so tests replay exactly.
    rng: Rng,
    signaling: Signaling,
    signaling_backoff: Backoff,
    /// Ordered so actions come out in the same order on every run and platform.
    peers: BTreeMap<PeerId, Peer>,
    requests: Correlator<PendingRequest>,
    actions: VecDeque<Action>,
    next_attempt: u64,
    next_keepalive: u64,
    /// Partial large messages, one per link; a new attempt starts clean.
    inboxes: Inboxes<PeerId, Attempt>,
    /// Numbers large outgoing messages (their chunks carry it).
    next_message_id: u32,
    ice: ice::IceServers,
    /// The shell is not reading channel data on purpose (backpressure): silence proves
    /// nothing about the links until it reads again.
    reads_paused: bool,
    /// Identity keys: ours, pinned and announced ones, nonces seen (ADR 0015).
    trust: trust::Trust,
    /// The registry said (in its last `peer_list`) that it keeps a memory replica.
    registry_memory: bool,
    /// An application is there to take messages (the shell says; ADR 0018): a task the
    /// registry delivers without one goes back to its queue at once.
    application_present: bool,
}

impl MeshCore {
    /// A core for peer `me`; its first action is `ConnectSignaling`.
    pub fn new(me: PeerId, config: Config) -> Self {
        Self {
            me,
            rng: Rng::new(config.rng_seed),
            trust: trust::Trust::new(
                config.identity.clone(),
                config.known_keys.clone(),
                config.entropy,
            ),
            signaling: Signaling::Connecting,
            signaling_backoff: Backoff::new(config.signaling_backoff),
            config,
            peers: BTreeMap::new(),
            requests: Correlator::new(),
            actions: VecDeque::from([Action::ConnectSignaling]),
            next_attempt: 1,
            next_keepalive: 1,
            inboxes: Inboxes::default(),
            next_message_id: 1,
            ice: ice::IceServers::default(),
            reads_paused: false,
            registry_memory: false,
            application_present: true,
        }
    }

    /// Feeds one event that happened at `now`.
    pub fn handle(&mut self, event: Event, now: Time) {
        match event {
            Event::SignalingConnected => self.on_signaling_connected(now),
            Event::SignalingDisconnected => self.on_signaling_disconnected(now),
            Event::SignalReceived(frame) => self.on_signal(frame, now),
            Event::LocalDescription {
                peer,
                attempt,
                sdp_type,
                sdp,
            } => self.on_local_description(&peer, attempt, sdp_type, sdp),
            Event::LocalCandidate {
                peer,
                attempt,
                candidate,
            } => self.on_local_candidate(&peer, attempt, &candidate),
            Event::RemoteDescriptionApplied { peer, attempt } => {
                self.on_remote_description_applied(&peer, attempt)
            }
            Event::ChannelOpened { peer, attempt } => self.on_channel_opened(&peer, attempt, now),
            Event::ChannelClosed { peer, attempt } => self.on_transport_lost(&peer, attempt, now),
            Event::ConnectionStateChanged {
                peer,
                attempt,
                state,
            } => self.on_connection_state(&peer, attempt, state, now),
            Event::Data {
                peer,
                attempt,
                data,
            } => self.on_data(peer, attempt, data, now),
            Event::WriteFailed {
                peer,
                attempt: _,
                frames,
                purpose,
                error,
            } => self.on_write_failed(peer, &frames, purpose, &error),
            Event::ReadsPaused(paused) => self.on_reads_paused(paused, now),
            Event::PathObserved {
                peer,
                attempt,
                candidate_type,
                rtt_ms,
            } => self.on_path_observed(&peer, attempt, candidate_type, rtt_ms),
            Event::IceServers { servers, unix_now } => self.on_ice_servers(servers, unix_now, now),
            Event::IceServersFailed { error: _ } => self.on_ice_servers_failed(now),
            Event::SignalDropped(frame) => self.on_signal_dropped(frame),
            Event::RequestSent {
                request_id,
                peer,
                timeout,
            } => {
                self.requests.insert(
                    request_id,
                    PendingRequest { peer, sent_at: now },
                    now,
                    timeout,
                );
            }
            Event::ConnectRequested { peer } => self.on_connect_requested(&peer, now),
        }
    }

    /// Acts on every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.signaling_timeout(now);
        self.ice_timeout(now);
        let ids: Vec<PeerId> = self.peers.keys().cloned().collect();
        for id in ids {
            self.peer_timeout(&id, now);
            if self.peers.get(&id).is_some_and(Peer::is_forgettable) {
                self.peers.remove(&id);
            }
        }
        for (request_id, pending) in self.requests.expire(now) {
            self.emit(Action::RequestTimedOut {
                request_id,
                peer: pending.peer,
            });
        }
    }

    /// When `handle_timeout` must next be called, if anything is pending.
    pub fn next_timeout(&self) -> Option<Time> {
        let signaling = match self.signaling {
            Signaling::WaitingToReconnect { at } => Some(at),
            Signaling::Connecting | Signaling::Connected { .. } => None,
        };
        let peers = self
            .peers
            .values()
            .filter_map(|p| p.next_deadline(&self.config, self.reads_paused));
        signaling
            .into_iter()
            .chain(self.ice.next_deadline())
            .chain(peers)
            .chain(self.requests.next_deadline())
            .min()
    }

    /// The next thing the shell must do, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// This peer's id.
    pub fn id(&self) -> &PeerId {
        &self.me
    }

    /// Peers with an open DataChannel, in id order.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.is_open())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// What the core is doing about `peer`; `None` when nothing.
    pub fn link_state(&self, peer: &PeerId) -> Option<LinkState> {
        self.peers.get(peer).and_then(Peer::state)
    }

    /// Whether `peer`'s open link is bound to its identity key.
    pub fn is_verified(&self, peer: &PeerId) -> bool {
        self.peers.get(peer).is_some_and(|p| match &p.link {
            peer::Link::Open(open) => open.verified,
            _ => false,
        })
    }

    /// Last keepalive round trip to `peer`, in milliseconds.
    pub fn rtt_ms(&self, peer: &PeerId) -> Option<u64> {
        self.peers.get(peer).and_then(|p| p.rtt_ms)
    }

    /// Whether the signaling WebSocket is up.
    pub fn is_signaling_connected(&self) -> bool {
        matches!(self.signaling, Signaling::Connected { .. })
    }

    /// The role this peer plays towards `peer`.
    pub fn role_towards(&self, peer: &PeerId) -> Role {
        Role::for_pair(&self.me, peer)
    }

    fn emit(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// Sends a frame, or drops it while signaling is down (see the module docs).
    fn send_signal(&mut self, frame: SignalMessage) {
        if self.is_signaling_connected() {
            self.emit(Action::SendSignal(frame));
        }
    }

    fn new_attempt(&mut self) -> Attempt {
        let attempt = Attempt(self.next_attempt);
        self.next_attempt += 1;
        attempt
    }

    fn peer_entry(&mut self, id: &PeerId) -> &mut Peer {
        let backoff = self.config.reoffer_backoff;
        self.peers
            .entry(id.clone())
            .or_insert_with(|| Peer::new(backoff))
    }

    /// Replaces `peer`'s link with `link`, closing the connection it had. Emits
    /// `PeerDisconnected` (and a new `link_report`) if that connection was open.
    fn replace_link(&mut self, peer: &PeerId, link: Link) {
        let old = std::mem::replace(&mut self.peer_entry(peer).link, link);
        self.inboxes.forget(peer);
        let was_open = matches!(old, Link::Open(_));
        if was_open {
            self.emit(Action::PeerDisconnected { peer: peer.clone() });
        }
        if let Some(attempt) = old.attempt() {
            self.emit(Action::ClosePeer {
                peer: peer.clone(),
                attempt,
            });
        }
        if was_open {
            self.report_links();
        }
    }

    fn peer_timeout(&mut self, id: &PeerId, now: Time) {
        let Some(peer) = self.peers.get_mut(id) else {
            return;
        };
        if peer.candidates_expire.is_some_and(|at| at <= now) {
            peer.clear_candidates();
        }
        match &peer.link {
            Link::Retrying { at } if *at <= now => self.retry_due(id, now),
            Link::Handshake(h) if h.deadline <= now => self.drop_link(id, now),
            Link::Open(_) => self.open_link_timeout(id, now),
            _ => {}
        }
    }
}
