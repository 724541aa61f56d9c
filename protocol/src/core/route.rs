//! Which tier carries an application message: the pair's DataChannel when it is open, else the
//! registry's signaling socket (`mesh_message` frames, docs/adr/0010).

use super::{keepalive::is_keepalive, Action, MeshCore, Time};
use crate::{
    identity::Sealed,
    ids::PeerId,
    mesh_message::MeshMessage,
    signaling::{CandidateType, SignalMessage, SignalType, REGISTRY_PEER_ID},
};

/// How a message to a peer travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// On the pair's open DataChannel (direct or TURN-relayed: the shell knows which).
    Channel,
    /// Through the registry, over both peers' signaling sockets.
    Registry,
}

/// Why a message cannot be sent to a peer now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The core has never heard of the peer and the registry does not list it.
    #[error("unknown peer {0}")]
    UnknownPeer(PeerId),
    /// No open channel, and the registry cannot carry it (signaling down or peer not there).
    #[error("peer {0} has no open channel and is not reachable through the registry")]
    Unreachable(PeerId),
    /// Larger than any peer reassembles (`framing::MAX_MESSAGE`): no tier carries it.
    #[error("message of {size} bytes is larger than the {limit}-byte limit of a message")]
    MessageTooLarge {
        /// The message's JSON size.
        size: usize,
        /// `framing::MAX_MESSAGE`.
        limit: usize,
    },
    /// The peer's last handshake failed the identity check, or its key is in conflict: no
    /// tier carries messages to it (the registry might be the attacker).
    #[error("peer {0} failed the identity check; not sending to it")]
    IdentityRefused(PeerId),
    /// Too large for one signaling frame; only a DataChannel carries it.
    #[error("message of {size} bytes is larger than the registry tier's {limit}-byte limit")]
    TooLarge {
        /// The message's JSON size.
        size: usize,
        /// [`Config::registry_message_limit`](super::Config::registry_message_limit).
        limit: usize,
    },
}

impl MeshCore {
    /// How a message to `peer` would travel now: the open channel first, else the registry
    /// when the peer is registered and our signaling socket is up.
    pub fn route(&self, peer: &PeerId) -> Result<Route, RouteError> {
        if peer.as_str() == REGISTRY_PEER_ID {
            return self.registry_route();
        }
        match self.peers.get(peer) {
            Some(p) if p.is_open() => Ok(Route::Channel),
            Some(p) if p.identity_refused => Err(RouteError::IdentityRefused(peer.clone())),
            Some(p) if self.registry_carries(p.registered) => Ok(Route::Registry),
            Some(_) => Err(RouteError::Unreachable(peer.clone())),
            None => Err(RouteError::UnknownPeer(peer.clone())),
        }
    }

    /// Sends `message` to `peer` through the registry (a `mesh_message` frame). The shell
    /// calls this when [`route`](Self::route) says [`Route::Registry`], or when its channel
    /// refused the message (closing): the registry tier works whatever the channel does.
    pub fn send_via_registry(
        &mut self,
        peer: &PeerId,
        message: &MeshMessage,
    ) -> Result<(), RouteError> {
        if peer.as_str() == REGISTRY_PEER_ID {
            return self.send_to_registry(message);
        }
        match self.peers.get(peer) {
            None => return Err(RouteError::UnknownPeer(peer.clone())),
            Some(p) if p.identity_refused => return Err(RouteError::IdentityRefused(peer.clone())),
            Some(p) if !self.registry_carries(p.registered) => {
                return Err(RouteError::Unreachable(peer.clone()))
            }
            Some(_) => {}
        }
        let sealed = self
            .seal_for(peer, message.to_json().as_bytes())
            .map_err(|_| RouteError::IdentityRefused(peer.clone()))?;
        let frame = match sealed {
            // Only the request id travels in the clear, so the registry can say which message
            // it could not deliver.
            Some(sealed) => SignalMessage::new(
                SignalType::MeshMessage,
                self.me.clone(),
                Some(peer.clone()),
                &SealedMessage {
                    request_id: message.request_id.clone(),
                    sealed,
                },
            ),
            None => SignalMessage::new(
                SignalType::MeshMessage,
                self.me.clone(),
                Some(peer.clone()),
                message,
            ),
        };
        self.emit_registry_message(frame)
    }

    /// Emits a `mesh_message` frame for the registry to carry, refused when its payload is
    /// over the registry tier's limit.
    pub(super) fn emit_registry_message(&mut self, frame: SignalMessage) -> Result<(), RouteError> {
        let size = frame.payload.to_string().len();
        let limit = self.config.registry_message_limit;
        if size > limit {
            return Err(RouteError::TooLarge { size, limit });
        }
        self.emit(Action::SendSignal(frame));
        Ok(())
    }

    fn registry_carries(&self, registered: bool) -> bool {
        self.config.registry_tier && registered && self.is_signaling_connected()
    }

    /// A `mesh_message` frame from `from`: delivered like a channel message, minus liveness
    /// (the registry carrying it says nothing about the pair's channel).
    pub(super) fn on_relayed_message(&mut self, from: PeerId, frame: &SignalMessage, now: Time) {
        if !self.config.registry_tier {
            return; // We told the registry not to; a frame that comes anyway is dropped.
        }
        if from.as_str() == REGISTRY_PEER_ID {
            // Only the registry itself sends as its reserved id (no credential carries it).
            return self.on_registry_message(frame, now);
        }
        let (message, verified) = match frame.payload_as::<SealedMessage>() {
            Ok(sealed) => {
                let opened = self.open_from(&from, &sealed.sealed).and_then(|plain| {
                    serde_json::from_slice::<MeshMessage>(&plain)
                        .map_err(|e| format!("a sealed message from {from} is not a message: {e}"))
                });
                match opened {
                    Ok(message) => (message, true),
                    Err(reason) => {
                        return self.emit(Action::Problem {
                            peer: Some(from),
                            message: reason,
                        })
                    }
                }
            }
            Err(_) => match frame.payload_as::<MeshMessage>() {
                Ok(message) => (message, false),
                Err(_) => return,
            },
        };
        if is_keepalive(&message) {
            return; // Keepalives belong to a channel.
        }
        self.deliver(from, message, Route::Registry, verified, now);
    }
}

/// Which tier carried a message, as applications see it (IPC `via`, the tab's events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The pair's DataChannel on a direct path (host, server- or peer-reflexive).
    Direct,
    /// The pair's DataChannel through a TURN relay.
    Relay,
    /// The registry's signaling sockets (`mesh_message`).
    Registry,
}

impl Tier {
    /// The tier of `route`, given the candidate type of the channel's selected path (`None`
    /// while the shell has not read it yet: counted as direct).
    pub fn of(route: Route, path: Option<CandidateType>) -> Tier {
        match (route, path) {
            (Route::Registry, _) => Tier::Registry,
            (Route::Channel, Some(CandidateType::Relay)) => Tier::Relay,
            (Route::Channel, _) => Tier::Direct,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Direct => "direct",
            Tier::Relay => "relay",
            Tier::Registry => "registry",
        }
    }
}

/// A sealed `mesh_message` payload **(new, ADR 0015)**: the registry sees the request id only.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SealedMessage {
    /// The plaintext message's `request_id`, for the registry's undeliverable errors.
    #[serde(default)]
    pub request_id: String,
    /// The message, sealed to the recipient.
    pub sealed: Sealed,
}
