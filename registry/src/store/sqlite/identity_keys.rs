//! Identity keys bound to peer ids (issue 13, ADR 0015): the first registration (or a
//! pairing approval) binds a key; later registrations must present the same one until an
//! admin resets it.

use super::Db;
use crate::store::records::{binding, bound_key, Binding, BoundKey};
use meshwork_protocol::identity::PublicKey;
use rusqlite::{params, OptionalExtension};

impl Db {
    /// The key bound to `peer_id`, if any (a corrupt row counts as none).
    pub fn identity_key(&self, peer_id: &str) -> rusqlite::Result<Option<PublicKey>> {
        let key: Option<String> = self
            .lock()
            .query_row(
                "SELECT key FROM identity_keys WHERE peer_id = ?1",
                params![peer_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(key.and_then(|k| PublicKey::parse(&k).ok()))
    }

    /// Binds `key` to `peer_id` unless another key is bound already.
    pub fn bind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> rusqlite::Result<Binding> {
        let conn = self.lock();
        conn.execute(
            "INSERT OR IGNORE INTO identity_keys (peer_id, key, source, bound_at) \
             VALUES (?1, ?2, ?3, ?4)",
            params![peer_id, key.encode(), source, now],
        )?;
        let bound: String = conn.query_row(
            "SELECT key FROM identity_keys WHERE peer_id = ?1",
            params![peer_id],
            |r| r.get(0),
        )?;
        Ok(binding(&bound, key))
    }

    /// Replaces whatever key `peer_id` had (pairing approval: the admin's decision).
    pub fn rebind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> rusqlite::Result<()> {
        self.lock().execute(
            "INSERT OR REPLACE INTO identity_keys (peer_id, key, source, bound_at) \
             VALUES (?1, ?2, ?3, ?4)",
            params![peer_id, key.encode(), source, now],
        )?;
        Ok(())
    }

    /// Forgets `peer_id`'s key (admin reset); whether there was one.
    pub fn reset_identity_key(&self, peer_id: &str) -> rusqlite::Result<bool> {
        let n = self.lock().execute(
            "DELETE FROM identity_keys WHERE peer_id = ?1",
            params![peer_id],
        )?;
        Ok(n > 0)
    }

    /// Every bound key, by peer id.
    pub fn identity_keys(&self) -> rusqlite::Result<Vec<BoundKey>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT peer_id, key, source, bound_at FROM identity_keys ORDER BY peer_id")?;
        let rows = stmt.query_map([], |r| {
            Ok(bound_key(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect()
    }

    /// Remembers the key a device sent with `pair`, bound when the pairing is approved.
    pub fn set_pairing_key(&self, pairing_id: &str, key: &PublicKey) -> rusqlite::Result<()> {
        self.lock().execute(
            "INSERT OR REPLACE INTO pairing_keys (pairing_id, key) VALUES (?1, ?2)",
            params![pairing_id, key.encode()],
        )?;
        Ok(())
    }

    /// The key a device sent with its `pair` request.
    pub fn pairing_key(&self, pairing_id: &str) -> rusqlite::Result<Option<PublicKey>> {
        let key: Option<String> = self
            .lock()
            .query_row(
                "SELECT key FROM pairing_keys WHERE pairing_id = ?1",
                params![pairing_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(key.and_then(|k| PublicKey::parse(&k).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_protocol::identity::Identity;

    #[test]
    fn the_first_key_binds_and_another_is_refused_until_reset() {
        let db = Db::in_memory().unwrap();
        let (k1, k2) = (
            Identity::from_seed([1; 32]).public(),
            Identity::from_seed([2; 32]).public(),
        );
        assert_eq!(
            db.bind_identity_key("a", &k1, "registration", 1.0).unwrap(),
            Binding::Bound
        );
        assert_eq!(
            db.bind_identity_key("a", &k1, "registration", 2.0).unwrap(),
            Binding::Bound
        );
        assert_eq!(
            db.bind_identity_key("a", &k2, "registration", 3.0).unwrap(),
            Binding::Conflict(k1)
        );
        assert!(db.reset_identity_key("a").unwrap());
        assert_eq!(
            db.bind_identity_key("a", &k2, "registration", 4.0).unwrap(),
            Binding::Bound
        );
        assert_eq!(db.identity_key("a").unwrap(), Some(k2));
        assert_eq!(db.identity_keys().unwrap().len(), 1);
    }
}
