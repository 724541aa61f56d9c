//! Signed memory events: `put` and `forget`, hash-identified, with the body beside the header.
//!
//! The id is the SHA-512/256 of a canonical binary encoding of the header, and the author signs
//! that same encoding. The header holds the body's *hash*, not the body, so a forgotten event
//! (body erased) still verifies and keeps its id.

use super::{error::MemoryError, hex, version::Version};
use crate::{
    identity::{Identity, PublicKey},
    PeerId,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512_256};
use std::fmt;

/// Longest key, in bytes (PROTOCOL.md §6).
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value encoding, in bytes (PROTOCOL.md §6).
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Largest canonical header (ids in `supersedes`/`derived_from`, the dependency vector).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// An event's content hash: 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

impl EventId {
    /// The id as hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventId {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let ok = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Self(text))
        } else {
            Err("an event id is 64 lowercase hex digits".into())
        }
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        id.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an event does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Writes a value.
    Put,
    /// Erases every value of the key the forget does not causally precede.
    Forget,
}

/// One signed event as stored and sent between replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Content hash of the header.
    pub id: EventId,
    /// The writing peer.
    pub author: PeerId,
    /// The writing peer's identity key, which signed the header.
    pub author_key: PublicKey,
    /// 1-based position in the author's chain.
    pub seq: u64,
    /// The author's previous event (none for seq 1): chains are hash-linked.
    pub prev: Option<EventId>,
    /// Put or forget.
    pub kind: EventKind,
    /// The memory key.
    pub key: String,
    /// The author's clock at write time, unix milliseconds (a tie-breaker, never trusted for
    /// causality).
    pub written_at: u64,
    /// Events this put explicitly replaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supersedes: Vec<EventId>,
    /// Events this one was derived from (provenance only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived_from: Vec<EventId>,
    /// The other authors' events the author had applied when writing (its version vector
    /// without itself): what this event "had seen".
    #[serde(default, skip_serializing_if = "Version::is_empty")]
    pub deps: Version,
    /// SHA-512/256 (hex) of `body`; present exactly for puts.
    pub body_hash: Option<String>,
    /// The author's signature of the canonical header (base64url).
    pub signature: String,
    /// The value's JSON text, hashed byte for byte; absent once forgotten. Carried as text so
    /// no replica ever re-encodes it (float formatting differs between builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The fields an author chooses for a new event; [`Unsigned::sign`] turns them into an event.
#[derive(Debug, Clone)]
pub struct Unsigned {
    /// The writing peer.
    pub author: PeerId,
    /// 1-based position in the author's chain.
    pub seq: u64,
    /// The author's previous event.
    pub prev: Option<EventId>,
    /// Put or forget.
    pub kind: EventKind,
    /// The memory key.
    pub key: String,
    /// Unix milliseconds.
    pub written_at: u64,
    /// Events replaced.
    pub supersedes: Vec<EventId>,
    /// Provenance.
    pub derived_from: Vec<EventId>,
    /// What the author had seen of others.
    pub deps: Version,
    /// The value, for a put.
    pub value: Option<serde_json::Value>,
}

impl Unsigned {
    /// Encodes the value, hashes and signs: the event, or why it may not be written.
    pub fn sign(self, identity: &Identity) -> Result<Event, MemoryError> {
        let body = match &self.value {
            Some(value) => Some(serde_json::to_string(value).map_err(|_| MemoryError::BadValue)?),
            None => None,
        };
        let mut event = Event {
            id: EventId(String::new()),
            author: self.author,
            author_key: identity.public(),
            seq: self.seq,
            prev: self.prev,
            kind: self.kind,
            key: self.key,
            written_at: self.written_at,
            supersedes: self.supersedes,
            derived_from: self.derived_from,
            deps: self.deps,
            body_hash: body.as_deref().map(body_hash),
            signature: String::new(),
            body,
        };
        let header = event.canonical_header();
        event.id = EventId(hex(&Sha512_256::digest(&header)));
        event.signature = identity.sign(&header);
        event.validate()?;
        Ok(event)
    }
}

/// SHA-512/256 (hex) of a body's JSON text.
pub fn body_hash(body: &str) -> String {
    hex(&Sha512_256::digest(body.as_bytes()))
}

impl Event {
    /// Checks everything an event carries on its own: sizes, chain fields, id, signature,
    /// body hash. Chain order and the author's key binding are the replica's to check.
    pub fn validate(&self) -> Result<(), MemoryError> {
        self.check_shape()?;
        let header = self.canonical_header();
        if header.len() > MAX_HEADER_BYTES {
            return Err(MemoryError::HeaderTooLarge(header.len()));
        }
        if hex(&Sha512_256::digest(&header)) != self.id.0 {
            return Err(MemoryError::WrongId);
        }
        self.author_key
            .verify(&header, &self.signature)
            .map_err(|_| MemoryError::Forged)?;
        if let Some(body) = &self.body {
            self.check_body(body)?;
        }
        Ok(())
    }

    /// Checks that `body` is this event's value: size, hash, JSON.
    pub fn check_body(&self, body: &str) -> Result<(), MemoryError> {
        if body.len() > MAX_VALUE_BYTES {
            return Err(MemoryError::ValueTooLarge(body.len()));
        }
        if self.body_hash.as_deref() != Some(body_hash(body).as_str()) {
            return Err(MemoryError::BodyMismatch);
        }
        serde_json::from_str::<serde::de::IgnoredAny>(body)
            .map(|_| ())
            .map_err(|_| MemoryError::BadValue)
    }

    /// The value, if the body is held.
    pub fn value(&self) -> Option<serde_json::Value> {
        self.body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
    }

    /// Whether this event had seen `other` (same author and later, or covered by `deps`).
    pub fn has_seen(&self, other: &Event) -> bool {
        if self.author == other.author {
            self.seq > other.seq
        } else {
            self.deps.covers(&other.author, other.seq)
        }
    }

    /// Bytes this event takes in memory, roughly (for the pending buffer's budget).
    pub fn weight(&self) -> usize {
        256 + self.key.len()
            + self.body.as_ref().map_or(0, String::len)
            + 72 * (self.supersedes.len() + self.derived_from.len() + self.deps.len())
    }

    fn check_shape(&self) -> Result<(), MemoryError> {
        if self.key.is_empty() {
            return Err(MemoryError::EmptyKey);
        }
        if self.key.len() > MAX_KEY_BYTES {
            return Err(MemoryError::KeyTooLong(self.key.len()));
        }
        if (self.kind == EventKind::Put) != self.body_hash.is_some() {
            return Err(MemoryError::KindMismatch);
        }
        let chained = match self.seq {
            0 => false,
            1 => self.prev.is_none(),
            _ => self.prev.is_some(),
        };
        if !chained || self.deps.get(&self.author) != 0 || self.deps.iter().any(|(_, n)| n == 0) {
            return Err(MemoryError::BadChain);
        }
        Ok(())
    }

    /// The signed, hashed encoding: a domain tag, then every header field length-prefixed.
    fn canonical_header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"meshwork/memory/event/v1\0");
        field(&mut out, self.author.as_str().as_bytes());
        field(&mut out, self.author_key.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        field(
            &mut out,
            self.prev.as_ref().map_or(&b""[..], |p| p.0.as_bytes()),
        );
        out.push(match self.kind {
            EventKind::Put => 0,
            EventKind::Forget => 1,
        });
        field(&mut out, self.key.as_bytes());
        out.extend_from_slice(&self.written_at.to_be_bytes());
        for list in [&self.supersedes, &self.derived_from] {
            out.extend_from_slice(&(list.len() as u64).to_be_bytes());
            for id in list {
                field(&mut out, id.0.as_bytes());
            }
        }
        out.extend_from_slice(&(self.deps.len() as u64).to_be_bytes());
        for (peer, n) in self.deps.iter() {
            field(&mut out, peer.as_str().as_bytes());
            out.extend_from_slice(&n.to_be_bytes());
        }
        field(&mut out, self.body_hash.as_deref().unwrap_or("").as_bytes());
        out
    }
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}
