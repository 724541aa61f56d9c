//! Small persisted settings: generated secrets and the dev API key.

use super::Db;
use rusqlite::{params, OptionalExtension};

impl Db {
    /// Reads a setting.
    pub fn setting(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.lock()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
    }

    /// Reads a setting, creating it with `make` on first use.
    pub fn setting_or_insert(
        &self,
        key: &str,
        make: impl FnOnce() -> String,
    ) -> rusqlite::Result<String> {
        let conn = self.lock();
        let existing: Option<String> = conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(value) = existing {
            return Ok(value);
        }
        let value = make();
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(value)
    }
}
