//! Per-peer link state.

use super::{
    backoff::{Backoff, BackoffConfig},
    config::Config,
    time::Time,
};
use crate::{
    identity::PublicKey,
    ids::PeerId,
    signaling::{CandidateType, IceCandidatePayload},
};
use std::fmt;

/// Numbers one peer-connection attempt, unique within a core. Shell events carry it back so
/// callbacks and timers of a connection the core has already replaced are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attempt(pub u64);

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which side of a pair makes the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Creates the offer ("impolite"): the lexicographically smaller id.
    Offerer,
    /// Answers: the larger id.
    Answerer,
}

impl Role {
    /// The role `me` plays towards `them` under the smaller-id-offers rule.
    pub fn for_pair(me: &PeerId, them: &PeerId) -> Role {
        if me < them {
            Role::Offerer
        } else {
            Role::Answerer
        }
    }
}

/// What the core is doing about a peer, as the application sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// Offer/answer/ICE in progress.
    Connecting,
    /// The DataChannel is open.
    Open,
    /// The last attempt failed; the core will re-offer after a backoff.
    Retrying,
}

/// How far the remote description of a handshake has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Remote {
    /// Offerer waiting for the answer: our offer is outstanding.
    Pending,
    /// Handed to the shell, not yet applied: remote candidates must still wait.
    Received,
    /// Applied: remote candidates go straight through.
    Applied,
}

/// A connection attempt whose channel is not open yet.
#[derive(Debug, Clone)]
pub(super) struct Handshake {
    pub attempt: Attempt,
    /// Who offered in this attempt (not necessarily who should have, see glare rules).
    pub role: Role,
    pub remote: Remote,
    pub deadline: Time,
    /// The offer's nonce: ours as offerer (the answer must name it), the remote's as
    /// answerer (our answer names it).
    pub offer_nonce: Option<String>,
    /// Whether the remote's SDP proved its identity key.
    pub verified: bool,
    /// A key seen for the first time in this handshake, pinned when the channel opens.
    pub pin: Option<PublicKey>,
    /// The offerer's own candidates, held until the answer is applied: a remote that pinged
    /// them sooner would be ignored (no credentials yet) and, in Chromium, wait ~50 ms to
    /// ping again.
    pub held: Vec<IceCandidatePayload>,
}

/// A connection whose channel is open.
#[derive(Debug, Clone)]
pub(super) struct OpenLink {
    pub attempt: Attempt,
    pub last_seen: Time,
    pub next_ping: Time,
    /// Set while the transport reports `Disconnected`.
    pub grace_until: Option<Time>,
    /// The outstanding keepalive ping, for measuring round trips.
    pub ping_sent: Option<(String, Time)>,
    /// The selected path's type, as the shell last read it.
    pub path: Option<CandidateType>,
    /// ICE's round trip on the selected pair, finer than the keepalive's.
    pub ice_rtt_ms: Option<f64>,
    /// When to read the selected path next (`ProbePath`).
    pub next_probe: Time,
    /// How many probes were asked for (picks the next delay).
    pub probes: usize,
    /// Whether the remote proved its identity key in this link's handshake.
    pub verified: bool,
}

/// The connection the core has (or is about to have) with one peer.
#[derive(Debug, Clone)]
pub(super) enum Link {
    /// No connection.
    Idle,
    /// No connection; re-offer at this time.
    Retrying { at: Time },
    /// Negotiating.
    Handshake(Handshake),
    /// Channel open.
    Open(OpenLink),
}

impl Link {
    /// The attempt of the shell's current connection, if it has one.
    pub fn attempt(&self) -> Option<Attempt> {
        match self {
            Link::Handshake(h) => Some(h.attempt),
            Link::Open(o) => Some(o.attempt),
            Link::Idle | Link::Retrying { .. } => None,
        }
    }
}

/// Everything the core remembers about one peer.
#[derive(Debug, Clone)]
pub(super) struct Peer {
    /// Listed by the registry and not left since: only then does the offerer retry.
    pub registered: bool,
    pub link: Link,
    /// Re-offer delays; reset when a channel opens.
    pub backoff: Backoff,
    /// Remote candidates waiting for the remote description, in arrival order.
    pub candidates: Vec<IceCandidatePayload>,
    /// When candidates buffered without any handshake are dropped (the offer never came).
    pub candidates_expire: Option<Time>,
    /// Last keepalive round trip.
    pub rtt_ms: Option<u64>,
    /// Its last handshake failed the identity check: no registry-tier fallback until a
    /// verified link opens.
    pub identity_refused: bool,
}

impl Peer {
    pub fn new(backoff: BackoffConfig) -> Self {
        Self {
            registered: false,
            link: Link::Idle,
            backoff: Backoff::new(backoff),
            candidates: Vec::new(),
            candidates_expire: None,
            rtt_ms: None,
            identity_refused: false,
        }
    }

    pub fn open_mut(&mut self) -> Option<&mut OpenLink> {
        match &mut self.link {
            Link::Open(open) => Some(open),
            _ => None,
        }
    }

    /// The handshake of `attempt`, if that is the current one.
    pub fn handshake_mut(&mut self, attempt: Attempt) -> Option<&mut Handshake> {
        match &mut self.link {
            Link::Handshake(h) if h.attempt == attempt => Some(h),
            _ => None,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.link, Link::Open(_))
    }

    /// Whether nothing is connected or being connected (a retry may be pending).
    pub fn is_unlinked(&self) -> bool {
        matches!(self.link, Link::Idle | Link::Retrying { .. })
    }

    /// Whether the core can forget this peer without losing anything.
    pub fn is_forgettable(&self) -> bool {
        !self.registered && matches!(self.link, Link::Idle) && self.candidates.is_empty()
    }

    pub fn clear_candidates(&mut self) {
        self.candidates.clear();
        self.candidates_expire = None;
    }

    pub fn state(&self) -> Option<LinkState> {
        match self.link {
            Link::Idle => None,
            Link::Retrying { .. } => Some(LinkState::Retrying),
            Link::Handshake(_) => Some(LinkState::Connecting),
            Link::Open(_) => Some(LinkState::Open),
        }
    }

    /// The earliest time this peer needs `handle_timeout`; silence counts only while the
    /// shell reads (`reads_paused` false).
    pub fn next_deadline(&self, config: &Config, reads_paused: bool) -> Option<Time> {
        let link = match &self.link {
            Link::Idle => None,
            Link::Retrying { at } => Some(*at),
            Link::Handshake(h) => Some(h.deadline),
            Link::Open(o) => {
                let silent = if reads_paused {
                    Time::from_millis(u64::MAX)
                } else {
                    o.last_seen + config.link_timeout
                };
                Some(
                    o.grace_until
                        .map_or(silent, |g| g.min(silent))
                        .min(o.next_ping)
                        .min(o.next_probe),
                )
            }
        };
        [link, self.candidates_expire].into_iter().flatten().min()
    }
}
