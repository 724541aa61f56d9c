//! Agent records (owned by the credential that first registered them, as in SQLite).

use super::PgStore;
use crate::store::{
    records::{agent_json, health_from, heartbeat_info, StoredAgent},
    StoreError, StoreResult,
};
use meshwork_protocol::{
    rest::{AgentInfo, Health, HeartbeatRequest},
    PeerId,
};
use tokio_postgres::Row;

const SELECT: &str =
    "SELECT owner_peer_id, info, registered_at, last_heartbeat, health FROM agents";

const UPSERT: &str = "INSERT INTO agents
        (agent_id, owner_peer_id, info, registered_at, last_heartbeat, health)
     VALUES ($1, $2, $3, $4, $4, 'active')
     ON CONFLICT (agent_id) DO UPDATE SET
        info = excluded.info, last_heartbeat = excluded.last_heartbeat, health = 'active'";

fn row_to_agent(row: &Row) -> StoreResult<StoredAgent> {
    let info: String = row.try_get(1)?;
    let info: AgentInfo = serde_json::from_str(&info)
        .map_err(|e| StoreError::Corrupt(format!("agent record: {e}")))?;
    let health: String = row.try_get(4)?;
    Ok(StoredAgent {
        info,
        owner: PeerId::new(row.try_get::<_, String>(0)?),
        registered_at: row.try_get(2)?,
        last_heartbeat: row.try_get(3)?,
        stored_health: health_from(&health),
    })
}

impl PgStore {
    pub(super) async fn agent(&self, agent_id: &str) -> StoreResult<Option<StoredAgent>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("{SELECT} WHERE agent_id = $1"), &[&agent_id])
            .await?;
        row.as_ref().map(row_to_agent).transpose()
    }

    pub(super) async fn agents(&self) -> StoreResult<Vec<StoredAgent>> {
        let rows = self
            .client()
            .await?
            .query(&format!("{SELECT} ORDER BY agent_id"), &[])
            .await?;
        rows.iter().map(row_to_agent).collect()
    }

    pub(super) async fn register_agent(
        &self,
        info: &AgentInfo,
        owner: &PeerId,
        now: f64,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                UPSERT,
                &[&info.agent_id, &owner.as_str(), &agent_json(info), &now],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn heartbeat_agent(
        &self,
        hb: &HeartbeatRequest,
        owner: &PeerId,
        now: f64,
    ) -> StoreResult<AgentInfo> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The row lock makes two registries' heartbeats for one agent merge one after the
        // other instead of one overwriting the other's fields.
        let existing: Option<String> = tx
            .query_opt(
                "SELECT info FROM agents WHERE agent_id = $1 FOR UPDATE",
                &[&hb.agent_id],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        let info = heartbeat_info(existing.as_deref(), hb, owner);
        tx.execute(
            UPSERT,
            &[&hb.agent_id, &owner.as_str(), &agent_json(&info), &now],
        )
        .await?;
        tx.commit().await?;
        Ok(info)
    }

    pub(super) async fn delete_agent(&self, agent_id: &str) -> StoreResult<bool> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM agents WHERE agent_id = $1", &[&agent_id])
            .await?;
        Ok(n > 0)
    }

    pub(super) async fn set_agent_health(
        &self,
        agent_id: &str,
        health: Health,
        last_heartbeat: f64,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE agents SET health = $2 WHERE agent_id = $1 AND last_heartbeat = $3",
                &[&agent_id, &health.as_str(), &last_heartbeat],
            )
            .await?;
        Ok(())
    }
}
