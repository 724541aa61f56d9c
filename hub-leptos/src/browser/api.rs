//! REST calls to the registry with the admin token as bearer.

use gloo_net::http::{Method, RequestBuilder};
use meshwork_protocol::rest::ErrorBody;
use serde::{de::DeserializeOwned, Serialize};
use std::fmt;

/// Probe whose status tells whether the admin token is accepted.
pub const TOKEN_PROBE_PATH: &str = "/api/pairing/pending";

/// A failed call.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: the registry refused the admin token.
    Refused,
    /// Any other HTTP error, with the registry's `{"error"}` text.
    Http {
        /// Status code.
        status: u16,
        /// What the registry said.
        message: String,
    },
    /// No answer, or an answer this hub cannot read.
    Network(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused => f.write_str("the registry refused the admin token"),
            Self::Http { status, message } => write!(f, "HTTP {status}: {message}"),
            Self::Network(m) => write!(f, "no answer from the registry: {m}"),
        }
    }
}

/// Sends a request with the admin token as bearer (and `body` as JSON, if any); returns the
/// status and the body text.
async fn send(
    method: Method,
    path: &str,
    token: &str,
    body: Option<String>,
) -> Result<(u16, String), ApiError> {
    let network = |e: gloo_net::Error| ApiError::Network(e.to_string());
    let request = RequestBuilder::new(path)
        .method(method)
        .header("Authorization", &format!("Bearer {token}"));
    let request = match body {
        Some(body) => request
            .header("Content-Type", "application/json")
            .body(body),
        None => request.build(),
    }
    .map_err(network)?;
    let response = request.send().await.map_err(network)?;
    let text = response.text().await.map_err(network)?;
    Ok((response.status(), text))
}

/// POSTs `body` (JSON) to `path` and reads the JSON answer.
pub async fn post<B: Serialize, T: DeserializeOwned>(
    path: &str,
    token: &str,
    body: Option<&B>,
) -> Result<T, ApiError> {
    let body = body
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let text = success(send(Method::POST, path, token, body).await?)?;
    serde_json::from_str(&text).map_err(|e| ApiError::Network(format!("unexpected answer: {e}")))
}

/// DELETEs `path` (an answer without body).
pub async fn delete(path: &str, token: &str) -> Result<(), ApiError> {
    success(send(Method::DELETE, path, token, None).await?).map(|_| ())
}

/// The body of a 2xx answer; a 401 is `Refused`, any other status the registry's error.
fn success((status, text): (u16, String)) -> Result<String, ApiError> {
    match status {
        200..=299 => Ok(text),
        401 => Err(ApiError::Refused),
        _ => Err(ApiError::Http {
            status,
            message: serde_json::from_str::<ErrorBody>(&text)
                .map(|b| b.error)
                .unwrap_or(text),
        }),
    }
}

/// Whether the registry accepts `token` (`Ok(false)` only on a 401).
pub async fn token_accepted(token: &str) -> Result<bool, ApiError> {
    let (status, _) = send(Method::GET, TOKEN_PROBE_PATH, token, None).await?;
    Ok(status != 401)
}
