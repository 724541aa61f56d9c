//! A browser tab in a cluster of registries (issue 15, ADR 0024): sidecars on two registries
//! and a tab that joined through the hub of a third form one full mesh. Real Chromium, real
//! sidecars, PostgreSQL and a three-node NATS cluster; the page is trunk's `dist/`.

use meshwork_tests::{browser::Browser, registry_cluster::RegistryCluster, SidecarProcess};
use serde_json::json;
use std::{path::PathBuf, time::Duration};

const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

async fn tab_peers(browser: &Browser) -> Vec<String> {
    let v = browser
        .eval("return window.meshPeer ? window.meshPeer.peers() : []")
        .await;
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_tab_on_one_registry_and_sidecars_on_two_others_form_one_mesh() {
    assert!(
        dist().join("index.html").exists(),
        "dist/ is not built: run `trunk build --release` (scripts/test.sh does)"
    );
    let keys = json!({"keys": {"ak_alice": {"peer_id": "alice"}, "ak_bob": {"peer_id": "bob"}}});
    let cluster = RegistryCluster::start_serving(3, keys, &[], Some(dist()));
    let [a, b, c] = cluster.trio();
    let alice = SidecarProcess::start(a, "ak_alice", "alice");
    let bob = SidecarProcess::start(b, "ak_bob", "bob");
    let mut alice_ipc = alice.ipc().await;
    alice_ipc
        .wait_connected_within(&["bob"], JOIN_TIMEOUT)
        .await;

    let browser = Browser::start().await;
    let tab = browser.join_hub(c).await;
    let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
    loop {
        let peers = tab_peers(&browser).await;
        if ["alice", "bob"]
            .iter()
            .all(|w| peers.iter().any(|p| p == w))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tab on c reached {peers:?}, not alice (on a) and bob (on b)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    alice_ipc
        .wait_connected_within(&[tab.as_str()], JOIN_TIMEOUT)
        .await;
    let mut bob_ipc = bob.ipc().await;
    bob_ipc
        .wait_connected_within(&["alice", tab.as_str()], JOIN_TIMEOUT)
        .await;
    browser.close().await;
}
