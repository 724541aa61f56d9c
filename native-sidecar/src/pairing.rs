//! `meshwork-sidecar pair <code> --name <name>`: onboarding a device with one command.
//!
//! It sends the code with a fresh claim secret, waits (long polls) until an admin approves the
//! request in the hub, receives the device token through the claim — nobody copies it by
//! hand — and stores it in a file only its owner can read. Then the sidecar runs with it.

use crate::config::SidecarConfig;
use crate::identity_store::IdentityStore;
use meshwork_protocol::rest::{ClaimRequest, ClaimResponse, PairRequest, PairResponse};
use rand::RngCore;
use std::{
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    time::Duration,
};

/// Where the device token lives unless `--token-file`/`DEVICE_TOKEN_FILE` says otherwise:
/// `$XDG_CONFIG_HOME/meshwork/device_token`, else `~/.config/meshwork/device_token`.
pub fn default_token_file() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("meshwork").join("device_token")
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

async fn error_text(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let reason = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or(body);
    format!("{status}: {reason}")
}

/// Pairs this device; returns the device token, already stored in `token_file`.
pub async fn pair(
    config: &SidecarConfig,
    code: &str,
    name: &str,
    token_file: &Path,
) -> anyhow::Result<String> {
    let base = config.registry_base();
    // The device's identity key goes with the request; approval binds it to the peer id.
    let store = IdentityStore::open(&config.data_dir_for(&format!("{name}-sidecar")))?;
    let identity_key = Some(store.identity()?.public());
    let mut secret = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let claim_secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();

    let resp = client(Duration::from_secs(10))
        .post(format!("{base}/api/pairing/pair"))
        .json(&PairRequest {
            code: code.trim().to_owned(),
            agent_name: name.to_owned(),
            claim_secret: Some(claim_secret.clone()),
            identity_key,
        })
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("registry unreachable at {base}: {e}"))?;
    if !resp.status().is_success() {
        anyhow::bail!("pairing refused ({})", error_text(resp).await);
    }
    let request: PairResponse = resp.json().await?;
    eprintln!(
        "pairing request {} sent as {}; waiting for an admin to approve it in the hub \
         (Devices panel)…",
        request.id, request.peer_id
    );

    let claim_url = format!("{base}/api/pairing/{}/claim", request.id);
    let body = ClaimRequest {
        claim_secret,
        wait_secs: Some(25),
    };
    let mut retry = Duration::from_millis(500);
    let token = loop {
        let sent = client(Duration::from_secs(40))
            .post(&claim_url)
            .json(&body)
            .send()
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?retry, "registry unreachable; still waiting");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        retry = Duration::from_millis(500);
        match resp.status().as_u16() {
            200 => {
                let claim: ClaimResponse = resp.json().await?;
                match claim.device_token {
                    Some(token) => break token,
                    None => anyhow::bail!("approved, but the registry sent no token"),
                }
            }
            202 => continue,
            _ => anyhow::bail!("pairing ended ({})", error_text(resp).await),
        }
    };
    store_token(token_file, &token)?;
    eprintln!(
        "approved: this device is {}; its token is in {} (owner-only). Later runs: \
         DEVICE_TOKEN_FILE={} meshwork-sidecar",
        request.peer_id,
        token_file.display(),
        token_file.display()
    );
    Ok(token)
}

/// Writes the token readable and writable by its owner only (directory 0700, file 0600).
pub fn store_token(path: &Path, token: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    file.write_all(format!("{token}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// Reads a stored token, refusing a file that others can read.
pub fn load_token(path: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot read device token file {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        anyhow::bail!(
            "device token file {} is readable by others; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    let token = std::fs::read_to_string(path)?.trim().to_owned();
    if token.is_empty() {
        anyhow::bail!("device token file {} is empty", path.display());
    }
    Ok(token)
}
