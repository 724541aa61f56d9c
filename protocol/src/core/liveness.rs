//! Open links: channel open/close, transport state, keepalives and silence.

use super::{
    event::ConnectionState,
    keepalive::keepalive_ping,
    peer::{Attempt, Link, OpenLink},
    Action, MeshCore, Time,
};
use crate::ids::PeerId;

impl MeshCore {
    pub(super) fn on_channel_opened(&mut self, peer: &PeerId, attempt: Attempt, now: Time) {
        let next_ping = now + self.config.keepalive_interval;
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(h) = entry.handshake_mut(attempt) else {
            return; // Stale attempt, or already open.
        };
        let (verified, pin) = (h.verified, h.pin.take());
        if verified {
            entry.identity_refused = false;
        }
        entry.link = Link::Open(OpenLink {
            attempt,
            last_seen: now,
            next_ping,
            grace_until: None,
            ping_sent: None,
            path: None,
            ice_rtt_ms: None,
            next_probe: now,
            probes: 0,
            verified,
        });
        entry.backoff.reset();
        entry.clear_candidates();
        if let Some(key) = pin {
            self.pin(peer, key);
        }
        self.emit(Action::PeerConnected {
            peer: peer.clone(),
            verified,
        });
        self.report_links();
        self.probe_if_due(peer, now);
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

    /// The shell paused or resumed reading: on resume every open link gets a full
    /// `link_timeout` again (what it sent meanwhile is only now being read).
    pub(super) fn on_reads_paused(&mut self, paused: bool, now: Time) {
        self.reads_paused = paused;
        if !paused {
            for open in self.peers.values_mut().filter_map(|p| p.open_mut()) {
                open.last_seen = open.last_seen.max(now);
            }
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
        let silent = !self.reads_paused && open.last_seen + link_timeout <= now;
        if silent || open.grace_until.is_some_and(|at| at <= now) {
            self.drop_link(peer, now);
            return;
        }
        self.probe_if_due(peer, now);
        let Some(open) = self.peers.get_mut(peer).and_then(|p| p.open_mut()) else {
            return;
        };
        if open.next_ping > now {
            return;
        }
        let ping = keepalive_ping(seq);
        open.ping_sent = Some((ping.request_id.clone(), now));
        open.next_ping = now + interval;
        let attempt = open.attempt;
        self.next_keepalive += 1;
        self.emit(Action::SendKeepalive {
            peer: peer.clone(),
            attempt,
            message: ping,
        });
    }

    pub(super) fn open_link(&mut self, peer: &PeerId, attempt: Attempt) -> Option<&mut OpenLink> {
        self.peers
            .get_mut(peer)?
            .open_mut()
            .filter(|o| o.attempt == attempt)
    }
}
