//! The PostgreSQL backend (`--database-url` / `DATABASE_URL`; issue 15, ADR 0023): the state
//! several registries share. A pool of connections (deadpool-postgres over tokio-postgres);
//! every call is async, so waiting on the database never holds an async worker.
//!
//! The same tables as the SQLite file, with PostgreSQL types. Each task change is one guarded
//! `UPDATE` (or a row lock then an update) in a transaction with its timeline step; under
//! PostgreSQL's default READ COMMITTED a second registry's racing `UPDATE … WHERE state =
//! 'pending'` waits for the first and then matches nothing, so a task is never handed out
//! twice.

mod agents;
mod identity_keys;
mod memory;
mod pairings;
mod settings;
mod store_impl;
mod tasks;

use super::{StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// Connections held open at most (per registry).
const POOL_SIZE: usize = 16;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    agent_id       TEXT PRIMARY KEY,
    owner_peer_id  TEXT NOT NULL,
    info           TEXT NOT NULL,
    registered_at  DOUBLE PRECISION NOT NULL,
    last_heartbeat DOUBLE PRECISION NOT NULL,
    health         TEXT NOT NULL DEFAULT 'active'
);
CREATE TABLE IF NOT EXISTS tasks (
    id                TEXT PRIMARY KEY,
    skill             TEXT NOT NULL,
    target_agent_id   TEXT NOT NULL,
    source_agent_id   TEXT NOT NULL,
    assigned_agent_id TEXT NOT NULL,
    payload           TEXT NOT NULL,
    state             TEXT NOT NULL,
    result            TEXT NOT NULL,
    error             TEXT NOT NULL,
    created_at        DOUBLE PRECISION NOT NULL,
    updated_at        DOUBLE PRECISION NOT NULL,
    ttl               BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks(state);
CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks(created_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_updated ON tasks(updated_at);
CREATE TABLE IF NOT EXISTS task_steps (
    seq     BIGSERIAL PRIMARY KEY,
    task_id TEXT NOT NULL,
    at      DOUBLE PRECISION NOT NULL,
    state   TEXT NOT NULL,
    via     TEXT NOT NULL DEFAULT '',
    note    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS task_steps_by_task ON task_steps(task_id, seq);
CREATE TABLE IF NOT EXISTS pairings (
    id           TEXT PRIMARY KEY,
    agent_name   TEXT NOT NULL,
    peer_id      TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    claim_hash   TEXT,
    token_hash   TEXT,
    approved_at  DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS pairings_by_token ON pairings(token_hash);
CREATE INDEX IF NOT EXISTS pairings_by_peer ON pairings(peer_id);
CREATE TABLE IF NOT EXISTS identity_keys (
    peer_id  TEXT PRIMARY KEY,
    key      TEXT NOT NULL,
    source   TEXT NOT NULL,
    bound_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_events (
    id     TEXT PRIMARY KEY,
    header TEXT NOT NULL,
    body   TEXT
);
CREATE TABLE IF NOT EXISTS pairing_keys (
    pairing_id TEXT PRIMARY KEY,
    key        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pairing_codes (
    code        TEXT PRIMARY KEY,
    expires_at  DOUBLE PRECISION NOT NULL,
    wrong_tries BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS token_claims (
    pairing_id TEXT PRIMARY KEY,
    claimed_at DOUBLE PRECISION NOT NULL
);
";

/// Any number, the same in every registry: the lock that serializes schema creation when
/// several registries start on a fresh database at once.
const SCHEMA_LOCK: i64 = 0x6d65_7368_776f_726b; // "meshwork"

/// The PostgreSQL backend.
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects to `url` (a `postgres://` URL or a `key=value` string; `host=/dir` means a
    /// Unix socket) and creates the tables if they do not exist.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a PostgreSQL URL: {e}"))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| anyhow::anyhow!("PostgreSQL pool: {e}"))?;
        let store = Self { pool };
        store
            .create_schema()
            .await
            .map_err(|e| anyhow::anyhow!("cannot prepare the PostgreSQL database: {e}"))?;
        Ok(store)
    }

    /// Creates what the schema lacks. A database that has it all is left alone: even `CREATE
    /// INDEX IF NOT EXISTS` takes a lock on its table, and next to registries already
    /// writing that can deadlock a registry that is starting.
    async fn create_schema(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        let names = schema_relations();
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = ANY($1)",
                &[&names],
            )
            .await?;
        if count(row.try_get(0)?) == names.len() as u64 {
            return Ok(());
        }
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await?;
        tx.batch_execute(SCHEMA).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A pooled connection.
    async fn client(&self) -> StoreResult<Object> {
        Ok(self.pool.get().await?)
    }
}

/// The tables and indexes [`SCHEMA`] creates.
fn schema_relations() -> Vec<String> {
    SCHEMA
        .split("IF NOT EXISTS ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|name| name.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_'))
        .map(str::to_owned)
        .collect()
}

/// A count from the database as the unsigned number the API speaks.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A stored text that must parse, or a clear error naming what it is.
fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_check_knows_every_table_and_index() {
        let names = super::schema_relations();
        for expected in [
            "settings",
            "tasks",
            "tasks_by_updated",
            "task_steps_by_task",
            "token_claims",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        assert_eq!(names.len(), super::SCHEMA.matches("IF NOT EXISTS").count());
    }
}
