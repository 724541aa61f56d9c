//! The shared memory's native shell (PROTOCOL.md §6, ADR 0016, ADR 0017): the sidecar's
//! replica, its SQLite store and the agents' subscriptions.
//!
//! [`Memory`] turns one IPC memory command into its replies; it decides nothing about the
//! memory itself (that is `meshwork_protocol::memory`). A local write is committed to
//! `memory.db` before `memory_written` goes out. SQLite runs on the driver's thread: a write
//! costs one fsync (milliseconds), reads none; the replica must change in command order and
//! the reply must follow the commit anyway, so a blocking pool would only add hand-offs.
//!
//! - `store`: `memory.db`.
//! - `subscriptions`: who hears of which keys.

pub mod store;
mod subscriptions;

use crate::ipc::ClientId;
use meshwork_protocol::{
    identity::{Identity, PublicKey},
    ipc::{IpcCommand, IpcEvent},
    memory::{
        event::MAX_KEY_BYTES, replica::Links, store::EventStore, sync, Applied, Author, Event,
        Limits, MemoryError, Replica, SyncMessage,
    },
    PeerId,
};
use std::path::Path;
use store::{SqliteStore, StoreError};
use subscriptions::Subscriptions;

/// Lines for IPC clients: the reply to the command's sender first, then `memory_changed`.
pub type Outgoing = Vec<(ClientId, IpcEvent)>;

/// The replica and the store it is kept in.
struct Open {
    replica: Replica,
    store: SqliteStore,
    /// Why writes stopped: a commit failed, so the replica holds an event the store may
    /// not; writing on would number the next events after one that may be lost.
    broken: Option<String>,
}

/// The sidecar's replica of the shared memory, as the agents use it.
pub struct Memory {
    /// The replica, or why there is none (no data directory yet, or it failed to open).
    open: Result<Open, String>,
    /// The key that signs our events (`None` with `MESHWORK_IDENTITY=false`).
    identity: Option<Identity>,
    /// The peer id our events are written as: remembered in the store, confirmed by the
    /// registry's token.
    peer: Option<PeerId>,
    subscriptions: Subscriptions,
    /// Local events not yet pushed to the other replicas (the driver takes them).
    unpushed: Vec<Event>,
    /// The replica opens once the registry names us (no data directory yet): until then
    /// every command waits for it instead of failing.
    opens_with_peer: bool,
}

/// What one sync frame from another replica produced.
pub struct Synced {
    /// Frames back to the sender.
    pub replies: Vec<SyncMessage>,
    /// New events for every other replica (delta push).
    pub pushes: Vec<SyncMessage>,
    /// `memory_changed` lines for subscribed clients.
    pub lines: Outgoing,
}

impl Memory {
    /// Opens `memory.db` in the data directory `dir` and restores the replica from it —
    /// before any local write, so a new event continues our chain instead of forking it.
    pub fn open(dir: &Path, identity: Option<Identity>) -> Result<Self, StoreError> {
        let mut store = SqliteStore::open(dir)?;
        let events = store.load_all()?;
        let stored = events.len();
        let (replica, restored) = Replica::restore(Limits::default(), events);
        // Erasures a crash left undone (the forget was stored, its erasures not).
        store.erase_bodies(&restored.erased)?;
        let peer = store.self_peer()?;
        let refused = stored.saturating_sub(restored.events.len());
        if refused > 0 {
            tracing::warn!(refused, "stored memory events no longer verify; ignored");
        }
        tracing::info!(events = restored.events.len(), peer = ?peer.as_ref().map(PeerId::as_str), "memory replica restored");
        Ok(Self {
            open: Ok(Open {
                replica,
                store,
                broken: None,
            }),
            identity,
            peer,
            subscriptions: Subscriptions::default(),
            unpushed: Vec::new(),
            opens_with_peer: false,
        })
    }

    /// A memory that answers every command with `error: <why>`.
    pub fn unavailable(why: impl Into<String>) -> Self {
        Self {
            open: Err(why.into()),
            identity: None,
            peer: None,
            subscriptions: Subscriptions::default(),
            unpushed: Vec::new(),
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
        self.peer.is_none()
            && (self.opens_with_peer
                || (cmd.is_memory_write() && self.identity.is_some() && self.open.is_ok()))
    }

    /// The registry named us `peer`: our events are written as it from now on (and on later
    /// starts before the registry answers).
    pub fn set_peer(&mut self, peer: PeerId) {
        if self.peer.as_ref() == Some(&peer) {
            return;
        }
        if let Some(old) = &self.peer {
            tracing::warn!(old = %old, new = %peer, "this data directory's memory was written as another peer id");
        }
        if let Ok(open) = &mut self.open {
            if let Err(e) = open.store.set_self_peer(&peer) {
                tracing::warn!(error = %e, "cannot remember our peer id in memory.db");
            }
        }
        self.peer = Some(peer);
    }

    /// A client is gone: it hears of nothing more.
    pub fn client_gone(&mut self, client: ClientId) {
        self.subscriptions.remove_client(client);
    }

    /// Answers one memory command from `client`.
    pub fn handle(&mut self, client: ClientId, cmd: IpcCommand) -> Outgoing {
        let (request_id, result) = self.answer(client, cmd);
        let mut out = Vec::with_capacity(1);
        match result {
            Ok((reply, applied)) => {
                out.push((client, reply));
                if let Some(applied) = applied {
                    out.extend(self.changes(&applied));
                    self.unpushed.extend(applied.events);
                }
            }
            Err(message) => out.push((
                client,
                IpcEvent::Error {
                    request_id: Some(request_id),
                    message,
                },
            )),
        }
        out
    }

    /// Checks events by `author` against `key` from now on (the mesh's pinned or announced
    /// key), so no peer can write as another we know.
    pub fn pin_key(&mut self, author: PeerId, key: PublicKey) {
        if let Ok(open) = &mut self.open {
            open.replica.pin_key(author, key);
        }
    }

    /// "I hold this", for a replica we just met (and periodically); `None` without a replica.
    pub fn have(&self) -> Option<SyncMessage> {
        self.open
            .as_ref()
            .ok()
            .map(|open| sync::open(&open.replica))
    }

    /// Frames pushing the local events written since the last call.
    pub fn take_pushes(&mut self) -> Vec<SyncMessage> {
        if self.unpushed.is_empty() {
            return Vec::new();
        }
        let events = std::mem::take(&mut self.unpushed);
        sync::push(&events, &Limits::default())
    }

    /// Answers a sync frame from another replica: what it applied is committed (with its
    /// erasures) before anything is sent, subscribers hear of it, the rest goes out.
    pub fn sync(&mut self, frame: SyncMessage) -> Result<Synced, String> {
        let open = self.open.as_mut().map_err(|why| why.clone())?;
        let step = sync::handle(&mut open.replica, frame);
        open.store
            .commit(&step.applied)
            .map_err(|e| format!("cannot store received memory events: {e}"))?;
        let pushes = if step.applied.events.is_empty() {
            Vec::new()
        } else {
            sync::push(&step.applied.events, &Limits::default())
        };
        Ok(Synced {
            replies: step.replies,
            pushes,
            lines: self.changes(&step.applied),
        })
    }

    /// `memory_changed` for every applied event, to the clients subscribed to its key.
    fn changes(&self, applied: &Applied) -> Outgoing {
        let mut out = Vec::new();
        for event in &applied.events {
            for client in self.subscriptions.matching(&event.key) {
                let changed = IpcEvent::MemoryChanged {
                    key: event.key.clone(),
                    id: event.id.clone(),
                    author: event.author.clone(),
                    kind: event.kind,
                    value: event.value().unwrap_or(serde_json::Value::Null),
                };
                out.push((client, changed));
            }
        }
        out
    }

    /// The reply, and what a write applied; or the error message.
    #[allow(clippy::type_complexity)]
    fn answer(
        &mut self,
        client: ClientId,
        cmd: IpcCommand,
    ) -> (String, Result<(IpcEvent, Option<Applied>), String>) {
        match cmd {
            IpcCommand::MemoryPut {
                request_id,
                key,
                value,
                supersedes,
                derived_from,
            } => {
                let links = Links {
                    supersedes,
                    derived_from,
                };
                let result = self.write(&request_id, key, |replica, author, key, now| {
                    replica.put(author, key, value, links, now)
                });
                (request_id, result)
            }
            IpcCommand::MemoryForget { request_id, key } => {
                let result = self.write(&request_id, key, |replica, author, key, now| {
                    replica.forget(author, key, now)
                });
                (request_id, result)
            }
            IpcCommand::MemoryGet {
                request_id,
                key,
                at,
            } => {
                let result = self.read(&key).map(|replica| {
                    let read = replica.get(&key, at.as_ref());
                    let request_id = request_id.clone();
                    (IpcEvent::MemoryValue { request_id, read }, None)
                });
                (request_id, result)
            }
            IpcCommand::MemoryList {
                request_id,
                prefix,
                at,
                limit,
            } => {
                let result = self.replica().map(|replica| {
                    let read = replica.list(&prefix, at.as_ref(), limit);
                    let request_id = request_id.clone();
                    (IpcEvent::MemoryValues { request_id, read }, None)
                });
                (request_id, result)
            }
            IpcCommand::MemoryHistory { request_id, key } => {
                let result = self.read(&key).map(|replica| {
                    let events = replica.history(&key, None);
                    let request_id = request_id.clone();
                    (
                        IpcEvent::MemoryHistory {
                            request_id,
                            key: key.clone(),
                            events,
                        },
                        None,
                    )
                });
                (request_id, result)
            }
            IpcCommand::MemorySubscribe { request_id, prefix } => {
                let result = self.replica().map(|_| ()).map(|()| {
                    let request_id = request_id.clone();
                    (IpcEvent::MemorySubscribed { request_id }, None)
                });
                if result.is_ok() {
                    self.subscriptions.add(client, prefix);
                }
                (request_id, result)
            }
            _ => (String::new(), Err("not a memory command".into())),
        }
    }

    fn replica(&self) -> Result<&Replica, String> {
        match &self.open {
            Ok(open) => Ok(&open.replica),
            Err(why) => Err(why.clone()),
        }
    }

    /// The replica, for a read of `key` (which must be a valid key).
    fn read(&self, key: &str) -> Result<&Replica, String> {
        check_key(key)?;
        self.replica()
    }

    /// Makes a local write, commits it (with a forget's erasures, one transaction), and
    /// answers `memory_written`.
    fn write(
        &mut self,
        request_id: &str,
        key: String,
        make: impl FnOnce(&mut Replica, &Author, String, u64) -> Result<Applied, MemoryError>,
    ) -> Result<(IpcEvent, Option<Applied>), String> {
        let identity = self
            .identity
            .clone()
            .ok_or("this sidecar has no identity key (MESHWORK_IDENTITY=false)")?;
        let open = self.open.as_mut().map_err(|why| why.clone())?;
        if let Some(why) = &open.broken {
            return Err(why.clone());
        }
        let peer = self.peer.clone().ok_or(
            "this sidecar does not know its peer id yet: the registry has not answered since \
             its data directory was created",
        )?;
        let author = Author { peer, identity };
        let applied =
            make(&mut open.replica, &author, key.clone(), now_ms()).map_err(|e| e.to_string())?;
        if let Err(e) = open.store.commit(&applied) {
            let why = format!("the memory store failed ({e}); restart the sidecar to write again");
            tracing::error!(error = %e, "memory write not stored; writes stop");
            open.broken = Some(why.clone());
            return Err(why);
        }
        let id = applied
            .events
            .last()
            .map(|e| e.id.clone())
            .ok_or("the write applied no event")?;
        let reply = IpcEvent::MemoryWritten {
            request_id: request_id.to_owned(),
            id,
            key,
            version: open.replica.version().clone(),
        };
        Ok((reply, Some(applied)))
    }
}

/// §6's key rule, for reads (writes are checked by the replica).
fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err(MemoryError::EmptyKey.to_string());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(MemoryError::KeyTooLong(key.len()).to_string());
    }
    Ok(())
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
            message.contains("this sidecar has no identity key"),
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
