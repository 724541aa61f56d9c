//! What each open link's selected path is (direct or relayed, ICE's RTT), when the shell
//! reads it, and the `link_report` that tells the registry.

use super::{frames, peer::Attempt, Action, MeshCore, Time};
use crate::{
    ids::PeerId,
    signaling::{CandidateType, LinkInfo, SignalMessage},
};
use std::time::Duration;

/// Delays between path reads after a channel opens: at once, then while ICE may still
/// switch pairs, then [`PROBE_EVERY`] for as long as the link lives.
const PROBE_DELAYS_MS: [u64; 4] = [0, 100, 500, 2000];
/// The steady interval between path reads.
const PROBE_EVERY: Duration = Duration::from_secs(10);

impl MeshCore {
    /// Asks the shell to read `peer`'s selected path when its schedule says so.
    pub(super) fn probe_if_due(&mut self, peer: &PeerId, now: Time) {
        let Some(open) = self.peers.get_mut(peer).and_then(|p| p.open_mut()) else {
            return;
        };
        if open.next_probe > now {
            return;
        }
        open.probes += 1;
        let delay = PROBE_DELAYS_MS
            .get(open.probes)
            .map_or(PROBE_EVERY, |ms| Duration::from_millis(*ms));
        open.next_probe = now + delay;
        let attempt = open.attempt;
        self.emit(Action::ProbePath {
            peer: peer.clone(),
            attempt,
        });
    }

    /// The shell read the selected path; a new path type is reported to the registry.
    pub(super) fn on_path_observed(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        candidate_type: Option<CandidateType>,
        rtt_ms: Option<f64>,
    ) {
        let Some(open) = self.open_link(peer, attempt) else {
            return;
        };
        if rtt_ms.is_some() {
            open.ice_rtt_ms = rtt_ms;
        }
        if candidate_type.is_none() || open.path == candidate_type {
            return;
        }
        open.path = candidate_type;
        self.report_links();
    }

    /// The type of the selected path of `peer`'s open link: what the shell read, or relay
    /// when this peer allows nothing else; `None` while unknown.
    pub fn path_type(&self, peer: &PeerId) -> Option<CandidateType> {
        let read = self.peers.get(peer).and_then(|p| match &p.link {
            super::peer::Link::Open(open) => open.path,
            _ => None,
        });
        read.or(self.config.relay_only.then_some(CandidateType::Relay))
    }

    /// Tells the registry which links are open now, with each one's path and RTT.
    pub(super) fn report_links(&mut self) {
        let frame = self.link_report();
        self.send_signal(frame);
    }

    /// The `link_report` for the links open now: each one's path type and ICE's RTT (the
    /// keepalive's whole-millisecond RTT where ICE gave none).
    pub fn link_report(&self) -> SignalMessage {
        let links = self
            .peers
            .iter()
            .filter_map(|(id, p)| match &p.link {
                super::peer::Link::Open(open) => Some(LinkInfo {
                    peer_id: id.clone(),
                    rtt_ms: open.ice_rtt_ms.or(p.rtt_ms.map(|ms| ms as f64)),
                    candidate_type: self.path_type(id),
                    verified: open.verified,
                }),
                _ => None,
            })
            .collect();
        frames::link_report(&self.me, links)
    }
}
