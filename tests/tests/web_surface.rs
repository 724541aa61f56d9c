//! What a browser or a stranger's request meets (issue 17 item 9, docs/adr/0012): over-long
//! paths are a quiet 404, host names other than the registry's are refused (DNS rebinding),
//! and the hub page carries its security headers.

use meshwork_tests::{
    bins::{scratch_dir, RemovedOnDrop},
    http::send,
    registry::ADMIN_TOKEN,
    RegistryOptions, RegistryProcess,
};
use reqwest::{Client, StatusCode};
use serde_json::json;

const INLINE: &str = "console.log('hub');";

/// A built hub with one inline script, as trunk writes it.
fn fake_hub() -> RemovedOnDrop {
    let dist = scratch_dir("hub");
    let index = format!(
        "<!doctype html><html><head><script>{INLINE}</script>\
         <script type=\"module\" src=\"/hub.js\"></script></head><body></body></html>"
    );
    std::fs::write(dist.join("index.html"), index).expect("index.html");
    std::fs::create_dir_all(dist.join("peer")).expect("peer/");
    std::fs::write(dist.join("peer/peer.js"), "export default 1;").expect("peer.js");
    dist
}

fn start(capture_log: bool, env: &[(&str, &str)]) -> (RegistryProcess, RemovedOnDrop) {
    let dist = fake_hub();
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_alice": {"peer_id": "alice-sidecar"}}})),
        hub_dist_dir: Some(dist.to_path_buf()),
        capture_log,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    });
    (reg, dist)
}

#[tokio::test]
async fn an_over_long_path_segment_is_a_404_without_an_error_log() {
    let (reg, dist) = start(true, &[]);
    let long = "a".repeat(300);
    for path in [format!("/{long}"), format!("/assets/{long}.js")] {
        let (status, body) = send(Client::new().get(reg.url(&path))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    // The registry is alive and logged no error for them.
    let (status, _) = send(Client::new().get(reg.url("/"))).await;
    assert_eq!(status, StatusCode::OK);
    let errors: Vec<String> = reg
        .log()
        .into_iter()
        .filter(|l| l.contains("ERROR"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let _ = std::fs::remove_dir_all(dist);
}

#[tokio::test]
async fn a_host_name_other_than_the_registrys_is_refused() {
    let (reg, dist) = start(false, &[("PUBLIC_ORIGIN", "https://mesh.example.test")]);
    let port = reg.port;
    let http = Client::new();
    // DNS rebinding: the attacker's name resolves to the registry, and its page is "same
    // origin" with it (Origin host = Host).
    let rebound = format!("evil.example:{port}");
    let (status, body) = send(
        http.get(reg.url("/api/registry/agents"))
            .bearer_auth(ADMIN_TOKEN)
            .header("host", &rebound)
            .header("origin", format!("http://{rebound}")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = send(http.get(reg.url("/")).header("host", &rebound)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the hub page too");
    // The signaling socket too.
    let (_, token) = send(
        http.post(reg.url("/api/token"))
            .header("x-api-key", "ak_alice"),
    )
    .await;
    let ws = tokio_tungstenite::connect_async(
        tokio_tungstenite::tungstenite::http::Request::builder()
            .uri(format!(
                "{}?token={}",
                reg.ws_url(),
                token["token"].as_str().unwrap_or("")
            ))
            .header("host", &rebound)
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .expect("request"),
    )
    .await;
    let Err(err) = ws else {
        panic!("a signaling socket opened under a rebound host name")
    };
    assert!(err.to_string().contains("403"), "{err}");
    // Its own names pass: IP literals, localhost, and the configured public origin.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "mesh.example.test".to_owned(),
    ] {
        let (status, body) = send(
            http.get(reg.url("/api/registry/agents"))
                .bearer_auth(ADMIN_TOKEN)
                .header("host", &host)
                .header("origin", format!("http://{host}")),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
    }
    let _ = std::fs::remove_dir_all(dist);
}

#[tokio::test]
async fn the_hub_page_carries_its_security_headers() {
    let (reg, dist) = start(false, &[]);
    for path in ["/", "/topology"] {
        let resp = Client::new().get(reg.url(path)).send().await.expect("get");
        assert_eq!(resp.status(), StatusCode::OK);
        let headers = resp.headers();
        let csp = headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            csp.contains("'sha256-"),
            "the inline script is allowed by its hash: {csp}"
        );
        assert!(!csp.contains("'unsafe-inline' ;") && !csp.contains("script-src 'unsafe"));
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(
            headers.get("cache-control").is_none(),
            "{path}: the hub's own files keep the browser's caching"
        );
    }
    let _ = std::fs::remove_dir_all(dist);
}

#[tokio::test]
async fn the_peer_module_is_revalidated_on_every_load() {
    let (reg, dist) = start(false, &[]);
    let resp = Client::new()
        .get(reg.url("/peer/peer.js"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["cache-control"],
        "no-cache",
        "peer.js keeps its name across builds: a cached one could meet a newer wasm"
    );
    assert!(resp.headers().contains_key("content-security-policy"));
    let _ = std::fs::remove_dir_all(dist);
}

#[tokio::test]
async fn every_api_refusal_is_json_even_the_ones_axum_writes() {
    let (reg, dist) = start(false, &[]);
    let http = Client::new();
    for (req, status) in [
        (
            http.get(reg.url("/api/pairing/generate-code"))
                .bearer_auth(ADMIN_TOKEN),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            http.get(reg.url("/api/registry/route?skill=a&skill=b"))
                .bearer_auth(ADMIN_TOKEN),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.get(reg.url("/api/registry/agents/%FF"))
                .bearer_auth(ADMIN_TOKEN),
            StatusCode::BAD_REQUEST,
        ),
        (http.post(reg.url("/api/")), StatusCode::NOT_FOUND),
    ] {
        let (got, body) = send(req).await;
        assert_eq!(got, status, "{body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{status}: {body}"
        );
    }
    let _ = std::fs::remove_dir_all(dist);
}
