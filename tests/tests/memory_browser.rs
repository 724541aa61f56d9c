//! The shared memory in a browser tab (issue 14, ADR 0019), with real processes: a headless
//! Chromium tab joined from the hub and three sidecars converge on puts made anywhere, a
//! forget made in the tab reaches every sidecar, the tab hears changes it subscribed to, and
//! its replica outlives a reload in IndexedDB.

use meshwork_tests::{
    browser::Browser,
    memory_ipc::{put, start_kept, wait_until, wait_value},
    RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::{json, Value};
use std::{path::PathBuf, time::Duration};

const CONVERGE: Duration = Duration::from_secs(30);
const KEEP: [(&str, &str); 1] = [("MESHWORK_KEEP_ALIVE", "1")];

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

fn registry(env: &[(&str, &str)]) -> RegistryProcess {
    assert!(
        dist().join("index.html").exists(),
        "dist/ is not built: run `trunk build --release` (scripts/test.sh does)"
    );
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_a": {"peer_id": "alice"},
            "ak_b": {"peer_id": "bob"},
            "ak_c": {"peer_id": "carol"},
        }})),
        hub_dist_dir: Some(dist()),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    })
}

/// JavaScript text for `text` (a JSON string literal).
fn js(text: &str) -> String {
    json!(text).to_string()
}

/// The tab's `memory_value` payload for `key`.
async fn tab_get(browser: &Browser, key: &str) -> Value {
    browser
        .resolve(&format!("window.meshPeer.memoryGet({})", js(key)))
        .await
}

/// Polls the tab's replica until `done` holds for `key`'s value.
async fn tab_wait(browser: &Browser, key: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    loop {
        let value = tab_get(browser, key).await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tab's {key} never reached the state waited for; last: {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn three_sidecars_and_a_tab_converge_and_a_forget_from_the_tab_reaches_them_all() {
    let reg = registry(&[]);
    let peers = [("ak_a", "alice"), ("ak_b", "bob"), ("ak_c", "carol")];
    let (_cars, mut ipcs) = start_kept(&reg, &peers).await;
    let browser = Browser::start().await;
    let tab = browser.join_hub(&reg).await;
    browser
        .resolve(
            "(window.memoryEvents = [], window.meshPeer.onMemory(e => window.memoryEvents.push(e)), \
             window.meshPeer.memorySubscribe('notes/'))",
        )
        .await;

    for (i, ipc) in ipcs.iter_mut().enumerate() {
        put(ipc, &format!("notes/{i}"), json!(format!("from {i}"))).await;
    }
    let written = browser
        .resolve(r#"window.meshPeer.memoryPut("notes/tab", JSON.stringify({"from": "the tab"}))"#)
        .await;
    assert_eq!(written["key"], "notes/tab");
    assert_eq!(written["version"][tab.as_str()], 1, "{written}");

    // Every replica holds all four puts.
    for ipc in ipcs.iter_mut() {
        for i in 0..3 {
            let v = wait_value(ipc, &format!("notes/{i}"), CONVERGE).await;
            assert_eq!(v["value"], json!(format!("from {i}")));
        }
        let v = wait_value(ipc, "notes/tab", CONVERGE).await;
        assert_eq!(v["value"], json!({"from": "the tab"}));
        assert_eq!(v["author"], tab.as_str());
    }
    for i in 0..3 {
        let v = tab_wait(&browser, &format!("notes/{i}"), |v| v["found"] == true).await;
        assert_eq!(v["value"], json!(format!("from {i}")));
    }
    // The tab heard of each sidecar's put under its subscription.
    let heard = browser
        .eval(
            "return window.memoryEvents.filter(e => e.type === 'memory_changed').map(e => e.payload.key)",
        )
        .await;
    for i in 0..3 {
        let key = format!("notes/{i}");
        assert!(
            heard.as_array().is_some_and(|a| a.contains(&json!(key))),
            "{key} not heard: {heard}"
        );
    }

    // A forget made in the tab erases the value on every sidecar.
    browser
        .resolve(r#"window.meshPeer.memoryForget("notes/1")"#)
        .await;
    assert_eq!(tab_get(&browser, "notes/1").await["found"], false);
    for ipc in ipcs.iter_mut() {
        wait_until(ipc, "notes/1", CONVERGE, |v| v["found"] == false).await;
    }
    // Bad input is refused with a clear message, and the tab keeps serving.
    let refused = browser
        .settle(r#"window.meshPeer.memoryPut("", "1")"#)
        .await
        .expect_err("an empty key is refused");
    assert!(refused.contains("key is empty"), "{refused}");
    let refused = browser
        .settle(r#"window.meshPeer.memoryPut("k", "{not json")"#)
        .await
        .expect_err("a value that is not JSON is refused");
    assert!(refused.contains("not JSON"), "{refused}");
    assert_eq!(tab_get(&browser, "notes/2").await["found"], true);
}

#[tokio::test]
async fn the_tab_replica_survives_a_reload_in_indexeddb() {
    // No registry replica: after the sidecar is gone, only the tab's IndexedDB holds alice's
    // put.
    let reg = registry(&[("MEMORY_REPLICA", "false")]);
    let mut alice = SidecarProcess::start_with(&reg, "ak_a", "alice", &KEEP);
    let mut ipc = alice.ipc().await;
    let browser = Browser::start().await;
    browser.join_hub(&reg).await;
    let written = put(&mut ipc, "kept/a", json!({"n": 1})).await;
    let held = tab_wait(&browser, "kept/a", |v| v["found"] == true).await;
    assert_eq!(held["id"], written["id"]);
    let mine = browser
        .resolve(r#"window.meshPeer.memoryPut("kept/tab", "2")"#)
        .await;
    let cut = mine["version"].to_string();
    browser
        .resolve(r#"window.meshPeer.memoryPut("kept/tab", "3")"#)
        .await;
    assert!(alice.terminate());

    let reloaded = browser.join_hub(&reg).await;
    let after = tab_get(&browser, "kept/a").await;
    assert_eq!(after["found"], true, "alice's put was not kept: {after}");
    assert_eq!(after["value"], json!({"n": 1}));
    assert_eq!(tab_get(&browser, "kept/tab").await["value"], 3);
    // A read at an earlier version is stable across the reload.
    let earlier = browser
        .resolve(&format!(
            "window.meshPeer.memoryGet('kept/tab', {})",
            js(&cut)
        ))
        .await;
    assert_eq!(earlier["value"], 2, "{earlier}");
    // The reloaded tab is a new peer; its own writes start a new chain.
    let fresh = browser
        .resolve(r#"window.meshPeer.memoryPut("kept/b", "4")"#)
        .await;
    assert_eq!(fresh["version"][reloaded.as_str()], 1, "{fresh}");
}
