//! `memory.db`: the sidecar's replica on disk, an [`EventStore`] over SQLite (ADR 0017).
//!
//! - One row per event: the signed header as JSON (`header`, the event without its body) and
//!   the body beside it (`body`, NULL once forgotten), so an erasure is an `UPDATE … SET body
//!   = NULL` that keeps the header verifiable.
//! - WAL with `synchronous = FULL`: a commit returns once the WAL is fsynced, so an event is on
//!   disk before `memory_written` — it survives SIGKILL *and* power loss. (NORMAL would survive
//!   SIGKILL too, but could lose the last commits on power loss; a reply saying "durable" must
//!   not.) Cost: one fsync per write.
//! - `secure_delete = ON` zeroes freed cells and pages, and every erasure is followed by
//!   `wal_checkpoint(TRUNCATE)`: the WAL frames that still held the value are copied over and
//!   the `-wal` file truncated, so no copy of an erased value remains in either file.
//! - The file is created owner-only (0600) before SQLite opens it; SQLite gives its `-wal`
//!   and `-shm` files the same mode.

use meshwork_protocol::{
    memory::{store::EventStore, Applied, Event, EventId},
    PeerId,
};
use rusqlite::{params, Connection, OptionalExtension};
use std::{
    fs::OpenOptions,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "memory.db";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("memory store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored header is not an event (the file was edited or corrupted).
    #[error("memory store: stored event {id} is unreadable: {source}")]
    Corrupt {
        /// The row's id.
        id: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The file could not be created owner-only.
    #[error("memory store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id     TEXT PRIMARY KEY,
    author TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    header TEXT NOT NULL,
    body   TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The meta row remembering the peer id this sidecar writes as (known before the registry
/// answers on later starts).
const SELF_PEER: &str = "self_peer_id";

/// The replica's events in `memory.db`.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating owner-only if needed) `memory.db` in `dir`, which must exist.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(DB_FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("{DB_FILE}{suffix}"));
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
        Self::init(Connection::open(&path)?)
    }

    /// A store in memory, for unit tests.
    #[cfg(test)]
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// Persists one replica step in one transaction — its new events, then its erasures — and
    /// when something was erased, checkpoints the WAL so the erased bytes leave it too.
    pub fn commit(&mut self, applied: &Applied) -> Result<(), StoreError> {
        if applied.events.is_empty() && applied.erased.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for event in &applied.events {
            insert(&tx, event)?;
        }
        erase(&tx, &applied.erased)?;
        tx.commit()?;
        if !applied.erased.is_empty() {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Copies the WAL into the database and truncates it to zero bytes.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        // The pragma answers a row (busy, log frames, checkpointed frames).
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The peer id this sidecar last wrote as, if any.
    pub fn self_peer(&self) -> Result<Option<PeerId>, StoreError> {
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![SELF_PEER],
                |row| row.get(0),
            )
            .optional()?;
        Ok(value.map(PeerId::new))
    }

    /// Remembers the peer id this sidecar writes as.
    pub fn set_self_peer(&mut self, peer: &PeerId) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![SELF_PEER, peer.as_str()],
        )?;
        Ok(())
    }
}

fn insert(conn: &Connection, event: &Event) -> Result<(), StoreError> {
    let mut header = event.clone();
    let body = header.body.take();
    let text = serde_json::to_string(&header).map_err(|source| StoreError::Corrupt {
        id: event.id.to_string(),
        source,
    })?;
    let seq = i64::try_from(event.seq).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT OR IGNORE INTO events (id, author, seq, header, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![event.id.as_str(), event.author.as_str(), seq, text, body],
    )?;
    Ok(())
}

fn erase(conn: &Connection, ids: &[EventId]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("UPDATE events SET body = NULL WHERE id = ?1")?;
    for id in ids {
        stmt.execute(params![id.as_str()])?;
    }
    Ok(())
}

impl EventStore for SqliteStore {
    type Error = StoreError;

    fn append(&mut self, event: &Event) -> Result<(), StoreError> {
        insert(&self.conn, event)
    }

    fn erase_bodies(&mut self, ids: &[EventId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        erase(&tx, ids)?;
        tx.commit()?;
        self.checkpoint()
    }

    fn load_all(&self) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, header, body FROM events ORDER BY author, seq")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut events = Vec::new();
        for row in rows {
            let (id, header, body) = row?;
            let mut event: Event = serde_json::from_str(&header)
                .map_err(|source| StoreError::Corrupt { id, source })?;
            event.body = body;
            events.push(event);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_protocol::{
        identity::Identity,
        memory::{replica::Links, Author, Limits, Replica},
    };
    use serde_json::json;

    fn author() -> Author {
        Author {
            peer: PeerId::new("alice"),
            identity: Identity::from_seed([7; 32]),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meshwork-mem-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn events_and_bodies_survive_reopening() {
        let dir = temp_dir("reopen");
        let mut store = SqliteStore::open(&dir).unwrap();
        let mut replica = Replica::new(Limits::default());
        let a = author();
        for n in 0..3 {
            let applied = replica
                .put(
                    &a,
                    format!("k{n}"),
                    json!({"n": n}),
                    Links::default(),
                    1000 + n,
                )
                .unwrap();
            store.commit(&applied).unwrap();
        }
        drop(store);
        let store = SqliteStore::open(&dir).unwrap();
        let (restored, _) = Replica::restore(Limits::default(), store.load_all().unwrap());
        assert_eq!(restored.version(), replica.version());
        assert_eq!(restored.get("k2", None).value, json!({"n": 2}));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_file_is_owner_only() {
        let dir = temp_dir("mode");
        let _store = SqliteStore::open(&dir).unwrap();
        for suffix in ["", "-wal"] {
            let path = dir.join(format!("{DB_FILE}{suffix}"));
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_forget_leaves_no_copy_of_the_value_in_the_files() {
        let dir = temp_dir("forget");
        let mut store = SqliteStore::open(&dir).unwrap();
        let mut replica = Replica::new(Limits::default());
        let a = author();
        let marker = "unique-marker-5f1c0e77";
        let big = format!("{marker}{}", "x".repeat(100_000));
        for value in [json!(marker), json!(big)] {
            let applied = replica
                .put(&a, "secret".into(), value, Links::default(), 1)
                .unwrap();
            store.commit(&applied).unwrap();
        }
        let applied = replica.put(&a, "other".into(), json!("kept-value"), Links::default(), 2);
        store.commit(&applied.unwrap()).unwrap();
        let forget = replica.forget(&a, "secret".into(), 3).unwrap();
        assert_eq!(forget.erased.len(), 2);
        store.commit(&forget).unwrap();
        for suffix in ["", "-wal"] {
            let bytes = std::fs::read(dir.join(format!("{DB_FILE}{suffix}"))).unwrap_or_default();
            assert!(!contains(&bytes, marker.as_bytes()), "marker in {suffix:?}");
        }
        let (restored, _) = Replica::restore(Limits::default(), store.load_all().unwrap());
        assert!(!restored.get("secret", None).found);
        assert_eq!(restored.get("other", None).value, json!("kept-value"));
        let history = restored.history("secret", None);
        assert_eq!(history.len(), 3);
        assert!(history[..2]
            .iter()
            .all(|e| e.forgotten && e.value.is_null()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_erasure_not_yet_made_durable_is_reported_by_restore() {
        let mut store = SqliteStore::in_memory().unwrap();
        let mut replica = Replica::new(Limits::default());
        let a = author();
        let put = replica
            .put(&a, "k".into(), json!(1), Links::default(), 1)
            .unwrap();
        store.commit(&put).unwrap();
        let forget = replica.forget(&a, "k".into(), 2).unwrap();
        // Only the forget, not its erasure (as after a crash between the two).
        store.append(&forget.events[0]).unwrap();
        let (_, applied) = Replica::restore(Limits::default(), store.load_all().unwrap());
        assert_eq!(applied.erased, forget.erased);
        store.erase_bodies(&applied.erased).unwrap();
        let events = store.load_all().unwrap();
        assert!(events.iter().all(|e| e.body.is_none()));
    }

    #[test]
    fn the_self_peer_id_is_remembered() {
        let mut store = SqliteStore::in_memory().unwrap();
        assert_eq!(store.self_peer().unwrap(), None);
        store.set_self_peer(&PeerId::new("alice")).unwrap();
        store.set_self_peer(&PeerId::new("bob")).unwrap();
        assert_eq!(store.self_peer().unwrap(), Some(PeerId::new("bob")));
    }

    #[test]
    fn appending_an_event_twice_keeps_one_row() {
        let mut store = SqliteStore::in_memory().unwrap();
        let mut replica = Replica::new(Limits::default());
        let put = replica
            .put(&author(), "k".into(), json!(1), Links::default(), 1)
            .unwrap();
        store.commit(&put).unwrap();
        store.commit(&put).unwrap();
        assert_eq!(store.load_all().unwrap().len(), 1);
    }
}
