//! HTTP to the registry with a bearer token, over `gloo-net` (`fetch`): the peer's token and
//! ICE servers.

use gloo_net::http::{Method, RequestBuilder};
use serde::de::DeserializeOwned;

/// Sends `body` (JSON, if any) to `url` with `Authorization: Bearer <bearer>`; returns the
/// status and the body text, or why no answer came.
pub async fn send(
    method: Method,
    url: &str,
    bearer: &str,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let request = RequestBuilder::new(url)
        .method(method)
        .header("Authorization", &format!("Bearer {bearer}"));
    let request = match body {
        Some(body) => request
            .header("Content-Type", "application/json")
            .body(body),
        None => request.build(),
    }
    .map_err(|e| e.to_string())?;
    let response = request.send().await.map_err(|e| e.to_string())?;
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((response.status(), text))
}

/// Like [`send`], reading a JSON answer; any status but 2xx is an error naming the call.
pub async fn json<T: DeserializeOwned>(
    method: Method,
    url: &str,
    bearer: &str,
    body: Option<String>,
) -> Result<T, String> {
    let what = format!("{method} {url}");
    let (status, text) = send(method, url, bearer, body).await?;
    if !(200..300).contains(&status) {
        return Err(format!("{what}: HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{what}: unexpected answer: {e}"))
}
