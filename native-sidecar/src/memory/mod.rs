//! The shared memory's native shell (PROTOCOL.md §6, ADR 0016, ADR 0017): the sidecar's
//! replica in its SQLite store, served to the agents by the protocol crate's
//! [`AgentMemory`].
//!
//! [`Memory`] decides nothing about the memory itself: it opens the store, commits a write
//! before its reply goes out, and stops writing if a commit fails. SQLite runs on the
//! driver's thread: a write costs one fsync (milliseconds), reads none; the replica must
//! change in command order and the reply must follow the commit anyway, so a blocking pool
//! would only add hand-offs.
//!
//! - `store`: `memory.db`.

pub mod store;

use crate::ipc::ClientId;
use meshwork_protocol::{
    core::{MemoryStore, Mesh, Pumped, Shell, Time},
    identity::Identity,
    ipc::{IpcCommand, IpcEvent},
    memory::{store::EventStore, AgentMemory, Applied, Limits, Outgoing, Replica},
    PeerId,
};
use std::path::Path;
use store::{SqliteStore, StoreError};

/// The replica and the store it is kept in.
struct Open {
    agent: AgentMemory,
    store: Committer,
}

/// `memory.db`.
struct Committer {
    db: SqliteStore,
}

impl MemoryStore for Committer {
    fn store(&mut self, applied: &Applied) -> Result<(), String> {
        self.db
            .commit(applied)
            .map_err(|e| format!("cannot store memory events: {e}"))
    }
}

/// The sidecar's replica of the shared memory, as the agents use it.
pub struct Memory {
    /// The replica, or why there is none (no data directory yet, or it failed to open).
    open: Result<Open, String>,
    /// The replica opens once the registry names us (no data directory yet): until then
    /// every command waits for it instead of failing.
    opens_with_peer: bool,
}

impl Memory {
    /// Opens `memory.db` in the data directory `dir` and restores the replica from it —
    /// before any local write, so a new event continues our chain instead of forking it.
    pub fn open(dir: &Path, identity: Option<Identity>) -> Result<Self, StoreError> {
        let mut db = SqliteStore::open(dir)?;
        let events = db.load_all()?;
        let stored = events.len();
        let (replica, restored) = Replica::restore(Limits::default(), events);
        // Erasures a crash left undone (the forget was stored, its erasures not).
        db.erase_bodies(&restored.erased)?;
        let peer = db.self_peer()?;
        let refused = stored.saturating_sub(restored.events.len());
        if refused > 0 {
            tracing::warn!(refused, "stored memory events no longer verify; ignored");
        }
        tracing::info!(events = restored.events.len(), peer = ?peer.as_ref().map(PeerId::as_str), "memory replica restored");
        Ok(Self {
            open: Ok(Open {
                agent: AgentMemory::new(replica, identity, peer),
                store: Committer { db },
            }),
            opens_with_peer: false,
        })
    }

    /// A memory that answers every command with `error: <why>`.
    pub fn unavailable(why: impl Into<String>) -> Self {
        Self {
            open: Err(why.into()),
            opens_with_peer: false,
        }
    }

    /// A memory that opens when the registry names us; commands wait for it (see
    /// [`Memory::waits_for_peer`]) and are answered then.
    pub fn opens_with_peer() -> Self {
        Self {
            opens_with_peer: true,
            ..Self::unavailable("the shared memory opens once the registry has named this sidecar")
        }
    }

    /// Whether `cmd` must wait until the registry names us: every command while the replica
    /// is not open yet, and writes while we do not know which peer id to write them as (a
    /// fresh data directory). Reads of an open replica never wait (local-first, §6).
    pub fn waits_for_peer(&self, cmd: &IpcCommand) -> bool {
        match &self.open {
            Ok(open) => open.agent.write_waits_for_peer(cmd),
            Err(_) => self.opens_with_peer,
        }
    }

    /// The registry named us `peer`: our events are written as it from now on (and on later
    /// starts before the registry answers).
    pub fn set_peer(&mut self, peer: PeerId) {
        let Ok(open) = &mut self.open else {
            return;
        };
        if open.agent.peer() == Some(&peer) {
            return;
        }
        if let Some(old) = open.agent.peer() {
            tracing::warn!(old = %old, new = %peer, "this data directory's memory was written as another peer id");
        }
        if let Err(e) = open.store.db.set_self_peer(&peer) {
            tracing::warn!(error = %e, "cannot remember our peer id in memory.db");
        }
        open.agent.set_peer(peer);
    }

    /// A client is gone: it hears of nothing more.
    pub fn client_gone(&mut self, client: ClientId) {
        if let Ok(open) = &mut self.open {
            open.agent.client_gone(client);
        }
    }

    /// Answers one memory command from `client`: a write is committed to `memory.db` before
    /// `memory_written` goes out.
    pub fn handle(&mut self, client: ClientId, cmd: IpcCommand) -> Outgoing {
        let open = match &mut self.open {
            Ok(open) => open,
            Err(why) => return vec![(client, error_reply(&cmd, why))],
        };
        let mut answer = open.agent.answer(client, cmd, now_ms());
        let Some(applied) = answer.applied.take() else {
            return vec![(client, answer.reply)];
        };
        if let Err(e) = open.store.store(&applied) {
            let why = format!("{e}; restart the sidecar to write again");
            tracing::error!(error = %e, "memory write not stored; writes stop");
            open.agent.stop_writes(why.clone());
            return vec![(client, answer.failed(why))];
        }
        let mut out = vec![(client, answer.reply)];
        out.extend(open.agent.stored(applied));
        out
    }

    /// Moves the replica's sync traffic through `mesh` (see `Mesh::pump_memory`); the
    /// `memory_changed` lines for the agents.
    pub fn pump<S: Shell>(&mut self, mesh: &mut Mesh<S>, now: Time) -> Outgoing {
        let Ok(open) = &mut self.open else {
            mesh.memory_inbox = Default::default();
            return Vec::new();
        };
        let Pumped { lines, failures } = mesh.pump_memory(&mut open.agent, &mut open.store, now);
        for failure in failures {
            tracing::warn!(error = %failure, "memory frame not applied");
        }
        lines
    }

    /// Anti-entropy: every replica `mesh` reaches hears what we hold.
    pub fn resync<S: Shell>(&self, mesh: &mut Mesh<S>, now: Time) {
        if let Ok(open) = &self.open {
            mesh.resync_memory(&open.agent, now);
        }
    }
}

/// `error` for a memory command, carrying its `request_id`.
fn error_reply(cmd: &IpcCommand, why: &str) -> IpcEvent {
    IpcEvent::Error {
        request_id: cmd.request_id().map(str::to_owned),
        message: why.to_owned(),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meshwork-svc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn open(dir: &Path) -> Memory {
        let mut memory = Memory::open(dir, Some(Identity::from_seed([3; 32]))).unwrap();
        memory.set_peer(PeerId::new("alice"));
        memory
    }

    fn put(key: &str, value: serde_json::Value) -> IpcCommand {
        IpcCommand::MemoryPut {
            request_id: format!("put-{key}"),
            key: key.into(),
            value,
            supersedes: Vec::new(),
            derived_from: Vec::new(),
        }
    }

    fn error_of(out: &Outgoing) -> (Option<String>, String) {
        match &out[..] {
            [(
                _,
                IpcEvent::Error {
                    request_id,
                    message,
                },
            )] => (request_id.clone(), message.clone()),
            other => panic!("not one error: {other:?}"),
        }
    }

    #[test]
    fn a_put_is_answered_then_told_to_the_subscribers() {
        let dir = temp_dir("put");
        let mut memory = open(&dir);
        let subscribe = IpcCommand::MemorySubscribe {
            request_id: "s".into(),
            prefix: "a/".into(),
        };
        let out = memory.handle(2, subscribe);
        assert!(matches!(&out[..], [(2, IpcEvent::MemorySubscribed { .. })]));
        let out = memory.handle(1, put("a/x", json!(1)));
        let [(1, IpcEvent::MemoryWritten { id, version, .. }), (2, IpcEvent::MemoryChanged { id: changed, .. })] =
            &out[..]
        else {
            panic!("{out:?}");
        };
        assert_eq!(id, changed);
        assert_eq!(version.get(&PeerId::new("alice")), 1);
        memory.client_gone(2);
        assert_eq!(memory.handle(1, put("a/y", json!(2))).len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reopened_replica_continues_its_chain_and_remembers_its_peer_id() {
        let dir = temp_dir("chain");
        drop(open(&dir).handle(1, put("k", json!(1))));
        let mut memory = Memory::open(&dir, Some(Identity::from_seed([3; 32]))).unwrap();
        let out = memory.handle(1, put("k", json!(2)));
        let [(_, IpcEvent::MemoryWritten { version, .. })] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!(version.get(&PeerId::new("alice")), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writes_need_an_identity_key_and_a_peer_id() {
        let dir = temp_dir("author");
        let mut unkeyed = Memory::open(&dir, None).unwrap();
        unkeyed.set_peer(PeerId::new("alice"));
        let (request_id, message) = error_of(&unkeyed.handle(1, put("k", json!(1))));
        assert_eq!(request_id.as_deref(), Some("put-k"));
        assert!(
            message.contains("this peer has no identity key"),
            "{message}"
        );
        drop(unkeyed);
        let dir2 = temp_dir("nopeer");
        let mut nameless = Memory::open(&dir2, Some(Identity::from_seed([3; 32]))).unwrap();
        let (_, message) = error_of(&nameless.handle(1, put("k", json!(1))));
        assert!(message.contains("peer id"), "{message}");
        let get = IpcCommand::MemoryGet {
            request_id: "g".into(),
            key: "k".into(),
            at: None,
        };
        assert!(matches!(
            &nameless.handle(1, get)[..],
            [(1, IpcEvent::MemoryValue { .. })]
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&dir2).unwrap();
    }

    #[test]
    fn an_unavailable_memory_answers_with_its_reason() {
        let mut memory = Memory::unavailable("no data dir yet");
        let list = IpcCommand::MemoryList {
            request_id: "l".into(),
            prefix: String::new(),
            at: None,
            limit: None,
        };
        let (request_id, message) = error_of(&memory.handle(1, list));
        assert_eq!(request_id.as_deref(), Some("l"));
        assert_eq!(message, "no data dir yet");
    }
}
