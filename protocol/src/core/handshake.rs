//! Offer/answer, glare, ICE candidate buffering, handshake failure and re-offer.

use super::{
    event::SdpType,
    frames,
    peer::{Attempt, Handshake, Link, Remote, Role},
    trust::{Expected, Verdict},
    Action, MeshCore, Time,
};
use crate::{
    identity::LinkRole,
    ids::PeerId,
    signaling::{IceCandidatePayload, SdpPayload, SignalType},
};

impl MeshCore {
    /// Starts a fresh connection to `peer` as offerer, closing whatever it replaces.
    pub(super) fn start_offer(&mut self, peer: &PeerId, now: Time) {
        let attempt = self.new_attempt();
        let deadline = now + self.config.handshake_timeout;
        let handshake = Handshake {
            attempt,
            role: Role::Offerer,
            remote: Remote::Pending,
            deadline,
            offer_nonce: None,
            verified: false,
            pin: None,
            held: Vec::new(),
        };
        self.replace_link(peer, Link::Handshake(handshake));
        // Whatever was buffered belongs to an older attempt: none of ours can exist yet.
        self.peer_entry(peer).clear_candidates();
        let ice_servers = self.usable_ice_servers(now);
        let meshwork_peer = self.trust.expected(peer) != Expected::Nothing;
        self.emit(Action::CreateOffer {
            peer: peer.clone(),
            attempt,
            ice_restart: false,
            ice_servers,
            meshwork_peer,
        });
    }

    /// Offers to `peer` if this side is the offerer, no link exists and signaling is up.
    pub(super) fn offer_if_due(&mut self, peer: &PeerId, now: Time) {
        let unlinked = self.peers.get(peer).is_none_or(|p| p.is_unlinked());
        if unlinked && self.role_towards(peer) == Role::Offerer && self.is_signaling_connected() {
            self.start_offer(peer, now);
        }
    }

    pub(super) fn on_offer(&mut self, from: &PeerId, payload: SdpPayload, now: Time) {
        let entry = self.peer_entry(from);
        // An offer proves the sender is registered, even if its `peer_joined` is still on its way.
        entry.registered = true;
        if let Link::Handshake(h) = &entry.link {
            let ours_outstanding = h.role == Role::Offerer && h.remote == Remote::Pending;
            if ours_outstanding && self.me < *from {
                return; // Glare: our offer stands, the larger id yields.
            }
        }
        let proof = payload.identity.as_ref();
        let (verified, offer_nonce, pin) =
            match self.check_sdp(from, LinkRole::Offer, &payload.sdp, proof, None) {
                // The link that exists (if any) stays: a forged offer must not cut it.
                Verdict::Refused(reason) => return self.refuse_identity(from, reason),
                Verdict::Unverified => (false, None, None),
                Verdict::Verified { nonce, key, pin } => (true, Some(nonce), pin.then_some(key)),
            };
        let attempt = self.new_attempt();
        let deadline = now + self.config.handshake_timeout;
        let handshake = Handshake {
            attempt,
            role: Role::Answerer,
            remote: Remote::Received,
            deadline,
            offer_nonce,
            verified,
            pin,
            held: Vec::new(),
        };
        self.replace_link(from, Link::Handshake(handshake));
        // Buffered candidates were sent for this offer; they wait for RemoteDescriptionApplied.
        self.peer_entry(from).candidates_expire = None;
        let ice_servers = self.usable_ice_servers(now);
        self.emit(Action::AcceptOffer {
            peer: from.clone(),
            attempt,
            sdp: payload.sdp,
            ice_servers,
        });
    }

    pub(super) fn on_answer(&mut self, from: &PeerId, payload: SdpPayload, now: Time) {
        let Some(Link::Handshake(h)) = self.peers.get(from).map(|p| &p.link) else {
            return;
        };
        if h.role != Role::Offerer || h.remote != Remote::Pending {
            return; // Not an answer to an offer of ours that is still waiting for one.
        }
        let ours = h.offer_nonce.clone();
        let proof = payload.identity.as_ref();
        let verdict = self.check_sdp(from, LinkRole::Answer, &payload.sdp, proof, ours.as_deref());
        let (verified, pin) = match verdict {
            Verdict::Refused(reason) => {
                self.refuse_identity(from, reason);
                return self.drop_link(from, now);
            }
            Verdict::Unverified => (false, None),
            Verdict::Verified { key, pin, .. } => (true, pin.then_some(key)),
        };
        let Some(Link::Handshake(h)) = self.peers.get_mut(from).map(|p| &mut p.link) else {
            return;
        };
        h.remote = Remote::Received;
        h.verified = verified;
        h.pin = pin;
        let attempt = h.attempt;
        self.emit(Action::ApplyAnswer {
            peer: from.clone(),
            attempt,
            sdp: payload.sdp,
        });
    }

    pub(super) fn on_remote_candidate(
        &mut self,
        from: &PeerId,
        candidate: IceCandidatePayload,
        now: Time,
    ) {
        let max = self.config.max_buffered_candidates;
        let orphan_expiry = now + self.config.handshake_timeout;
        let peer = self.peer_entry(from);
        let ready = match &peer.link {
            Link::Handshake(h) if h.remote == Remote::Applied => Some(h.attempt),
            Link::Open(o) => Some(o.attempt),
            Link::Handshake(_) => None,
            Link::Idle | Link::Retrying { .. } => {
                // The offer may still be on its way; give it one handshake timeout.
                peer.candidates_expire.get_or_insert(orphan_expiry);
                None
            }
        };
        match ready {
            Some(attempt) => self.emit(Action::AddIceCandidate {
                peer: from.clone(),
                attempt,
                candidate,
            }),
            None if peer.candidates.len() < max => peer.candidates.push(candidate),
            None => {} // Buffer full: later candidates are the least useful ones.
        }
    }

    pub(super) fn on_local_description(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        sdp_type: SdpType,
        sdp: String,
    ) {
        let Some(h) = self
            .peers
            .get_mut(peer)
            .and_then(|p| p.handshake_mut(attempt))
        else {
            return;
        };
        let (kind, role, reply_to) = match (sdp_type, h.role) {
            (SdpType::Offer, Role::Offerer) => (SignalType::Offer, LinkRole::Offer, None),
            (SdpType::Answer, Role::Answerer) => {
                (SignalType::Answer, LinkRole::Answer, h.offer_nonce.clone())
            }
            _ => return,
        };
        let proof = self.prove_sdp(peer, role, &sdp, reply_to);
        if role == LinkRole::Offer {
            if let Some(h) = self
                .peers
                .get_mut(peer)
                .and_then(|p| p.handshake_mut(attempt))
            {
                h.offer_nonce = proof.as_ref().map(|p| p.nonce.clone());
            }
        }
        let frame = frames::sdp(kind, &self.me, peer, sdp, proof);
        self.send_signal(frame);
    }

    pub(super) fn on_local_candidate(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        candidate: &IceCandidatePayload,
    ) {
        let max = self.config.max_buffered_candidates;
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        if let Link::Handshake(h) = &mut entry.link {
            let before_answer = h.role == Role::Offerer && h.remote != Remote::Applied;
            // Past the bound a candidate goes at once, as before the hold: never dropped.
            if h.attempt == attempt && before_answer && h.held.len() < max {
                h.held.push(candidate.clone());
                return;
            }
        }
        if entry.link.attempt() == Some(attempt) {
            let frame = frames::ice_candidate(&self.me, peer, candidate);
            self.send_signal(frame);
        }
    }

    pub(super) fn on_remote_description_applied(&mut self, peer: &PeerId, attempt: Attempt) {
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(h) = entry.handshake_mut(attempt) else {
            return;
        };
        if h.remote == Remote::Applied {
            return;
        }
        h.remote = Remote::Applied;
        let held = std::mem::take(&mut h.held);
        let buffered = std::mem::take(&mut entry.candidates);
        entry.candidates_expire = None;
        for candidate in buffered {
            self.emit(Action::AddIceCandidate {
                peer: peer.clone(),
                attempt,
                candidate,
            });
        }
        // Our own candidates now reach a remote that can answer their checks.
        for candidate in held {
            let frame = frames::ice_candidate(&self.me, peer, &candidate);
            self.send_signal(frame);
        }
    }

    /// Tells the application a handshake with `peer` failed its identity check; the pair
    /// gets no registry-tier fallback until a verified link opens.
    fn refuse_identity(&mut self, peer: &PeerId, reason: String) {
        self.peer_entry(peer).identity_refused = true;
        self.emit(Action::Problem {
            peer: Some(peer.clone()),
            message: reason,
        });
    }

    /// Closes `peer`'s connection after a failure and, if this side offers and the peer is
    /// still registered, schedules a re-offer after the peer's backoff.
    pub(super) fn drop_link(&mut self, peer: &PeerId, now: Time) {
        self.replace_link(peer, Link::Idle);
        let retry = self.role_towards(peer) == Role::Offerer && self.is_signaling_connected();
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        entry.clear_candidates();
        entry.rtt_ms = None;
        if retry && entry.registered {
            let at = now + entry.backoff.next_delay(&mut self.rng);
            entry.link = Link::Retrying { at };
        }
    }

    /// A re-offer backoff elapsed.
    pub(super) fn retry_due(&mut self, peer: &PeerId, now: Time) {
        let registered = self.peers.get(peer).is_some_and(|p| p.registered);
        if registered && self.is_signaling_connected() {
            self.start_offer(peer, now);
        } else {
            // The `peer_list` after the next reconnect, or a `peer_joined`, offers again.
            self.peer_entry(peer).link = Link::Idle;
        }
    }

    pub(super) fn on_connect_requested(&mut self, peer: &PeerId, now: Time) {
        if *peer != self.me {
            // The answerer does nothing: the offerer offers as soon as it sees us listed.
            self.offer_if_due(peer, now);
        }
    }
}
