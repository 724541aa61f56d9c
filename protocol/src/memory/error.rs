//! Why the memory refused a write or an event.

/// Why a local write or a received event was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    /// The key is empty.
    #[error("key is empty")]
    EmptyKey,
    /// The key is longer than 512 bytes.
    #[error("key is {0} bytes, the limit is 512")]
    KeyTooLong(usize),
    /// The value's JSON encoding is larger than 256 KiB.
    #[error("value is {0} bytes, the limit is 262144")]
    ValueTooLarge(usize),
    /// The body is not JSON.
    #[error("value is not JSON")]
    BadValue,
    /// The header (links, dependencies, ids) is larger than the event limit.
    #[error("event header is {0} bytes, too large")]
    HeaderTooLarge(usize),
    /// The id is not the hash of the header.
    #[error("event id does not match its content")]
    WrongId,
    /// The signature does not verify against the author's key.
    #[error("event signature does not verify")]
    Forged,
    /// The author's key is not the one this replica knows for that peer id.
    #[error("event signed by a key that is not {0}'s")]
    WrongAuthorKey(String),
    /// The body does not hash to the header's body hash.
    #[error("event body does not match its hash")]
    BodyMismatch,
    /// A put without a body hash or a forget with one.
    #[error("event kind and body hash disagree")]
    KindMismatch,
    /// `seq`/`prev`/`deps` do not form a valid chain (seq 0, a first event with a `prev`,
    /// a later one without, or dependencies naming the author itself).
    #[error("event chain fields are inconsistent")]
    BadChain,
    /// `prev` is not the id of the author's previous event.
    #[error("event does not follow the author's previous event")]
    BrokenChain,
    /// The author signed two different events with the same seq.
    #[error("author signed two events with one seq")]
    Equivocation,
}
