//! The maintenance loop: derives agent health from heartbeat recency, returns the assigned
//! tasks of agents that went offline to the queue, and fails tasks past their TTL.

use crate::{clock::unix_now, config::Config, events::Change, state::AppState};
use meshwork_protocol::rest::Health;
use std::{sync::Arc, time::Duration};

/// Health of an agent whose last heartbeat was at `last_heartbeat` (unix seconds).
pub fn derive_health(config: &Config, last_heartbeat: f64, now: f64) -> Health {
    let age = now - last_heartbeat;
    if age < config.health_active_secs {
        Health::Active
    } else if age < config.health_stale_secs {
        Health::Stale
    } else {
        Health::Offline
    }
}

/// One pass; returns (agents that changed health, tasks requeued, tasks expired).
pub async fn tick(state: &AppState, now: f64) -> crate::store::StoreResult<(usize, usize, usize)> {
    let mut changed = 0;
    let mut requeued = 0;
    for agent in state.db.agents().await? {
        let health = derive_health(&state.config, agent.last_heartbeat, now);
        if health == agent.stored_health {
            continue;
        }
        changed += 1;
        tracing::info!(
            agent_id = %agent.info.agent_id,
            from = agent.stored_health.as_str(),
            to = health.as_str(),
            "agent health changed"
        );
        state
            .db
            .set_agent_health(&agent.info.agent_id, health, agent.last_heartbeat)
            .await?;
        if health == Health::Offline {
            let silent_since = now - state.config.health_stale_secs;
            requeued += state
                .db
                .requeue_if_silent(&agent.info.agent_id, silent_since, now)
                .await?;
        }
    }
    let expired = state.db.expire_tasks(now).await?;
    if expired > 0 {
        tracing::info!(expired, "tasks failed: TTL expired");
    }
    let deleted = state
        .db
        .delete_finished_tasks(now - state.config.task_retention_secs)
        .await?;
    if deleted > 0 {
        tracing::info!(deleted, "finished tasks deleted: retention passed");
    }
    if changed > 0 {
        state.events.publish(Change::Agents);
        state.events.publish(Change::Topology);
    }
    if requeued + expired + deleted > 0 {
        state.events.publish(Change::Tasks);
    }
    Ok((changed, requeued, expired))
}

/// Runs [`tick`] every `maintenance_interval_ms` until shutdown.
pub async fn run(state: Arc<AppState>) {
    let period = Duration::from_millis(state.config.maintenance_interval_ms.max(10));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                if let Err(e) = tick(&state, unix_now()).await {
                    tracing::error!(error = %e, "maintenance pass failed");
                }
                state.limits.prune();
            }
            _ = state.shutdown.cancelled() => return,
        }
    }
}
