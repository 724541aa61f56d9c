//! `fetch` calls to the registry: a browser token (ADR 0006) and the ICE servers.

use meshwork_protocol::rest::{IceConfig, TokenResponse};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// A failed registry call, as text for the page.
pub type RegistryError = String;

fn js_err(e: JsValue) -> String {
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

async fn call<T: DeserializeOwned>(
    method: &str,
    url: &str,
    bearer: &str,
    body: Option<String>,
) -> Result<T, RegistryError> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = &body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(js_err)?;
    let headers = request.headers();
    headers
        .set("Authorization", &format!("Bearer {bearer}"))
        .map_err(js_err)?;
    if body.is_some() {
        headers
            .set("Content-Type", "application/json")
            .map_err(js_err)?;
    }
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_err)?
        .dyn_into()
        .map_err(js_err)?;
    let text = JsFuture::from(response.text().map_err(js_err)?)
        .await
        .map_err(js_err)?
        .as_string()
        .unwrap_or_default();
    if !response.ok() {
        return Err(format!(
            "{method} {url}: HTTP {}: {text}",
            response.status()
        ));
    }
    serde_json::from_str(&text).map_err(|e| format!("{method} {url}: unexpected answer: {e}"))
}

/// A browser JWT from the admin session; `peer_id` keeps the tab's identity on renewal.
pub async fn browser_token(
    base: &str,
    admin_token: &str,
    peer_id: Option<&str>,
) -> Result<TokenResponse, RegistryError> {
    let body = peer_id.map(|id| serde_json::json!({ "peer_id": id }).to_string());
    call("POST", &format!("{base}/api/token"), admin_token, body).await
}

/// The ICE servers for this tab.
pub async fn ice_config(base: &str, jwt: &str) -> Result<IceConfig, RegistryError> {
    call("GET", &format!("{base}/api/config"), jwt, None).await
}
