//! `SidecarProcess`: the real `meshwork-sidecar` binary as a child process with its own IPC
//! socket, joined to a [`RegistryProcess`]; and `IpcClient`, an agent's end of that socket.

use crate::{
    bins::{bin_path, temp_dir},
    registry::RegistryProcess,
};
use serde_json::Value;
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    net::{
        unix::{OwnedReadHalf, OwnedWriteHalf},
        UnixStream,
    },
};

/// Log filter for test sidecars: our warnings, not webrtc-rs's chatter.
pub const QUIET_LOG: &str =
    "warn,rtc=error,rtc_ice=error,rtc_dtls=error,rtc_sctp=error,webrtc=error";

/// Default time to wait for an IPC event.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// A running sidecar.
pub struct SidecarProcess {
    child: Option<Child>,
    /// Its IPC socket.
    pub socket: PathBuf,
    /// The peer id its key maps to.
    pub peer: String,
    dir: PathBuf,
}

impl SidecarProcess {
    /// Starts a sidecar for `api_key` (whose peer id is `peer`) against `reg`; it stays up
    /// without an agent (`MESHWORK_KEEP_ALIVE=1`).
    pub fn start(reg: &RegistryProcess, api_key: &str, peer: &str) -> Self {
        Self::start_with(reg, api_key, peer, &[("MESHWORK_KEEP_ALIVE", "1")])
    }

    /// Starts a sidecar with extra environment.
    pub fn start_with(
        reg: &RegistryProcess,
        api_key: &str,
        peer: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::spawn(reg, api_key, peer, env, &[], None)
    }

    /// Runs `meshwork-sidecar pair <code> --name <name>` with its token file at `token_file`:
    /// it waits for approval, then runs as the device `<name>-sidecar`.
    pub fn start_pairing(
        reg: &RegistryProcess,
        code: &str,
        name: &str,
        token_file: &std::path::Path,
    ) -> Self {
        let file = token_file.display().to_string();
        let env = [
            ("MESHWORK_KEEP_ALIVE", "1"),
            ("DEVICE_TOKEN_FILE", file.as_str()),
        ];
        let peer = format!("{name}-sidecar");
        Self::spawn(reg, "", &peer, &env, &["pair", code, "--name", name], None)
    }

    /// Starts a sidecar whose log lines (stderr) are sent to `log`, for benchmarks.
    pub fn start_logged(
        reg: &RegistryProcess,
        api_key: &str,
        peer: &str,
        env: &[(&str, &str)],
        log: std::sync::mpsc::Sender<(String, String)>,
    ) -> Self {
        Self::spawn(reg, api_key, peer, env, &[], Some(log))
    }

    fn spawn(
        reg: &RegistryProcess,
        api_key: &str,
        peer: &str,
        env: &[(&str, &str)],
        args: &[&str],
        log: Option<std::sync::mpsc::Sender<(String, String)>>,
    ) -> Self {
        let dir = temp_dir(&format!("sidecar-{peer}"));
        let socket = dir.join("ipc.sock");
        let mut cmd = Command::new(bin_path("meshwork-sidecar"));
        cmd.args(args)
            .env("SIGNALING_URL", reg.ws_url())
            .env("TOKEN_URL", reg.url("/api/token"))
            .env("API_KEY", api_key)
            .env("IPC_SOCKET", &socket)
            .env("ICE_BIND_ADDRS", "127.0.0.1")
            // One machine per peer id and registry: a restarted sidecar keeps its identity key
            // (the registry refuses another key for the same id).
            .env(
                "MESHWORK_DATA_DIR",
                reg.data_dir.join("peer-data").join(peer),
            )
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("DEVICE_TOKEN")
            .env_remove("DEVICE_TOKEN_FILE")
            .env_remove("TURN_URL")
            .env_remove("TURN_SECRET")
            .env_remove("ICE_TRANSPORT_POLICY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if log.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawning meshwork-sidecar");
        if let (Some(log), Some(stderr)) = (log, child.stderr.take()) {
            let peer = peer.to_owned();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    if log.send((peer.clone(), line)).is_err() {
                        break;
                    }
                }
            });
        }
        Self {
            child: Some(child),
            socket,
            peer: peer.to_owned(),
            dir,
        }
    }

    /// Connects an agent to the IPC socket (waiting up to 5 s for it to appear).
    pub async fn ipc(&self) -> IpcClient {
        IpcClient::connect(&self.socket).await
    }

    /// SIGKILL: no goodbye to anyone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (5 s) for the exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        wait_exit(&mut child, Duration::from_secs(5)).unwrap_or(false)
    }

    /// Waits for the process to exit on its own; returns its success, or None on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<bool> {
        let child = self.child.as_mut()?;
        let r = wait_exit(child, timeout);
        if r.is_some() {
            self.child = None;
        }
        r
    }

    /// The child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<bool> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status.success());
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for SidecarProcess {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An agent's connection to a sidecar.
pub struct IpcClient {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl IpcClient {
    /// Connects, retrying for 5 s while the socket does not exist yet.
    pub async fn connect(socket: &std::path::Path) -> Self {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match UnixStream::connect(socket).await {
                Ok(stream) => {
                    let (read, write) = stream.into_split();
                    return Self {
                        lines: BufReader::new(read).lines(),
                        write,
                    };
                }
                Err(e) if tokio::time::Instant::now() > deadline => {
                    panic!("IPC socket {} not connectable: {e}", socket.display())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Sends one raw line.
    pub async fn send_line(&mut self, line: &str) {
        self.write
            .write_all(line.as_bytes())
            .await
            .expect("IPC write");
        self.write.write_all(b"\n").await.expect("IPC write");
    }

    /// Sends one command.
    pub async fn send(&mut self, command: Value) {
        self.send_line(&command.to_string()).await;
    }

    /// The next raw event line within `timeout` (benchmarks skip the JSON parse).
    pub async fn next_line(&mut self, timeout: Duration) -> anyhow::Result<String> {
        match tokio::time::timeout(timeout, self.lines.next_line()).await {
            Err(_) => anyhow::bail!("no IPC event within {timeout:?}"),
            Ok(Ok(Some(line))) => Ok(line),
            Ok(Ok(None)) => anyhow::bail!("IPC socket closed"),
            Ok(Err(e)) => anyhow::bail!("IPC read: {e}"),
        }
    }

    /// The next event within `timeout`, or an error saying why not.
    pub async fn next_event(&mut self, timeout: Duration) -> anyhow::Result<Value> {
        match tokio::time::timeout(timeout, self.lines.next_line()).await {
            Err(_) => anyhow::bail!("no IPC event within {timeout:?}"),
            Ok(Ok(Some(line))) => Ok(serde_json::from_str(&line)?),
            Ok(Ok(None)) => anyhow::bail!("IPC socket closed"),
            Ok(Err(e)) => anyhow::bail!("IPC read: {e}"),
        }
    }

    /// Skips events until one satisfies `pred` (within `timeout`); panics naming `what`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Ok(ev) if pred(&ev) => return ev,
                Ok(_) => continue,
                Err(e) => panic!("waiting for {what}: {e}"),
            }
        }
    }

    /// Waits for `peer_connected` of each of `peers` (any order).
    /// Sends `message` to `to` with `ack` until some tier takes it (the sidecar answers
    /// `error` until `to` is registered on its side), within `timeout`; returns the tier.
    pub async fn send_until_sent(
        &mut self,
        to: &str,
        message: serde_json::Value,
        timeout: Duration,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let send = serde_json::json!({"type": "send",
                "payload": {"target_peer": to, "ack": true, "message": message}});
            self.send(send).await;
            let ev = self
                .wait_for("an answer to the send", Duration::from_secs(10), |e| {
                    e["type"] == "sent" || e["type"] == "error"
                })
                .await;
            if ev["type"] == "sent" {
                return ev["payload"]["via"].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never sent to {to}: {ev}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn wait_connected(&mut self, peers: &[&str]) {
        self.wait_connected_within(peers, EVENT_TIMEOUT).await;
    }

    /// Waits for `peer_connected` of each of `peers` within `timeout`.
    pub async fn wait_connected_within(&mut self, peers: &[&str], timeout: Duration) {
        let mut missing: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
        let deadline = tokio::time::Instant::now() + timeout;
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self
                .next_event(left)
                .await
                .unwrap_or_else(|e| panic!("waiting for peer_connected of {missing:?}: {e}"));
            if ev["type"] == "peer_connected" {
                missing.retain(|p| ev["payload"]["peer_id"] != p.as_str());
            }
        }
    }

    /// Asks `list_peers` and returns the sorted answer.
    pub async fn list_peers(&mut self) -> Vec<String> {
        self.send(serde_json::json!({"type": "list_peers", "payload": {}}))
            .await;
        let ev = self
            .wait_for("peer_list", EVENT_TIMEOUT, |e| e["type"] == "peer_list")
            .await;
        let mut peers: Vec<String> = ev["payload"]["peers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        peers.sort();
        peers
    }
}
