//! Pairing entries and the hashes of device tokens. A device token is never stored: only its
//! SHA-256 (the copy waiting for the device to claim it lives in memory, `crate::pairing`).

use super::Db;
use crate::store::records::StoredPairing;
use meshwork_protocol::{
    rest::{PairingEntry, PairingStatus},
    PeerId,
};
use rusqlite::{params, OptionalExtension, Row};

const SELECT: &str = "SELECT id, agent_name, peer_id, status, created_at, updated_at, \
     claim_hash, approved_at FROM pairings";

fn row_to_pairing(row: &Row<'_>) -> rusqlite::Result<StoredPairing> {
    let status: String = row.get(3)?;
    let status = PairingStatus::parse(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("unknown pairing status {status:?}").into(),
        )
    })?;
    Ok(StoredPairing {
        entry: PairingEntry {
            id: row.get(0)?,
            agent_name: row.get(1)?,
            peer_id: PeerId::new(row.get::<_, String>(2)?),
            status,
            created_at: row.get(4)?,
            updated_at: row.get(5)?,
        },
        claim_hash: row.get(6)?,
        approved_at: row.get(7)?,
    })
}

impl Db {
    /// Stores a new `pending_approval` entry.
    pub fn insert_pairing(
        &self,
        entry: &PairingEntry,
        claim_hash: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.lock().execute(
            "INSERT INTO pairings (id, agent_name, peer_id, status, created_at, updated_at, \
             claim_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![
                entry.id,
                entry.agent_name,
                entry.peer_id.as_str(),
                entry.status.as_str(),
                entry.created_at,
                claim_hash
            ],
        )?;
        Ok(())
    }

    /// One entry.
    pub fn pairing(&self, id: &str) -> rusqlite::Result<Option<StoredPairing>> {
        self.lock()
            .query_row(
                &format!("{SELECT} WHERE id = ?1"),
                params![id],
                row_to_pairing,
            )
            .optional()
    }

    /// Every entry, or those with one status; oldest first.
    pub fn pairings(&self, status: Option<PairingStatus>) -> rusqlite::Result<Vec<PairingEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "{SELECT} WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map(params![status.map(PairingStatus::as_str)], |row| {
            row_to_pairing(row).map(|p| p.entry)
        })?;
        rows.collect()
    }

    /// The entry holding `peer_id` while pending or approved (peer ids are unique among those).
    pub fn live_pairing_for_peer(
        &self,
        peer_id: &PeerId,
    ) -> rusqlite::Result<Option<StoredPairing>> {
        self.lock()
            .query_row(
                &format!(
                    "{SELECT} WHERE peer_id = ?1 AND status IN ('pending_approval', 'approved')"
                ),
                params![peer_id.as_str()],
                row_to_pairing,
            )
            .optional()
    }

    /// The approved entry whose device token hashes to `token_hash`.
    pub fn pairing_by_token_hash(
        &self,
        token_hash: &str,
    ) -> rusqlite::Result<Option<StoredPairing>> {
        self.lock()
            .query_row(
                &format!("{SELECT} WHERE token_hash = ?1 AND status = 'approved'"),
                params![token_hash],
                row_to_pairing,
            )
            .optional()
    }

    /// See [`crate::store::Store::insert_pairing_code`].
    pub fn insert_pairing_code(
        &self,
        code: &str,
        expires_at: f64,
        now: f64,
    ) -> rusqlite::Result<bool> {
        let conn = self.lock();
        conn.execute(
            "DELETE FROM pairing_codes WHERE expires_at <= ?1",
            params![now],
        )?;
        let n = conn.execute(
            "INSERT OR IGNORE INTO pairing_codes (code, expires_at) VALUES (?1, ?2)",
            params![code, expires_at],
        )?;
        Ok(n == 1)
    }

    /// See [`crate::store::Store::redeem_pairing_code`].
    pub fn redeem_pairing_code(
        &self,
        code: &str,
        now: f64,
        max_wrong: u32,
    ) -> rusqlite::Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let found: Option<f64> = tx
            .query_row(
                "DELETE FROM pairing_codes WHERE code = ?1 RETURNING expires_at",
                params![code],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_none() {
            tx.execute("UPDATE pairing_codes SET wrong_tries = wrong_tries + 1", [])?;
            tx.execute(
                "DELETE FROM pairing_codes WHERE wrong_tries >= ?1 OR expires_at <= ?2",
                params![max_wrong, now],
            )?;
        }
        tx.commit()?;
        Ok(found.is_some_and(|expires| expires > now))
    }

    /// See [`crate::store::Store::claim_device_token`].
    pub fn claim_device_token(&self, pairing_id: &str, now: f64) -> rusqlite::Result<bool> {
        let n = self.lock().execute(
            "INSERT OR IGNORE INTO token_claims (pairing_id, claimed_at) VALUES (?1, ?2)",
            params![pairing_id, now],
        )?;
        Ok(n == 1)
    }

    /// Moves an entry `from → to` atomically; `false` when it was not in `from` (a race lost,
    /// or an illegal transition). On approval, stores the device token's hash.
    pub fn transition_pairing(
        &self,
        id: &str,
        from: PairingStatus,
        to: PairingStatus,
        now: f64,
        token_hash: Option<&str>,
    ) -> rusqlite::Result<bool> {
        let changed = self.lock().execute(
            "UPDATE pairings SET status = ?3, updated_at = ?4, \
                 token_hash = COALESCE(?5, token_hash), \
                 approved_at = CASE WHEN ?3 = 'approved' THEN ?4 ELSE approved_at END \
             WHERE id = ?1 AND status = ?2",
            params![id, from.as_str(), to.as_str(), now, token_hash],
        )?;
        Ok(changed == 1)
    }
}
