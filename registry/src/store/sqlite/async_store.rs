//! [`SqliteStore`]: the [`Store`] trait over the synchronous [`Db`]. Each call runs on Tokio's
//! blocking pool, so a slow statement (a big delete, a checkpoint, a disk that stalls) holds a
//! blocking thread, never one of the async workers that relay signaling.

use super::{Db, DbError};
use crate::store::{
    Binding, BoundKey, Store, StoreError, StoreResult, StoredAgent, StoredPairing, Transition,
};
use async_trait::async_trait;
use meshwork_protocol::{
    identity::PublicKey,
    memory::{Event, EventId},
    rest::{AgentInfo, Health, HeartbeatRequest, PairingEntry, PairingStatus, Task, TaskState},
    PeerId,
};
use std::{path::Path, sync::Arc};

/// The SQLite backend.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

impl SqliteStore {
    /// Opens (creating if needed) `registry.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, DbError> {
        Ok(Self::from(Db::open(data_dir)?))
    }

    /// An in-memory store, for unit tests.
    pub fn in_memory() -> Result<Self, DbError> {
        Ok(Self::from(Db::in_memory()?))
    }
}

impl From<Db> for SqliteStore {
    fn from(db: Db) -> Self {
        Self { db: Arc::new(db) }
    }
}

/// Runs `$body` (with `$db: &Db`) on the blocking pool; the arguments it uses must be owned.
macro_rules! blocking {
    ($self:ident, |$db:ident| $body:expr) => {{
        let $db = $self.db.clone();
        tokio::task::spawn_blocking(move || $body)
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
            .map_err(StoreError::from)
    }};
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn setting_or_insert(&self, key: &str, candidate: String) -> StoreResult<String> {
        let key = key.to_owned();
        blocking!(self, |db| db.setting_or_insert(&key, move || candidate))
    }

    async fn agent(&self, agent_id: &str) -> StoreResult<Option<StoredAgent>> {
        let agent_id = agent_id.to_owned();
        blocking!(self, |db| db.agent(&agent_id))
    }

    async fn agents(&self) -> StoreResult<Vec<StoredAgent>> {
        blocking!(self, |db| db.agents())
    }

    async fn register_agent(&self, info: &AgentInfo, owner: &PeerId, now: f64) -> StoreResult<()> {
        let (info, owner) = (info.clone(), owner.clone());
        blocking!(self, |db| db.register_agent(&info, &owner, now))
    }

    async fn heartbeat_agent(
        &self,
        hb: &HeartbeatRequest,
        owner: &PeerId,
        now: f64,
    ) -> StoreResult<AgentInfo> {
        let (hb, owner) = (hb.clone(), owner.clone());
        blocking!(self, |db| db.heartbeat_agent(&hb, &owner, now))
    }

    async fn delete_agent(&self, agent_id: &str) -> StoreResult<bool> {
        let agent_id = agent_id.to_owned();
        blocking!(self, |db| db.delete_agent(&agent_id))
    }

    async fn set_agent_health(
        &self,
        agent_id: &str,
        health: Health,
        last_heartbeat: f64,
    ) -> StoreResult<()> {
        let agent_id = agent_id.to_owned();
        blocking!(self, |db| db.set_agent_health(
            &agent_id,
            health,
            last_heartbeat
        ))
    }

    async fn identity_key(&self, peer_id: &str) -> StoreResult<Option<PublicKey>> {
        let peer_id = peer_id.to_owned();
        blocking!(self, |db| db.identity_key(&peer_id))
    }

    async fn bind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> StoreResult<Binding> {
        let (peer_id, key, source) = (peer_id.to_owned(), *key, source.to_owned());
        blocking!(self, |db| db
            .bind_identity_key(&peer_id, &key, &source, now))
    }

    async fn rebind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> StoreResult<()> {
        let (peer_id, key, source) = (peer_id.to_owned(), *key, source.to_owned());
        blocking!(self, |db| db
            .rebind_identity_key(&peer_id, &key, &source, now))
    }

    async fn reset_identity_key(&self, peer_id: &str) -> StoreResult<bool> {
        let peer_id = peer_id.to_owned();
        blocking!(self, |db| db.reset_identity_key(&peer_id))
    }

    async fn identity_keys(&self) -> StoreResult<Vec<BoundKey>> {
        blocking!(self, |db| db.identity_keys())
    }

    async fn set_pairing_key(&self, pairing_id: &str, key: &PublicKey) -> StoreResult<()> {
        let (pairing_id, key) = (pairing_id.to_owned(), *key);
        blocking!(self, |db| db.set_pairing_key(&pairing_id, &key))
    }

    async fn pairing_key(&self, pairing_id: &str) -> StoreResult<Option<PublicKey>> {
        let pairing_id = pairing_id.to_owned();
        blocking!(self, |db| db.pairing_key(&pairing_id))
    }

    async fn insert_pairing(
        &self,
        entry: &PairingEntry,
        claim_hash: Option<&str>,
    ) -> StoreResult<()> {
        let (entry, claim_hash) = (entry.clone(), claim_hash.map(str::to_owned));
        blocking!(self, |db| db.insert_pairing(&entry, claim_hash.as_deref()))
    }

    async fn pairing(&self, id: &str) -> StoreResult<Option<StoredPairing>> {
        let id = id.to_owned();
        blocking!(self, |db| db.pairing(&id))
    }

    async fn pairings(&self, status: Option<PairingStatus>) -> StoreResult<Vec<PairingEntry>> {
        blocking!(self, |db| db.pairings(status))
    }

    async fn live_pairing_for_peer(&self, peer_id: &PeerId) -> StoreResult<Option<StoredPairing>> {
        let peer_id = peer_id.clone();
        blocking!(self, |db| db.live_pairing_for_peer(&peer_id))
    }

    async fn pairing_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<StoredPairing>> {
        let token_hash = token_hash.to_owned();
        blocking!(self, |db| db.pairing_by_token_hash(&token_hash))
    }

    async fn transition_pairing(
        &self,
        id: &str,
        from: PairingStatus,
        to: PairingStatus,
        now: f64,
        token_hash: Option<&str>,
    ) -> StoreResult<bool> {
        let (id, token_hash) = (id.to_owned(), token_hash.map(str::to_owned));
        blocking!(self, |db| db.transition_pairing(
            &id,
            from,
            to,
            now,
            token_hash.as_deref()
        ))
    }

    async fn insert_pairing_code(
        &self,
        code: &str,
        expires_at: f64,
        now: f64,
    ) -> StoreResult<bool> {
        let code = code.to_owned();
        blocking!(self, |db| db.insert_pairing_code(&code, expires_at, now))
    }

    async fn redeem_pairing_code(&self, code: &str, now: f64, max_wrong: u32) -> StoreResult<bool> {
        let code = code.to_owned();
        blocking!(self, |db| db.redeem_pairing_code(&code, now, max_wrong))
    }

    async fn claim_device_token(&self, pairing_id: &str, now: f64) -> StoreResult<bool> {
        let pairing_id = pairing_id.to_owned();
        blocking!(self, |db| db.claim_device_token(&pairing_id, now))
    }

    async fn insert_task(&self, task: &Task) -> StoreResult<()> {
        let task = task.clone();
        blocking!(self, |db| db.insert_task(&task))
    }

    async fn task(&self, id: &str) -> StoreResult<Option<Task>> {
        let id = id.to_owned();
        blocking!(self, |db| db.task(&id))
    }

    async fn tasks_updated_since(&self, since: f64) -> StoreResult<Vec<Task>> {
        blocking!(self, |db| db.tasks_updated_since(since))
    }

    async fn pending_tasks(&self, now: f64) -> StoreResult<Vec<Task>> {
        blocking!(self, |db| db.pending_tasks(now))
    }

    async fn task_counts(&self) -> StoreResult<Vec<(TaskState, u64)>> {
        blocking!(self, |db| db.task_counts())
    }

    async fn transition_task(
        &self,
        id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> StoreResult<Transition> {
        let (id, result, error) = (id.to_owned(), result.to_owned(), error.to_owned());
        blocking!(self, |db| db
            .transition_task(&id, next, &result, &error, now))
    }

    async fn assign_pending(
        &self,
        agent_id: &str,
        skills: &[String],
        now: f64,
    ) -> StoreResult<Vec<Task>> {
        let (agent_id, skills) = (agent_id.to_owned(), skills.to_vec());
        blocking!(self, |db| db.assign_pending(&agent_id, &skills, now))
    }

    async fn claim_for_mesh(
        &self,
        id: &str,
        agent_id: &str,
        note: &str,
        now: f64,
    ) -> StoreResult<Option<Task>> {
        let (id, agent_id, note) = (id.to_owned(), agent_id.to_owned(), note.to_owned());
        blocking!(self, |db| db.claim_for_mesh(&id, &agent_id, &note, now))
    }

    async fn unclaim(&self, id: &str, agent_id: &str, note: &str, now: f64) -> StoreResult<bool> {
        let (id, agent_id, note) = (id.to_owned(), agent_id.to_owned(), note.to_owned());
        blocking!(self, |db| db.unclaim(&id, &agent_id, &note, now))
    }

    async fn finish_assigned(
        &self,
        id: &str,
        agent_id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> StoreResult<Option<Task>> {
        let (id, agent_id) = (id.to_owned(), agent_id.to_owned());
        let (result, error) = (result.to_owned(), error.to_owned());
        blocking!(self, |db| db
            .finish_assigned(&id, &agent_id, next, &result, &error, now))
    }

    async fn requeue_if_silent(
        &self,
        agent_id: &str,
        silent_since: f64,
        now: f64,
    ) -> StoreResult<usize> {
        let agent_id = agent_id.to_owned();
        blocking!(self, |db| db.requeue_if_silent(
            &agent_id,
            silent_since,
            now
        ))
    }

    async fn requeue_assigned(&self, agent_id: &str, now: f64) -> StoreResult<usize> {
        let agent_id = agent_id.to_owned();
        blocking!(self, |db| db.requeue_assigned(&agent_id, now))
    }

    async fn delete_finished_tasks(&self, before: f64) -> StoreResult<usize> {
        blocking!(self, |db| db.delete_finished_tasks(before))
    }

    async fn task_count(&self) -> StoreResult<u64> {
        blocking!(self, |db| db.task_count())
    }

    async fn tasks_page(&self, limit: u64, offset: u64) -> StoreResult<Vec<Task>> {
        blocking!(self, |db| db.tasks_page(limit, offset))
    }

    async fn expire_tasks(&self, now: f64) -> StoreResult<usize> {
        blocking!(self, |db| db.expire_tasks(now))
    }

    async fn memory_events(&self) -> StoreResult<Vec<Event>> {
        blocking!(self, |db| db.memory_events())
    }

    async fn memory_commit(&self, appends: Vec<Event>, erased: Vec<EventId>) -> StoreResult<()> {
        blocking!(self, |db| db.memory_commit(&appends, &erased))
    }
}
