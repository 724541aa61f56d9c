//! The registry calls the peer makes: a browser token (ADR 0006) and the ICE servers.

use crate::http;
use gloo_net::http::Method;
use meshwork_protocol::rest::{IceConfig, TokenResponse};

/// A failed registry call, as text for the page.
pub type RegistryError = String;

/// A browser JWT from the admin session; `peer_id` keeps the tab's identity on renewal.
pub async fn browser_token(
    base: &str,
    admin_token: &str,
    peer_id: Option<&str>,
) -> Result<TokenResponse, RegistryError> {
    let body = peer_id.map(|id| serde_json::json!({ "peer_id": id }).to_string());
    http::json(
        Method::POST,
        &format!("{base}/api/token"),
        admin_token,
        body,
    )
    .await
}

/// The ICE servers for this tab.
pub async fn ice_config(base: &str, jwt: &str) -> Result<IceConfig, RegistryError> {
    http::json(Method::GET, &format!("{base}/api/config"), jwt, None).await
}
