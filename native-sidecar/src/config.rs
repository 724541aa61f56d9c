//! Configuration: PROTOCOL.md §3's environment (a chatixia agent spawns the sidecar with no
//! arguments), with a clap flag for every setting.

use clap::{Parser, Subcommand, ValueEnum};
use std::{
    net::IpAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

/// Parses seconds into a duration: a finite, non-negative number (`inf`, `NaN` and negative
/// values are refused with an error instead of a panic).
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!(
            "`{text}` is not a finite, non-negative number of seconds"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{text}`: {e}"))
}

/// Which ICE candidates may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IcePolicy {
    /// Any candidate.
    All,
    /// Only TURN relay candidates.
    Relay,
}

/// `meshwork-sidecar`: a native mesh peer for one local agent.
#[derive(Debug, Clone, Parser)]
#[command(name = "meshwork-sidecar", version, about)]
pub struct Cli {
    /// What to run; without a subcommand the sidecar itself runs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Sidecar settings.
    #[command(flatten)]
    pub sidecar: SidecarConfig,
}

/// Helper commands for a person without an agent.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Send one message through a running sidecar's IPC socket and print the reply, if any.
    Send {
        /// Peer to send to (`*` broadcasts).
        peer: String,
        /// Text to send as an `agent_prompt`, or a whole MeshMessage as JSON.
        message: String,
        /// Seconds to wait for a reply with the same request_id (0: don't wait).
        #[arg(long, default_value = "10", value_parser = parse_secs)]
        wait: Duration,
    },
    /// Print every event of a running sidecar's IPC socket as JSON lines.
    Listen,
    /// Use the shared memory of a running sidecar (PROTOCOL.md §6); prints the reply's
    /// payload as JSON.
    Memory {
        /// What to do.
        #[command(subcommand)]
        op: MemoryOp,
    },
    /// Pair this device with a code from the hub, wait for approval, store the device token
    /// (owner-only file), then run the sidecar with it.
    Pair {
        /// The six-digit code shown in the hub.
        code: String,
        /// This device's name; its peer id becomes `<name>-sidecar`.
        #[arg(long)]
        name: String,
        /// Stop after storing the token instead of running the sidecar.
        #[arg(long)]
        no_run: bool,
    },
}

/// `meshwork-sidecar memory …`: one §6 command each.
#[derive(Debug, Clone, Subcommand)]
pub enum MemoryOp {
    /// Write a value (`memory_put`).
    Put {
        /// The key.
        key: String,
        /// The value as JSON; text that is not JSON is written as a string.
        value: String,
        /// Ids of events this write replaces (repeatable).
        #[arg(long, value_parser = crate::memory_cmds::parse_event_id)]
        supersedes: Vec<meshwork_protocol::memory::EventId>,
        /// Ids of events this value was derived from (repeatable).
        #[arg(long, value_parser = crate::memory_cmds::parse_event_id)]
        derived_from: Vec<meshwork_protocol::memory::EventId>,
    },
    /// Read a key (`memory_get`).
    Get {
        /// The key.
        key: String,
        /// Read at this version (a JSON object from an earlier reply).
        #[arg(long, value_parser = crate::memory_cmds::parse_version)]
        at: Option<meshwork_protocol::memory::Version>,
    },
    /// List the keys under a prefix (`memory_list`).
    List {
        /// Keys starting with this (default: all).
        #[arg(default_value = "")]
        prefix: String,
        /// Read at this version.
        #[arg(long, value_parser = crate::memory_cmds::parse_version)]
        at: Option<meshwork_protocol::memory::Version>,
        /// At most this many items.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// A key's events, oldest first (`memory_history`).
    History {
        /// The key.
        key: String,
    },
    /// Forget a key everywhere (`memory_forget`).
    Forget {
        /// The key.
        key: String,
    },
    /// Print every change under a prefix until interrupted (`memory_subscribe`).
    Watch {
        /// Keys starting with this (default: all).
        #[arg(default_value = "")]
        prefix: String,
    },
}

/// Settings of the sidecar process.
#[derive(Debug, Clone, clap::Args)]
pub struct SidecarConfig {
    /// Registry signaling WebSocket; several, comma-separated, for registries that act as one
    /// (ADR 0024): the sidecar moves to the next when its registry goes away.
    #[arg(
        long = "signaling-url",
        env = "SIGNALING_URL",
        default_value = "ws://localhost:8080/ws"
    )]
    pub signaling_urls: String,
    /// Registry token endpoint; several, comma-separated, in the order of `SIGNALING_URL`
    /// (missing ones are derived from the signaling URL).
    #[arg(
        long = "token-url",
        env = "TOKEN_URL",
        default_value = "http://localhost:8080/api/token"
    )]
    pub token_urls: String,
    /// Which of the registries is in use (shared by every clone of the configuration).
    #[arg(skip)]
    pub current_registry: Arc<AtomicUsize>,
    /// Agent API key (sent as X-API-Key).
    #[arg(
        long,
        env = "API_KEY",
        default_value = "ak_dev_001",
        hide_env_values = true
    )]
    pub api_key: String,
    /// Paired-device token (sent as X-Device-Token); wins over the API key.
    #[arg(long, env = "DEVICE_TOKEN", hide_env_values = true)]
    pub device_token: Option<String>,
    /// File holding the device token (`pair` writes it; default
    /// `~/.config/meshwork/device_token` for `pair`). Used when DEVICE_TOKEN is unset.
    #[arg(long, env = "DEVICE_TOKEN_FILE")]
    pub device_token_file: Option<PathBuf>,
    /// Unix socket for the local agent.
    #[arg(long, env = "IPC_SOCKET", default_value = "/tmp/chatixia-sidecar.sock")]
    pub ipc_socket: PathBuf,
    /// JSON lines on stdin/stdout instead of the socket.
    #[arg(long)]
    pub stdio: bool,
    /// `all` or `relay`.
    #[arg(long, env = "ICE_TRANSPORT_POLICY", value_enum, default_value = "all")]
    pub ice_transport_policy: IcePolicy,
    /// TURN server URL(s), comma-separated; overrides the registry's.
    #[arg(long, env = "TURN_URL")]
    pub turn_url: Option<String>,
    /// TURN REST secret: credentials are minted locally with it.
    #[arg(long, env = "TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// Local addresses the ICE sockets bind to, comma-separated (default: every up,
    /// non-loopback interface, or 127.0.0.1 when there is none).
    #[arg(long, env = "ICE_BIND_ADDRS", value_delimiter = ',')]
    pub ice_bind_addrs: Vec<IpAddr>,
    /// Send messages through the registry when a peer has no open DataChannel (`mesh_message`,
    /// docs/adr/0010). The registry sees what it carries; `false` keeps payloads peer-to-peer
    /// only (sends to unconnected peers then fail with an error).
    #[arg(long, env = "MESHWORK_REGISTRY_TIER", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub registry_tier: bool,
    /// Keep running when no agent is connected (default: exit once the agent is gone).
    #[arg(long, env = "MESHWORK_KEEP_ALIVE", value_parser = clap::builder::BoolishValueParser::new())]
    pub keep_alive: bool,
    /// Seconds the sidecar waits for its agent to (re)connect before exiting.
    #[arg(
        long = "agent-grace-secs",
        env = "MESHWORK_AGENT_GRACE_SECS",
        default_value = "10",
        value_parser = parse_secs
    )]
    pub agent_grace: Duration,
    /// Where this sidecar keeps its state: identity key, pinned peer keys (PROTOCOL.md §3).
    /// Default `$XDG_DATA_HOME/meshwork/<peer id>` (else `~/.local/share/meshwork/<peer id>`).
    #[arg(long, env = "MESHWORK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Sign links and seal registry-tier messages with an identity key (ADR 0015). `false`
    /// runs like an upstream sidecar: no key, every link unverified.
    #[arg(long, env = "MESHWORK_IDENTITY", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub identity: bool,
}

impl SidecarConfig {
    /// The data directory of peer `me`.
    pub fn data_dir_for(&self, me: &str) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share"))
            })
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("meshwork").join(me)
    }

    /// The registry in use: its signaling URL and its token URL.
    pub fn registry(&self) -> (String, String) {
        let list = |urls: &str| -> Vec<String> {
            urls.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let signaling = list(&self.signaling_urls);
        let tokens = list(&self.token_urls);
        let n = signaling.len().max(1);
        let i = self.current_registry.load(Ordering::Relaxed) % n;
        let ws = signaling.get(i).cloned().unwrap_or_default();
        let token = tokens.get(i).cloned().unwrap_or_else(|| token_url_for(&ws));
        (ws, token)
    }

    /// The signaling URL in use.
    pub fn signaling_url(&self) -> String {
        self.registry().0
    }

    /// The token URL in use.
    pub fn token_url(&self) -> String {
        self.registry().1
    }

    /// Moves to the next registry of the list (after a connection to this one ended).
    pub fn next_registry(&self) {
        let n = self
            .signaling_urls
            .split(',')
            .filter(|u| !u.trim().is_empty())
            .count();
        if n > 1 {
            self.current_registry.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The registry's base URL, derived from the token URL.
    pub fn registry_base(&self) -> String {
        self.token_url()
            .trim_end_matches('/')
            .trim_end_matches("/api/token")
            .to_owned()
    }
}

/// `http(s)://host/api/token` for a `ws(s)://host/ws` signaling URL.
fn token_url_for(signaling: &str) -> String {
    let http = signaling
        .replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1);
    format!(
        "{}/api/token",
        http.trim_end_matches('/').trim_end_matches("/ws")
    )
}

#[cfg(test)]
mod tests {
    use super::parse_secs;
    use std::time::Duration;

    #[test]
    fn several_registries_are_tried_in_turn_with_their_token_urls() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            config: super::SidecarConfig,
        }
        let cli = Cli::parse_from([
            "sidecar",
            "--signaling-url",
            "ws://a:1/ws, wss://b:2/ws",
            "--token-url",
            "http://a:1/api/token",
        ]);
        let config = cli.config.clone();
        assert_eq!(
            config.registry(),
            ("ws://a:1/ws".into(), "http://a:1/api/token".into())
        );
        config.next_registry();
        assert_eq!(
            cli.config.registry(),
            ("wss://b:2/ws".into(), "https://b:2/api/token".into()),
            "every clone moves together; a missing token URL is derived"
        );
        config.next_registry();
        assert_eq!(cli.config.signaling_url(), "ws://a:1/ws");
        assert_eq!(cli.config.registry_base(), "http://a:1");
    }

    #[test]
    fn seconds_parse_without_panics_and_refuse_what_is_not_a_duration() {
        assert_eq!(parse_secs("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_secs("0"), Ok(Duration::ZERO));
        for bad in ["inf", "-inf", "NaN", "-1", "1e400", "abc", ""] {
            let error = parse_secs(bad).expect_err(bad);
            assert!(error.contains(bad) || bad.is_empty(), "{error}");
        }
    }
}
