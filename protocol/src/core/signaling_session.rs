//! The signaling connection: connect, register, reconnect with backoff, registry frames.

use super::{frames, peer::Link, Action, MeshCore, Signaling, Time};
use crate::{
    ids::PeerId,
    signaling::{
        ErrorPayload, IceCandidatePayload, LeaveReason, PeerJoinedPayload, PeerLeftPayload,
        PeerListPayload, SdpPayload, SignalMessage, SignalType, REGISTRY_PEER_ID,
    },
};
use std::collections::BTreeSet;

impl MeshCore {
    pub(super) fn on_signaling_connected(&mut self, now: Time) {
        self.signaling = Signaling::Connected { since: now };
        let register = frames::register(
            &self.me,
            self.config.kind,
            self.config.fingerprint.clone(),
            self.config.registry_tier,
            self.trust.public_key(),
            self.config.memory,
            self.config.registry_tasks,
        );
        self.send_signal(register);
        if self.peers.values().any(|p| p.is_open()) {
            self.report_links(); // The registry forgot our links when we dropped.
        }
    }

    /// Never touches peer links: open DataChannels outlive the signaling socket.
    pub(super) fn on_signaling_disconnected(&mut self, now: Time) {
        match self.signaling {
            Signaling::WaitingToReconnect { .. } => return,
            Signaling::Connected { since }
                if now.saturating_since(since) >= self.config.stable_after =>
            {
                self.signaling_backoff.reset()
            }
            Signaling::Connected { .. } | Signaling::Connecting => {}
        }
        let at = now + self.signaling_backoff.next_delay(&mut self.rng);
        self.signaling = Signaling::WaitingToReconnect { at };
    }

    pub(super) fn signaling_timeout(&mut self, now: Time) {
        if let Signaling::WaitingToReconnect { at } = self.signaling {
            if at <= now {
                self.signaling = Signaling::Connecting;
                self.emit(Action::ConnectSignaling);
            }
        }
    }

    /// Dispatches one frame; frames with unreadable payloads are ignored.
    pub(super) fn on_signal(&mut self, frame: SignalMessage, now: Time) {
        let from = frame.peer_id.clone();
        let relayed_to_someone_else = frame.target_id.as_ref().is_some_and(|t| *t != self.me);
        if frame.kind.is_relayed() && (from == self.me || relayed_to_someone_else) {
            return;
        }
        match frame.kind {
            SignalType::PeerList => {
                if let Ok(list) = frame.payload_as::<PeerListPayload>() {
                    for peer in &list.peers {
                        self.trust.announce(peer, list.keys.get(peer).copied());
                    }
                    self.registry_memory = self.config.memory && list.memory == Some(true);
                    self.on_peer_list(list.peers, now);
                }
            }
            SignalType::PeerJoined => {
                if let Ok(joined) = frame.payload_as::<PeerJoinedPayload>() {
                    self.trust.announce(&joined.peer_id, joined.identity_key);
                    self.on_peer_available(&joined.peer_id, now);
                }
            }
            SignalType::PeerLeft => {
                if let Ok(left) = frame.payload_as::<PeerLeftPayload>() {
                    self.on_peer_left(&left.peer_id, left.reason);
                }
            }
            SignalType::Offer => {
                if let Ok(sdp) = frame.payload_as::<SdpPayload>() {
                    self.on_offer(&from, sdp, now);
                }
            }
            SignalType::Answer => {
                if let Ok(sdp) = frame.payload_as::<SdpPayload>() {
                    self.on_answer(&from, sdp, now);
                }
            }
            SignalType::IceCandidate => {
                if let Ok(candidate) = frame.payload_as::<IceCandidatePayload>() {
                    self.on_remote_candidate(&from, candidate, now);
                }
            }
            SignalType::MeshMessage => self.on_relayed_message(from, &frame, now),
            SignalType::MemorySync if from.as_str() == REGISTRY_PEER_ID => {
                if self.config.memory {
                    self.on_memory_frame(from, frame.payload);
                }
            }
            SignalType::MemorySync => {}
            SignalType::Error => {
                let action = match frame.payload_as::<ErrorPayload>() {
                    Ok(ErrorPayload {
                        refused: Some(SignalType::MeshMessage),
                        target_id: Some(peer),
                        message,
                        request_id,
                        ..
                    }) => Action::Undeliverable {
                        peer,
                        request_id,
                        reason: message,
                    },
                    Ok(e) => Action::SignalingError {
                        code: Some(e.code),
                        message: e.message,
                    },
                    Err(_) => Action::SignalingError {
                        code: None,
                        message: frame.payload.to_string(),
                    },
                };
                self.emit(action);
            }
            SignalType::Register
            | SignalType::Heartbeat
            | SignalType::LinkReport
            | SignalType::TaskReceived => {}
        }
    }

    /// `peer_list` is the complete set of registered peers: it also unlists the others.
    fn on_peer_list(&mut self, peers: Vec<PeerId>, now: Time) {
        let listed: BTreeSet<PeerId> = peers.into_iter().filter(|p| *p != self.me).collect();
        for (id, peer) in &mut self.peers {
            peer.registered = listed.contains(id);
        }
        for id in &listed {
            self.on_peer_available(id, now);
        }
    }

    /// A peer is registered: the offerer connects unless a link exists or is being made.
    fn on_peer_available(&mut self, peer: &PeerId, now: Time) {
        if *peer == self.me {
            return;
        }
        self.peer_entry(peer).registered = true;
        self.offer_if_due(peer, now);
    }

    fn on_peer_left(&mut self, peer: &PeerId, reason: LeaveReason) {
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        entry.registered = false;
        if reason == LeaveReason::Disconnected && entry.is_open() {
            return; // Its signaling dropped, not necessarily its DataChannel.
        }
        entry.clear_candidates();
        entry.rtt_ms = None;
        self.replace_link(peer, Link::Idle);
    }
}
