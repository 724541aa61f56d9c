//! Identity keys bound to peer ids (ADR 0015) and the keys devices sent with `pair`.

use super::PgStore;
use crate::store::{
    records::{binding, bound_key, Binding, BoundKey},
    StoreResult,
};
use meshwork_protocol::identity::PublicKey;

impl PgStore {
    pub(super) async fn identity_key(&self, peer_id: &str) -> StoreResult<Option<PublicKey>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT key FROM identity_keys WHERE peer_id = $1",
                &[&peer_id],
            )
            .await?;
        let key: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
        Ok(key.and_then(|k| PublicKey::parse(&k).ok()))
    }

    pub(super) async fn bind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> StoreResult<Binding> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO identity_keys (peer_id, key, source, bound_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (peer_id) DO NOTHING",
                &[&peer_id, &key.encode(), &source, &now],
            )
            .await?;
        let row = client
            .query_one(
                "SELECT key FROM identity_keys WHERE peer_id = $1",
                &[&peer_id],
            )
            .await?;
        let bound: String = row.try_get(0)?;
        Ok(binding(&bound, key))
    }

    pub(super) async fn rebind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO identity_keys (peer_id, key, source, bound_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (peer_id) DO UPDATE SET \
                 key = excluded.key, source = excluded.source, bound_at = excluded.bound_at",
                &[&peer_id, &key.encode(), &source, &now],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn reset_identity_key(&self, peer_id: &str) -> StoreResult<bool> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM identity_keys WHERE peer_id = $1", &[&peer_id])
            .await?;
        Ok(n > 0)
    }

    pub(super) async fn identity_keys(&self) -> StoreResult<Vec<BoundKey>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT peer_id, key, source, bound_at FROM identity_keys ORDER BY peer_id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(bound_key(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                ))
            })
            .collect()
    }

    pub(super) async fn set_pairing_key(
        &self,
        pairing_id: &str,
        key: &PublicKey,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO pairing_keys (pairing_id, key) VALUES ($1, $2) \
                 ON CONFLICT (pairing_id) DO UPDATE SET key = excluded.key",
                &[&pairing_id, &key.encode()],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn pairing_key(&self, pairing_id: &str) -> StoreResult<Option<PublicKey>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT key FROM pairing_keys WHERE pairing_id = $1",
                &[&pairing_id],
            )
            .await?;
        let key: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
        Ok(key.and_then(|k| PublicKey::parse(&k).ok()))
    }
}
