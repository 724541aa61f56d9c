//! The replica as agents use it (PROTOCOL.md §6): one memory command in, its reply out, and
//! `memory_changed` for the clients subscribed to what changed. The sidecar (IPC lines) and
//! the tab (its JS/Rust API) answer through this one place.
//!
//! Durability is the shell's: a write's [`Answer::applied`] must be stored before its reply
//! is sent ([`AgentMemory::stored`] then says who else hears of it); a store that fails
//! turns the reply into [`Answer::failed`].

use super::{
    event::MAX_KEY_BYTES, subscriptions::Subscriptions, sync, Applied, Author, Event, Limits,
    Links, MemoryError, Replica, SyncMessage,
};
use crate::{
    identity::{Identity, PublicKey},
    ipc::{IpcCommand, IpcEvent},
    PeerId,
};

/// Who sent a command (an IPC connection; the tab's page is client 0).
pub type ClientId = u64;

/// Lines for clients: a reply first, then `memory_changed`.
pub type Outgoing = Vec<(ClientId, IpcEvent)>;

/// One command's answer.
#[derive(Debug)]
pub struct Answer {
    /// The command's `request_id`.
    pub request_id: String,
    /// The reply (an `error` when the command failed).
    pub reply: IpcEvent,
    /// What a write applied: store it, then send `reply`.
    pub applied: Option<Applied>,
}

impl Answer {
    /// The reply once storing the write failed.
    pub fn failed(&self, why: impl Into<String>) -> IpcEvent {
        IpcEvent::Error {
            request_id: Some(self.request_id.clone()),
            message: why.into(),
        }
    }
}

/// A replica, the key that signs our writes, and the agents' subscriptions.
pub struct AgentMemory {
    replica: Replica,
    /// Signs our events (`None`: this peer has no identity key and cannot write).
    identity: Option<Identity>,
    /// The peer id our events are written as, once known.
    peer: Option<PeerId>,
    subscriptions: Subscriptions,
    /// Local events not pushed to the other replicas yet.
    unpushed: Vec<Event>,
    /// Why writes stopped: a local write could not be stored, so the replica holds an event
    /// the store may not; writing on would chain new events after one that may be lost.
    stopped: Option<String>,
}

impl AgentMemory {
    /// Serves `replica`, writing as `peer` with `identity`.
    pub fn new(replica: Replica, identity: Option<Identity>, peer: Option<PeerId>) -> Self {
        Self {
            replica,
            identity,
            peer,
            subscriptions: Subscriptions::default(),
            unpushed: Vec::new(),
            stopped: None,
        }
    }

    /// A write could not be stored: every later write is refused with `why` (reads go on).
    pub fn stop_writes(&mut self, why: String) {
        self.stopped = Some(why);
    }

    /// The replica (reads, stats).
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The peer id we write as.
    pub fn peer(&self) -> Option<&PeerId> {
        self.peer.as_ref()
    }

    /// Our events are written as `peer` from now on.
    pub fn set_peer(&mut self, peer: PeerId) {
        self.peer = Some(peer);
    }

    /// Whether `cmd` is a write that cannot be made until we know our peer id.
    pub fn write_waits_for_peer(&self, cmd: &IpcCommand) -> bool {
        self.peer.is_none() && self.identity.is_some() && cmd.is_memory_write()
    }

    /// A client is gone: it hears of nothing more.
    pub fn client_gone(&mut self, client: ClientId) {
        self.subscriptions.remove_client(client);
    }

    /// Checks events by `author` against `key` from now on.
    pub fn pin_key(&mut self, author: PeerId, key: PublicKey) {
        self.replica.pin_key(author, key);
    }

    /// "I hold this", for a replica we just met (and periodically).
    pub fn have(&self) -> SyncMessage {
        sync::open(&self.replica)
    }

    /// Frames pushing the local events stored since the last call.
    pub fn take_pushes(&mut self) -> Vec<SyncMessage> {
        if self.unpushed.is_empty() {
            return Vec::new();
        }
        sync::push(&std::mem::take(&mut self.unpushed), &Limits::default())
    }

    /// Answers one memory command from `client` at `now_ms` (Unix ms, for a write's
    /// `written_at`). A non-memory command is answered with an error.
    pub fn answer(&mut self, client: ClientId, cmd: IpcCommand, now_ms: u64) -> Answer {
        let request_id = cmd.request_id().unwrap_or_default().to_owned();
        let (reply, applied) = match self.reply(client, cmd, &request_id, now_ms) {
            Ok(done) => done,
            Err(message) => (
                IpcEvent::Error {
                    request_id: Some(request_id.clone()),
                    message,
                },
                None,
            ),
        };
        Answer {
            request_id,
            reply,
            applied,
        }
    }

    /// A write's events are stored: its subscribers' `memory_changed` lines, and the events
    /// wait for [`take_pushes`](Self::take_pushes).
    pub fn stored(&mut self, applied: Applied) -> Outgoing {
        let lines = self.changes(&applied);
        self.unpushed.extend(applied.events);
        lines
    }

    /// Applies a sync frame from another replica: what it applied (store it, with its
    /// erasures, before sending anything), the replies to its sender, and the frames that
    /// spread its new events to every other replica.
    pub fn receive(&mut self, frame: SyncMessage) -> Received {
        let step = sync::handle(&mut self.replica, frame);
        let pushes = if step.applied.events.is_empty() {
            Vec::new()
        } else {
            sync::push(&step.applied.events, &Limits::default())
        };
        Received {
            lines: self.changes(&step.applied),
            applied: step.applied,
            replies: step.replies,
            pushes,
        }
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

    fn reply(
        &mut self,
        client: ClientId,
        cmd: IpcCommand,
        request_id: &str,
        now_ms: u64,
    ) -> Result<(IpcEvent, Option<Applied>), String> {
        let request_id = request_id.to_owned();
        let read = |event| Ok((event, None));
        match cmd {
            IpcCommand::MemoryPut {
                key,
                value,
                supersedes,
                derived_from,
                ..
            } => {
                let links = Links {
                    supersedes,
                    derived_from,
                };
                self.write(request_id, key, now_ms, |replica, author, key, now| {
                    replica.put(author, key, value, links, now)
                })
            }
            IpcCommand::MemoryForget { key, .. } => {
                self.write(request_id, key, now_ms, |replica, author, key, now| {
                    replica.forget(author, key, now)
                })
            }
            IpcCommand::MemoryGet { key, at, .. } => {
                check_key(&key)?;
                let read_value = self.replica.get(&key, at.as_ref());
                read(IpcEvent::MemoryValue {
                    request_id,
                    read: read_value,
                })
            }
            IpcCommand::MemoryList {
                prefix, at, limit, ..
            } => {
                let values = self.replica.list(&prefix, at.as_ref(), limit);
                read(IpcEvent::MemoryValues {
                    request_id,
                    read: values,
                })
            }
            IpcCommand::MemoryHistory { key, .. } => {
                check_key(&key)?;
                let events = self.replica.history(&key, None);
                read(IpcEvent::MemoryHistory {
                    request_id,
                    key,
                    events,
                })
            }
            IpcCommand::MemorySubscribe { prefix, .. } => {
                self.subscriptions.add(client, prefix);
                read(IpcEvent::MemorySubscribed { request_id })
            }
            _ => Err("not a memory command".into()),
        }
    }

    /// Makes a local write; its reply says the replica's version with it.
    fn write(
        &mut self,
        request_id: String,
        key: String,
        now_ms: u64,
        make: impl FnOnce(&mut Replica, &Author, String, u64) -> Result<Applied, MemoryError>,
    ) -> Result<(IpcEvent, Option<Applied>), String> {
        if let Some(why) = &self.stopped {
            return Err(why.clone());
        }
        let identity = self
            .identity
            .clone()
            .ok_or("this peer has no identity key (MESHWORK_IDENTITY=false): it cannot write")?;
        let peer = self
            .peer
            .clone()
            .ok_or("this peer does not know its peer id yet: the registry has not named it")?;
        let author = Author { peer, identity };
        let applied =
            make(&mut self.replica, &author, key.clone(), now_ms).map_err(|e| e.to_string())?;
        let id = applied
            .events
            .last()
            .map(|e| e.id.clone())
            .ok_or("the write applied no event")?;
        let reply = IpcEvent::MemoryWritten {
            request_id,
            id,
            key,
            version: self.replica.version().clone(),
        };
        Ok((reply, Some(applied)))
    }
}

/// What one sync frame from another replica produced.
#[derive(Debug)]
pub struct Received {
    /// Store this (with its erasures) before sending anything.
    pub applied: Applied,
    /// Frames back to the sender.
    pub replies: Vec<SyncMessage>,
    /// New events for every other replica (delta push).
    pub pushes: Vec<SyncMessage>,
    /// `memory_changed` lines for subscribed clients.
    pub lines: Outgoing,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(key: &str) -> IpcCommand {
        IpcCommand::MemoryPut {
            request_id: format!("put-{key}"),
            key: key.into(),
            value: json!(1),
            supersedes: Vec::new(),
            derived_from: Vec::new(),
        }
    }

    #[test]
    fn after_a_failed_store_writes_are_refused_with_the_reason_and_reads_go_on() {
        let mut memory = AgentMemory::new(
            Replica::new(Limits::default()),
            Some(Identity::from_seed([5; 32])),
            Some(PeerId::new("alice")),
        );
        let first = memory.answer(1, put("a"), 1);
        assert!(matches!(first.reply, IpcEvent::MemoryWritten { .. }));
        memory.stop_writes("the disk is full".into());
        let refused = memory.answer(1, put("b"), 2);
        assert!(refused.applied.is_none());
        assert!(
            matches!(&refused.reply, IpcEvent::Error { request_id: Some(r), message }
                if r == "put-b" && message == "the disk is full"),
            "{:?}",
            refused.reply
        );
        let get = IpcCommand::MemoryGet {
            request_id: "g".into(),
            key: "a".into(),
            at: None,
        };
        assert!(matches!(
            memory.answer(1, get, 3).reply,
            IpcEvent::MemoryValue { .. }
        ));
    }
}
