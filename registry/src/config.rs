//! Command line and environment. Every flag has an environment fallback so a registry can be
//! configured the way upstream's was (`PORT`, `SIGNALING_SECRET`, `API_KEYS_FILE`, `TURN_*`).

use clap::{Parser, ValueEnum};
use std::{net::IpAddr, path::PathBuf};

/// Which routes are open without a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compat {
    /// Every route that reveals or changes state needs a credential.
    None,
    /// Open the four routes chatixia 0.4 agents call without credentials.
    Chatixia,
}

/// Registry configuration.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "meshwork-registry",
    version,
    about = "The meshwork registry and hub"
)]
pub struct Config {
    /// Address to listen on. Use 0.0.0.0 to accept agents from other machines.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one; the chosen port is printed).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Directory holding the database and generated secrets.
    #[arg(long, env = "MESHWORK_DATA_DIR", default_value = "meshwork-data")]
    pub data_dir: PathBuf,
    /// Keep the state in this PostgreSQL database instead of the SQLite file in the data dir
    /// (registries that share one database act as one; ADR 0023). A `postgres://` URL or a
    /// `key=value` string (`host=/dir` is a Unix socket).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// NATS servers (comma-separated, one NATS cluster) through which registries sharing
    /// `DATABASE_URL` act as one: a peer on one reaches peers on the others (ADR 0024).
    #[arg(long, env = "NATS_URL", value_delimiter = ',')]
    pub nats_url: Vec<String>,
    /// Name of the registry cluster: the NATS subjects' prefix (several clusters can share one
    /// NATS).
    #[arg(long, env = "CLUSTER_NAME", default_value = "meshwork")]
    pub cluster_name: String,
    /// Seconds a registry of the cluster may stay silent before its peers count as gone (its
    /// sidecars reconnect elsewhere meanwhile).
    #[arg(long, env = "CLUSTER_GRACE_SECS", default_value_t = 10.0)]
    pub cluster_grace_secs: f64,
    /// Development mode: a missing API keys file yields a generated dev key.
    #[arg(long, env = "MESHWORK_DEV", value_parser = clap::builder::BoolishValueParser::new())]
    pub dev: bool,
    /// Compatibility mode (`chatixia` opens the routes chatixia agents call unauthenticated).
    #[arg(long, env = "MESHWORK_COMPAT", value_enum, default_value = "none")]
    pub compat: Compat,
    /// HS256 secret for JWTs; generated and persisted in the data dir when unset.
    #[arg(long, env = "SIGNALING_SECRET", hide_env_values = true)]
    pub signaling_secret: Option<String>,
    /// API keys: `{"keys": {"ak_…": {"peer_id": "…", "role": "agent"}}}` (default api_keys.json).
    #[arg(long, env = "API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Admin token; generated and persisted in the data dir when unset.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// TURN server URL(s), comma-separated (e.g. `turn:127.0.0.1:3478`).
    #[arg(long, env = "TURN_URL")]
    pub turn_url: Option<String>,
    /// coturn `static-auth-secret` for TURN REST credentials.
    #[arg(long, env = "TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// Lifetime of TURN credentials, seconds.
    #[arg(long, env = "TURN_TTL_SECS", default_value_t = 86_400)]
    pub turn_ttl_secs: u64,
    /// STUN server URL(s), comma-separated; none by default.
    #[arg(long, env = "STUN_URLS")]
    pub stun_urls: Option<String>,
    /// Directory with the built hub (trunk's output).
    #[arg(long, env = "HUB_DIST_DIR", default_value = "dist")]
    pub hub_dist_dir: PathBuf,
    /// Largest signaling frame answered normally; larger ones get an `error` frame.
    #[arg(long, env = "MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,
    /// Largest HTTP request body.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest task payload (its JSON encoding), bytes; larger ones are refused with 413.
    #[arg(long, env = "MAX_TASK_PAYLOAD_BYTES", default_value_t = 64 * 1024)]
    pub max_task_payload_bytes: usize,
    /// Largest task result (and error) text, bytes; larger ones are refused with 413.
    #[arg(long, env = "MAX_TASK_RESULT_BYTES", default_value_t = 64 * 1024)]
    pub max_task_result_bytes: usize,
    /// Lifetime of issued JWTs, seconds.
    #[arg(long, env = "JWT_TTL_SECS", default_value_t = 300)]
    pub jwt_ttl_secs: u64,
    /// An agent is `active` while its last heartbeat is younger than this (seconds).
    #[arg(long, env = "HEALTH_ACTIVE_SECS", default_value_t = 90.0)]
    pub health_active_secs: f64,
    /// An agent is `stale` while its last heartbeat is younger than this, else `offline`.
    #[arg(long, env = "HEALTH_STALE_SECS", default_value_t = 270.0)]
    pub health_stale_secs: f64,
    /// Most concurrent signaling WebSockets; more are refused with 503.
    #[arg(long, env = "MAX_WS_CONNECTIONS", default_value_t = 10_000)]
    pub max_ws_connections: usize,
    /// Seconds a client gets to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10.0)]
    pub header_read_timeout_secs: f64,
    /// Seconds a client gets to send a request's body once its headers arrived.
    #[arg(long, env = "BODY_READ_TIMEOUT_SECS", default_value_t = 30.0)]
    pub body_read_timeout_secs: f64,
    /// Most open connections not (yet) upgraded to a WebSocket; when full, the oldest one
    /// that has not sent a request is closed for a newcomer. Default: half the open-file limit.
    #[arg(long, env = "MAX_HTTP_CONNECTIONS")]
    pub max_http_connections: Option<usize>,
    /// Seconds a signaling socket may stay silent (no frame, no pong to the registry's pings,
    /// sent every third of this) before it is closed.
    #[arg(long, env = "WS_IDLE_TIMEOUT_SECS", default_value_t = 90.0)]
    pub ws_idle_timeout_secs: f64,
    /// Signaling frames per second one peer may send on average…
    #[arg(long, env = "SIGNAL_RATE_PER_SEC", default_value_t = 200.0)]
    pub signal_rate_per_sec: f64,
    /// …and in a burst (joining a large mesh sends an offer and candidates to every peer).
    #[arg(long, env = "SIGNAL_BURST", default_value_t = 2_000.0)]
    pub signal_burst: f64,
    /// `POST /api/token` requests per client IP per minute.
    #[arg(long, env = "TOKEN_RATE_PER_MIN", default_value_t = 600)]
    pub token_rate_per_min: u32,
    /// Failed credential checks (any route) per client IP per minute before the address is
    /// locked out of all but the credentials that already worked from it.
    #[arg(long, env = "AUTH_FAILURES_PER_MIN", default_value_t = 20)]
    pub auth_failures_per_min: u32,
    /// `POST /api/pairing/pair` tries per client IP per minute.
    #[arg(long, env = "PAIR_TRIES_PER_MIN", default_value_t = 5)]
    pub pair_tries_per_min: u32,
    /// Other origins (scheme://host:port, comma-separated) whose pages may call the API and open
    /// signaling sockets; by default only the registry's own origin may.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// The origin(s) browsers and agents use to reach this registry when not by IP address or
    /// `localhost` (e.g. `https://mesh.example.com`, comma-separated): requests naming any
    /// other host are refused (DNS rebinding).
    #[arg(long, env = "PUBLIC_ORIGIN", value_delimiter = ',')]
    pub public_origin: Vec<String>,
    /// Milliseconds a sidecar gets to say its agent received a task the registry sent over
    /// the mesh (ADR 0018); without that, the task goes back to the queue for the heartbeat.
    #[arg(long, env = "TASK_ACK_TIMEOUT_MS", default_value_t = 5_000)]
    pub task_ack_timeout_ms: u64,
    /// Keep an always-on replica of the shared memory in the database, synced with every
    /// peer that has one (ADR 0016); `false` stores nothing of the memory here.
    #[arg(long, env = "MEMORY_REPLICA", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub memory_replica: bool,
    /// How often health is re-derived and expired tasks are failed (milliseconds).
    #[arg(long, env = "MAINTENANCE_INTERVAL_MS", default_value_t = 15_000)]
    pub maintenance_interval_ms: u64,
    /// How long a finished task (completed or failed) is kept after its last change, in
    /// seconds; then maintenance deletes it with its timeline. Default: 7 days.
    #[arg(long, env = "TASK_RETENTION_SECS", default_value_t = 7.0 * 24.0 * 3600.0)]
    pub task_retention_secs: f64,
    /// Tasks one caller may create per minute (a burst of this many, then one every
    /// `60 s / N`): each peer, the admin, and each address of anonymous callers.
    #[arg(long, env = "TASK_CREATE_PER_MIN", default_value_t = 600)]
    pub task_create_per_min: u32,
}

impl Config {
    /// The configuration with every default, for tests and embedding.
    pub fn defaults() -> Self {
        Self::parse_from(["meshwork-registry"])
    }
}
