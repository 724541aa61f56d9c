//! The HTTP surface the registry parses itself (issue 17): requests with arbitrary method, path
//! (segments of any length and encoding), query string, `Host`, `Origin`, credential headers
//! and body go through the registry's real router — its host allow-list, origin check,
//! credential throttle, path and query extractors, and the task, agent, pairing and token
//! handlers — over one registry state in a temporary data dir, with tokio's clock paused so
//! long polls end at once.
//!
//! Asserts: no request panics or gets a 500 (bad input is the client's fault: 4xx), and every
//! refusal under `/api/` is a JSON `{"error": "<non-empty>"}` body.
#![no_main]

use arbitrary::Arbitrary;
use axum::{body::Body, http::Request, Router};
use libfuzzer_sys::fuzz_target;
use meshwork_registry::{config::Config, routes, server::build_state};
use std::sync::OnceLock;
use tower::ServiceExt;

const ADMIN: &str = "adm_fuzz_token";
const KEY: &str = "ak_fuzz_key_0123456789abcdef0123456789";

#[derive(Arbitrary, Debug)]
enum Cred {
    None,
    Admin,
    AdminWrong(String),
    Key,
    KeyWrong(String),
    Device(String),
    Bearer(String),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    /// Picks one of the registry's routes as a prefix (or none).
    route: u8,
    path: String,
    query: Option<String>,
    host: Option<String>,
    origin: Option<String>,
    cred: Cred,
    json: bool,
    body: Vec<u8>,
}

const ROUTES: [&str; 16] = [
    "",
    "/api/token",
    "/api/config",
    "/api/registry/agents",
    "/api/registry/agents/",
    "/api/registry/route",
    "/api/hub/tasks",
    "/api/hub/tasks/",
    "/api/hub/tasks/all",
    "/api/hub/heartbeat",
    "/api/pairing/pair",
    "/api/pairing/",
    "/api/pairing/generate-code",
    "/metrics",
    "/ws",
    "/.well-known/agent.json",
];

const METHODS: [&str; 4] = ["GET", "POST", "DELETE", "PUT"];

struct Registry {
    app: Router,
    runtime: tokio::runtime::Runtime,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("meshwork-fuzz-http-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("hub")).expect("temp dir");
        std::fs::write(
            dir.join("hub/index.html"),
            "<html><head><script>x()</script></head></html>",
        )
        .expect("index.html");
        let keys = dir.join("api_keys.json");
        let keys_json = format!(r#"{{"keys": {{"{KEY}": {{"peer_id": "fuzz-sidecar"}}}}}}"#);
        std::fs::write(&keys, keys_json).expect("keys");
        let mut config = Config::defaults();
        config.data_dir = dir.join("data");
        config.hub_dist_dir = dir.join("hub");
        config.api_keys_file = Some(keys);
        config.admin_token = Some(ADMIN.into());
        config.signaling_secret = Some("fuzz-signing-secret".into());
        // Limits would turn most inputs into 429s after a few executions.
        config.auth_failures_per_min = u32::MAX;
        config.token_rate_per_min = u32::MAX;
        config.pair_tries_per_min = u32::MAX;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let (state, _) = runtime
            .block_on(build_state(config))
            .expect("registry state");
        Registry {
            app: routes::router(state),
            runtime,
        }
    })
}

fn request(input: Input) -> Option<Request<Body>> {
    let mut uri = ROUTES[usize::from(input.route) % ROUTES.len()].to_owned();
    uri.push_str(&input.path);
    if !uri.starts_with('/') {
        uri.insert(0, '/');
    }
    if let Some(q) = &input.query {
        uri.push('?');
        uri.push_str(q);
    }
    let mut req = Request::builder()
        .method(METHODS[usize::from(input.method) % METHODS.len()])
        .uri(uri);
    if let Some(host) = &input.host {
        req = req.header("host", host.as_str());
    }
    if let Some(origin) = &input.origin {
        req = req.header("origin", origin.as_str());
    }
    req = match &input.cred {
        Cred::None => req,
        Cred::Admin => req.header("authorization", format!("Bearer {ADMIN}")),
        Cred::AdminWrong(t) => req.header("x-admin-token", t.as_str()),
        Cred::Key => req.header("x-api-key", KEY),
        Cred::KeyWrong(k) => req.header("x-api-key", k.as_str()),
        Cred::Device(t) => req.header("x-device-token", t.as_str()),
        Cred::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        Cred::Raw(t) => req.header("authorization", t.as_str()),
    };
    if input.json {
        req = req.header("content-type", "application/json");
    }
    // Invalid URIs and header values never reach the registry (hyper refuses them first).
    req.body(Body::from(input.body)).ok()
}

fuzz_target!(|input: Input| {
    let Some(req) = request(input) else {
        return;
    };
    let path = req.uri().path().to_owned();
    let registry = registry();
    let (status, body) = registry.runtime.block_on(async {
        let response = registry
            .app
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .unwrap_or_default();
        (status, body)
    });
    assert_ne!(
        status.as_u16(),
        500,
        "{path}: {}",
        String::from_utf8_lossy(&body)
    );
    if path.starts_with("/api/") && status.is_client_error() {
        let error: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path}: {status} body is not JSON ({e})"));
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {status} {error}"
        );
    }
});
