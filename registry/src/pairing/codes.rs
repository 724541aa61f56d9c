//! Six-digit single-use pairing codes, valid `CODE_TTL_SECS`, kept in the store: a device may
//! get its code from one registry of a cluster and pair on another.
//!
//! A code also dies after [`MAX_WRONG_TRIES`] wrong codes were tried while it was outstanding,
//! from whichever addresses: per-address limits alone fall to many source addresses, and a
//! million codes leave a guesser 10 in 1,000,000 per code the admin issues.

use super::CODE_TTL_SECS;
use crate::store::{Store, StoreResult};
use rand::Rng;

/// Wrong codes tried, in total across all addresses, before every outstanding code dies.
pub const MAX_WRONG_TRIES: u32 = 10;

/// Issues a new code, valid `CODE_TTL_SECS` from `now` (unix seconds).
pub async fn issue(db: &dyn Store, now: f64) -> StoreResult<String> {
    loop {
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32));
        let expires = now + CODE_TTL_SECS as f64;
        if db.insert_pairing_code(&code, expires, now).await? {
            return Ok(code);
        }
    }
}

/// Spends `code`; `false` when it is not outstanding (never issued, used, expired or voided).
pub async fn redeem(db: &dyn Store, code: &str, now: f64) -> StoreResult<bool> {
    db.redeem_pairing_code(code, now, MAX_WRONG_TRIES).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn store() -> SqliteStore {
        SqliteStore::in_memory().expect("in-memory store")
    }

    #[tokio::test]
    async fn a_code_is_six_digits_and_single_use() -> StoreResult<()> {
        let db = store();
        let code = issue(&db, 100.0).await?;
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        assert!(redeem(&db, &code, 100.0).await?);
        assert!(!redeem(&db, &code, 100.0).await?, "second use refused");
        Ok(())
    }

    #[tokio::test]
    async fn a_code_dies_after_ten_wrong_tries() -> StoreResult<()> {
        let db = store();
        let code = issue(&db, 100.0).await?;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for _ in 0..MAX_WRONG_TRIES {
            assert!(!redeem(&db, wrong, 100.0).await?);
        }
        assert!(!redeem(&db, &code, 100.0).await?, "voided");
        Ok(())
    }

    #[tokio::test]
    async fn an_expired_code_is_refused() -> StoreResult<()> {
        let db = store();
        let code = issue(&db, 100.0).await?;
        assert!(!redeem(&db, &code, 100.0 + CODE_TTL_SECS as f64 + 1.0).await?);
        Ok(())
    }
}
