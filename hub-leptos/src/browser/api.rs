//! REST calls to the registry with the admin token as bearer.

use meshwork_protocol::rest::ErrorBody;
use serde::{de::DeserializeOwned, Serialize};
use std::fmt;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

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

fn js_text(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Sends a request; returns the status and the body text.
async fn send(
    method: &str,
    path: &str,
    token: &str,
    body: Option<String>,
) -> Result<(u16, String), ApiError> {
    let net = |e: JsValue| ApiError::Network(js_text(e));
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = &body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(path, &init).map_err(net)?;
    let headers = request.headers();
    headers
        .set("Authorization", &format!("Bearer {token}"))
        .map_err(net)?;
    if body.is_some() {
        headers
            .set("Content-Type", "application/json")
            .map_err(net)?;
    }
    let window = web_sys::window().ok_or_else(|| ApiError::Network("no window".into()))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(net)?
        .dyn_into()
        .map_err(net)?;
    let text = JsFuture::from(response.text().map_err(net)?)
        .await
        .map_err(net)?
        .as_string()
        .unwrap_or_default();
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
    let (status, text) = send("POST", path, token, body).await?;
    match status {
        200..=299 => serde_json::from_str(&text)
            .map_err(|e| ApiError::Network(format!("unexpected answer: {e}"))),
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
    let (status, _) = send("GET", TOKEN_PROBE_PATH, token, None).await?;
    Ok(status != 401)
}
