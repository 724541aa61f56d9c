//! The registry's memory replica on disk (ADR 0016): one row per event, the body apart so a
//! forget can erase it. The database runs with `secure_delete`, and every erasure ends with a
//! WAL checkpoint, so a forgotten value leaves no bytes in `registry.db` or its WAL.

use super::Db;
use crate::store::{records::split_event, StoreError};
use meshwork_protocol::memory::{Event, EventId};
use rusqlite::params;

impl Db {
    /// Stores new events (ignoring any already held) and erases the bodies of forgotten ones,
    /// in one transaction.
    pub fn memory_commit(&self, appends: &[Event], erased: &[EventId]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for event in appends {
            let (header, body) = split_event(event)?;
            tx.execute(
                "INSERT OR IGNORE INTO memory_events (id, header, body) VALUES (?1, ?2, ?3)",
                params![event.id.as_str(), header, body],
            )?;
        }
        for id in erased {
            tx.execute(
                "UPDATE memory_events SET body = NULL WHERE id = ?1",
                params![id.as_str()],
            )?;
        }
        tx.commit()?;
        if !erased.is_empty() {
            // The old pages are zeroed (`secure_delete`); the WAL still has the last copy of
            // them until it is checkpointed and truncated.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Every stored event.
    pub fn memory_events(&self) -> Result<Vec<Event>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT header, body FROM memory_events")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut events = Vec::new();
        for row in rows {
            let (header, body) = row?;
            events.push(crate::store::records::join_event(&header, body)?);
        }
        Ok(events)
    }
}
