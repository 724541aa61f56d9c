//! The records both backends store and return, and the rules for building them that must not
//! differ between SQLite and PostgreSQL.

use meshwork_protocol::{
    identity::PublicKey,
    rest::{AgentInfo, Health, HeartbeatRequest, PairingEntry, Task, TaskState, TaskStep},
    PeerId,
};
use serde::Serialize;
use std::collections::HashMap;

/// An agent as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAgent {
    /// What the agent said about itself.
    pub info: AgentInfo,
    /// Peer id of the credential that owns the record.
    pub owner: PeerId,
    /// Unix seconds.
    pub registered_at: f64,
    /// Unix seconds.
    pub last_heartbeat: f64,
    /// Health as last derived by the maintenance loop (transitions are detected against it).
    pub stored_health: Health,
}

/// A stored health word (anything unknown reads as active).
pub(crate) fn health_from(s: &str) -> Health {
    match s {
        "stale" => Health::Stale,
        "offline" => Health::Offline,
        _ => Health::Active,
    }
}

/// Overwrites only the fields a heartbeat fills (chatixia sends just `agent_id` and
/// `skill_names`).
fn merge_heartbeat(info: &mut AgentInfo, hb: &HeartbeatRequest) {
    fn set(field: &mut String, value: &str) {
        if !value.is_empty() {
            value.clone_into(field);
        }
    }
    set(&mut info.hostname, &hb.hostname);
    set(&mut info.ip, &hb.ip);
    set(&mut info.status, &hb.status);
    set(&mut info.mode, &hb.mode);
    if hb.port != 0 {
        info.port = hb.port;
    }
    if !hb.sidecar_peer_id.as_str().is_empty() {
        info.sidecar_peer_id = hb.sidecar_peer_id.clone();
    }
    if !hb.skill_names.is_empty() {
        info.capabilities.skills = hb.skill_names.clone();
    }
    if hb.goals_count != 0 {
        info.capabilities.goals_count = hb.goals_count;
    }
}

/// A pairing entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPairing {
    /// What admins see.
    pub entry: PairingEntry,
    /// SHA-256 of the claim secret, when the device sent one.
    pub claim_hash: Option<String>,
    /// Unix seconds of approval (JWTs issued before it are not this device's).
    pub approved_at: Option<f64>,
}

/// How a binding attempt came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The key is now (or already was) the peer id's.
    Bound,
    /// The peer id is bound to this other key.
    Conflict(PublicKey),
}

/// One bound key, for admins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundKey {
    /// The peer id.
    pub peer_id: String,
    /// Its key (base64url).
    pub key: String,
    /// Short fingerprint for people to compare.
    pub fingerprint: String,
    /// `registration` or `pairing`.
    pub source: String,
    /// Unix seconds.
    pub bound_at: f64,
}

/// Outcome of a requested transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Applied; the task as it is now.
    Applied(Box<Task>),
    /// No such task.
    NotFound,
    /// The task was in this state, from which the transition is illegal.
    Illegal(TaskState),
}

/// Attaches each task's timeline and the delivery of its current hand-out (none once it went
/// back to the queue).
pub(crate) fn with_timelines(tasks: &mut [Task], mut steps: HashMap<String, Vec<TaskStep>>) {
    for task in tasks {
        task.timeline = steps.remove(&task.id).unwrap_or_default();
        task.delivery = None;
        for step in &task.timeline {
            if step.state == TaskState::Pending {
                task.delivery = None;
            }
            if step.via.is_some() {
                task.delivery = step.via;
            }
        }
    }
}

/// Oldest first, as every task list reads (ties by id).
pub(crate) fn sort_by_creation(tasks: &mut [Task]) {
    tasks.sort_by(|a, b| {
        a.created_at
            .total_cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Groups `(task id, step)` rows by task, keeping their order.
pub(crate) fn group(rows: Vec<(String, TaskStep)>) -> HashMap<String, Vec<TaskStep>> {
    let mut steps: HashMap<String, Vec<TaskStep>> = HashMap::new();
    for (id, step) in rows {
        steps.entry(id).or_default().push(step);
    }
    steps
}

/// The record a heartbeat leaves: the stored one (`existing`, its JSON) with the heartbeat's
/// fields merged in, or a new one when there is none (or it is unreadable).
pub(crate) fn heartbeat_info(
    existing: Option<&str>,
    hb: &HeartbeatRequest,
    owner: &PeerId,
) -> AgentInfo {
    let mut info = existing
        .and_then(|json| serde_json::from_str::<AgentInfo>(json).ok())
        .unwrap_or_else(|| AgentInfo {
            agent_id: hb.agent_id.clone(),
            hostname: String::new(),
            ip: String::new(),
            port: 8080,
            sidecar_peer_id: owner.clone(),
            capabilities: Default::default(),
            status: String::new(),
            mode: String::new(),
        });
    merge_heartbeat(&mut info, hb);
    info
}

/// An agent's self-description as stored (JSON text).
pub(crate) fn agent_json(info: &AgentInfo) -> String {
    serde_json::to_string(info).unwrap_or_default()
}

/// A bound key for admins, from its stored text.
pub(crate) fn bound_key(peer_id: String, key: String, source: String, bound_at: f64) -> BoundKey {
    let fingerprint = PublicKey::parse(&key)
        .map(|k| k.fingerprint())
        .unwrap_or_default();
    BoundKey {
        peer_id,
        key,
        fingerprint,
        source,
        bound_at,
    }
}

/// Whether `bound` (the stored key text) means `key` is bound, or another key is.
pub(crate) fn binding(bound: &str, key: &PublicKey) -> Binding {
    match PublicKey::parse(bound) {
        Ok(existing) if existing != *key => Binding::Conflict(existing),
        _ => Binding::Bound,
    }
}

/// An event as stored: its header (JSON, without the body) and its body apart, so a forget
/// can erase the body alone (ADR 0016).
pub(crate) fn split_event(
    event: &meshwork_protocol::memory::Event,
) -> Result<(String, Option<String>), super::StoreError> {
    let mut header = event.clone();
    let body = header.body.take();
    let header = serde_json::to_string(&header)
        .map_err(|e| super::StoreError::Corrupt(format!("memory event: {e}")))?;
    Ok((header, body))
}

/// An event from its stored header and body.
pub(crate) fn join_event(
    header: &str,
    body: Option<String>,
) -> Result<meshwork_protocol::memory::Event, super::StoreError> {
    let mut event: meshwork_protocol::memory::Event = serde_json::from_str(header)
        .map_err(|e| super::StoreError::Corrupt(format!("memory event: {e}")))?;
    event.body = body;
    Ok(event)
}
