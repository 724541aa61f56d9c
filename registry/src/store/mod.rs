//! The registry's durable state behind one trait, [`Store`], with two backends:
//!
//! - [`sqlite`] (the default): one embedded file in the data dir, no server needed. Its calls
//!   run on Tokio's blocking pool, never on the async workers that relay signaling.
//! - [`postgres`] (`--database-url` / `DATABASE_URL`): a PostgreSQL database that several
//!   registries share (issue 15, ADR 0023).
//!
//! Both keep the same rules: every task state change is guarded by the state it expects (two
//! registries racing for one task cannot both win), and each change that lands adds a step to
//! the task's timeline in the same transaction.

pub mod postgres;
pub mod records;
pub mod sqlite;

use async_trait::async_trait;
use meshwork_protocol::{
    identity::PublicKey,
    memory::{Event, EventId},
    rest::{AgentInfo, Health, HeartbeatRequest, PairingEntry, PairingStatus, Task, TaskState},
    PeerId,
};
pub use records::{Binding, BoundKey, StoredAgent, StoredPairing, Transition};
use std::sync::Arc;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused.
    #[error("postgres: {}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had.
    #[error("postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A stored row is not what it should be.
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
    /// The blocking task running an SQLite call died.
    #[error("store worker: {0}")]
    Worker(String),
}

/// What PostgreSQL said (its own message and SQLSTATE), not just "db error".
fn postgres_message(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => err.to_string(),
    }
}

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Shared handle on the store.
pub type SharedStore = Arc<dyn Store>;

/// Everything the registry keeps durably.
#[async_trait]
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;

    // --- settings (generated secrets, the dev key)

    /// The setting `key`; stores `candidate` first when there is none. Two registries racing
    /// on a fresh database both get the one that was stored first.
    async fn setting_or_insert(&self, key: &str, candidate: String) -> StoreResult<String>;

    // --- agents

    /// One agent.
    async fn agent(&self, agent_id: &str) -> StoreResult<Option<StoredAgent>>;
    /// Every agent, by name.
    async fn agents(&self) -> StoreResult<Vec<StoredAgent>>;
    /// Creates or replaces an agent's self-description; registering counts as a heartbeat.
    async fn register_agent(&self, info: &AgentInfo, owner: &PeerId, now: f64) -> StoreResult<()>;
    /// Applies a heartbeat: creates the record if needed, overwrites only the fields the
    /// heartbeat fills.
    async fn heartbeat_agent(
        &self,
        hb: &HeartbeatRequest,
        owner: &PeerId,
        now: f64,
    ) -> StoreResult<AgentInfo>;
    /// Removes an agent; whether it existed.
    async fn delete_agent(&self, agent_id: &str) -> StoreResult<bool>;
    /// Records a derived health unless a heartbeat landed since `last_heartbeat`.
    async fn set_agent_health(
        &self,
        agent_id: &str,
        health: Health,
        last_heartbeat: f64,
    ) -> StoreResult<()>;

    // --- identity keys (ADR 0015)

    /// The key bound to `peer_id`, if any.
    async fn identity_key(&self, peer_id: &str) -> StoreResult<Option<PublicKey>>;
    /// Binds `key` to `peer_id` unless another key is bound already.
    async fn bind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> StoreResult<Binding>;
    /// Replaces whatever key `peer_id` had.
    async fn rebind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> StoreResult<()>;
    /// Forgets `peer_id`'s key; whether there was one.
    async fn reset_identity_key(&self, peer_id: &str) -> StoreResult<bool>;
    /// Every bound key, by peer id.
    async fn identity_keys(&self) -> StoreResult<Vec<BoundKey>>;
    /// Remembers the key a device sent with `pair`.
    async fn set_pairing_key(&self, pairing_id: &str, key: &PublicKey) -> StoreResult<()>;
    /// The key a device sent with its `pair` request.
    async fn pairing_key(&self, pairing_id: &str) -> StoreResult<Option<PublicKey>>;

    // --- pairings (ADR 0007)

    /// Stores a new `pending_approval` entry.
    async fn insert_pairing(
        &self,
        entry: &PairingEntry,
        claim_hash: Option<&str>,
    ) -> StoreResult<()>;
    /// One entry.
    async fn pairing(&self, id: &str) -> StoreResult<Option<StoredPairing>>;
    /// Every entry, or those with one status; oldest first.
    async fn pairings(&self, status: Option<PairingStatus>) -> StoreResult<Vec<PairingEntry>>;
    /// The entry holding `peer_id` while pending or approved.
    async fn live_pairing_for_peer(&self, peer_id: &PeerId) -> StoreResult<Option<StoredPairing>>;
    /// The approved entry whose device token hashes to `token_hash`.
    async fn pairing_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<StoredPairing>>;
    /// Moves an entry `from → to` atomically; `false` when it was not in `from`.
    async fn transition_pairing(
        &self,
        id: &str,
        from: PairingStatus,
        to: PairingStatus,
        now: f64,
        token_hash: Option<&str>,
    ) -> StoreResult<bool>;

    /// Stores a new pairing code valid until `expires_at` (dropping expired ones); `false`
    /// when that code is outstanding already.
    async fn insert_pairing_code(&self, code: &str, expires_at: f64, now: f64)
        -> StoreResult<bool>;
    /// Spends `code` if it is outstanding and unexpired. A wrong code counts against every
    /// outstanding code; one that reaches `max_wrong` wrong tries is void.
    async fn redeem_pairing_code(&self, code: &str, now: f64, max_wrong: u32) -> StoreResult<bool>;
    /// Records the first claim of an approved entry's device token; `false` when it was
    /// claimed before.
    async fn claim_device_token(&self, pairing_id: &str, now: f64) -> StoreResult<bool>;

    // --- tasks (ADR 0018, 0022)

    /// Stores a new task.
    async fn insert_task(&self, task: &Task) -> StoreResult<()>;
    /// One task, with its timeline.
    async fn task(&self, id: &str) -> StoreResult<Option<Task>>;
    /// Tasks changed at or after `since`, oldest first, with their timelines.
    async fn tasks_updated_since(&self, since: f64) -> StoreResult<Vec<Task>>;
    /// Pending tasks still within their TTL, oldest first (without timelines).
    async fn pending_tasks(&self, now: f64) -> StoreResult<Vec<Task>>;
    /// Number of tasks in each state.
    async fn task_counts(&self) -> StoreResult<Vec<(TaskState, u64)>>;
    /// Moves a task to `next` if that is legal from its current state.
    async fn transition_task(
        &self,
        id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> StoreResult<Transition>;
    /// Hands the caller every pending task addressed to it (or to nobody, with a skill it
    /// has); each becomes `assigned` to it. A task another registry handed out meanwhile is
    /// not handed out twice.
    async fn assign_pending(
        &self,
        agent_id: &str,
        skills: &[String],
        now: f64,
    ) -> StoreResult<Vec<Task>>;
    /// Assigns a pending task for delivery over the mesh; `None` when it is no longer pending.
    async fn claim_for_mesh(
        &self,
        id: &str,
        agent_id: &str,
        note: &str,
        now: f64,
    ) -> StoreResult<Option<Task>>;
    /// Returns a task assigned to `agent_id` to the queue; `false` when it is not.
    async fn unclaim(&self, id: &str, agent_id: &str, note: &str, now: f64) -> StoreResult<bool>;
    /// Completes or fails a task assigned to `agent_id`; `None` when it is not.
    async fn finish_assigned(
        &self,
        id: &str,
        agent_id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> StoreResult<Option<Task>>;
    /// Requeues an offline agent's tasks unless it heartbeated after `silent_since`.
    async fn requeue_if_silent(
        &self,
        agent_id: &str,
        silent_since: f64,
        now: f64,
    ) -> StoreResult<usize>;
    /// Requeues a removed agent's tasks.
    async fn requeue_assigned(&self, agent_id: &str, now: f64) -> StoreResult<usize>;
    /// Deletes finished tasks last changed before `before`, with their timelines.
    async fn delete_finished_tasks(&self, before: f64) -> StoreResult<usize>;
    /// How many tasks the store holds.
    async fn task_count(&self) -> StoreResult<u64>;
    /// The newest `limit` tasks after skipping the `offset` newest, oldest first.
    async fn tasks_page(&self, limit: u64, offset: u64) -> StoreResult<Vec<Task>>;
    /// Fails every unfinished task past `created_at + ttl`.
    async fn expire_tasks(&self, now: f64) -> StoreResult<usize>;

    // --- the memory replica (ADR 0016)

    /// Every stored memory event.
    async fn memory_events(&self) -> StoreResult<Vec<Event>>;
    /// Stores new events and erases forgotten bodies, in one transaction.
    async fn memory_commit(&self, appends: Vec<Event>, erased: Vec<EventId>) -> StoreResult<()>;
}

/// Opens the configured store: PostgreSQL when a database URL is given, else the SQLite file
/// in `data_dir`.
pub async fn open(
    database_url: Option<&str>,
    data_dir: &std::path::Path,
) -> anyhow::Result<SharedStore> {
    Ok(match database_url {
        Some(url) => Arc::new(postgres::PgStore::connect(url).await?),
        None => Arc::new(sqlite::SqliteStore::open(data_dir)?),
    })
}
