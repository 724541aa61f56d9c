//! Messages from peers: keepalives consumed, responses matched to requests, the rest delivered.

use super::{
    keepalive::{is_keepalive, keepalive_pong},
    peer::Link,
    time::millis,
    Action, MeshCore, Route, Time,
};
use crate::{
    ids::PeerId,
    mesh_message::{MeshMessage, MeshMessageType},
};

/// What the core remembers about a request the application sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingRequest {
    /// Where it went; only a response from there resolves it.
    pub peer: PeerId,
    pub sent_at: Time,
}

impl MeshCore {
    pub(super) fn on_message(&mut self, peer: PeerId, message: MeshMessage, now: Time) {
        self.touch(&peer, now);
        if is_keepalive(&message) {
            self.on_keepalive(peer, &message, now);
            return;
        }
        let verified = self
            .peers
            .get(&peer)
            .and_then(|p| match &p.link {
                Link::Open(open) => Some(open.verified),
                _ => None,
            })
            .unwrap_or(false);
        self.deliver(peer, message, Route::Channel, verified, now);
    }

    /// Hands an application message to the shell, resolving the request it answers.
    pub(super) fn deliver(
        &mut self,
        peer: PeerId,
        message: MeshMessage,
        via: Route,
        verified: bool,
        now: Time,
    ) {
        if super::memory_link::is_memory_frame(&message) {
            return self.on_memory_frame(peer, message.payload.to_value());
        }
        let ours = message.kind.is_response()
            && self
                .requests
                .get(&message.request_id)
                .is_some_and(|p| p.peer == peer);
        let rtt_ms = if ours {
            self.requests
                .resolve(&message.request_id)
                .map(|p| millis(now.saturating_since(p.sent_at)))
        } else {
            None
        };
        self.emit(Action::Deliver {
            peer,
            message,
            rtt_ms,
            via,
            verified,
        });
    }

    fn on_keepalive(&mut self, peer: PeerId, message: &MeshMessage, now: Time) {
        match message.kind {
            MeshMessageType::Ping => {
                let attempt = self.peers.get(&peer).and_then(|p| p.link.attempt());
                if let Some(attempt) = attempt {
                    self.emit(Action::SendKeepalive {
                        peer,
                        attempt,
                        message: keepalive_pong(message),
                    });
                }
            }
            _ => {
                let Some(entry) = self.peers.get_mut(&peer) else {
                    return;
                };
                let Some(open) = entry.open_mut() else { return };
                if let Some((_, sent_at)) =
                    open.ping_sent.take_if(|(id, _)| *id == message.request_id)
                {
                    entry.rtt_ms = Some(millis(now.saturating_since(sent_at)));
                }
            }
        }
    }
}
