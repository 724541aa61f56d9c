//! Small persisted settings: generated secrets and the dev API key, shared by every registry
//! on the database (so they sign and check the same tokens).

use super::PgStore;
use crate::store::StoreResult;

impl PgStore {
    pub(super) async fn setting_or_insert(
        &self,
        key: &str,
        candidate: String,
    ) -> StoreResult<String> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &candidate],
            )
            .await?;
        let row = client
            .query_one("SELECT value FROM settings WHERE key = $1", &[&key])
            .await?;
        Ok(row.try_get(0)?)
    }
}
