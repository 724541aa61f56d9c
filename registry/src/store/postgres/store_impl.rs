//! [`Store`] for [`PgStore`]: each call goes to the method of the same name in the file that
//! holds its concern (`agents`, `tasks`, …).

use super::PgStore;
use crate::store::{Binding, BoundKey, Store, StoreResult, StoredAgent, StoredPairing, Transition};
use async_trait::async_trait;
use meshwork_protocol::{
    identity::PublicKey,
    memory::{Event, EventId},
    rest::{AgentInfo, Health, HeartbeatRequest, PairingEntry, PairingStatus, Task, TaskState},
    PeerId,
};

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn setting_or_insert(&self, key: &str, candidate: String) -> StoreResult<String> {
        PgStore::setting_or_insert(self, key, candidate).await
    }

    async fn agent(&self, agent_id: &str) -> StoreResult<Option<StoredAgent>> {
        PgStore::agent(self, agent_id).await
    }

    async fn agents(&self) -> StoreResult<Vec<StoredAgent>> {
        PgStore::agents(self).await
    }

    async fn register_agent(&self, info: &AgentInfo, owner: &PeerId, now: f64) -> StoreResult<()> {
        PgStore::register_agent(self, info, owner, now).await
    }

    async fn heartbeat_agent(
        &self,
        hb: &HeartbeatRequest,
        owner: &PeerId,
        now: f64,
    ) -> StoreResult<AgentInfo> {
        PgStore::heartbeat_agent(self, hb, owner, now).await
    }

    async fn delete_agent(&self, agent_id: &str) -> StoreResult<bool> {
        PgStore::delete_agent(self, agent_id).await
    }

    async fn set_agent_health(
        &self,
        agent_id: &str,
        health: Health,
        last_heartbeat: f64,
    ) -> StoreResult<()> {
        PgStore::set_agent_health(self, agent_id, health, last_heartbeat).await
    }

    async fn identity_key(&self, peer_id: &str) -> StoreResult<Option<PublicKey>> {
        PgStore::identity_key(self, peer_id).await
    }

    async fn bind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> StoreResult<Binding> {
        PgStore::bind_identity_key(self, peer_id, key, source, now).await
    }

    async fn rebind_identity_key(
        &self,
        peer_id: &str,
        key: &PublicKey,
        source: &str,
        now: f64,
    ) -> StoreResult<()> {
        PgStore::rebind_identity_key(self, peer_id, key, source, now).await
    }

    async fn reset_identity_key(&self, peer_id: &str) -> StoreResult<bool> {
        PgStore::reset_identity_key(self, peer_id).await
    }

    async fn identity_keys(&self) -> StoreResult<Vec<BoundKey>> {
        PgStore::identity_keys(self).await
    }

    async fn set_pairing_key(&self, pairing_id: &str, key: &PublicKey) -> StoreResult<()> {
        PgStore::set_pairing_key(self, pairing_id, key).await
    }

    async fn pairing_key(&self, pairing_id: &str) -> StoreResult<Option<PublicKey>> {
        PgStore::pairing_key(self, pairing_id).await
    }

    async fn insert_pairing(
        &self,
        entry: &PairingEntry,
        claim_hash: Option<&str>,
    ) -> StoreResult<()> {
        PgStore::insert_pairing(self, entry, claim_hash).await
    }

    async fn pairing(&self, id: &str) -> StoreResult<Option<StoredPairing>> {
        PgStore::pairing(self, id).await
    }

    async fn pairings(&self, status: Option<PairingStatus>) -> StoreResult<Vec<PairingEntry>> {
        PgStore::pairings(self, status).await
    }

    async fn live_pairing_for_peer(&self, peer_id: &PeerId) -> StoreResult<Option<StoredPairing>> {
        PgStore::live_pairing_for_peer(self, peer_id).await
    }

    async fn pairing_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<StoredPairing>> {
        PgStore::pairing_by_token_hash(self, token_hash).await
    }

    async fn transition_pairing(
        &self,
        id: &str,
        from: PairingStatus,
        to: PairingStatus,
        now: f64,
        token_hash: Option<&str>,
    ) -> StoreResult<bool> {
        PgStore::transition_pairing(self, id, from, to, now, token_hash).await
    }

    async fn insert_pairing_code(
        &self,
        code: &str,
        expires_at: f64,
        now: f64,
    ) -> StoreResult<bool> {
        PgStore::insert_pairing_code(self, code, expires_at, now).await
    }

    async fn redeem_pairing_code(&self, code: &str, now: f64, max_wrong: u32) -> StoreResult<bool> {
        PgStore::redeem_pairing_code(self, code, now, max_wrong).await
    }

    async fn claim_device_token(&self, pairing_id: &str, now: f64) -> StoreResult<bool> {
        PgStore::claim_device_token(self, pairing_id, now).await
    }

    async fn insert_task(&self, task: &Task) -> StoreResult<()> {
        PgStore::insert_task(self, task).await
    }

    async fn task(&self, id: &str) -> StoreResult<Option<Task>> {
        PgStore::task(self, id).await
    }

    async fn tasks_updated_since(&self, since: f64) -> StoreResult<Vec<Task>> {
        PgStore::tasks_updated_since(self, since).await
    }

    async fn pending_tasks(&self, now: f64) -> StoreResult<Vec<Task>> {
        PgStore::pending_tasks(self, now).await
    }

    async fn task_counts(&self) -> StoreResult<Vec<(TaskState, u64)>> {
        PgStore::task_counts(self).await
    }

    async fn transition_task(
        &self,
        id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> StoreResult<Transition> {
        PgStore::transition_task(self, id, next, result, error, now).await
    }

    async fn assign_pending(
        &self,
        agent_id: &str,
        skills: &[String],
        now: f64,
    ) -> StoreResult<Vec<Task>> {
        PgStore::assign_pending(self, agent_id, skills, now).await
    }

    async fn claim_for_mesh(
        &self,
        id: &str,
        agent_id: &str,
        note: &str,
        now: f64,
    ) -> StoreResult<Option<Task>> {
        PgStore::claim_for_mesh(self, id, agent_id, note, now).await
    }

    async fn unclaim(&self, id: &str, agent_id: &str, note: &str, now: f64) -> StoreResult<bool> {
        PgStore::unclaim(self, id, agent_id, note, now).await
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
        PgStore::finish_assigned(self, id, agent_id, next, result, error, now).await
    }

    async fn requeue_if_silent(
        &self,
        agent_id: &str,
        silent_since: f64,
        now: f64,
    ) -> StoreResult<usize> {
        PgStore::requeue_if_silent(self, agent_id, silent_since, now).await
    }

    async fn requeue_assigned(&self, agent_id: &str, now: f64) -> StoreResult<usize> {
        PgStore::requeue_assigned(self, agent_id, now).await
    }

    async fn delete_finished_tasks(&self, before: f64) -> StoreResult<usize> {
        PgStore::delete_finished_tasks(self, before).await
    }

    async fn task_count(&self) -> StoreResult<u64> {
        PgStore::task_count(self).await
    }

    async fn tasks_page(&self, limit: u64, offset: u64) -> StoreResult<Vec<Task>> {
        PgStore::tasks_page(self, limit, offset).await
    }

    async fn expire_tasks(&self, now: f64) -> StoreResult<usize> {
        PgStore::expire_tasks(self, now).await
    }

    async fn memory_events(&self) -> StoreResult<Vec<Event>> {
        PgStore::memory_events(self).await
    }

    async fn memory_commit(&self, appends: Vec<Event>, erased: Vec<EventId>) -> StoreResult<()> {
        PgStore::memory_commit(self, appends, erased).await
    }
}
