//! API keys (`API_KEYS_FILE`): `{"keys": {"ak_…": {"peer_id": "…", "role": "agent"}}}`.

use super::secrets::{credential_id, random_hex, sha256_hex};
use crate::store::Store;
use meshwork_protocol::{rest::Role, PeerId};
use serde::Deserialize;
use std::{collections::HashMap, path::Path};

/// What an API key stands for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeyEntry {
    /// The peer id the key's tokens carry.
    pub peer_id: PeerId,
    /// The key's role (default `agent`).
    #[serde(default = "default_role")]
    pub role: Role,
    /// The key's credential id (`cid` of the JWTs it gets): set when the keys are loaded.
    #[serde(skip)]
    pub id: String,
}

fn default_role() -> Role {
    Role::Agent
}

#[derive(Deserialize)]
struct KeysFile {
    keys: HashMap<String, KeyEntry>,
}

/// Errors loading the keys file: each stops the registry at startup.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeysError {
    /// Named explicitly but absent.
    #[error("API keys file {0} does not exist (unset API_KEYS_FILE or pass --dev for a dev key)")]
    Missing(String),
    /// Unreadable.
    #[error("cannot read API keys file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not the expected JSON.
    #[error("API keys file {path} is malformed: {source}")]
    Malformed {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The store failed while persisting the dev key.
    #[error("cannot persist the dev key: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// How the keys were obtained, for the startup banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysSource {
    /// Loaded from this file.
    File(String),
    /// Dev mode without a file: this generated key (persisted so restarts keep it).
    DevKey {
        /// The key to give an agent.
        key: String,
        /// Its peer id.
        peer_id: PeerId,
    },
    /// No file and no dev mode: agents must pair instead.
    None,
}

/// Peer id of the generated dev key; a chatixia agent named `dev-agent` matches it.
pub const DEV_PEER_ID: &str = "dev-agent-sidecar";

/// Shortest API key that is not warned about at start-up (32 hex digits = 128 bits): keys
/// are the one credential an operator chooses, and per-address throttles do not stop a
/// guesser with many addresses.
pub const MIN_KEY_LEN: usize = 32;

/// Loaded API keys, indexed by the key's SHA-256 so lookups never compare raw secrets, and by
/// credential id so a JWT's `cid` finds its key (or finds it gone).
#[derive(Debug, Default)]
pub struct ApiKeys {
    by_hash: HashMap<String, KeyEntry>,
    by_id: HashMap<String, KeyEntry>,
    short: usize,
}

impl ApiKeys {
    /// Loads the keys as the configuration asks.
    /// `id_secret` keys the credential ids (the JWT signing secret).
    pub async fn load(
        explicit: Option<&Path>,
        dev: bool,
        db: &dyn Store,
        id_secret: &str,
    ) -> Result<(Self, KeysSource), ApiKeysError> {
        let path = explicit.unwrap_or(Path::new("api_keys.json"));
        let shown = path.display().to_string();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|source| ApiKeysError::Read {
                path: shown.clone(),
                source,
            })?;
            let keys = Self::parse(&text, id_secret).map_err(|source| ApiKeysError::Malformed {
                path: shown.clone(),
                source,
            })?;
            return Ok((keys, KeysSource::File(shown)));
        }
        if dev {
            let key = db
                .setting_or_insert("dev_api_key", format!("ak_dev_{}", random_hex(12)))
                .await?;
            let peer_id = PeerId::new(DEV_PEER_ID);
            let mut keys = Self::default();
            keys.insert(
                &key,
                KeyEntry {
                    peer_id: peer_id.clone(),
                    role: Role::Agent,
                    id: String::new(),
                },
                id_secret,
            );
            return Ok((keys, KeysSource::DevKey { key, peer_id }));
        }
        if explicit.is_some() {
            return Err(ApiKeysError::Missing(shown));
        }
        Ok((Self::default(), KeysSource::None))
    }

    /// Parses the file format; `id_secret` keys the credential ids.
    pub fn parse(text: &str, id_secret: &str) -> Result<Self, serde_json::Error> {
        let file: KeysFile = serde_json::from_str(text)?;
        let mut keys = Self::default();
        for (key, entry) in file.keys {
            // The registry sends (queued tasks, memory frames) as this id: no key may carry
            // it, or its holder could answer for the registry (ADR 0018).
            if entry.peer_id.as_str() == meshwork_protocol::signaling::REGISTRY_PEER_ID {
                return Err(serde::de::Error::custom(format!(
                    "peer_id {:?} is reserved for the registry itself",
                    entry.peer_id.as_str()
                )));
            }
            keys.insert(&key, entry, id_secret);
        }
        Ok(keys)
    }

    fn insert(&mut self, key: &str, mut entry: KeyEntry, id_secret: &str) {
        entry.id = credential_id(id_secret, "api-key", key);
        if key.len() < MIN_KEY_LEN {
            self.short += 1;
        }
        self.by_id.insert(entry.id.clone(), entry.clone());
        self.by_hash.insert(sha256_hex(key), entry);
    }

    /// The entry for a presented key.
    pub fn lookup(&self, key: &str) -> Option<&KeyEntry> {
        self.by_hash.get(&sha256_hex(key))
    }

    /// The entry whose credential id is `id` (a JWT's `cid`), if the key is still loaded.
    pub fn by_id(&self, id: &str) -> Option<&KeyEntry> {
        self.by_id.get(id)
    }

    /// How many keys are shorter than [`MIN_KEY_LEN`] (warned about at start-up).
    pub fn short_keys(&self) -> usize {
        self.short
    }

    /// Whether some key maps to `peer_id` (a device may not take that name).
    pub fn has_peer(&self, peer_id: &PeerId) -> bool {
        self.by_hash.values().any(|e| &e.peer_id == peer_id)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_keys_file() {
        let keys = ApiKeys::parse(
            r#"{"keys": {"ak_dev_001": {"peer_id": "agent-001", "role": "agent"},
                         "ak_x": {"peer_id": "x-sidecar"}}}"#,
            "secret",
        )
        .expect("valid file");
        assert_eq!(keys.len(), 2);
        assert_eq!(
            keys.lookup("ak_dev_001").map(|e| e.peer_id.as_str()),
            Some("agent-001")
        );
        assert_eq!(keys.lookup("ak_x").map(|e| e.role), Some(Role::Agent));
        assert!(keys.lookup("ak_nope").is_none());
        let id = keys
            .lookup("ak_x")
            .map(|e| e.id.clone())
            .unwrap_or_default();
        assert_eq!(
            keys.by_id(&id).map(|e| e.peer_id.as_str()),
            Some("x-sidecar")
        );
        assert_eq!(keys.short_keys(), 2);
    }

    #[test]
    fn malformed_keys_file_is_an_error() {
        assert!(ApiKeys::parse(r#"{"keys": ["ak_dev_001"]}"#, "s").is_err());
        assert!(ApiKeys::parse("not json", "s").is_err());
    }

    #[test]
    fn no_key_may_carry_the_registry_s_own_peer_id() {
        let err = ApiKeys::parse(r#"{"keys": {"ak_x": {"peer_id": "registry"}}}"#, "s");
        assert!(err.is_err_and(|e| e.to_string().contains("reserved")));
    }
}
