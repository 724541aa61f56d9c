//! Talking to the registry over HTTP: a JWT for signaling, and the ICE servers.

use crate::config::SidecarConfig;
use meshwork_protocol::rest::{IceConfig, IceServer, TokenResponse};
use std::time::Duration;

/// Errors fetching credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Transport failure.
    #[error("registry unreachable: {0}")]
    Http(#[from] reqwest::Error),
    /// The registry refused.
    #[error("registry refused ({status}): {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn with_credential(
    req: reqwest::RequestBuilder,
    config: &SidecarConfig,
) -> reqwest::RequestBuilder {
    match config.device_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => req.header("x-device-token", token),
        None => req.header("x-api-key", &config.api_key),
    }
}

async fn checked(resp: reqwest::Response) -> Result<reqwest::Response, CredentialError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(CredentialError::Refused {
        status: status.as_u16(),
        body,
    })
}

/// Exchanges the API key (or device token) for a JWT.
pub async fn fetch_token(config: &SidecarConfig) -> Result<TokenResponse, CredentialError> {
    let resp = with_credential(client().post(config.token_url()), config)
        .send()
        .await?;
    Ok(checked(resp).await?.json().await?)
}

async fn registry_ice_servers(config: &SidecarConfig) -> Result<Vec<IceServer>, CredentialError> {
    let url = format!("{}/api/config", config.registry_base());
    let resp = with_credential(client().get(&url), config).send().await?;
    let ice: IceConfig = checked(resp).await?.json().await?;
    Ok(ice.ice_servers)
}

/// `TURN_URL`/`TURN_SECRET` from the environment take precedence over the registry's TURN.
fn with_local_turn(
    mut servers: Vec<IceServer>,
    config: &SidecarConfig,
    peer_id: &str,
) -> Vec<IceServer> {
    if let (Some(url), Some(secret)) = (config.turn_url.as_deref(), config.turn_secret.as_deref()) {
        servers.retain(|s| !s.urls.iter().any(|u| u.starts_with("turn")));
        let expiry = unix_now() + 86_400;
        let (username, credential) =
            meshwork_protocol::turn::rest_credential(secret, peer_id, expiry);
        servers.push(IceServer {
            urls: url
                .split(',')
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty())
                .collect(),
            username: Some(username),
            credential: Some(credential),
        });
    }
    servers
}

/// The ICE servers: the registry's `/api/config`, with the environment's TURN taking
/// precedence. An error keeps the core's current servers (it retries).
pub async fn renew_ice_servers(
    config: &SidecarConfig,
    peer_id: &str,
) -> Result<Vec<IceServer>, CredentialError> {
    Ok(with_local_turn(
        registry_ice_servers(config).await?,
        config,
        peer_id,
    ))
}

/// Wall-clock seconds since the Unix epoch (TURN credentials expire in it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
