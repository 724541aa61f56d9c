//! The admin token: it arrives once in the address bar (`/?token=adm_…`, printed by the
//! registry), then lives in this tab's sessionStorage only.

use gloo_storage::{SessionStorage, Storage};
use web_sys::UrlSearchParams;

/// sessionStorage key, shared with the earlier plain-JS page.
pub const TOKEN_KEY: &str = "meshwork-admin-token";

/// Moves a `?token=` from the address bar into sessionStorage and removes it from the URL
/// (and from history), keeping any other parameters and the fragment. `www/index.html` does
/// the same in an inline script before the wasm loads; this covers any other entry path.
pub fn adopt_url_token() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let Ok(search) = location.search() else {
        return;
    };
    let Ok(params) = UrlSearchParams::new_with_str(&search) else {
        return;
    };
    let Some(token) = params.get("token") else {
        return;
    };
    store(&token);
    params.delete("token");
    let rest = String::from(params.to_string());
    let path = location.pathname().unwrap_or_else(|_| "/".into());
    let hash = location.hash().unwrap_or_default();
    let url = if rest.is_empty() {
        format!("{path}{hash}")
    } else {
        format!("{path}?{rest}{hash}")
    };
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// The stored token, if any.
///
/// Kept as the plain string (not gloo-storage's JSON encoding): `www/index.html` stores it
/// before the wasm loads, with `sessionStorage.setItem`.
pub fn stored() -> Option<String> {
    SessionStorage::raw()
        .get_item(TOKEN_KEY)
        .ok()
        .flatten()
        .filter(|t| !t.trim().is_empty())
}

/// Keeps `token` for this tab (plain, like the page's script).
pub fn store(token: &str) {
    let _ = SessionStorage::raw().set_item(TOKEN_KEY, token.trim());
}

/// Forgets the token (log out, or the registry refused it).
pub fn forget() {
    SessionStorage::delete(TOKEN_KEY);
}
