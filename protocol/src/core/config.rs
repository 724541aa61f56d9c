//! Tunables of the mesh core.

use super::backoff::BackoffConfig;
use crate::{
    identity::{Identity, PublicKey},
    ids::PeerId,
    signaling::PeerKind,
};
use std::{collections::BTreeMap, time::Duration};

/// Everything the core needs besides its own id; `Default` gives production values.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Sent in the `register` payload.
    pub kind: PeerKind,
    /// DTLS fingerprint sent in the `register` payload, if the shell knows it.
    pub fingerprint: Option<String>,
    /// This peer's identity key: offers/answers are signed and registry-tier messages to
    /// keyed peers sealed with it. `None` (tests, upstream-style peers): nothing is signed.
    pub identity: Option<Identity>,
    /// Keys pinned at earlier verified contacts (the shell's store), by peer id.
    pub known_keys: BTreeMap<PeerId, PublicKey>,
    /// Seed of the cryptographic RNG behind link-proof and sealing nonces; the shell draws
    /// it from the OS or `crypto.getRandomValues`.
    pub entropy: [u8; 32],
    /// Seed of the jitter PRNG; give each process a different one (e.g. from the OS or
    /// `crypto.getRandomValues`) so peers do not retry in lockstep.
    pub rng_seed: u64,
    /// Delays between signaling reconnect attempts.
    pub signaling_backoff: BackoffConfig,
    /// A signaling connection that stayed up this long resets the reconnect backoff.
    pub stable_after: Duration,
    /// Delays before the offerer re-offers a failed link or handshake (per peer).
    pub reoffer_backoff: BackoffConfig,
    /// A handshake whose channel is not open after this long is abandoned.
    pub handshake_timeout: Duration,
    /// How long a `Disconnected` transport may take to come back before the link fails.
    pub disconnected_grace: Duration,
    /// How often each open link is sent a keepalive ping.
    pub keepalive_interval: Duration,
    /// An open link from which nothing arrived for this long has failed.
    pub link_timeout: Duration,
    /// Remote candidates kept per peer while its remote description is not yet applied.
    pub max_buffered_candidates: usize,
    /// Largest message (payload JSON bytes) the registry tier carries: the registry's 64 KiB
    /// frame limit less room for the envelope. Larger ones need a DataChannel.
    pub registry_message_limit: usize,
    /// Whether this peer sends application messages through the registry when a pair has no
    /// channel. The registry sees what it carries (DataChannels are end-to-end DTLS), so a
    /// deployment that must not trust it with payloads turns this off.
    pub registry_tier: bool,
    /// This peer gathers only TURN relay candidates, so every open link is relayed.
    pub relay_only: bool,
    /// This peer holds a memory replica: it says so at `register`, and syncs with the
    /// registry's replica when the registry keeps one (ADR 0016).
    pub memory: bool,
    /// This peer takes queued tasks from the registry over signaling (ADR 0018): it says so
    /// at `register` (with the registry tier on), hands them to its application and tells
    /// the registry whether one took them. Native sidecars, whose agents run tasks, do.
    pub registry_tasks: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            kind: PeerKind::Native,
            fingerprint: None,
            identity: None,
            known_keys: BTreeMap::new(),
            entropy: [0; 32],
            rng_seed: 0x6d65_7368_776f_726b,
            signaling_backoff: BackoffConfig::default(),
            stable_after: Duration::from_secs(10),
            reoffer_backoff: BackoffConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            disconnected_grace: Duration::from_secs(4),
            keepalive_interval: Duration::from_secs(2),
            link_timeout: Duration::from_secs(6),
            max_buffered_candidates: 64,
            registry_message_limit: 60 * 1024,
            registry_tier: true,
            relay_only: false,
            memory: false,
            registry_tasks: false,
        }
    }
}
