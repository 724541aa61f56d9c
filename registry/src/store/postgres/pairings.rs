//! Pairing entries and the hashes of device tokens (ADR 0007).

use super::{corrupt, PgStore};
use crate::store::{records::StoredPairing, StoreResult};
use meshwork_protocol::{
    rest::{PairingEntry, PairingStatus},
    PeerId,
};
use tokio_postgres::Row;

const SELECT: &str = "SELECT id, agent_name, peer_id, status, created_at, updated_at, \
     claim_hash, approved_at FROM pairings";

fn row_to_pairing(row: &Row) -> StoreResult<StoredPairing> {
    let status: String = row.try_get(3)?;
    let status = PairingStatus::parse(&status).ok_or_else(|| corrupt("pairing status", &status))?;
    Ok(StoredPairing {
        entry: PairingEntry {
            id: row.try_get(0)?,
            agent_name: row.try_get(1)?,
            peer_id: PeerId::new(row.try_get::<_, String>(2)?),
            status,
            created_at: row.try_get(4)?,
            updated_at: row.try_get(5)?,
        },
        claim_hash: row.try_get(6)?,
        approved_at: row.try_get(7)?,
    })
}

impl PgStore {
    async fn one_pairing(&self, filter: &str, arg: &str) -> StoreResult<Option<StoredPairing>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("{SELECT} WHERE {filter}"), &[&arg])
            .await?;
        row.as_ref().map(row_to_pairing).transpose()
    }

    pub(super) async fn insert_pairing(
        &self,
        entry: &PairingEntry,
        claim_hash: Option<&str>,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO pairings (id, agent_name, peer_id, status, created_at, updated_at, \
                 claim_hash) VALUES ($1, $2, $3, $4, $5, $5, $6)",
                &[
                    &entry.id,
                    &entry.agent_name,
                    &entry.peer_id.as_str(),
                    &entry.status.as_str(),
                    &entry.created_at,
                    &claim_hash,
                ],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn pairing(&self, id: &str) -> StoreResult<Option<StoredPairing>> {
        self.one_pairing("id = $1", id).await
    }

    pub(super) async fn pairings(
        &self,
        status: Option<PairingStatus>,
    ) -> StoreResult<Vec<PairingEntry>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("{SELECT} WHERE $1::text IS NULL OR status = $1 ORDER BY created_at, id"),
                &[&status.map(PairingStatus::as_str)],
            )
            .await?;
        rows.iter()
            .map(|r| row_to_pairing(r).map(|p| p.entry))
            .collect()
    }

    pub(super) async fn live_pairing_for_peer(
        &self,
        peer_id: &PeerId,
    ) -> StoreResult<Option<StoredPairing>> {
        self.one_pairing(
            "peer_id = $1 AND status IN ('pending_approval', 'approved')",
            peer_id.as_str(),
        )
        .await
    }

    pub(super) async fn pairing_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<StoredPairing>> {
        self.one_pairing("token_hash = $1 AND status = 'approved'", token_hash)
            .await
    }

    pub(super) async fn insert_pairing_code(
        &self,
        code: &str,
        expires_at: f64,
        now: f64,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM pairing_codes WHERE expires_at <= $1", &[&now])
            .await?;
        let n = client
            .execute(
                "INSERT INTO pairing_codes (code, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (code) DO NOTHING",
                &[&code, &expires_at],
            )
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn redeem_pairing_code(
        &self,
        code: &str,
        now: f64,
        max_wrong: u32,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let found: Option<f64> = tx
            .query_opt(
                "DELETE FROM pairing_codes WHERE code = $1 RETURNING expires_at",
                &[&code],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        if found.is_none() {
            tx.execute(
                "UPDATE pairing_codes SET wrong_tries = wrong_tries + 1",
                &[],
            )
            .await?;
            tx.execute(
                "DELETE FROM pairing_codes WHERE wrong_tries >= $1 OR expires_at <= $2",
                &[&i64::from(max_wrong), &now],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(found.is_some_and(|expires| expires > now))
    }

    pub(super) async fn claim_device_token(&self, pairing_id: &str, now: f64) -> StoreResult<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO token_claims (pairing_id, claimed_at) VALUES ($1, $2) \
                 ON CONFLICT (pairing_id) DO NOTHING",
                &[&pairing_id, &now],
            )
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn transition_pairing(
        &self,
        id: &str,
        from: PairingStatus,
        to: PairingStatus,
        now: f64,
        token_hash: Option<&str>,
    ) -> StoreResult<bool> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE pairings SET status = $3::text, updated_at = $4, \
                     token_hash = COALESCE($5, token_hash), \
                     approved_at = CASE WHEN $3::text = 'approved' THEN $4 ELSE approved_at END \
                 WHERE id = $1 AND status = $2",
                &[&id, &from.as_str(), &to.as_str(), &now, &token_hash],
            )
            .await?;
        Ok(changed == 1)
    }
}
