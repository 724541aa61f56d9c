//! The data path: what arrives on a channel (stale attempts, chunks, parse errors,
//! liveness) and how an application message leaves (tier, framing, message ids, fallback).

use super::{
    event::{Incoming, Purpose},
    keepalive::is_keepalive,
    peer::{Attempt, Link},
    route::{Route, RouteError, Tier},
    Action, MeshCore, Time,
};
use crate::{
    framing::{self, Frame},
    ids::PeerId,
    mesh_message::MeshMessage,
    signaling::{SignalMessage, SignalType},
};

/// How the core wants one application message sent.
#[derive(Debug, Clone, PartialEq)]
pub enum SendPlan {
    /// Write these frames on the channel of `attempt`, in order; if the channel refuses,
    /// hand the message back with [`MeshCore::channel_refused`].
    Channel {
        /// The connection whose channel takes it.
        attempt: Attempt,
        /// The message's frames (a fresh message id per large message).
        frames: Vec<Frame>,
        /// The tier the message takes if the write succeeds.
        tier: Tier,
    },
    /// The core already emitted the `mesh_message` frame for the registry.
    Registry,
}

impl MeshCore {
    /// Data from `peer` on the connection of `attempt`.
    ///
    /// Policy: data of an attempt that is not the peer's current connection is dropped
    /// silently (its link was replaced); any data of the current one proves the link alive;
    /// a bad chunk or a message that is not a MeshMessage is dropped and the application is
    /// told (`Problem`), and the link carries on.
    pub(super) fn on_data(&mut self, peer: PeerId, attempt: Attempt, data: Incoming, now: Time) {
        let current = self.peers.get(&peer).and_then(|p| p.link.attempt());
        if current != Some(attempt) {
            return;
        }
        self.touch(&peer, now);
        let text = match data {
            Incoming::Text(text) => text,
            Incoming::Binary(bytes) => match self.inboxes.push(&peer, attempt, &bytes) {
                Ok(Some(text)) => text,
                Ok(None) => return,
                Err(e) => {
                    let message = format!("a chunk from {peer} was dropped: {e}");
                    self.problem(Some(peer), message);
                    return;
                }
            },
        };
        match MeshMessage::parse(&text) {
            Ok(message) => self.on_message(peer, message, now),
            Err(e) => {
                let message = format!("a message from {peer} is not a MeshMessage ({e}); dropped");
                self.problem(Some(peer), message);
            }
        }
    }

    /// Decides how `message` goes to `peer`: the open channel first (the frames to write),
    /// else the registry tier (the frame is emitted here), else why it cannot go.
    pub fn plan_send(
        &mut self,
        peer: &PeerId,
        message: &MeshMessage,
    ) -> Result<SendPlan, RouteError> {
        match self.route(peer)? {
            Route::Channel => {
                let attempt = match self.peers.get(peer).map(|p| &p.link) {
                    Some(Link::Open(open)) => open.attempt,
                    _ => return Err(RouteError::Unreachable(peer.clone())),
                };
                let text = message.to_json();
                if text.len() > framing::MAX_MESSAGE {
                    let (size, limit) = (text.len(), framing::MAX_MESSAGE);
                    return Err(RouteError::MessageTooLarge { size, limit });
                }
                Ok(SendPlan::Channel {
                    attempt,
                    frames: self.frames(text),
                    tier: Tier::of(Route::Channel, self.path_type(peer)),
                })
            }
            Route::Registry => {
                self.send_via_registry(peer, message)?;
                Ok(SendPlan::Registry)
            }
        }
    }

    /// The channel refused a message the core planned for it (closing, or its link task
    /// is gone): it goes through the registry instead, whatever the channel does.
    pub fn channel_refused(
        &mut self,
        peer: &PeerId,
        message: &MeshMessage,
    ) -> Result<Tier, RouteError> {
        self.send_via_registry(peer, message)
            .map(|()| Tier::Registry)
    }

    /// Frames for one message's JSON text, with a fresh message id.
    pub(super) fn frames(&mut self, text: String) -> Vec<Frame> {
        let id = self.next_message_id;
        self.next_message_id = self.next_message_id.wrapping_add(1);
        framing::encode(text, id)
    }

    /// A write the channel had accepted failed later: the registry tier takes the message
    /// when it can, else the application is told it was not sent. Keepalives are not
    /// re-sent anywhere (liveness handles a dead channel).
    pub(super) fn on_write_failed(
        &mut self,
        peer: PeerId,
        frames: &[Frame],
        purpose: Purpose,
        error: &str,
    ) {
        let Some(message) = framing::text_of(frames).and_then(|t| MeshMessage::parse(&t).ok())
        else {
            return;
        };
        if purpose == Purpose::Keepalive || is_keepalive(&message) {
            return;
        }
        if purpose == Purpose::Broadcast {
            let id = &message.request_id;
            let text = format!("broadcast {id} did not reach {peer}: {error}");
            self.problem(Some(peer), text);
            return;
        }
        if let Err(e) = self.send_via_registry(&peer, &message) {
            let id = &message.request_id;
            let text = format!("message {id} to {peer} was not sent: {error}; {e}");
            self.problem(Some(peer), text);
        }
    }

    /// The shell could not send a frame: a `mesh_message` is an application message the
    /// sender must hear about; SDP and candidates belong to an attempt that the handshake
    /// timeout retries.
    pub(super) fn on_signal_dropped(&mut self, frame: SignalMessage) {
        if frame.kind != SignalType::MeshMessage {
            return;
        }
        let peer = frame.target_id.clone().unwrap_or_default();
        let id = frame.payload["request_id"].as_str().unwrap_or_default();
        let text = format!(
            "message {id} to {peer} not sent: the signaling connection is down or congested"
        );
        self.problem(Some(peer), text);
    }

    pub(super) fn problem(&mut self, peer: Option<PeerId>, message: String) {
        self.emit(Action::Problem { peer, message });
    }
}

impl MeshCore {
    /// The open links a broadcast goes to, and its frames (encoded once).
    pub(super) fn broadcast_plan(
        &mut self,
        message: &MeshMessage,
    ) -> (Vec<(PeerId, Attempt)>, Vec<Frame>) {
        let links = self
            .peers
            .iter()
            .filter_map(|(id, p)| match &p.link {
                Link::Open(open) => Some((id.clone(), open.attempt)),
                _ => None,
            })
            .collect();
        (links, self.frames(message.to_json()))
    }
}
