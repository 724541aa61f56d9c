//! `ChatixiaAgent`: a real, unmodified `chatixia` agent (the PyPI package, installed by
//! `scripts/install.sh test` into a venv) that spawns our sidecar the way it spawns its own,
//! from an `agent.yaml` in a fresh directory. Dropping it kills the agent and its sidecar
//! (they share a process group of their own) and removes the directory.
//!
//! The agent registers over REST, connects to its sidecar's IPC socket, runs a `task_request`
//! that arrives there and answers the sending peer, and heartbeats every 15 s (no long poll).
//! Its built-in skills (`list_agents`, `find_agent`, `delegate`, `mesh_send`,
//! `mesh_broadcast`, `user_intervention`) need no LLM.

use crate::{
    bins::{bin_path, temp_dir},
    http::{call, Cred},
    wait, RegistryProcess,
};
use reqwest::Method;
use serde_json::Value;
use std::{
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// The skills every test agent advertises (all built in, none needs an LLM).
pub const SKILLS: [&str; 4] = ["list_agents", "find_agent", "delegate", "user_intervention"];

/// The venv holding `chatixia` (`CHATIXIA_VENV`, else the install script's cache dir).
pub fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("CHATIXIA_VENV") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("meshwork").join("chatixia-venv")
}

/// The API key a test agent named `name` uses (its peer id is `<name>-sidecar`).
pub fn api_key(name: &str) -> String {
    format!("ak_{name}_0123456789abcdef0123456789abcdef")
}

/// An `api_keys.json` for agents `names`.
pub fn keys_for(names: &[&str]) -> Value {
    let keys: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                api_key(n),
                serde_json::json!({"peer_id": format!("{n}-sidecar")}),
            )
        })
        .collect();
    serde_json::json!({ "keys": keys })
}

/// A running chatixia agent with our sidecar.
pub struct ChatixiaAgent {
    child: Option<Child>,
    /// The agent's name (its agent id).
    pub name: String,
    dir: PathBuf,
}

impl ChatixiaAgent {
    /// Starts agent `name` against `reg` and waits (20 s at most) until it is registered
    /// and its sidecar is online.
    pub async fn start(reg: &RegistryProcess, name: &str) -> Self {
        let chatixia = venv().join("bin").join("chatixia");
        assert!(
            chatixia.exists(),
            "{} not found: run scripts/install.sh test (or set CHATIXIA_VENV)",
            chatixia.display()
        );
        let dir = temp_dir(&format!("chatixia-{name}"));
        let skills = SKILLS.map(|s| format!("    - {s}\n")).concat();
        let manifest = format!(
            "name: {name}\nregistry: \"{}\"\nprovider: openai\nsidecar:\n  binary: {}\n  \
             api_key: {}\n  socket: {}\nskills:\n  builtin:\n{skills}",
            reg.base_url,
            bin_path("meshwork-sidecar").display(),
            api_key(name),
            dir.join("agent.sock").display(),
        );
        std::fs::write(dir.join("agent.yaml"), manifest).expect("writing agent.yaml");
        let log = std::fs::File::create(dir.join("agent.out")).expect("agent log");
        let child = Command::new(chatixia)
            .arg("run")
            .arg("agent.yaml")
            .current_dir(&dir)
            .env("ICE_BIND_ADDRS", "127.0.0.1")
            .env("MESHWORK_DATA_DIR", dir.join("sidecar-data"))
            .env("RUST_LOG", "warn")
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("API_KEY")
            .env_remove("SIGNALING_URL")
            .env_remove("TOKEN_URL")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawning chatixia");
        let agent = Self {
            child: Some(child),
            name: name.to_owned(),
            dir,
        };
        // It prints this once its IPC connection to the sidecar is up: from then on a task
        // the registry sends reaches it (before, the sidecar refuses it back to the queue).
        let what = format!("chatixia agent {name} connected to its sidecar");
        let out = agent.dir.join("agent.out");
        wait::until(Duration::from_secs(20), &what, || {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            async move { text.contains("connected to mesh").then_some(()) }
        })
        .await;
        let what = format!("chatixia agent {name} registered with its sidecar online");
        wait::until(Duration::from_secs(20), &what, || agent.online(reg, true)).await;
        agent
    }

    /// `Some(())` once the agent's node in the topology is (or is no longer) online.
    pub async fn online(&self, reg: &RegistryProcess, want: bool) -> Option<()> {
        let (_, topo) = call(
            reg,
            Method::GET,
            "/api/hub/network/topology",
            Cred::Admin,
            None,
        )
        .await;
        let node = topo["nodes"]
            .as_array()?
            .iter()
            .find(|n| n["agent_id"] == self.name.as_str())?
            .clone();
        (node["online"].as_bool() == Some(want)).then_some(())
    }

    /// The agent's last heartbeat (RFC 3339), as the registry has it.
    pub async fn last_heartbeat(&self, reg: &RegistryProcess) -> Option<String> {
        let path = format!("/api/registry/agents/{}", self.name);
        let (_, agent) = call(reg, Method::GET, &path, Cred::Admin, None).await;
        agent["last_heartbeat"].as_str().map(str::to_owned)
    }

    /// The sidecar the agent spawned (its child process).
    pub fn sidecar_pid(&self) -> Option<u32> {
        let pid = self.child.as_ref()?.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    /// SIGKILLs the agent's sidecar (the agent lives on, heartbeating) and waits until the
    /// registry sees it gone.
    pub async fn kill_sidecar(&self, reg: &RegistryProcess) {
        let pid = self.sidecar_pid().expect("the agent has a sidecar child");
        let status = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill {pid}");
        let what = format!("{}'s sidecar offline", self.name);
        wait::until(Duration::from_secs(10), &what, || self.online(reg, false)).await;
    }

    /// What the agent printed (for failure messages).
    pub fn output(&self) -> String {
        let out = std::fs::read_to_string(self.dir.join("agent.out")).unwrap_or_default();
        let sidecar = std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default();
        format!("--- agent ---\n{out}\n--- sidecar ---\n{sidecar}")
    }
}

impl Drop for ChatixiaAgent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The agent and the sidecar it spawned share the group the agent leads.
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
