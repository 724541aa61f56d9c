//! Device pairing against a real registry (PROTOCOL.md §4–5): codes, approval, the token shown
//! once and stored hashed, claims, revocation, persistence.

use meshwork_tests::{
    http::{admin_get, admin_post, call, call_from, Cred},
    wait::until,
    RegistryOptions, RegistryProcess, SignalClient,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

fn start() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(
            json!({"keys": {"ak_alice": {"peer_id": "alice-sidecar", "role": "agent"}}}),
        ),
        ..Default::default()
    })
}

async fn new_code(reg: &RegistryProcess) -> String {
    let body = admin_post(reg, "/api/pairing/generate-code").await;
    assert_eq!(body["expires_in"], 300);
    body["code"].as_str().expect("code").to_owned()
}

async fn pair(
    reg: &RegistryProcess,
    code: &str,
    name: &str,
    secret: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"code": code, "agent_name": name});
    if let Some(s) = secret {
        body["claim_secret"] = json!(s);
    }
    call(
        reg,
        Method::POST,
        "/api/pairing/pair",
        Cred::Anonymous,
        Some(body),
    )
    .await
}

/// A pairing request from another loopback address.
async fn pair_from(
    reg: &RegistryProcess,
    from: Ipv4Addr,
    code: &str,
    name: &str,
) -> (StatusCode, Value) {
    let body = json!({"code": code, "agent_name": name});
    let path = "/api/pairing/pair";
    call_from(
        reg,
        IpAddr::V4(from),
        Method::POST,
        path,
        Cred::Anonymous,
        Some(body),
    )
    .await
}

/// Pairs and approves `name`; returns (entry id, device token).
async fn approved_device(reg: &RegistryProcess, name: &str) -> (String, String) {
    let code = new_code(reg).await;
    let (status, body) = pair(reg, &code, name, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let approved = admin_post(reg, &format!("/api/pairing/{id}/approve")).await;
    let token = approved["device_token"].as_str().expect("token").to_owned();
    (id, token)
}

async fn device_jwt(reg: &RegistryProcess, token: &str) -> (StatusCode, Value) {
    call(reg, Method::POST, "/api/token", Cred::Device(token), None).await
}

#[tokio::test]
async fn approval_returns_the_device_token_once_and_no_listing_shows_it() {
    let reg = start();
    let code = new_code(&reg).await;
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));

    let (status, body) = pair(&reg, &code, "laptop", None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "pending_approval");
    assert_eq!(body["peer_id"], "laptop-sidecar");
    let id = body["id"].as_str().expect("id").to_owned();

    let pending = admin_get(&reg, "/api/pairing/pending").await;
    assert_eq!(pending[0]["id"], id.as_str());
    assert_eq!(pending[0]["agent_name"], "laptop");

    let approved = admin_post(&reg, &format!("/api/pairing/{id}/approve")).await;
    assert_eq!(approved["status"], "approved");
    let token = approved["device_token"].as_str().expect("device token");
    assert!(token.starts_with("dt_") && token.len() == 35, "{token}");

    // Shown once: a second approval is refused, and no listing carries a token.
    let (again, _) = call(
        &reg,
        Method::POST,
        &format!("/api/pairing/{id}/approve"),
        Cred::Admin,
        None,
    )
    .await;
    assert_eq!(again, StatusCode::CONFLICT);
    for path in ["/api/pairing/all", "/api/pairing/pending"] {
        let listing = admin_get(&reg, path).await.to_string();
        assert!(!listing.contains("dt_"), "{path} leaks a device token");
        assert!(
            !listing.contains(&token[3..]),
            "{path} leaks a device token"
        );
    }
    assert_eq!(admin_get(&reg, "/api/pairing/pending").await, json!([]));
    assert_eq!(
        admin_get(&reg, "/api/pairing/all").await[0]["status"],
        "approved"
    );

    // The token works: a device JWT that the REST API accepts.
    let (status, jwt) = device_jwt(&reg, token).await;
    assert_eq!(status, StatusCode::OK, "{jwt}");
    assert_eq!(jwt["peer_id"], "laptop-sidecar");
    assert_eq!(jwt["role"], "device");
    let bearer = jwt["token"].as_str().expect("jwt");
    let (status, _) = call(
        &reg,
        Method::GET,
        "/api/hub/tasks/all",
        Cred::Bearer(bearer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_code_works_once() {
    let reg = start();
    let code = new_code(&reg).await;
    assert_eq!(pair(&reg, &code, "one", None).await.0, StatusCode::CREATED);
    let (status, body) = pair(&reg, &code, "two", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("invalid or expired"));
}

#[tokio::test]
async fn pairing_allows_five_tries_per_minute_per_address() {
    let reg = start();
    for i in 0..5 {
        let (status, body) = pair(&reg, "000000", &format!("guess{i}"), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "try {i}: {body}");
    }
    // The sixth try is refused even with a valid code, and says when to come back.
    let code = new_code(&reg).await;
    let resp = reqwest::Client::new()
        .post(reg.url("/api/pairing/pair"))
        .json(&json!({"code": code, "agent_name": "patient"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
}

#[tokio::test]
async fn a_code_dies_after_ten_wrong_tries_from_any_addresses() {
    let reg = start();
    let code = new_code(&reg).await;
    // Ten addresses, one wrong try each: no per-address limit is reached.
    let mut tried = 0;
    for guess in (0..1_000_000u32).map(|n| format!("{n:06}")) {
        if guess == code {
            continue;
        }
        tried += 1;
        let from = Ipv4Addr::new(127, 0, 7, tried);
        let (status, body) = pair_from(&reg, from, &guess, &format!("guess{tried}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "try {tried}: {body}");
        if tried == 10 {
            break;
        }
    }
    // The right code, from a fresh address, finds it dead.
    let (status, body) = pair_from(&reg, Ipv4Addr::new(127, 0, 8, 1), &code, "lucky").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A new code works.
    let code = new_code(&reg).await;
    assert_eq!(
        pair(&reg, &code, "patient", None).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_revoked_device_jwt_stays_dead_when_its_name_is_re_paired_in_the_same_second() {
    let reg = start();
    // Start at the top of a second so revocation and re-approval share the JWT's `iat` second.
    let into_second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(u64::from(1000 - into_second))).await;
    let (id, token) = approved_device(&reg, "laptop").await;
    let (status, jwt) = device_jwt(&reg, &token).await;
    assert_eq!(status, StatusCode::OK, "{jwt}");
    let old_jwt = jwt["token"].as_str().expect("jwt").to_owned();
    admin_post(&reg, &format!("/api/pairing/{id}/revoke")).await;
    let (_, new_token) = approved_device(&reg, "laptop").await;
    assert_ne!(new_token, token);
    let (status, body) = call(
        &reg,
        Method::GET,
        "/api/registry/agents",
        Cred::Bearer(&old_jwt),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the revoked approval's JWT: {body}"
    );
    let refused = SignalClient::connect(&reg.ws_url(), &old_jwt, "laptop-sidecar").await;
    assert!(
        refused.is_err(),
        "signaling refuses the revoked approval's JWT"
    );
    // The new approval's JWT works.
    let (status, jwt) = device_jwt(&reg, &new_token).await;
    assert_eq!(status, StatusCode::OK, "{jwt}");
    let new_jwt = jwt["token"].as_str().expect("jwt");
    let (status, _) = call(
        &reg,
        Method::GET,
        "/api/registry/agents",
        Cred::Bearer(new_jwt),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn names_must_be_valid_and_free() {
    let reg = start();
    let code = new_code(&reg).await;
    let (status, _) = pair(&reg, &code, "bad name/1", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An API key's peer id cannot be claimed by a device…
    let (status, body) = pair(&reg, &code, "alice", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // …nor a name another device holds. Refusals did not spend the code.
    assert_eq!(
        pair(&reg, &code, "laptop", None).await.0,
        StatusCode::CREATED
    );
    let code2 = new_code(&reg).await;
    assert_eq!(
        pair(&reg, &code2, "laptop", None).await.0,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn only_the_admin_runs_pairing() {
    let reg = start();
    let admin_routes = [
        (Method::POST, "/api/pairing/generate-code"),
        (Method::GET, "/api/pairing/pending"),
        (Method::GET, "/api/pairing/all"),
        (Method::POST, "/api/pairing/x/approve"),
        (Method::POST, "/api/pairing/x/reject"),
        (Method::POST, "/api/pairing/x/revoke"),
    ];
    for (method, path) in admin_routes {
        let (anon, _) = call(&reg, method.clone(), path, Cred::Anonymous, None).await;
        assert_eq!(anon, StatusCode::UNAUTHORIZED, "{method} {path}");
        let (agent, _) = call(&reg, method.clone(), path, Cred::ApiKey("ak_alice"), None).await;
        assert_eq!(agent, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let (_, token) = approved_device(&reg, "laptop").await;
    let (device, _) = call(
        &reg,
        Method::POST,
        "/api/pairing/generate-code",
        Cred::Device(&token),
        None,
    )
    .await;
    assert_eq!(device, StatusCode::FORBIDDEN);
    let (missing, _) = call(
        &reg,
        Method::POST,
        "/api/pairing/nope/approve",
        Cred::Admin,
        None,
    )
    .await;
    assert_eq!(missing, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_waiting_claim_receives_the_token_at_approval_once() {
    let reg = start();
    let code = new_code(&reg).await;
    let secret = "0123456789abcdef0123456789abcdef";
    let (_, body) = pair(&reg, &code, "phone", Some(secret)).await;
    let id = body["id"].as_str().expect("id").to_owned();
    let claim_path = format!("/api/pairing/{id}/claim");

    // Pending: a short claim answers 202 without a token; a wrong secret is refused.
    let (status, body) = call(
        &reg,
        Method::POST,
        &claim_path,
        Cred::Anonymous,
        Some(json!({"claim_secret": secret, "wait_secs": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body.get("device_token").is_none());
    let (status, _) = call(
        &reg,
        Method::POST,
        &claim_path,
        Cred::Anonymous,
        Some(json!({"claim_secret": "wrong-wrong-wrong-wrong", "wait_secs": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A long claim is waiting when the admin approves: it returns with the token at once.
    let waiting = {
        let url = reg.url(&claim_path);
        tokio::spawn(async move {
            let started = Instant::now();
            let resp = reqwest::Client::new()
                .post(url)
                .json(&json!({"claim_secret": secret, "wait_secs": 30}))
                .send()
                .await
                .expect("claim");
            (
                resp.status(),
                resp.json::<Value>().await.expect("json"),
                started,
            )
        })
    };
    until(
        Duration::from_secs(5),
        "the claim to be waiting",
        || async {
            let (_, metrics) = call(&reg, Method::GET, "/metrics", Cred::Admin, None).await;
            metrics
                .as_str()
                .is_some_and(|m| m.contains("meshwork_pairing_claims_waiting 1"))
                .then_some(())
        },
    )
    .await;
    let approved_at = Instant::now();
    let approved = admin_post(&reg, &format!("/api/pairing/{id}/approve")).await;
    let (status, claimed, _) = waiting.await.expect("claim task");
    let latency = approved_at.elapsed();
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["device_token"], approved["device_token"]);
    assert_eq!(claimed["peer_id"], "phone-sidecar");
    assert!(
        latency < Duration::from_secs(2),
        "claim answered {latency:?} after approval"
    );

    // Once: the next claim is told the token is gone.
    let (status, _) = call(
        &reg,
        Method::POST,
        &claim_path,
        Cred::Anonymous,
        Some(json!({"claim_secret": secret, "wait_secs": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test]
async fn rejection_and_revocation_follow_the_lifecycle() {
    let reg = start();
    let code = new_code(&reg).await;
    let secret = "fedcba9876543210fedcba9876543210";
    let (_, body) = pair(&reg, &code, "tablet", Some(secret)).await;
    let id = body["id"].as_str().expect("id").to_owned();
    let rejected = admin_post(&reg, &format!("/api/pairing/{id}/reject")).await;
    assert_eq!(rejected["status"], "rejected");
    let (status, _) = call(
        &reg,
        Method::POST,
        &format!("/api/pairing/{id}/claim"),
        Cred::Anonymous,
        Some(json!({"claim_secret": secret, "wait_secs": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a rejected device learns it");
    for illegal in ["approve", "revoke", "reject"] {
        let (status, _) = call(
            &reg,
            Method::POST,
            &format!("/api/pairing/{id}/{illegal}"),
            Cred::Admin,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "rejected → {illegal}");
    }

    let (id, token) = approved_device(&reg, "tablet").await;
    assert_eq!(
        device_jwt(&reg, &token).await.0,
        StatusCode::OK,
        "name free again"
    );
    let revoked = admin_post(&reg, &format!("/api/pairing/{id}/revoke")).await;
    assert_eq!(revoked["status"], "revoked");
    let (status, body) = device_jwt(&reg, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = call(
        &reg,
        Method::POST,
        &format!("/api/pairing/{id}/revoke"),
        Cred::Admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn revocation_cuts_the_device_off_everywhere_at_once() {
    let reg = start();
    let (id, token) = approved_device(&reg, "laptop").await;
    let (_, jwt) = device_jwt(&reg, &token).await;
    let device_jwt_token = jwt["token"].as_str().expect("jwt").to_owned();

    let (_, alice_jwt) = call(
        &reg,
        Method::POST,
        "/api/token",
        Cred::ApiKey("ak_alice"),
        None,
    )
    .await;
    let mut alice = SignalClient::connect(
        &reg.ws_url(),
        alice_jwt["token"].as_str().expect("jwt"),
        "alice-sidecar",
    )
    .await
    .expect("alice connects");
    alice.register("native").await.expect("alice registers");
    let mut device = SignalClient::connect(&reg.ws_url(), &device_jwt_token, "laptop-sidecar")
        .await
        .expect("device connects");
    device.register("native").await.expect("device registers");
    alice
        .expect("peer_joined")
        .await
        .expect("alice sees the device");

    let revoked_at = Instant::now();
    admin_post(&reg, &format!("/api/pairing/{id}/revoke")).await;
    let left = alice.expect("peer_left").await.expect("peer_left");
    let took = revoked_at.elapsed();
    assert_eq!(left["payload"]["peer_id"], "laptop-sidecar");
    assert_eq!(left["payload"]["reason"], "revoked");
    assert!(took < Duration::from_secs(1), "peer_left after {took:?}");
    assert!(
        device.closed_within(Duration::from_secs(1)).await,
        "the revoked device's socket is closed"
    );

    // Its unexpired JWT no longer works anywhere, and it cannot get a new one.
    let (status, _) = call(
        &reg,
        Method::GET,
        "/api/registry/agents",
        Cred::Bearer(&device_jwt_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refused = SignalClient::connect(&reg.ws_url(), &device_jwt_token, "laptop-sidecar").await;
    assert!(refused.is_err(), "signaling refuses a revoked device's JWT");
    assert_eq!(device_jwt(&reg, &token).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn approvals_and_revocations_survive_a_restart() {
    let reg = start();
    let (kept_id, kept) = approved_device(&reg, "kept").await;
    let (gone_id, gone) = approved_device(&reg, "gone").await;
    admin_post(&reg, &format!("/api/pairing/{gone_id}/revoke")).await;
    let port = reg.port;
    let data_dir = reg.kill9();
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {}})),
        data_dir: Some(data_dir),
        port,
        ..Default::default()
    });
    assert_eq!(device_jwt(&reg, &kept).await.0, StatusCode::OK);
    assert_eq!(device_jwt(&reg, &gone).await.0, StatusCode::UNAUTHORIZED);
    let all = admin_get(&reg, "/api/pairing/all").await;
    let status_of = |id: &str| {
        all.as_array()
            .and_then(|a| a.iter().find(|e| e["id"] == id))
            .map(|e| e["status"].clone())
    };
    assert_eq!(status_of(&kept_id), Some(json!("approved")));
    assert_eq!(status_of(&gone_id), Some(json!("revoked")));
}
