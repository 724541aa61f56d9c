//! Clustered signaling over NATS (`--nats-url` / `NATS_URL`; issue 15, ADR 0024): any number
//! of registries that share one database act as one registry. This module only carries
//! messages; what they mean is decided where the state is:
//!
//! - presence (who is registered where, link reports, revocations): the hub's
//!   [`remote`](crate::signaling::hub::remote) table;
//! - a frame for a peer on another registry: forwarded to that registry's subject and
//!   relayed there like a local one; a refusal goes back to the sender the same way;
//! - change notifications (tasks, agents, pairings, topology): re-published on every other
//!   registry's change bus, so hub streams and long-poll heartbeats wake everywhere;
//! - memory events a registry's replica applied: applied by every other registry's replica
//!   and pushed to its peers.
//!
//! Subjects, under the cluster name (`CLUSTER_NAME`, default `meshwork`): `.presence`,
//! `.changes`, `.memory` (every registry), `.deliver.<registry id>` (one registry).

mod run;
mod wire;

pub use run::run;
pub use wire::Forward;

use crate::{events::Change, signaling::hub::Presence};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a registry announces its whole peer list (which also says it is alive).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(2);

/// How long a starting registry waits for NATS.
const INITIAL_CONNECT: Duration = Duration::from_secs(30);

/// Announcements and changes waiting for NATS, per registry.
const OUTBOX: usize = 16 * 1024;

/// One registry's connection to the cluster.
pub struct Cluster {
    /// This registry's id (random per start).
    pub instance: String,
    client: async_nats::Client,
    prefix: String,
    /// A registry silent this long is gone, and so are its peers.
    pub grace: Duration,
}

/// The receiving ends of what the hub and the change bus queue for the cluster.
pub struct Outboxes {
    /// Presence announcements from the hub.
    pub presence: mpsc::Receiver<Presence>,
    /// Changes from the change bus.
    pub changes: mpsc::Receiver<Change>,
}

/// This registry's subscriptions, made before it serves anyone.
pub struct Subscriptions {
    presence: async_nats::Subscriber,
    deliveries: async_nats::Subscriber,
    changes: async_nats::Subscriber,
    memory: async_nats::Subscriber,
}

impl Cluster {
    /// Connects to NATS (`urls`: one or more servers of one NATS cluster; the client moves to
    /// another when one dies) and subscribes: when this returns, the registry hears the
    /// cluster, so it may start serving. A NATS that cannot be reached stops the start.
    pub async fn connect(
        urls: &[String],
        name: &str,
        grace: Duration,
    ) -> anyhow::Result<(Self, Subscriptions)> {
        let instance = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let client = async_nats::ConnectOptions::new()
            .name(format!("meshwork-registry {instance}"))
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            // Back on another server within a fraction of a second, not NATS's default
            // backoff of several seconds: signaling waits on it.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(50 * u64::try_from(attempts.min(20)).unwrap_or(20))
            })
            .event_callback(|event| async move {
                tracing::info!(%event, "NATS");
            })
            .connect(urls)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to NATS at {urls:?}: {e}"))?;
        let cluster = Self {
            instance,
            client,
            prefix: name.to_owned(),
            grace,
        };
        let subscribe = |subject: String| {
            let client = cluster.client.clone();
            async move { client.subscribe(subject).await }
        };
        let (presence, deliveries, changes, memory) = tokio::try_join!(
            subscribe(cluster.subject("presence")),
            subscribe(cluster.deliver_subject(&cluster.instance)),
            subscribe(cluster.subject("changes")),
            subscribe(cluster.subject("memory")),
        )
        .map_err(|e| anyhow::anyhow!("cannot subscribe to the cluster's NATS subjects: {e}"))?;
        // Connected, and the server has our subscriptions, once it answered the flush's ping
        // (the first connection is retried meanwhile; a NATS away that long stops the start).
        tokio::time::timeout(INITIAL_CONNECT, cluster.client.flush())
            .await
            .map_err(|_| {
                anyhow::anyhow!("no NATS server at {urls:?} answered within {INITIAL_CONNECT:?}")
            })?
            .map_err(|e| anyhow::anyhow!("NATS did not confirm the subscriptions: {e}"))?;
        let subscriptions = Subscriptions {
            presence,
            deliveries,
            changes,
            memory,
        };
        Ok((cluster, subscriptions))
    }

    /// The queues the hub and the change bus feed, and their receiving ends for [`run`].
    pub fn outboxes() -> (mpsc::Sender<Presence>, mpsc::Sender<Change>, Outboxes) {
        let (presence_tx, presence) = mpsc::channel(OUTBOX);
        let (changes_tx, changes) = mpsc::channel(OUTBOX);
        (presence_tx, changes_tx, Outboxes { presence, changes })
    }

    fn subject(&self, leaf: &str) -> String {
        format!("{}.{leaf}", self.prefix)
    }

    fn deliver_subject(&self, instance: &str) -> String {
        format!("{}.deliver.{instance}", self.prefix)
    }

    /// Sends a frame to a peer connected to registry `instance`.
    pub async fn forward(&self, instance: &str, forward: &Forward) -> anyhow::Result<()> {
        let body = serde_json::to_vec(&wire::Envelope {
            from: self.instance.clone(),
            body: forward,
        })?;
        self.client
            .publish(self.deliver_subject(instance), body.into())
            .await?;
        Ok(())
    }

    /// Publishes `body` from this registry on `subject`.
    async fn publish(&self, subject: String, body: &impl serde::Serialize) {
        let envelope = wire::Envelope {
            from: self.instance.clone(),
            body,
        };
        let Ok(bytes) = serde_json::to_vec(&envelope) else {
            return;
        };
        if let Err(e) = self.client.publish(subject, bytes.into()).await {
            tracing::warn!(error = %e, "NATS publish failed");
        }
    }
}
