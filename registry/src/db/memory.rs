//! The registry's memory replica on disk (ADR 0016): one row per event, the body apart so a
//! forget can erase it. The database runs with `secure_delete`, and every erasure ends with a
//! WAL checkpoint, so a forgotten value leaves no bytes in `registry.db` or its WAL.

use super::Db;
use meshwork_protocol::memory::{store::EventStore, Event, EventId};
use rusqlite::params;

/// [`EventStore`] over the registry's database.
pub struct MemoryStore<'a>(pub &'a Db);

/// Why the memory store failed.
#[derive(Debug, thiserror::Error)]
pub enum MemoryStoreError {
    /// SQLite refused.
    #[error("memory store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row is not an event.
    #[error("memory store holds an unreadable event: {0}")]
    Corrupt(#[from] serde_json::Error),
}

impl EventStore for MemoryStore<'_> {
    type Error = MemoryStoreError;

    fn append(&mut self, event: &Event) -> Result<(), MemoryStoreError> {
        let mut header = event.clone();
        let body = header.body.take();
        let header = serde_json::to_string(&header)?;
        self.0.lock().execute(
            "INSERT OR IGNORE INTO memory_events (id, header, body) VALUES (?1, ?2, ?3)",
            params![event.id.as_str(), header, body],
        )?;
        Ok(())
    }

    fn erase_bodies(&mut self, ids: &[EventId]) -> Result<(), MemoryStoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.0.lock();
        let tx = conn.transaction()?;
        for id in ids {
            tx.execute(
                "UPDATE memory_events SET body = NULL WHERE id = ?1",
                params![id.as_str()],
            )?;
        }
        tx.commit()?;
        // The old pages are zeroed (`secure_delete`); the WAL still has the last copy of
        // them until it is checkpointed and truncated.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn load_all(&self) -> Result<Vec<Event>, MemoryStoreError> {
        let conn = self.0.lock();
        let mut stmt = conn.prepare("SELECT header, body FROM memory_events")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut events = Vec::new();
        for row in rows {
            let (header, body) = row?;
            let mut event: Event = serde_json::from_str(&header)?;
            event.body = body;
            events.push(event);
        }
        Ok(events)
    }
}
