//! What a credential is worth against a real registry (issue 17, docs/adr/0012): a JWT never
//! mints another, a token dies with the key or admin token it came from, and failed guesses
//! on any route lock out the guesser's address but never a credential that works from it.

use meshwork_tests::{
    http::{call, Cred},
    RegistryOptions, RegistryProcess, SignalClient,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn keys(names: &[&str]) -> Value {
    let keys: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                format!("ak_{n}"),
                json!({"peer_id": format!("{n}-sidecar"), "role": "agent"}),
            )
        })
        .collect();
    json!({ "keys": keys })
}

fn start(names: &[&str]) -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys(names)),
        ..Default::default()
    })
}

async fn token(reg: &RegistryProcess, cred: Cred<'_>) -> String {
    let (status, body) = call(reg, Method::POST, "/api/token", cred, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn a_jwt_cannot_mint_another_jwt() {
    let reg = start(&["alice"]);
    let jwt = token(&reg, Cred::ApiKey("ak_alice")).await;
    let (status, body) = call(&reg, Method::POST, "/api/token", Cred::Bearer(&jwt), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("renew")),
        "{body}"
    );
    // The JWT itself still works where it is meant to.
    let (status, _) = call(
        &reg,
        Method::GET,
        "/api/hub/tasks/all",
        Cred::Bearer(&jwt),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn removing_an_api_key_cuts_off_its_live_tokens() {
    let reg = start(&["alice", "bob"]);
    let alice = token(&reg, Cred::ApiKey("ak_alice")).await;
    let bob = token(&reg, Cred::ApiKey("ak_bob")).await;
    // alice's key is removed from api_keys.json; the registry restarts on the same data dir
    // (same signing secret), well within the tokens' 300 s.
    let data_dir = reg.kill9();
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys(&["bob"])),
        data_dir: Some(data_dir),
        ..Default::default()
    });
    let (status, body) = call(
        &reg,
        Method::GET,
        "/api/hub/tasks/all",
        Cred::Bearer(&alice),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "REST with a removed key's JWT: {body}"
    );
    let ws = SignalClient::connect(&reg.ws_url(), &alice, "alice-sidecar").await;
    let Err(err) = ws else {
        panic!("a removed key's JWT opened a signaling socket")
    };
    assert!(err.to_string().contains("401"), "{err}");
    // A key still listed keeps its tokens across the restart.
    let (status, _) = call(
        &reg,
        Method::GET,
        "/api/hub/tasks/all",
        Cred::Bearer(&bob),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_new_admin_token_cuts_off_the_tabs_tokens() {
    let reg = start(&[]);
    let tab = token(&reg, Cred::Admin).await;
    let (status, _) = call(&reg, Method::GET, "/api/config", Cred::Bearer(&tab), None).await;
    assert_eq!(status, StatusCode::OK);
    let data_dir = reg.kill9();
    let reg = RegistryProcess::start(RegistryOptions {
        data_dir: Some(data_dir),
        env: vec![("ADMIN_TOKEN".into(), "adm_rotated_token".into())],
        ..Default::default()
    });
    let (status, body) = call(&reg, Method::GET, "/api/config", Cred::Bearer(&tab), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn failed_guesses_do_not_lock_out_working_credentials_from_the_same_address() {
    let reg = start(&["alice"]);
    // alice's agent and the hub session are in use from this address.
    token(&reg, Cred::ApiKey("ak_alice")).await;
    token(&reg, Cred::Admin).await;
    // 21 bad keys from the same address, no credential needed.
    for i in 0..21 {
        let (status, _) = call(
            &reg,
            Method::POST,
            "/api/token",
            Cred::ApiKey(&format!("ak_guess{i}")),
            None,
        )
        .await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "guess {i}: {status}"
        );
    }
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/token",
        Cred::ApiKey("ak_guess"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the guesser is throttled"
    );
    // The working credentials still work.
    token(&reg, Cred::ApiKey("ak_alice")).await;
    token(&reg, Cred::Admin).await;
    let (status, _) = call(&reg, Method::GET, "/api/pairing/all", Cred::Admin, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn guessing_is_throttled_on_every_route_that_checks_a_credential() {
    let reg = start(&["alice"]);
    for (path, cred) in [
        ("/api/pairing/all", Cred::Bearer("adm_guess")),
        ("/api/config", Cred::ApiKey("ak_guess")),
        ("/metrics", Cred::Bearer("not.a.jwt")),
        ("/api/registry/agents", Cred::Device("dt_guess")),
    ] {
        let reg_route = RegistryProcess::start(RegistryOptions {
            api_keys: Some(keys(&["alice"])),
            ..Default::default()
        });
        let mut codes = Vec::new();
        for _ in 0..40 {
            codes.push(call(&reg_route, Method::GET, path, cred, None).await.0);
        }
        assert!(
            codes[..20].iter().all(|c| *c == StatusCode::UNAUTHORIZED),
            "{path}: {codes:?}"
        );
        assert!(
            codes[20..]
                .iter()
                .all(|c| *c == StatusCode::TOO_MANY_REQUESTS),
            "{path}: guesses after the 20th are refused unchecked: {codes:?}"
        );
    }
    // A credential never used from the locked address is not checked either (no oracle).
    for _ in 0..20 {
        call(
            &reg,
            Method::GET,
            "/api/config",
            Cred::ApiKey("ak_guess"),
            None,
        )
        .await;
    }
    let (status, _) = call(
        &reg,
        Method::GET,
        "/api/config",
        Cred::ApiKey("ak_alice"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
