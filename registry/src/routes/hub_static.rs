//! The hub's built files at `/`, with `index.html` for client-side routes, and a page that
//! says what to do when the hub has not been built yet.

use crate::{error::ApiError, state::AppState};
use axum::{
    extract::{Request, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meshwork — hub not built</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;
line-height:1.5;color:#1d2433}code{background:#eef1f6;padding:.1rem .3rem;border-radius:4px}</style>
</head><body><h1>The registry is running</h1>
<p>The hub dashboard has not been built into this registry's <code>HUB_DIST_DIR</code> yet.</p>
<p>Build it with <code>scripts/build-hub.sh</code> (or start everything with
<code>scripts/run.sh</code>), then reload this page. The REST API under <code>/api</code> and the
signaling socket at <code>/ws</code> work already.</p></body></html>"#;

/// The fallback handler serving the hub; checks for the build on every request so a hub built
/// while the registry runs is served without a restart.
pub async fn serve(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let dist = &state.config.hub_dist_dir;
    let index = dist.join("index.html");
    if !index.is_file() {
        return (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)).into_response();
    }
    match ServeDir::new(dist)
        .fallback(ServeFile::new(index))
        .oneshot(req)
        .await
    {
        Ok(response) => response.into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
