//! The embedded SQLite backend (the default): the registry's durable state in one file.
//!
//! One connection behind a mutex: every statement is short, SQLite serializes writers anyway,
//! and WAL mode makes each committed transaction survive a SIGKILL of the process.
//! See `docs/adr/0002-sqlite-with-rusqlite.md`.

pub mod agents;
mod async_store;
pub mod files;
pub mod identity_keys;
pub mod memory;
pub mod pairings;
pub mod settings;
pub mod tasks;

pub use async_store::SqliteStore;
use rusqlite::Connection;
use std::{
    path::Path,
    sync::{Mutex, MutexGuard},
};

/// Errors opening the store.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The data directory or a database file could not be created or made owner-only.
    #[error("cannot secure the data directory ({path}): {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The store.
pub struct Db {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    agent_id       TEXT PRIMARY KEY,
    owner_peer_id  TEXT NOT NULL,
    info           TEXT NOT NULL,
    registered_at  REAL NOT NULL,
    last_heartbeat REAL NOT NULL,
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
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL,
    ttl               INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks(state);
CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks(created_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_updated ON tasks(updated_at);
CREATE TABLE IF NOT EXISTS task_steps (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    at      REAL NOT NULL,
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
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    claim_hash   TEXT,
    token_hash   TEXT,
    approved_at  REAL
);
CREATE INDEX IF NOT EXISTS pairings_by_token ON pairings(token_hash);
CREATE INDEX IF NOT EXISTS pairings_by_peer ON pairings(peer_id);
CREATE TABLE IF NOT EXISTS identity_keys (
    peer_id  TEXT PRIMARY KEY,
    key      TEXT NOT NULL,
    source   TEXT NOT NULL,
    bound_at REAL NOT NULL
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
    expires_at  REAL NOT NULL,
    wrong_tries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS token_claims (
    pairing_id TEXT PRIMARY KEY,
    claimed_at REAL NOT NULL
);
";

impl Db {
    /// Opens (creating if needed) `registry.db` in `data_dir`; the dir and every database
    /// file are owner-only (`files`).
    pub fn open(data_dir: &Path) -> Result<Self, DbError> {
        files::secure_data_dir(data_dir)?;
        files::secure_db_files(data_dir)?;
        let conn = Connection::open(data_dir.join(files::DB_FILES[0]))?;
        let db = Self::init(conn)?;
        // WAL files that already existed keep their old mode; SQLite creates new ones with the
        // database file's.
        files::secure_db_files(data_dir)?;
        Ok(db)
    }

    /// An in-memory store, for unit tests.
    pub fn in_memory() -> Result<Self, DbError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, DbError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Freed pages are zeroed: a forgotten memory value (and any deleted secret) leaves
        // no bytes behind in the file (ADR 0016).
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Locks the connection. A poisoned lock only means another handler panicked mid-call;
    /// SQLite's own transactions keep the data consistent, so the connection is reused.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
