//! Abuse limits against a real registry: token rate limits, the WebSocket cap, per-peer
//! signaling budgets, and cross-origin refusal. (Pairing tries: `pairing.rs`; body limits:
//! `registry_agents.rs`; default secret: `registry_auth.rs`; record ownership:
//! `registry_agents.rs` and `registry_tasks.rs`.)

use meshwork_tests::{
    http::{call, send, Cred},
    registry::ADMIN_TOKEN,
    signal_client::{upgrade_refusal, SignalClient},
    wait::until,
    RegistryOptions, RegistryProcess,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

fn start(env: &[(&str, &str)]) -> RegistryProcess {
    let keys: serde_json::Map<String, Value> = (0..4)
        .map(|i| {
            (
                format!("ak_{i}"),
                json!({"peer_id": format!("p{i}"), "role": "agent"}),
            )
        })
        .collect();
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({ "keys": keys })),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    })
}

async fn jwt(reg: &RegistryProcess, i: usize) -> String {
    let (status, body) = call(
        reg,
        Method::POST,
        "/api/token",
        Cred::ApiKey(&format!("ak_{i}")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn repeated_bad_credentials_lock_the_address_out_of_the_token_route() {
    let reg = start(&[]);
    for i in 0..20 {
        let (status, _) = call(
            &reg,
            Method::POST,
            "/api/token",
            Cred::ApiKey("ak_guess"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Now a key that never worked from this address is refused unchecked until the minute
    // ends (a key in use from it is not: `credentials::failed_guesses_do_not_lock_out_…`).
    let resp = Client::new()
        .post(reg.url("/api/token"))
        .header("x-api-key", "ak_0")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn token_requests_are_rate_limited_per_address() {
    let reg = start(&[("TOKEN_RATE_PER_MIN", "10")]);
    for _ in 0..10 {
        jwt(&reg, 0).await;
    }
    let (status, body) = call(&reg, Method::POST, "/api/token", Cred::ApiKey("ak_0"), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn signaling_connections_are_capped() {
    let reg = start(&[("MAX_WS_CONNECTIONS", "2")]);
    let first = SignalClient::connect(&reg.ws_url(), &jwt(&reg, 0).await, "p0")
        .await
        .expect("first");
    let _second = SignalClient::connect(&reg.ws_url(), &jwt(&reg, 1).await, "p1")
        .await
        .expect("second");
    let third_jwt = jwt(&reg, 2).await;
    let refused = SignalClient::connect(&reg.ws_url(), &third_jwt, "p2").await;
    let Err(err) = refused else {
        panic!("a third connection was accepted over MAX_WS_CONNECTIONS=2")
    };
    let err = err.to_string();
    assert!(err.contains("503"), "{err}");
    // A freed slot is available again.
    first.close().await;
    until(Duration::from_secs(5), "a free slot", || async {
        SignalClient::connect(&reg.ws_url(), &third_jwt, "p2")
            .await
            .ok()
    })
    .await;
}

#[tokio::test]
async fn a_flooding_peer_is_throttled_and_others_are_served() {
    let reg = start(&[("SIGNAL_RATE_PER_SEC", "20"), ("SIGNAL_BURST", "20")]);
    let mut flooder = SignalClient::connect(&reg.ws_url(), &jwt(&reg, 0).await, "p0")
        .await
        .expect("flooder");
    flooder.register("native").await.expect("register");
    for _ in 0..100 {
        flooder
            .send("heartbeat", None, json!({}))
            .await
            .expect("send");
    }
    assert_eq!(flooder.expect_error().await.expect("error"), "rate_limited");
    // Another peer is unaffected, and the flooder's budget refills: it is throttled, not cut.
    let mut other = SignalClient::connect(&reg.ws_url(), &jwt(&reg, 1).await, "p1")
        .await
        .expect("other");
    let peers = other.register("native").await.expect("other registers");
    assert_eq!(peers, vec!["p0".to_owned()]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flooder was never served again"
        );
        match flooder.next_frame(Duration::from_millis(100)).await {
            Ok(frame) if frame["type"] == "peer_list" => break,
            Ok(_) => continue,
            Err(_) => flooder
                .send("register", None, json!({"kind": "native"}))
                .await
                .expect("send"),
        }
    }
}

#[tokio::test]
async fn other_origins_are_refused_unless_listed() {
    let reg = start(&[]);
    let own = format!("http://127.0.0.1:{}", reg.port);
    let http = Client::new();
    let get = |origin: &str| {
        http.get(reg.url("/api/registry/agents"))
            .bearer_auth(ADMIN_TOKEN)
            .header("origin", origin)
    };
    assert_eq!(send(get(&own)).await.0, StatusCode::OK, "same origin");
    let (status, body) = send(get("http://evil.example")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let preflight = http
        .request(Method::OPTIONS, reg.url("/api/token"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert!(!preflight
        .headers()
        .contains_key("access-control-allow-origin"));
    // Signaling sockets too.
    let url = format!("{}?token={}", reg.ws_url(), jwt(&reg, 0).await);
    let host = format!("127.0.0.1:{}", reg.port);
    let err = upgrade_refusal(&url, &host, Some("http://evil.example"))
        .await
        .expect("a foreign-origin signaling socket was refused");
    assert!(err.contains("403"), "{err}");

    let listed = start(&[("CORS_ORIGINS", "http://trusted.example")]);
    let preflight = http
        .request(Method::OPTIONS, listed.url("/api/token"))
        .header("origin", "http://trusted.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-api-key")
        .send()
        .await
        .expect("preflight");
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://trusted.example"
    );
    let (status, _) = send(
        http.get(listed.url("/api/registry/agents"))
            .bearer_auth(ADMIN_TOKEN)
            .header("origin", "http://trusted.example"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
