//! Agent records. Each record is owned by the credential that first registered it: only that
//! peer (or the admin) may heartbeat, update or delete it (ours — upstream let anyone).

use super::Db;
use meshwork_protocol::{
    rest::{AgentInfo, Health, HeartbeatRequest},
    PeerId,
};
use rusqlite::{params, OptionalExtension, Row};

/// An agent as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAgent {
    /// What the agent said about itself.
    pub info: AgentInfo,
    /// Peer id of the credential that owns the record.
    pub owner: PeerId,
    /// Unix seconds.
    pub registered_at: f64,
    /// Unix seconds.
    pub last_heartbeat: f64,
    /// Health as last derived by the maintenance loop (transitions are detected against it).
    pub stored_health: Health,
}

fn health_from(s: &str) -> Health {
    match s {
        "stale" => Health::Stale,
        "offline" => Health::Offline,
        _ => Health::Active,
    }
}

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

fn to_json(info: &AgentInfo) -> String {
    serde_json::to_string(info).unwrap_or_default()
}

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
            params![info.agent_id, owner.as_str(), to_json(info), now],
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
        let mut info = existing
            .and_then(|json| serde_json::from_str::<AgentInfo>(&json).ok())
            .unwrap_or_else(|| AgentInfo {
                agent_id: hb.agent_id.clone(),
                hostname: String::new(),
                ip: String::new(),
                port: 8080,
                sidecar_peer_id: owner.clone(),
                capabilities: Default::default(),
                status: String::new(),
                mode: String::new(),
            });
        merge_heartbeat(&mut info, hb);
        tx.execute(
            "INSERT INTO agents (agent_id, owner_peer_id, info, registered_at, last_heartbeat, health)
             VALUES (?1, ?2, ?3, ?4, ?4, 'active')
             ON CONFLICT(agent_id) DO UPDATE SET
                info = excluded.info, last_heartbeat = excluded.last_heartbeat, health = 'active'",
            params![hb.agent_id, owner.as_str(), to_json(&info), now],
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

fn merge_heartbeat(info: &mut AgentInfo, hb: &HeartbeatRequest) {
    fn set(field: &mut String, value: &str) {
        if !value.is_empty() {
            value.clone_into(field);
        }
    }
    set(&mut info.hostname, &hb.hostname);
    set(&mut info.ip, &hb.ip);
    set(&mut info.status, &hb.status);
    set(&mut info.mode, &hb.mode);
    if hb.port != 0 {
        info.port = hb.port;
    }
    if !hb.sidecar_peer_id.as_str().is_empty() {
        info.sidecar_peer_id = hb.sidecar_peer_id.clone();
    }
    if !hb.skill_names.is_empty() {
        info.capabilities.skills = hb.skill_names.clone();
    }
    if hb.goals_count != 0 {
        info.capabilities.goals_count = hb.goals_count;
    }
}
