//! What to do with one text frame from a peer. Every refusal is an `error` frame back to the
//! sender; the socket stays open.

use super::hub::{Registration, RelayError, Route};
use crate::{clock::unix_now, events::Change, state::AppState, store::Binding};
use meshwork_protocol::{
    identity::PublicKey,
    memory::SyncMessage,
    mesh_message::MeshMessage,
    signaling::{
        ErrorPayload, LinkReportPayload, RegisterPayload, SignalErrorCode, TaskReceivedPayload,
        REGISTRY_PEER_ID,
    },
    PeerId, SignalMessage, SignalType,
};
use tokio::sync::mpsc;

/// The connection a frame arrived on.
pub struct Origin<'a> {
    /// The token's `sub`.
    pub peer_id: &'a PeerId,
    /// This connection's id in the hub.
    pub conn_id: u64,
    /// This connection's outbound queue (for replies).
    pub tx: &'a mpsc::Sender<String>,
}

/// Builds an `error` frame.
pub fn error_frame(code: SignalErrorCode, message: impl Into<String>) -> String {
    error_payload_frame(ErrorPayload {
        code,
        message: message.into(),
        refused: None,
        target_id: None,
        request_id: None,
    })
}

/// An `error` frame refusing `text` whole (too large, over the frame budget). When the frame
/// is a `mesh_message` it names it, its target and its `request_id`, so the sender's
/// application hears that this message was lost. Only frames that mention `mesh_message` are
/// parsed, so a flood of refused frames is not a flood of parses.
pub fn refusal(code: SignalErrorCode, message: String, text: &str) -> String {
    let mesh_message = text
        .contains("\"mesh_message\"")
        .then(|| SignalMessage::parse(text).ok())
        .flatten()
        .filter(|m| m.kind == SignalType::MeshMessage);
    error_payload_frame(match mesh_message {
        Some(m) => ErrorPayload {
            code,
            message,
            refused: Some(m.kind),
            request_id: request_id_of(&m),
            target_id: m.target_id,
        },
        None => ErrorPayload {
            code,
            message,
            refused: None,
            target_id: None,
            request_id: None,
        },
    })
}

fn request_id_of(msg: &SignalMessage) -> Option<String> {
    (msg.kind == SignalType::MeshMessage)
        .then(|| msg.payload.get("request_id")?.as_str().map(str::to_owned))
        .flatten()
}

fn error_payload_frame(payload: ErrorPayload) -> String {
    SignalMessage::from_registry(SignalType::Error, &payload).to_json()
}

fn refuse(state: &AppState, origin: &Origin<'_>, code: SignalErrorCode, message: String) {
    state.metrics.signal_error();
    tracing::debug!(peer_id = %origin.peer_id, ?code, %message, "signaling frame refused");
    let _ = origin.tx.try_send(error_frame(code, message));
}

/// Refuses a frame meant for another peer, naming its type and target so the sender can tell
/// a lost `mesh_message` (which its application must hear about) from a lost candidate.
fn refuse_relay(
    state: &AppState,
    origin: &Origin<'_>,
    msg: &SignalMessage,
    code: SignalErrorCode,
    message: String,
) {
    state.metrics.signal_error();
    tracing::debug!(peer_id = %origin.peer_id, ?code, %message, "relayed frame refused");
    let _ = origin.tx.try_send(error_payload_frame(ErrorPayload {
        code,
        message,
        refused: Some(msg.kind),
        target_id: msg.target_id.clone(),
        request_id: request_id_of(msg),
    }));
}

/// Handles one text frame.
pub async fn handle_text(state: &AppState, origin: &Origin<'_>, text: &str) {
    let limit = state.config.max_frame_bytes;
    if text.len() > limit {
        let message = format!(
            "frame of {} bytes exceeds the {limit}-byte limit",
            text.len()
        );
        state.metrics.signal_error();
        let refusal = refusal(SignalErrorCode::FrameTooLarge, message, text);
        let _ = origin.tx.try_send(refusal);
        return;
    }
    let msg = match SignalMessage::parse(text) {
        Ok(msg) => msg,
        Err(e) => {
            return refuse(
                state,
                origin,
                SignalErrorCode::Malformed,
                format!("malformed frame: {e}"),
            )
        }
    };
    if &msg.peer_id != origin.peer_id {
        let message = format!(
            "peer_id {:?} does not match your token's subject {:?}",
            msg.peer_id.as_str(),
            origin.peer_id.as_str()
        );
        return refuse(state, origin, SignalErrorCode::SenderMismatch, message);
    }
    // The frames that wait on the store run boxed: their state would otherwise sit inline in
    // every connection's reader future, idle peers included (+3.6 KiB each).
    match msg.kind {
        SignalType::Register => Box::pin(register(state, origin, &msg)).await,
        SignalType::MemorySync => Box::pin(memory_sync(state, origin, &msg)).await,
        SignalType::Heartbeat => {}
        SignalType::MeshMessage if msg.target_id.as_ref().is_some_and(is_registry) => {
            Box::pin(task_answer(state, origin, &msg)).await
        }
        SignalType::TaskReceived => Box::pin(task_received(state, origin, &msg)).await,
        SignalType::Offer
        | SignalType::Answer
        | SignalType::IceCandidate
        | SignalType::MeshMessage => relay(state, origin, &msg, text).await,
        SignalType::LinkReport => link_report(state, origin, &msg),
        SignalType::PeerList
        | SignalType::PeerJoined
        | SignalType::PeerLeft
        | SignalType::Error => {
            let message = format!("only the registry sends {}", msg.kind.as_str());
            refuse(state, origin, SignalErrorCode::UnsupportedType, message)
        }
    }
}

async fn register(state: &AppState, origin: &Origin<'_>, msg: &SignalMessage) {
    // Upstream sidecars send `"payload": null`.
    let payload = if msg.payload.is_null() {
        Ok(RegisterPayload::default())
    } else {
        msg.payload_as::<RegisterPayload>()
    };
    let payload = match payload {
        Ok(p) => p,
        Err(e) => {
            let message = format!("invalid register payload: {e}");
            return refuse(state, origin, SignalErrorCode::Malformed, message);
        }
    };
    let kind = payload.kind.unwrap_or_default();
    let takes_mesh_messages = payload.registry_tier == Some(true);
    if let Err(message) = bind_key(state, origin.peer_id, payload.identity_key.as_ref()).await {
        return refuse(state, origin, SignalErrorCode::IdentityKeyMismatch, message);
    }
    let takes_memory = payload.memory == Some(true) && state.memory.is_some();
    let takes_tasks = payload.tasks == Some(true);
    let registration = Registration {
        kind,
        takes_mesh_messages,
        identity_key: payload.identity_key,
        takes_memory,
        takes_tasks,
    };
    let registered = state.hub.register(
        origin.peer_id,
        origin.conn_id,
        registration,
        state.memory.is_some(),
    );
    if let Some(peers) = registered {
        tracing::info!(peer_id = %origin.peer_id, ?kind, peers, "peer registered");
        state.events.publish(Change::Topology);
        if let (true, Some(memory)) = (takes_memory, &state.memory) {
            let have = SignalMessage::from_registry(SignalType::MemorySync, &memory.have().await);
            let _ = origin.tx.try_send(have.to_json());
        }
    }
}

/// Binds a registering peer's key to its id, or says why the registration is refused.
async fn bind_key(state: &AppState, peer: &PeerId, key: Option<&PublicKey>) -> Result<(), String> {
    let reset = format!("an admin can reset it (DELETE /api/identity/{peer}, or the hub)");
    let outcome = match key {
        Some(key) => {
            state
                .db
                .bind_identity_key(peer.as_str(), key, "registration", unix_now())
                .await
        }
        None => match state.db.identity_key(peer.as_str()).await {
            Ok(Some(bound)) => Ok(Binding::Conflict(bound)),
            Ok(None) => Ok(Binding::Bound),
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(Binding::Bound) => Ok(()),
        Ok(Binding::Conflict(bound)) => {
            tracing::warn!(peer_id = %peer, bound = %bound.fingerprint(), "register with another identity key refused");
            Err(match key {
                Some(key) => format!(
                    "peer id {peer} is bound to identity key {}, not {}; {reset}",
                    bound.fingerprint(),
                    key.fingerprint()
                ),
                None => format!(
                    "peer id {peer} is bound to identity key {}; register with it, or {reset}",
                    bound.fingerprint()
                ),
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "identity key store failed");
            Err("the registry cannot check identity keys right now".to_owned())
        }
    }
}

/// A `memory_sync` frame for the registry's replica: answered to the sender, new events
/// pushed to every other peer with a replica.
async fn memory_sync(state: &AppState, origin: &Origin<'_>, msg: &SignalMessage) {
    let Some(memory) = &state.memory else {
        let message = "this registry keeps no memory replica (MEMORY_REPLICA=false)".to_owned();
        return refuse(state, origin, SignalErrorCode::NotPermitted, message);
    };
    if !state.hub.is_registered(origin.peer_id, origin.conn_id) {
        let message = "register before sending memory_sync".to_owned();
        return refuse(state, origin, SignalErrorCode::NotPermitted, message);
    }
    let frame = match msg.payload_as::<SyncMessage>() {
        Ok(frame) => frame,
        Err(e) => {
            let message = format!("invalid memory_sync payload: {e}");
            return refuse(state, origin, SignalErrorCode::Malformed, message);
        }
    };
    match memory.handle(&*state.db, frame).await {
        Ok(outcome) => {
            let held = i64::try_from(memory.events_held().await).unwrap_or(i64::MAX);
            state.metrics.memory_events.set(held);
            for reply in outcome.replies {
                let frame = SignalMessage::from_registry(SignalType::MemorySync, &reply);
                let _ = origin.tx.try_send(frame.to_json());
            }
            for push in outcome.pushes {
                if let Some(cluster) = &state.cluster {
                    cluster.share_memory(&push).await;
                }
                let frame = SignalMessage::from_registry(SignalType::MemorySync, &push);
                state.hub.push_memory(origin.peer_id, &frame.to_json());
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "memory replica store failed");
            let message = "the registry's memory replica cannot store right now".to_owned();
            refuse(state, origin, SignalErrorCode::NotPermitted, message)
        }
    }
}

async fn relay(state: &AppState, origin: &Origin<'_>, msg: &SignalMessage, text: &str) {
    if !state.hub.is_registered(origin.peer_id, origin.conn_id) {
        let message = format!("register before sending {}", msg.kind.as_str());
        return refuse_relay(state, origin, msg, SignalErrorCode::NotPermitted, message);
    }
    let Some(target) = &msg.target_id else {
        let message = format!("{} needs a target_id", msg.kind.as_str());
        return refuse_relay(state, origin, msg, SignalErrorCode::UnknownTarget, message);
    };
    match state.hub.relay(target, msg.kind, text.to_owned()) {
        Ok(Route::Remote(instance)) => {
            let forward = crate::cluster::Forward {
                to: target.clone(),
                kind: msg.kind,
                text: text.to_owned(),
                from_peer: origin.peer_id.clone(),
            };
            // Boxed, like the store's frames: kept out of every reader future.
            let sent = match &state.cluster {
                Some(cluster) => Box::pin(cluster.forward(&instance, &forward)).await,
                None => Err(anyhow::anyhow!("no cluster")),
            };
            if let Err(e) = sent {
                let message = format!(
                    "{:?} is on another registry, which cannot be reached now ({e})",
                    target.as_str()
                );
                return refuse_relay(state, origin, msg, SignalErrorCode::UnknownTarget, message);
            }
            count_relayed(state, msg.kind);
        }
        Ok(Route::Here) => count_relayed(state, msg.kind),
        Err(RelayError::UnknownTarget) => {
            let message = format!("unknown target {:?}", target.as_str());
            refuse_relay(state, origin, msg, SignalErrorCode::UnknownTarget, message)
        }
        Err(RelayError::Declined) => {
            let message = format!(
                "{:?} does not take messages carried by the registry (an upstream peer, or its \
                 registry tier is off)",
                target.as_str()
            );
            refuse_relay(state, origin, msg, SignalErrorCode::NotPermitted, message)
        }
        Err(RelayError::Congested) => {
            let message = format!(
                "target {:?} is not keeping up; frame dropped",
                target.as_str()
            );
            refuse_relay(state, origin, msg, SignalErrorCode::RateLimited, message)
        }
    }
}

fn count_relayed(state: &AppState, kind: SignalType) {
    if kind == SignalType::MeshMessage {
        state.metrics.mesh_message_relayed();
    } else {
        state.metrics.relayed();
    }
}

fn is_registry(peer: &PeerId) -> bool {
    peer.as_str() == REGISTRY_PEER_ID
}

/// A `mesh_message` to the registry's reserved peer id: an agent's answer to a task the
/// registry delivered over the mesh (ADR 0018).
async fn task_answer(state: &AppState, origin: &Origin<'_>, msg: &SignalMessage) {
    if !state.hub.is_registered(origin.peer_id, origin.conn_id) {
        let message = "register before sending mesh_message".to_owned();
        return refuse_relay(state, origin, msg, SignalErrorCode::NotPermitted, message);
    }
    match msg.payload_as::<MeshMessage>() {
        Ok(answer) => {
            if let Err(message) =
                crate::task_delivery::on_answer(state, origin.peer_id, answer).await
            {
                refuse_relay(state, origin, msg, SignalErrorCode::NotPermitted, message)
            }
        }
        Err(e) => {
            let message = format!("invalid mesh_message payload: {e}");
            refuse_relay(state, origin, msg, SignalErrorCode::Malformed, message)
        }
    }
}

/// A sidecar says whether the task the registry sent it reached its agent (ADR 0018).
async fn task_received(state: &AppState, origin: &Origin<'_>, msg: &SignalMessage) {
    match msg.payload_as::<TaskReceivedPayload>() {
        Ok(received) => crate::task_delivery::on_received(state, origin.peer_id, received).await,
        Err(e) => {
            let message = format!("invalid task_received payload: {e}");
            refuse(state, origin, SignalErrorCode::Malformed, message)
        }
    }
}

fn link_report(state: &AppState, origin: &Origin<'_>, msg: &SignalMessage) {
    match msg.payload_as::<LinkReportPayload>() {
        Ok(report) => {
            if state
                .hub
                .report_links(origin.peer_id, origin.conn_id, report.links)
            {
                state.events.publish(Change::Topology);
            }
        }
        Err(e) => {
            let message = format!("invalid link_report payload: {e}");
            refuse(state, origin, SignalErrorCode::Malformed, message)
        }
    }
}
