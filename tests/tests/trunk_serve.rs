//! `trunk serve` against a running registry, as the README tells a developer to use it: the
//! repository's own Trunk.toml (only the ports changed: both are picked free here), the page
//! opened through trunk's port in headless Chromium. The hub goes live, a sidecar's agent is
//! in the agents panel, and "Join the mesh" links the tab to the sidecar — every call and
//! both sockets going through trunk's proxy (docs/adr/0013). Reuses the release wasm that
//! `trunk build --release` left in the target dir, so trunk only re-links and optimises.

use meshwork_tests::{
    bins::scratch_dir,
    browser::Browser,
    http::{call, Cred},
    registry::ADMIN_TOKEN,
    RegistryOptions, RegistryProcess, SidecarProcess,
};
use reqwest::Method;
use serde_json::json;
use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

const UI_TIMEOUT: Duration = Duration::from_secs(30);
/// Trunk compiles (a no-op on a warm target dir), runs wasm-bindgen and wasm-opt first.
const TRUNK_READY: Duration = Duration::from_secs(240);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `trunk serve` in a process group of its own, ended with everything it started (cargo,
/// wasm-bindgen, wasm-opt) when dropped.
struct Trunk(Child);

impl Drop for Trunk {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The repository's Trunk.toml with the registry's and trunk's ports swapped in and paths
/// made absolute (it is written next to a private dist/).
fn trunk_config(dir: &std::path::Path, registry_port: u16, port: u16) -> PathBuf {
    let original = std::fs::read_to_string(repo().join("Trunk.toml")).expect("Trunk.toml");
    assert!(original.contains("127.0.0.1:8080") && original.contains("port = 8081"));
    assert!(original.contains("\"scripts/build-peer.sh\""));
    let index = repo().join("www/index.html");
    let config = original
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{registry_port}"))
        .replace("port = 8081", &format!("port = {port}"))
        .replace(
            "target = \"www/index.html\"",
            &format!("target = {:?}", index.display().to_string()),
        )
        .replace(
            "dist = \"dist\"",
            &format!("dist = {:?}", dir.join("dist").display().to_string()),
        )
        .replace(
            "\"scripts/build-peer.sh\"",
            &format!(
                "{:?}",
                repo().join("scripts/build-peer.sh").display().to_string()
            ),
        );
    let path = dir.join("Trunk.toml");
    std::fs::write(&path, config).expect("write Trunk.toml");
    path
}

#[tokio::test]
async fn trunk_serve_gives_a_live_hub_and_a_tab_that_joins_the_mesh() {
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(
            json!({"keys": {"ak_alice": {"peer_id": "alice-sidecar", "role": "agent"}}}),
        ),
        ..Default::default()
    });
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice-sidecar");
    let _agent = alice.ipc().await;
    let body = json!({"agent_id": "alice", "hostname": "host-a", "sidecar_peer_id": "alice-sidecar",
        "capabilities": {"skills": ["echo"], "mode": "auto"}});
    let (status, _) = call(
        &reg,
        Method::POST,
        "/api/registry/agents",
        Cred::ApiKey("ak_alice"),
        Some(body),
    )
    .await;
    assert!(status.is_success());

    let dir = scratch_dir("trunk-serve");
    let port = free_port();
    let config = trunk_config(&dir, reg.port, port);
    let _trunk = Trunk(
        Command::new("trunk")
            .args(["serve", "--release", "--no-autoreload", "--config"])
            .process_group(0)
            .arg(&config)
            .current_dir(repo())
            .env("TRUNK_SKIP_VERSION_CHECK", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("trunk (scripts/install.sh puts it on PATH)"),
    );
    let page = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + TRUNK_READY;
    loop {
        let ready = client
            .get(&page)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "trunk serve never answered on {page}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{page}?token={ADMIN_TOKEN}"))
        .await
        .expect("open the page through trunk");
    browser
        .wait_for(
            "the live stream through trunk's proxy",
            UI_TIMEOUT,
            "const s = document.querySelector('#conn-state'); return s && s.textContent.includes('live')",
        )
        .await;
    browser
        .wait_for(
            "alice in the agents panel",
            UI_TIMEOUT,
            "const e = document.querySelector(\"tr[data-agent-id='alice'] td.in-mesh\"); return e && e.textContent.includes('yes')",
        )
        .await;
    browser.click("#join").await;
    browser
        .wait_for(
            "the tab linked to alice's sidecar",
            UI_TIMEOUT,
            "return !!document.querySelector(\"ul#mesh-peers li[data-peer-id='alice-sidecar']\")",
        )
        .await;
    browser.close().await;
}
