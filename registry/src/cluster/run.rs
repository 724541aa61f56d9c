//! The cluster loop: publishes what this registry announces, applies what the others do.

use super::{
    wire::{Envelope, Forward},
    Cluster, Outboxes, Subscriptions, SNAPSHOT_EVERY,
};
use crate::{
    events::Change,
    signaling::{
        frame::refusal,
        hub::{Presence, Route},
    },
    state::AppState,
};
use futures_util::StreamExt;
use meshwork_protocol::{
    memory::SyncMessage,
    signaling::{SignalErrorCode, SignalType, REGISTRY_PEER_ID},
    PeerId, SignalMessage,
};
use serde::de::DeserializeOwned;
use std::{sync::Arc, time::Instant};

/// A message from NATS, unless it is unreadable or this registry's own echo.
fn decode<T: DeserializeOwned>(me: &str, payload: &[u8]) -> Option<(String, T)> {
    match serde_json::from_slice::<Envelope<T>>(payload) {
        Ok(env) if env.from != me => Some((env.from, env.body)),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable cluster message dropped");
            None
        }
    }
}

/// Runs until shutdown.
pub async fn run(
    state: Arc<AppState>,
    cluster: Arc<Cluster>,
    mut out: Outboxes,
    subs: Subscriptions,
) {
    let Subscriptions {
        mut presence,
        mut deliveries,
        mut changes,
        mut memory,
    } = subs;
    let me = cluster.instance.clone();
    tracing::info!(instance = %me, "joined the registry cluster");
    cluster
        .publish(cluster.subject("presence"), &Presence::Hello)
        .await;
    let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
    loop {
        tokio::select! {
            Some(message) = out.presence.recv() => {
                cluster.publish(cluster.subject("presence"), &message).await;
            }
            Some(change) = out.changes.recv() => {
                tracing::debug!(?change, "change shared with the cluster");
                cluster.publish(cluster.subject("changes"), &change).await;
            }
            Some(msg) = presence.next() => {
                let Some((from, message)) = decode::<Presence>(&me, &msg.payload) else {
                    continue;
                };
                if state.hub.apply_presence(&from, message, Instant::now()) {
                    snapshot(&state, &cluster).await;
                }
                state.events.publish_local(Change::Topology);
            }
            Some(msg) = deliveries.next() => {
                if let Some((from, forward)) = decode::<Forward>(&me, &msg.payload) {
                    deliver(&state, &cluster, &from, forward).await;
                }
            }
            Some(msg) = changes.next() => {
                let Some((from, change)) = decode::<Change>(&me, &msg.payload) else {
                    continue;
                };
                tracing::debug!(?change, %from, "change from the cluster");
                state.events.publish_local(change);
                if change == Change::Tasks {
                    // A task queued elsewhere may be for a sidecar connected here.
                    crate::task_delivery::sweep(&state).await;
                }
            }
            Some(msg) = memory.next() => {
                if let Some((_, frame)) = decode::<SyncMessage>(&me, &msg.payload) {
                    apply_memory(&state, frame).await;
                }
            }
            _ = tick.tick() => {
                snapshot(&state, &cluster).await;
                if state.hub.expire_instances(Instant::now(), cluster.grace) > 0 {
                    state.events.publish_local(Change::Topology);
                }
            }
            _ = state.shutdown.cancelled() => return,
        }
    }
}

async fn snapshot(state: &AppState, cluster: &Cluster) {
    let peers = state.hub.local_snapshot();
    cluster
        .publish(cluster.subject("presence"), &Presence::Snapshot { peers })
        .await;
}

/// A frame another registry forwarded for a peer here; refused back to its sender when the
/// peer is not (or no longer) here.
async fn deliver(state: &AppState, cluster: &Cluster, from: &str, forward: Forward) {
    let refused = match state
        .hub
        .relay(&forward.to, forward.kind, forward.text.clone())
    {
        Ok(Route::Here) => return,
        Ok(Route::Remote(_)) => (
            SignalErrorCode::UnknownTarget,
            format!(
                "target {:?} moved to another registry; send again",
                forward.to.as_str()
            ),
        ),
        Err(e) => (
            SignalErrorCode::UnknownTarget,
            format!("target {:?} is not reachable: {e:?}", forward.to.as_str()),
        ),
    };
    if forward.kind == SignalType::Error {
        return; // A refusal that cannot be delivered is dropped, never bounced.
    }
    let back = Forward {
        to: forward.from_peer,
        kind: SignalType::Error,
        text: refusal(refused.0, refused.1, &forward.text),
        from_peer: PeerId::new(REGISTRY_PEER_ID),
    };
    if let Err(e) = cluster.forward(from, &back).await {
        tracing::warn!(error = %e, "a refusal for another registry's peer was lost");
    }
}

/// Memory events another registry's replica applied: this replica applies them too and
/// pushes what was new to its peers (never back to the cluster).
async fn apply_memory(state: &AppState, frame: SyncMessage) {
    let Some(memory) = &state.memory else {
        return;
    };
    match memory.handle(&*state.db, frame).await {
        Ok(outcome) => {
            let registry = PeerId::new(REGISTRY_PEER_ID);
            for push in outcome.pushes {
                let frame = SignalMessage::from_registry(SignalType::MemorySync, &push);
                state.hub.push_memory(&registry, &frame.to_json());
            }
        }
        Err(e) => tracing::error!(error = %e, "memory events from the cluster not stored"),
    }
}

impl Cluster {
    /// Shares memory events this registry's replica applied with the other registries.
    pub async fn share_memory(&self, frame: &SyncMessage) {
        self.publish(self.subject("memory"), frame).await;
    }
}
