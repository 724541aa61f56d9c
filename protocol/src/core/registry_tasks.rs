//! Queued tasks the registry delivers over signaling (docs/adr/0018): a `task_request` from
//! the registry's reserved peer id goes to the application like any registry-tier message,
//! and the registry hears at once whether an application was there to take it — so a task
//! no agent received goes back to the queue instead of waiting for a timeout. The
//! application answers the reserved id like any peer; that answer goes to the registry over
//! signaling (never sealed: the registry is its reader).

use super::{route::Route, Action, MeshCore, RouteError, Time};
use crate::{
    ids::PeerId,
    mesh_message::{MeshMessage, MeshMessageType},
    signaling::{SignalMessage, SignalType, TaskReceivedPayload, REGISTRY_PEER_ID},
};

impl MeshCore {
    /// Whether an application is there to take messages (the native shell: an IPC client is
    /// connected). A task the registry delivers while none is goes back to its queue.
    pub fn set_application_present(&mut self, present: bool) {
        self.application_present = present;
    }

    /// How a message to the registry's reserved peer id travels: over our signaling socket,
    /// when this peer takes registry tasks and the socket is up.
    pub(super) fn registry_route(&self) -> Result<Route, RouteError> {
        let up = self.config.registry_tier && self.is_signaling_connected();
        if self.config.registry_tasks && up {
            Ok(Route::Registry)
        } else {
            Err(RouteError::Unreachable(PeerId::new(REGISTRY_PEER_ID)))
        }
    }

    /// Sends `message` (an application's answer to a registry task) to the registry.
    pub(super) fn send_to_registry(&mut self, message: &MeshMessage) -> Result<(), RouteError> {
        self.registry_route()?;
        let registry = PeerId::new(REGISTRY_PEER_ID);
        let frame = SignalMessage::new(
            SignalType::MeshMessage,
            self.me.clone(),
            Some(registry),
            message,
        );
        self.emit_registry_message(frame)
    }

    /// A `mesh_message` the registry itself sent. A `task_request` is delivered when an
    /// application is there and acknowledged either way; anything else is delivered.
    pub(super) fn on_registry_message(&mut self, frame: &SignalMessage, now: Time) {
        let message = match frame.payload_as::<MeshMessage>() {
            Ok(message) => message,
            Err(e) => {
                return self.emit(Action::Problem {
                    peer: None,
                    message: format!("a message from the registry was dropped: {e}"),
                })
            }
        };
        let registry = PeerId::new(REGISTRY_PEER_ID);
        if message.kind != MeshMessageType::TaskRequest {
            return self.deliver(registry, message, Route::Registry, false, now);
        }
        if !self.config.registry_tasks {
            return; // We never offered to take tasks; the registry's timeout requeues it.
        }
        let request_id = message.request_id.clone();
        let received = if self.application_present {
            self.deliver(registry, message, Route::Registry, false, now);
            TaskReceivedPayload {
                request_id,
                delivered: true,
                reason: None,
            }
        } else {
            TaskReceivedPayload {
                request_id,
                delivered: false,
                reason: Some(format!("no agent is connected to {}", self.me)),
            }
        };
        let ack = SignalMessage::new(SignalType::TaskReceived, self.me.clone(), None, &received);
        self.send_signal(ack);
    }
}
