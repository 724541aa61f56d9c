//! `GET /api/config`: ICE servers, with TURN REST credentials when `TURN_URL`/`TURN_SECRET`
//! are set (coturn `use-auth-secret`).

use crate::{auth::Caller, clock::unix_now, error::ApiError, state::AppState};
use axum::{extract::State, Json};
use base64::Engine;
use hmac::{Hmac, Mac};
use meshwork_protocol::rest::{IceConfig, IceServer};
use sha1::Sha1;
use std::sync::Arc;

fn split_urls(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// TURN REST credential: username `"<unix expiry>:<peer id>"`,
/// credential `base64(HMAC-SHA1(secret, username))`.
pub fn turn_credential(secret: &str, peer_id: &str, expiry: u64) -> (String, String) {
    let username = format!("{expiry}:{peer_id}");
    let credential = match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(username.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => String::new(),
    };
    (username, credential)
}

/// Returns the ICE servers for the caller.
pub async fn get_config(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<IceConfig>, ApiError> {
    let peer_id = caller
        .require_identified()?
        .map(|p| p.to_string())
        .unwrap_or("admin".into());
    let config = &state.config;
    let mut ice_servers = Vec::new();
    if let Some(stun) = config.stun_urls.as_deref() {
        let urls = split_urls(stun);
        if !urls.is_empty() {
            ice_servers.push(IceServer {
                urls,
                username: None,
                credential: None,
            });
        }
    }
    if let (Some(turn), Some(secret)) = (config.turn_url.as_deref(), config.turn_secret.as_deref())
    {
        let expiry = unix_now() as u64 + config.turn_ttl_secs;
        let (username, credential) = turn_credential(secret, &peer_id, expiry);
        ice_servers.push(IceServer {
            urls: split_urls(turn),
            username: Some(username),
            credential: Some(credential),
        });
    }
    Ok(Json(IceConfig { ice_servers }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credential_matches_coturn_rest_scheme() {
        // echo -n "1700000000:alice" | openssl dgst -sha1 -hmac secret -binary | base64
        let (user, cred) = turn_credential("secret", "alice", 1_700_000_000);
        assert_eq!(user, "1700000000:alice");
        assert_eq!(cred.len(), 28);
        let (_, again) = turn_credential("secret", "alice", 1_700_000_000);
        assert_eq!(cred, again);
        let (_, other) = turn_credential("other", "alice", 1_700_000_000);
        assert_ne!(cred, other);
    }
}
