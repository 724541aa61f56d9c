//! The pairing flow end to end: `meshwork-sidecar pair <code> --name <n>` on the device, one
//! approval on the hub side, and the device is a connected mesh peer; revoking it closes every
//! DataChannel to it within a second.

use meshwork_tests::{
    bins::scratch_dir,
    http::{admin_get, admin_post, call, Cred},
    sidecar::EVENT_TIMEOUT,
    wait::until,
    RegistryOptions, RegistryProcess, SidecarProcess,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::{
    os::unix::fs::PermissionsExt,
    time::{Duration, Instant},
};

#[tokio::test]
async fn a_device_pairs_with_one_command_joins_the_mesh_and_revocation_cuts_it_off() {
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(
            json!({"keys": {"ak_alice": {"peer_id": "alice-sidecar", "role": "agent"}}}),
        ),
        ..Default::default()
    });
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice-sidecar");
    let mut alice_ipc = alice.ipc().await;

    // Hub side: a code. Device side: one command.
    let code = admin_post(&reg, "/api/pairing/generate-code").await["code"]
        .as_str()
        .expect("code")
        .to_owned();
    let dir = scratch_dir("device");
    let token_file = dir.join("meshwork").join("device_token");
    let mut device = SidecarProcess::start_pairing(&reg, &code, "laptop", &token_file);

    // Hub side: approve the request once it shows up.
    let id = until(EVENT_TIMEOUT, "the pairing request", || async {
        let pending = admin_get(&reg, "/api/pairing/pending").await;
        pending[0]["id"].as_str().map(str::to_owned)
    })
    .await;
    let approved = admin_post(&reg, &format!("/api/pairing/{id}/approve")).await;

    // The device stored its token owner-only, nobody copied it, and it joined the mesh.
    alice_ipc.wait_connected(&["laptop-sidecar"]).await;
    let stored = std::fs::read_to_string(&token_file).expect("token file");
    assert_eq!(
        stored.trim(),
        approved["device_token"].as_str().expect("token")
    );
    let mode = std::fs::metadata(&token_file)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "token file mode {mode:o}");
    let mut device_ipc = device.ipc().await;
    assert_eq!(
        device_ipc.list_peers().await,
        vec!["alice-sidecar".to_owned()]
    );

    // Revocation: alice's DataChannel to the device closes within a second.
    let revoked_at = Instant::now();
    admin_post(&reg, &format!("/api/pairing/{id}/revoke")).await;
    alice_ipc
        .wait_for(
            "peer_disconnected of laptop-sidecar",
            Duration::from_secs(1),
            |ev| ev["type"] == "peer_disconnected" && ev["payload"]["peer_id"] == "laptop-sidecar",
        )
        .await;
    let took = revoked_at.elapsed();
    eprintln!("revocation → peer_disconnected at alice: {took:?}");
    device_ipc
        .wait_for("the device losing alice", EVENT_TIMEOUT, |ev| {
            ev["type"] == "peer_disconnected" && ev["payload"]["peer_id"] == "alice-sidecar"
        })
        .await;

    // The stored token is dead, and the device stays out of the mesh.
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/token",
        Cred::Device(stored.trim()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(alice_ipc.list_peers().await.is_empty());
    assert!(
        device.is_running(),
        "a refused device keeps retrying, it does not crash"
    );
    device.terminate();
    let _ = std::fs::remove_dir_all(&dir);
}
