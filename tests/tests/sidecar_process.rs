//! The sidecar as a process: its socket file, its agent-less exit, `--stdio`, `send`/`listen`.

use meshwork_tests::{
    bins::bin_path, sidecar::EVENT_TIMEOUT, IpcClient, RegistryOptions, RegistryProcess,
    SidecarProcess,
};
use serde_json::{json, Value};
use std::{
    os::unix::fs::{FileTypeExt, PermissionsExt},
    process::{Command, Stdio},
    time::Duration,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn registry() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(
            json!({"keys": {"ak_alice": {"peer_id": "alice"}, "ak_bob": {"peer_id": "bob"}}}),
        ),
        ..Default::default()
    })
}

async fn wait_socket(path: &std::path::Path) {
    meshwork_tests::wait::until(Duration::from_secs(5), "IPC socket", || async {
        std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.file_type().is_socket())
            .map(|_| ())
    })
    .await;
}

#[tokio::test]
async fn socket_is_owner_only_and_removed_on_exit() {
    let reg = registry();
    let mut car = SidecarProcess::start(&reg, "ak_alice", "alice");
    wait_socket(&car.socket).await;
    let mode = std::fs::metadata(&car.socket)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "socket mode {mode:o}");
    assert!(car.terminate(), "clean exit on SIGTERM");
    assert!(!car.socket.exists(), "socket removed on exit");
}

#[tokio::test]
async fn stale_socket_is_replaced_and_live_one_is_refused() {
    let reg = registry();
    let dir = meshwork_tests::bins::scratch_dir("stale");
    let path = dir.join("ipc.sock");
    // A stale socket file, as a crashed sidecar leaves it.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    assert!(path.exists());
    let env_sock = path.to_str().expect("utf8");
    let car = SidecarProcess::start_with(
        &reg,
        "ak_alice",
        "alice",
        &[("MESHWORK_KEEP_ALIVE", "1"), ("IPC_SOCKET", env_sock)],
    );
    let mut ipc = IpcClient::connect(&path).await;
    assert_eq!(ipc.list_peers().await, Vec::<String>::new());
    // A second sidecar on the same live socket refuses to start.
    let out = Command::new(bin_path("meshwork-sidecar"))
        .env("IPC_SOCKET", &path)
        .env("TOKEN_URL", reg.url("/api/token"))
        .env("SIGNALING_URL", reg.ws_url())
        .env(
            "MESHWORK_DATA_DIR",
            reg.data_dir.join("peer-data").join("bob"),
        )
        .env("API_KEY", "ak_bob")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
    drop(car);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sidecar_leaves_when_its_agent_is_gone() {
    let reg = registry();
    let mut car = SidecarProcess::start_with(
        &reg,
        "ak_alice",
        "alice",
        &[("MESHWORK_AGENT_GRACE_SECS", "1")],
    );
    let mut bob = SidecarProcess::start(&reg, "ak_bob", "bob");
    let mut bob_ipc = bob.ipc().await;
    {
        let mut agent = car.ipc().await;
        agent.wait_connected(&["bob"]).await;
    } // the agent disconnects here
    assert_eq!(
        car.wait_exit(Duration::from_secs(10)),
        Some(true),
        "sidecar must exit without its agent"
    );
    bob_ipc
        .wait_for("peer_disconnected alice", Duration::from_secs(10), |e| {
            e["type"] == "peer_disconnected" && e["payload"]["peer_id"] == "alice"
        })
        .await;
    assert!(bob.is_running());
}

async fn next_json<R: tokio::io::AsyncRead + Unpin>(
    lines: &mut tokio::io::Lines<BufReader<R>>,
) -> Value {
    let line = tokio::time::timeout(EVENT_TIMEOUT, lines.next_line())
        .await
        .expect("event in time")
        .expect("read")
        .expect("line");
    serde_json::from_str(&line).expect("json line")
}

#[tokio::test]
async fn stdio_mode_speaks_json_lines_on_stdin_and_stdout() {
    let reg = registry();
    let _bob = SidecarProcess::start(&reg, "ak_bob", "bob");
    let mut child = tokio::process::Command::new(bin_path("meshwork-sidecar"))
        .arg("--stdio")
        .env("SIGNALING_URL", reg.ws_url())
        .env("TOKEN_URL", reg.url("/api/token"))
        .env(
            "MESHWORK_DATA_DIR",
            reg.data_dir.join("peer-data").join("alice"),
        )
        .env("API_KEY", "ak_alice")
        .env("ICE_BIND_ADDRS", "127.0.0.1")
        .env("RUST_LOG", meshwork_tests::sidecar::QUIET_LOG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ev = next_json(&mut lines).await;
    assert_eq!(
        ev,
        json!({"type": "peer_connected", "payload": {"peer_id": "bob", "verified": true}})
    );
    stdin
        .write_all(b"{\"type\":\"list_peers\",\"payload\":{}}\n")
        .await
        .expect("write");
    assert_eq!(
        next_json(&mut lines).await,
        json!({"type": "peer_list", "payload": {"peers": ["bob"]}})
    );
    drop(stdin); // EOF: the agent is gone
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert!(status.success());
}

#[tokio::test]
async fn send_and_listen_commands_work_without_an_agent() {
    let reg = registry();
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice");
    let bob = SidecarProcess::start(&reg, "ak_bob", "bob");
    let mut bob_agent = bob.ipc().await;
    alice.ipc().await.wait_connected(&["bob"]).await;
    bob_agent.wait_connected(&["alice"]).await;
    let mut listen = tokio::process::Command::new(bin_path("meshwork-sidecar"))
        .args(["--ipc-socket", bob.socket.to_str().expect("utf8"), "listen"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("listen");
    let mut listened = BufReader::new(listen.stdout.take().expect("stdout")).lines();
    // `listen` is connected once it reports the link that is already open.
    let first = next_json(&mut listened).await;
    assert_eq!(
        first,
        json!({"type": "peer_connected", "payload": {"peer_id": "alice", "verified": true}})
    );
    // Bob's agent answers every prompt, so `send` prints the reply.
    let answer = tokio::spawn(async move {
        let ev = bob_agent
            .wait_for("prompt", EVENT_TIMEOUT, |e| e["type"] == "message")
            .await;
        let req = ev["payload"]["message"].clone();
        bob_agent
            .send(json!({"type": "send", "payload": {"target_peer": "alice", "message": {
                "type": "agent_response", "request_id": req["request_id"], "payload": {"message": "hello yourself"}}}}))
            .await;
        req
    });
    let out = tokio::process::Command::new(bin_path("meshwork-sidecar"))
        .args([
            "--ipc-socket",
            alice.socket.to_str().expect("utf8"),
            "send",
            "bob",
            "hello bob",
        ])
        .output()
        .await
        .expect("send");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).expect("reply json");
    assert_eq!(
        reply["payload"]["message"]["payload"]["message"],
        "hello yourself"
    );
    let req = answer.await.expect("agent task");
    assert_eq!(req["payload"]["message"], "hello bob");
    let ev = next_json(&mut listened).await;
    assert_eq!(ev["payload"]["message"]["payload"]["message"], "hello bob");
}
