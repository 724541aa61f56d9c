//! The admin token: `ADMIN_TOKEN`, or generated on first start and persisted in the store.

use super::secrets::random_hex;
use crate::store::{Store, StoreResult};

const SETTING: &str = "admin_token";

/// Where the admin token came from, for the startup banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminTokenSource {
    /// `ADMIN_TOKEN` / `--admin-token`.
    Configured,
    /// Generated earlier (or now) and kept in the data dir.
    Persisted,
}

/// Resolves the admin token.
pub async fn resolve(
    configured: Option<&str>,
    db: &dyn Store,
) -> StoreResult<(String, AdminTokenSource)> {
    match configured.filter(|t| !t.is_empty()) {
        Some(token) => Ok((token.to_owned(), AdminTokenSource::Configured)),
        None => Ok((
            db.setting_or_insert(SETTING, format!("adm_{}", random_hex(24)))
                .await?,
            AdminTokenSource::Persisted,
        )),
    }
}
