//! `GET /api/config`: ICE servers, with TURN REST credentials when `TURN_URL`/`TURN_SECRET`
//! are set (coturn `use-auth-secret`).

use crate::{access::Caller, clock::unix_now, error::ApiError, state::AppState};
use axum::{extract::State, Json};
use meshwork_protocol::rest::{IceConfig, IceServer};
use meshwork_protocol::turn::rest_credential as turn_credential;
use std::sync::Arc;

fn split_urls(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
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
