//! Open links: channel open/close, transport state, keepalives and silence.

use super::{
    event::ConnectionState,
    frames,
    keepalive::keepalive_ping,
    peer::{Attempt, Link, OpenLink},
    Action, MeshCore, Time,
};
use crate::{
    ids::PeerId,
    signaling::{CandidateType, LinkInfo, SignalMessage},
};

impl MeshCore {
    pub(super) fn on_channel_opened(&mut self, peer: &PeerId, attempt: Attempt, now: Time) {
        let next_ping = now + self.config.keepalive_interval;
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        if entry.handshake_mut(attempt).is_none() {
            return; // Stale attempt, or already open.
        }
        entry.link = Link::Open(OpenLink {
            attempt,
            last_seen: now,
            next_ping,
            grace_until: None,
            ping_sent: None,
        });
        entry.backoff.reset();
        entry.clear_candidates();
        self.emit(Action::PeerConnected { peer: peer.clone() });
        self.report_links();
    }

    pub(super) fn on_connection_state(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        state: ConnectionState,
        now: Time,
    ) {
        let grace = now + self.config.disconnected_grace;
        match state {
            ConnectionState::Failed | ConnectionState::Closed => {
                self.on_transport_lost(peer, attempt, now)
            }
            ConnectionState::Disconnected => {
                if let Some(open) = self.open_link(peer, attempt) {
                    open.grace_until.get_or_insert(grace);
                }
            }
            ConnectionState::Connected => {
                if let Some(open) = self.open_link(peer, attempt) {
                    open.grace_until = None;
                }
            }
            ConnectionState::New | ConnectionState::Connecting => {}
        }
    }

    /// The connection of `attempt` is gone (channel closed, transport failed or closed).
    pub(super) fn on_transport_lost(&mut self, peer: &PeerId, attempt: Attempt, now: Time) {
        if self.peers.get(peer).and_then(|p| p.link.attempt()) == Some(attempt) {
            self.drop_link(peer, now);
        }
    }

    /// Any data from `peer` proves its open link alive.
    pub(super) fn touch(&mut self, peer: &PeerId, now: Time) {
        if let Some(open) = self.peers.get_mut(peer).and_then(|p| p.open_mut()) {
            open.last_seen = open.last_seen.max(now);
        }
    }

    /// Fails a silent or long-disconnected link, or sends its next keepalive.
    pub(super) fn open_link_timeout(&mut self, peer: &PeerId, now: Time) {
        let link_timeout = self.config.link_timeout;
        let interval = self.config.keepalive_interval;
        let seq = self.next_keepalive;
        let Some(open) = self.peers.get_mut(peer).and_then(|p| p.open_mut()) else {
            return;
        };
        let silent = open.last_seen + link_timeout <= now;
        if silent || open.grace_until.is_some_and(|at| at <= now) {
            self.drop_link(peer, now);
            return;
        }
        if open.next_ping > now {
            return;
        }
        let ping = keepalive_ping(seq);
        open.ping_sent = Some((ping.request_id.clone(), now));
        open.next_ping = now + interval;
        self.next_keepalive += 1;
        self.emit(Action::SendKeepalive {
            peer: peer.clone(),
            message: ping,
        });
    }

    /// Tells the registry which links are open now (shells complete it with path types).
    pub(super) fn report_links(&mut self) {
        let frame = self.link_report_with(|_| (None, None));
        self.send_signal(frame);
    }

    /// The `link_report` for the links open now, completed with what only the shell measures:
    /// `path(peer)` gives the selected path's type and, if it has one, an RTT finer than the
    /// core's whole-millisecond keepalive RTT (which is the fallback). Both shells send this
    /// when the core asks for a report or when a path type changes.
    pub fn link_report_with(
        &self,
        path: impl Fn(&PeerId) -> (Option<CandidateType>, Option<f64>),
    ) -> SignalMessage {
        let links = self
            .peers
            .iter()
            .filter(|(_, p)| p.is_open())
            .map(|(id, p)| {
                let (candidate_type, rtt_ms) = path(id);
                LinkInfo {
                    peer_id: id.clone(),
                    rtt_ms: rtt_ms.or(p.rtt_ms.map(|ms| ms as f64)),
                    candidate_type,
                }
            })
            .collect();
        frames::link_report(&self.me, links)
    }

    fn open_link(&mut self, peer: &PeerId, attempt: Attempt) -> Option<&mut OpenLink> {
        self.peers
            .get_mut(peer)?
            .open_mut()
            .filter(|o| o.attempt == attempt)
    }
}
