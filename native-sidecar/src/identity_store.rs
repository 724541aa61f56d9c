//! The sidecar's identity on disk (ADR 0015): its Ed25519 key (`identity.key`) and the keys
//! of peers it has verified (`known_peers.json`), in an owner-only data directory. A key file
//! that others can read is refused, like the device token file.

use meshwork_protocol::{
    identity::{Identity, PublicKey},
    PeerId,
};
use std::{
    collections::BTreeMap,
    fs::{self, OpenOptions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

const KEY_FILE: &str = "identity.key";
const KNOWN_PEERS_FILE: &str = "known_peers.json";

/// The data directory and what it holds.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    dir: PathBuf,
}

impl IdentityStore {
    /// Opens `dir`, creating it owner-only (0700) when missing.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        if !dir.exists() {
            fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", dir.display()))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The identity key, created on first start.
    pub fn identity(&self) -> anyhow::Result<Identity> {
        let path = self.dir.join(KEY_FILE);
        if path.exists() {
            let text = read_private(&path)?;
            let seed = hex::decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| anyhow::anyhow!("{} is not an identity key", path.display()))?;
            return Ok(Identity::from_seed(seed));
        }
        let identity = Identity::from_seed(rand::random());
        write_private(&path, &hex::encode(identity.seed()))?;
        tracing::info!(key = %identity.public().fingerprint(), file = %path.display(), "identity key created");
        Ok(identity)
    }

    /// Keys pinned at earlier verified contacts.
    pub fn known_peers(&self) -> anyhow::Result<BTreeMap<PeerId, PublicKey>> {
        let path = self.dir.join(KNOWN_PEERS_FILE);
        if !path.exists() {
            return Ok(BTreeMap::new());
        }
        let text = read_private(&path)?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a map of peer keys: {e}", path.display()))
    }

    /// Pins `key` for `peer`.
    pub fn remember(&self, peer: &PeerId, key: &PublicKey) -> anyhow::Result<()> {
        let mut known = self.known_peers()?;
        known.insert(peer.clone(), *key);
        let text = serde_json::to_string_pretty(&known)?;
        write_private(&self.dir.join(KNOWN_PEERS_FILE), &text)
    }
}

fn read_private(path: &Path) -> anyhow::Result<String> {
    let meta =
        fs::metadata(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        anyhow::bail!(
            "{} is readable by others; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// Writes atomically (temp file, fsync, rename), owner-only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meshwork-id-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_key_is_created_once_and_kept_owner_only() {
        let dir = temp_dir("keep");
        let store = IdentityStore::open(&dir).unwrap();
        let first = store.identity().unwrap();
        assert_eq!(store.identity().unwrap(), first);
        let mode = fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = temp_dir("open");
        let store = IdentityStore::open(&dir).unwrap();
        store.identity().unwrap();
        fs::set_permissions(dir.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        let error = store.identity().unwrap_err().to_string();
        assert!(error.contains("readable by others"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pinned_keys_survive_a_restart() {
        let dir = temp_dir("pins");
        let store = IdentityStore::open(&dir).unwrap();
        let key = Identity::from_seed([5; 32]).public();
        store.remember(&PeerId::new("bob"), &key).unwrap();
        let again = IdentityStore::open(&dir).unwrap();
        assert_eq!(again.known_peers().unwrap().get("bob"), Some(&key));
        fs::remove_dir_all(&dir).unwrap();
    }
}
