//! REST calls against a test registry: one helper so suites say what they send, not how.

use crate::registry::{RegistryProcess, ADMIN_TOKEN};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::Value;

/// The credential a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Cred<'a> {
    /// None.
    Anonymous,
    /// The test registry's admin token as a bearer.
    Admin,
    /// `X-API-Key`.
    ApiKey(&'a str),
    /// `X-Device-Token`.
    Device(&'a str),
    /// `Authorization: Bearer`.
    Bearer(&'a str),
}

/// Adds a credential to a request.
pub fn with_cred(req: RequestBuilder, cred: Cred<'_>) -> RequestBuilder {
    match cred {
        Cred::Anonymous => req,
        Cred::Admin => req.bearer_auth(ADMIN_TOKEN),
        Cred::ApiKey(k) => req.header("x-api-key", k),
        Cred::Device(t) => req.header("x-device-token", t),
        Cred::Bearer(t) => req.bearer_auth(t),
    }
}

/// Sends a request and returns the status and the JSON body (a string if not JSON).
pub async fn send(req: RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.expect("request reaches the registry");
    let code = resp.status();
    let text = resp.text().await.expect("response body");
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `method path` with a credential and an optional JSON body.
pub async fn call(
    reg: &RegistryProcess,
    method: Method,
    path: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = with_cred(Client::new().request(method, reg.url(path)), cred);
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

/// `method path` with a credential, sent from a chosen loopback source address (127.x.y.z).
pub async fn call_from(
    reg: &RegistryProcess,
    from: std::net::IpAddr,
    method: Method,
    path: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    assert!(
        from.is_loopback(),
        "tests send only from loopback, not {from}"
    );
    let client = Client::builder()
        .local_address(from)
        .build()
        .expect("client");
    let mut req = with_cred(client.request(method, reg.url(path)), cred);
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

/// `POST path` as the admin, expecting success; returns the body.
pub async fn admin_post(reg: &RegistryProcess, path: &str) -> Value {
    let (code, body) = call(reg, Method::POST, path, Cred::Admin, None).await;
    assert!(code.is_success(), "POST {path}: {code} {body}");
    body
}

/// `GET path` as the admin, expecting success; returns the body.
pub async fn admin_get(reg: &RegistryProcess, path: &str) -> Value {
    let (code, body) = call(reg, Method::GET, path, Cred::Admin, None).await;
    assert!(code.is_success(), "GET {path}: {code} {body}");
    body
}
