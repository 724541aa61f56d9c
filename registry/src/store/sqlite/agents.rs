//! Agent records. Each record is owned by the credential that first registered it: only that
//! peer (or the admin) may heartbeat, update or delete it (ours — upstream let anyone).

use super::Db;
use crate::store::records::{agent_json, health_from, heartbeat_info, StoredAgent};
use meshwork_protocol::{
    rest::{AgentInfo, Health, HeartbeatRequest},
    PeerId,
};
use rusqlite::{params, OptionalExtension, Row};

fn row_to_agent(row: &Row<'_>) -> rusqlite::Result<StoredAgent> {
    let info_json: String = row.get(1)?;
    let info: AgentInfo = serde_json::from_str(&info_json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let health: String = row.get(4)?;
    Ok(StoredAgent {
        info,
        owner: PeerId::new(row.get::<_, String>(0)?),
        registered_at: row.get(2)?,
        last_heartbeat: row.get(3)?,
        stored_health: health_from(&health),
    })
}

const SELECT: &str =
    "SELECT owner_peer_id, info, registered_at, last_heartbeat, health FROM agents";

impl Db {
    /// One agent.
    pub fn agent(&self, agent_id: &str) -> rusqlite::Result<Option<StoredAgent>> {
        self.lock()
            .query_row(
                &format!("{SELECT} WHERE agent_id = ?1"),
                params![agent_id],
                row_to_agent,
            )
            .optional()
    }

    /// Every agent, by name.
    pub fn agents(&self) -> rusqlite::Result<Vec<StoredAgent>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY agent_id"))?;
        let rows = stmt.query_map([], row_to_agent)?;
        rows.collect()
    }

    /// Creates or replaces an agent's self-description; registering counts as a heartbeat.
    pub fn register_agent(
        &self,
        info: &AgentInfo,
        owner: &PeerId,
        now: f64,
    ) -> rusqlite::Result<()> {
        self.lock().execute(
            "INSERT INTO agents (agent_id, owner_peer_id, info, registered_at, last_heartbeat, health)
             VALUES (?1, ?2, ?3, ?4, ?4, 'active')
             ON CONFLICT(agent_id) DO UPDATE SET
                info = excluded.info, last_heartbeat = excluded.last_heartbeat, health = 'active'",
            params![info.agent_id, owner.as_str(), agent_json(info), now],
        )?;
        Ok(())
    }

    /// Applies a heartbeat: creates the record if needed, overwrites only the fields the
    /// heartbeat fills (chatixia sends just `agent_id` and `skill_names`).
    pub fn heartbeat_agent(
        &self,
        hb: &HeartbeatRequest,
        owner: &PeerId,
        now: f64,
    ) -> rusqlite::Result<AgentInfo> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT info FROM agents WHERE agent_id = ?1",
                params![hb.agent_id],
                |r| r.get(0),
            )
            .optional()?;
        let info = heartbeat_info(existing.as_deref(), hb, owner);
        tx.execute(
            "INSERT INTO agents (agent_id, owner_peer_id, info, registered_at, last_heartbeat, health)
             VALUES (?1, ?2, ?3, ?4, ?4, 'active')
             ON CONFLICT(agent_id) DO UPDATE SET
                info = excluded.info, last_heartbeat = excluded.last_heartbeat, health = 'active'",
            params![hb.agent_id, owner.as_str(), agent_json(&info), now],
        )?;
        tx.commit()?;
        Ok(info)
    }

    /// Removes an agent; returns whether it existed.
    pub fn delete_agent(&self, agent_id: &str) -> rusqlite::Result<bool> {
        Ok(self
            .lock()
            .execute("DELETE FROM agents WHERE agent_id = ?1", params![agent_id])?
            > 0)
    }

    /// Records the health the maintenance loop derived from `last_heartbeat`; a heartbeat that
    /// landed meanwhile wins (the row no longer matches).
    pub fn set_agent_health(
        &self,
        agent_id: &str,
        health: Health,
        last_heartbeat: f64,
    ) -> rusqlite::Result<()> {
        self.lock().execute(
            "UPDATE agents SET health = ?2 WHERE agent_id = ?1 AND last_heartbeat = ?3",
            params![agent_id, health.as_str(), last_heartbeat],
        )?;
        Ok(())
    }
}
