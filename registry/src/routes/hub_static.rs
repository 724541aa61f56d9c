//! The hub's built files at `/`, with `index.html` for client-side routes, and a page that
//! says what to do when the hub has not been built yet. Every answer carries the hub's
//! security headers: a Content-Security-Policy that lets only the hub's own scripts run (its
//! inline scripts by hash, WebAssembly by `'wasm-unsafe-eval'`), no framing, no referrer.

use crate::{error::ApiError, state::AppState};
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meshwork — hub not built</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;
line-height:1.5;color:#1d2433}code{background:#eef1f6;padding:.1rem .3rem;border-radius:4px}</style>
</head><body><h1>The registry is running</h1>
<p>The hub dashboard has not been built into this registry's <code>HUB_DIST_DIR</code> yet.</p>
<p>Build it with <code>source scripts/env.sh &amp;&amp; trunk build --release</code> (or start
everything with <code>scripts/run.sh</code>), then reload this page. The REST API under <code>/api</code> and the
signaling socket at <code>/ws</code> work already.</p></body></html>"#;

/// Where `scripts/build-peer.sh` puts the wasm peer's module, below the hub's root.
const PEER_DIR: &str = "/peer/";

/// Longest path segment a file system takes (`NAME_MAX`), and longest path (`PATH_MAX`).
const MAX_SEGMENT: usize = 255;
const MAX_PATH: usize = 4096;

/// Length of a path segment once percent-decoded.
fn decoded_len(segment: &str) -> usize {
    let bytes = segment.as_bytes();
    let escapes = bytes
        .windows(3)
        .filter(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
        .count();
    bytes.len().saturating_sub(2 * escapes)
}

/// Whether a URL path could name a file at all: longer names are a 404, not a file-system
/// error (a 500 and an ERROR line per request, issue 17).
fn fits_file_system(path: &str) -> bool {
    path.len() <= MAX_PATH && path.split('/').all(|s| decoded_len(s) <= MAX_SEGMENT)
}

/// `'sha256-…'` of every inline `<script>` in `html`, for `script-src`.
fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let tag = &rest[..open_end];
        let body = &rest[open_end + 1..];
        let Some(close) = body.find("</script>") else {
            break;
        };
        if !tag.contains("src=") {
            let digest = Sha256::digest(&body.as_bytes()[..close]);
            let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
            hashes.push(format!("'sha256-{b64}'"));
        }
        rest = &body[close..];
    }
    hashes
}

/// The hub's Content-Security-Policy for the `index.html` it serves.
fn content_security_policy(index_html: &str, host: Option<&str>) -> String {
    let scripts = inline_script_hashes(index_html).join(" ");
    // Its own sockets by name too: older browsers do not count ws: as 'self'.
    let sockets = host
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {scripts}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'{sockets}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the hub's security headers to an answer.
fn secured(mut response: Response, csp: Option<String>) -> Response {
    let headers = response.headers_mut();
    if let Some(value) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

/// The fallback handler serving the hub; checks for the build on every request so a hub built
/// while the registry runs is served without a restart.
pub async fn serve(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let dist = &state.config.hub_dist_dir;
    let index = dist.join("index.html");
    let Ok(index_html) = tokio::fs::read_to_string(&index).await else {
        let csp = content_security_policy(NOT_BUILT, None);
        let page = (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)).into_response();
        return secured(page, Some(csp));
    };
    if !fits_file_system(req.uri().path()) {
        return secured(ApiError::not_found("no such file").into_response(), None);
    }
    let csp = content_security_policy(&index_html, host(req.headers()));
    // The peer's module keeps its name across builds (the hub imports it by name, ADR 0020),
    // so a browser must ask again each time: an old peer.js with a new peer_bg.wasm would
    // not start. Trunk's own files carry a content hash and need no such rule.
    let revalidate = req.uri().path().starts_with(PEER_DIR);
    match ServeDir::new(dist)
        .fallback(ServeFile::new(index))
        .oneshot(req)
        .await
    {
        Ok(response) => {
            let mut response = secured(response.into_response(), Some(csp));
            if revalidate {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            }
            response
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let html = "<script>a()</script><script type=\"module\" src=\"/x.js\"></script>\
                    <script type=\"module\">b()</script>";
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 2);
        let a = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"a()"));
        assert_eq!(hashes[0], format!("'sha256-{a}'"));
    }

    #[test]
    fn over_long_names_do_not_reach_the_file_system() {
        assert!(fits_file_system("/assets/hub.css"));
        assert!(!fits_file_system(&format!("/{}", "a".repeat(256))));
        assert!(fits_file_system(&format!("/{}", "%41".repeat(85))));
        assert!(!fits_file_system(&"/a".repeat(2100)));
    }
}
