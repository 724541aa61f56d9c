//! Browser tabs through the relay tier, with a real coturn: a tab that forces TURN
//! (`relayOnly`), and a tab that allows everything but meets a relay-only sidecar, so only
//! `getStats()` can tell it the path is relayed. The topology, each tab's own `send` and the
//! sidecar's received `via` all say `relay`. Runs inside the loopback-only test namespace like
//! the other browser suites.

use meshwork_tests::{
    browser::Browser, http::admin_get, registry::ADMIN_TOKEN, sidecar::EVENT_TIMEOUT,
    turn::TurnServer, wait::until, IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::json;
use std::{path::PathBuf, time::Duration};

const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

/// A registry serving the hub, with coturn's TURN (and `extra` environment), one sidecar
/// `peer` in relay-only mode with its agent connected, and a browser on the hub page with the
/// wasm peer loaded.
async fn relay_only_sidecar_and_page(
    turn: &TurnServer,
    peer: &str,
    extra: &[(&str, &str)],
) -> (RegistryProcess, SidecarProcess, IpcClient, Browser) {
    assert!(
        dist().join("index.html").exists(),
        "dist/ is not built: run `trunk build --release` (scripts/test.sh does)"
    );
    let key = format!("ak_{peer}");
    let mut env = vec![
        ("TURN_URL".to_owned(), turn.url()),
        ("TURN_SECRET".to_owned(), turn.secret.clone()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {key.as_str(): {"peer_id": peer}}})),
        hub_dist_dir: Some(dist()),
        env,
        ..Default::default()
    });
    let sidecar = SidecarProcess::start_with(
        &reg,
        &key,
        peer,
        &[
            ("MESHWORK_KEEP_ALIVE", "1"),
            ("ICE_TRANSPORT_POLICY", "relay"),
        ],
    );
    let ipc = sidecar.ipc().await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&reg.url(&format!("/?token={ADMIN_TOKEN}")))
        .await
        .expect("open page");
    browser
        .wait_for(
            "the hub's wasm to load",
            JOIN_TIMEOUT,
            "return !!window.wasmBindings",
        )
        .await;
    browser.load_peer_module().await;
    (reg, sidecar, ipc, browser)
}

#[tokio::test]
async fn tabs_reach_a_relay_only_sidecar_through_coturn_and_know_the_path_is_relayed() {
    let turn = TurnServer::start("browser-relay-secret");
    let (reg, _alice, mut alice_ipc, browser) =
        relay_only_sidecar_and_page(&turn, "alice", &[]).await;
    // Peers of the test's own: one relay-only, one that may use any path.
    browser
        .eval(&format!(
            r#"window.relayPeer = new peerModule.MeshPeer(location.origin, "{ADMIN_TOKEN}");
            relayPeer.relayOnly();
            relayPeer.join().then(id => window.relayId = id, e => window.joinError = String(e));
            window.plainPeer = new peerModule.MeshPeer(location.origin, "{ADMIN_TOKEN}");
            plainPeer.join().then(id => window.plainId = id, e => window.joinError = String(e));
            return true"#
        ))
        .await;
    let ids = browser
        .wait_for(
            "both tabs' ids",
            JOIN_TIMEOUT,
            "if (window.joinError) throw new Error(joinError); \
             return window.relayId && window.plainId && [relayId, plainId]",
        )
        .await;
    let tab = ids[0].as_str().expect("peer id").to_owned();
    let plain = ids[1].as_str().expect("peer id").to_owned();
    alice_ipc
        .wait_connected_within(&[&tab, &plain], JOIN_TIMEOUT)
        .await;

    let edge = until(JOIN_TIMEOUT, "a relay edge alice–tab", || async {
        let topo = admin_get(&reg, "/api/hub/network/topology").await;
        topo["mesh_edges"].as_array().and_then(|edges| {
            edges
                .iter()
                .find(|e| {
                    (e["from_peer"] == tab.as_str() || e["to_peer"] == tab.as_str())
                        && e["candidate_type"] == "relay"
                })
                .cloned()
        })
    })
    .await;
    assert!(
        edge["from_peer"] == "alice" || edge["to_peer"] == "alice",
        "{edge}"
    );

    let via = browser
        .eval(r#"return relayPeer.send("alice", JSON.stringify({type: "agent_prompt", request_id: "relayed", payload: {message: "through coturn"}}))"#)
        .await;
    assert_eq!(via, "relay");
    let got = alice_ipc
        .wait_for("the tab's relayed message", EVENT_TIMEOUT, |e| {
            e["type"] == "message" && e["payload"]["message"]["request_id"] == "relayed"
        })
        .await;
    assert_eq!(got["payload"]["from_peer"], tab.as_str());
    assert_eq!(got["payload"]["via"], "relay");

    // The tab that allowed every path learns from getStats() that its channel is relayed
    // (read just after the channel opened; polled here because the read is asynchronous).
    let via = browser
        .wait_for(
            "the plain tab to know its path is relayed",
            Duration::from_secs(10),
            r#"const via = plainPeer.send("alice", JSON.stringify({type: "ping", request_id: "probe"}));
            return via === "relay" ? via : null"#,
        )
        .await;
    assert_eq!(via, "relay");
    browser
        .eval(r#"return plainPeer.send("alice", JSON.stringify({type: "agent_prompt", request_id: "plain", payload: {message: "also relayed"}}))"#)
        .await;
    let got = alice_ipc
        .wait_for("the plain tab's message", EVENT_TIMEOUT, |e| {
            e["type"] == "message" && e["payload"]["message"]["request_id"] == "plain"
        })
        .await;
    assert_eq!(got["payload"]["from_peer"], plain.as_str());
    assert_eq!(got["payload"]["via"], "relay");
    browser.close().await;
}

#[tokio::test]
async fn a_tab_without_a_usable_relay_says_why_and_talks_through_the_registry() {
    let turn = TurnServer::start("browser-expired-secret");
    // Credentials that expire the second they are minted: no relay for anyone. "zoe" sorts
    // after "tab-…", so the tab makes the offers (and its link attempts).
    let (_reg, _zoe, mut zoe_ipc, browser) =
        relay_only_sidecar_and_page(&turn, "zoe", &[("TURN_TTL_SECS", "0")]).await;
    browser
        .eval(&format!(
            r#"window.tabEvents = [];
            window.tabPeer = new peerModule.MeshPeer(location.origin, "{ADMIN_TOKEN}");
            tabPeer.on(e => tabEvents.push(e));
            tabPeer.relayOnly();
            tabPeer.join().then(id => window.tabId = id, e => window.joinError = String(e));
            return true"#
        ))
        .await;
    let tab = browser
        .wait_for(
            "the tab's id",
            JOIN_TIMEOUT,
            "if (window.joinError) throw new Error(joinError); return window.tabId",
        )
        .await;
    let tab = tab.as_str().expect("peer id").to_owned();
    let why = browser
        .wait_for(
            "the tab to say its TURN credential expired",
            JOIN_TIMEOUT,
            r#"const e = tabEvents.find(e => e.type === "error" && e.message.includes("TURN credential expired"));
            return e ? e.message : null"#,
        )
        .await;
    assert!(
        why.as_str().is_some_and(|m| m.contains("TURN_TTL_SECS")),
        "{why}"
    );

    // No channel, but the registry carries messages both ways, and says so.
    let via = browser
        .wait_for(
            "zoe to be reachable through the registry",
            JOIN_TIMEOUT,
            r#"try { return tabPeer.send("zoe", JSON.stringify({type: "agent_prompt", request_id: "via-registry", payload: {message: "no relay"}})); } catch (e) { return null; }"#,
        )
        .await;
    assert_eq!(via, "registry");
    let got = zoe_ipc
        .wait_for("the tab's message", EVENT_TIMEOUT, |e| {
            e["type"] == "message" && e["payload"]["message"]["request_id"] == "via-registry"
        })
        .await;
    assert_eq!(got["payload"]["from_peer"], tab.as_str());
    assert_eq!(got["payload"]["via"], "registry");
    zoe_ipc
        .send(
            json!({"type": "send", "payload": {"target_peer": tab, "ack": true, "message":
            {"type": "agent_prompt", "request_id": "to-tab", "payload": {"message": "back"}}}}),
        )
        .await;
    let sent = zoe_ipc
        .wait_for("zoe's ack", EVENT_TIMEOUT, |e| {
            e["type"] == "sent" || e["type"] == "error"
        })
        .await;
    assert_eq!(sent["payload"]["via"], "registry", "{sent}");
    let tab_via = browser
        .wait_for(
            "zoe's message in the tab",
            EVENT_TIMEOUT,
            r#"const e = tabEvents.find(e => e.type === "message" && e.message.request_id === "to-tab");
            return e ? e.via : null"#,
        )
        .await;
    assert_eq!(tab_via, "registry");
    browser.close().await;
}
