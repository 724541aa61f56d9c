//! The browser side effects: the address bar and sessionStorage, REST calls, the hub stream,
//! and the globals the browser tests read.

pub mod api;
pub mod compat;
pub mod peer;
pub mod session;
pub mod stream;

/// Milliseconds since the epoch, from the browser's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// An RFC 3339 time as milliseconds since the epoch (NaN when unparsable).
pub fn parse_time(rfc3339: &str) -> f64 {
    js_sys::Date::parse(rfc3339)
}

/// The page's origin, e.g. `http://127.0.0.1:8080`.
pub fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// A fresh id for a request (not a secret).
pub fn fresh_id(prefix: &str) -> String {
    let r = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{prefix}-{r:08x}")
}
