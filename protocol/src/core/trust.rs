//! Whose identity key the core trusts for each peer, and what it does with offers, answers
//! and registry-tier messages because of it (issue 13, ADR 0015).
//!
//! Decisions:
//! - A peer's expected key is its pinned key (remembered from an earlier verified contact,
//!   loaded by the shell) or else the key the registry announced; when both exist and differ,
//!   the pair is refused: the registry is introducing a new key for a known peer.
//! - An offer/answer with a proof must verify against the expected key, or — for a peer with
//!   no expected key — against the key it carries (trust on first use, then pinned). One
//!   without a proof is accepted unverified only when no key is expected for its sender
//!   (upstream peers); otherwise it is refused as a downgrade.
//! - A refused handshake never reaches the shell (no connection is built), the application
//!   is told naming the peer, and the pair gets no registry-tier fallback until a verified
//!   link opens.
//! - Offer nonces are remembered per peer (bounded) so a replayed offer is refused, and an
//!   answer must name the nonce of the offer it answers.
//! - Registry-tier messages to a peer with a known key are sealed; sealed ones that arrive
//!   are opened with the sender's expected key, and their nonces are remembered (bounded).

use super::{Action, MeshCore};
use crate::{
    identity::{Identity, LinkProof, LinkRole, PublicKey, SealKey, Sealed},
    ids::PeerId,
};
use chacha20::{
    cipher::{KeyIvInit, StreamCipher},
    ChaCha20,
};
use std::collections::{BTreeMap, VecDeque};

/// Offer nonces remembered per peer; older ones could only be replayed against a peer that
/// has since seen this many newer offers from it.
const REMEMBERED_OFFERS: usize = 64;
/// Sealed-message nonces remembered per peer.
const REMEMBERED_SEALS: usize = 1024;

/// The key the core expects a peer to prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expected {
    /// No key known: an upstream peer, or first contact.
    Nothing,
    /// This key.
    Key(PublicKey),
    /// The registry announces a different key than the one pinned.
    Conflict {
        pinned: PublicKey,
        announced: PublicKey,
    },
}

/// Keys, nonces and the CSPRNG behind nonces.
#[derive(Debug)]
pub(super) struct Trust {
    identity: Option<Identity>,
    pinned: BTreeMap<PeerId, PublicKey>,
    announced: BTreeMap<PeerId, PublicKey>,
    offers_seen: BTreeMap<PeerId, VecDeque<String>>,
    seals_seen: BTreeMap<PeerId, VecDeque<String>>,
    rng: NonceSource,
    /// Derived sealing keys per peer and direction (`true`: outgoing), with the peer key they
    /// were derived for: one X25519 agreement per pair instead of one per message.
    seal_keys: BTreeMap<(PeerId, bool), (PublicKey, SealKey)>,
}

/// Cryptographic random bytes from a 32-byte seed: each draw runs ChaCha20 under the current
/// key and keeps the first 32 bytes of keystream as the next key ("fast key erasure"), so an
/// earlier draw cannot be recomputed from the state and the block counter never grows.
#[derive(Debug)]
struct NonceSource {
    key: [u8; 32],
}

impl NonceSource {
    fn fill(&mut self, out: &mut [u8]) {
        let mut block = vec![0u8; 32 + out.len()];
        ChaCha20::new(&self.key.into(), &[0u8; 12].into()).apply_keystream(&mut block);
        self.key.copy_from_slice(&block[..32]);
        out.copy_from_slice(&block[32..]);
    }
}

impl Trust {
    pub fn new(
        identity: Option<Identity>,
        pinned: BTreeMap<PeerId, PublicKey>,
        entropy: [u8; 32],
    ) -> Self {
        Self {
            identity,
            pinned,
            announced: BTreeMap::new(),
            offers_seen: BTreeMap::new(),
            seals_seen: BTreeMap::new(),
            rng: NonceSource { key: entropy },
            seal_keys: BTreeMap::new(),
        }
    }

    pub fn public_key(&self) -> Option<PublicKey> {
        self.identity.as_ref().map(Identity::public)
    }

    pub fn announce(&mut self, peer: &PeerId, key: Option<PublicKey>) {
        match key {
            Some(key) => self.announced.insert(peer.clone(), key),
            None => self.announced.remove(peer),
        };
    }

    pub fn expected(&self, peer: &PeerId) -> Expected {
        match (self.pinned.get(peer), self.announced.get(peer)) {
            (Some(p), Some(a)) if p != a => Expected::Conflict {
                pinned: *p,
                announced: *a,
            },
            (Some(key), _) | (None, Some(key)) => Expected::Key(*key),
            (None, None) => Expected::Nothing,
        }
    }

    fn nonce(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The sealing key towards (`outgoing`) or from `peer`, whose key is `key`.
    fn seal_key(
        &mut self,
        peer: &PeerId,
        key: &PublicKey,
        outgoing: bool,
    ) -> Result<SealKey, String> {
        let slot = (peer.clone(), outgoing);
        if let Some((cached_for, sealing)) = self.seal_keys.get(&slot) {
            if cached_for == key {
                return Ok(sealing.clone());
            }
        }
        let identity = self
            .identity
            .as_ref()
            .ok_or_else(|| "this peer has no identity key".to_owned())?;
        let derived = if outgoing {
            SealKey::outgoing(identity, key)
        } else {
            SealKey::incoming(identity, key)
        }
        .map_err(|e| format!("no sealing key for {peer}: {e}"))?;
        self.seal_keys.insert(slot, (*key, derived.clone()));
        Ok(derived)
    }

    /// Whether `nonce` is new from `peer` (and remembers it).
    fn fresh(
        seen: &mut BTreeMap<PeerId, VecDeque<String>>,
        peer: &PeerId,
        nonce: &str,
        cap: usize,
    ) -> bool {
        let list = seen.entry(peer.clone()).or_default();
        if list.iter().any(|n| n == nonce) {
            return false;
        }
        if list.len() >= cap {
            list.pop_front();
        }
        list.push_back(nonce.to_owned());
        true
    }
}

/// How a remote SDP's identity came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Proven by this key; `pin` when it is not pinned yet (pinned once the channel opens).
    Verified {
        nonce: String,
        key: PublicKey,
        pin: bool,
    },
    /// No proof and no key expected: an upstream peer.
    Unverified,
    /// Refused, with the sentence the application is told.
    Refused(String),
}

impl MeshCore {
    /// Checks the proof of a remote offer or answer from `from`.
    pub(super) fn check_sdp(
        &mut self,
        from: &PeerId,
        role: LinkRole,
        sdp: &str,
        proof: Option<&LinkProof>,
        answers: Option<&str>,
    ) -> Verdict {
        let what = match role {
            LinkRole::Offer => "offer",
            LinkRole::Answer => "answer",
        };
        let expected = self.trust.expected(from);
        let key = match (proof, expected) {
            (_, Expected::Conflict { pinned, announced }) => {
                return Verdict::Refused(format!(
                    "identity check failed for peer {from}: the registry announces key {} but \
                     {from} was pinned with key {}; refusing to connect (if {from}'s key \
                     really changed, remove its pin)",
                    announced.fingerprint(),
                    pinned.fingerprint()
                ))
            }
            (None, Expected::Nothing) => return Verdict::Unverified,
            (None, Expected::Key(key)) => {
                return Verdict::Refused(format!(
                    "identity check failed for peer {from}: its {what} is not signed, but \
                     {from} has identity key {}; refusing the link",
                    key.fingerprint()
                ))
            }
            (Some(p), Expected::Key(key)) if p.key != key => {
                return Verdict::Refused(format!(
                    "identity check failed for peer {from}: its {what} is signed by key {}, \
                     not by {from}'s key {}; refusing the link",
                    p.key.fingerprint(),
                    key.fingerprint()
                ))
            }
            (Some(p), Expected::Key(key)) => (p, key),
            (Some(p), Expected::Nothing) => (p, p.key),
        };
        let (proof, key) = key;
        let pin = self.trust.pinned.get(from) != Some(&key);
        if let Err(e) = proof.verify(&key, role, from, &self.me, sdp) {
            return Verdict::Refused(format!(
                "identity check failed for peer {from}: the DTLS fingerprint in its {what} is \
                 not the one its key signed ({e}); refusing the link"
            ));
        }
        if role == LinkRole::Answer && proof.reply_to.as_deref() != answers {
            return Verdict::Refused(format!(
                "identity check failed for peer {from}: its answer does not answer our offer \
                 (replayed?); refusing the link"
            ));
        }
        if role == LinkRole::Offer
            && !Trust::fresh(
                &mut self.trust.offers_seen,
                from,
                &proof.nonce,
                REMEMBERED_OFFERS,
            )
        {
            return Verdict::Refused(format!(
                "identity check failed for peer {from}: its offer was seen before (replayed); \
                 refusing the link"
            ));
        }
        Verdict::Verified {
            nonce: proof.nonce.clone(),
            key,
            pin,
        }
    }

    /// Pins `key` for `peer` if it is new, asking the shell to remember it.
    pub(super) fn pin(&mut self, peer: &PeerId, key: PublicKey) {
        if self.trust.pinned.get(peer) != Some(&key) {
            self.trust.pinned.insert(peer.clone(), key);
            self.emit(Action::RememberKey {
                peer: peer.clone(),
                key,
            });
        }
    }

    /// Our proof for a local SDP, when we have an identity; also returns its nonce.
    pub(super) fn prove_sdp(
        &mut self,
        to: &PeerId,
        role: LinkRole,
        sdp: &str,
        reply_to: Option<String>,
    ) -> Option<LinkProof> {
        let nonce = self.trust.nonce();
        let identity = self.trust.identity.as_ref()?;
        Some(LinkProof::sign(
            identity, role, &self.me, to, sdp, nonce, reply_to,
        ))
    }

    /// Seals `plaintext` to `to` when both ends have keys; `Ok(None)`: send it in the clear.
    pub(super) fn seal_for(
        &mut self,
        to: &PeerId,
        plaintext: &[u8],
    ) -> Result<Option<Sealed>, String> {
        let key = match self.trust.expected(to) {
            Expected::Nothing => return Ok(None),
            Expected::Key(key) => key,
            Expected::Conflict { .. } => {
                return Err(format!(
                    "peer {to}'s identity key is in conflict (see the earlier error); not sending"
                ))
            }
        };
        if self.trust.identity.is_none() {
            return Ok(None);
        }
        let sealing = self.trust.seal_key(to, &key, true)?;
        let mut nonce = [0u8; 24];
        self.trust.rng.fill(&mut nonce);
        Sealed::seal_with(&sealing, &self.me, to, nonce, plaintext)
            .map(Some)
            .map_err(|e| format!("cannot seal a message to {to}: {e}"))
    }

    /// Opens a sealed registry-tier message from `from`.
    pub(super) fn open_from(&mut self, from: &PeerId, sealed: &Sealed) -> Result<Vec<u8>, String> {
        if self.trust.identity.is_none() {
            return Err(format!(
                "a sealed message from {from} arrived, but this peer has no identity key"
            ));
        }
        let Expected::Key(key) = self.trust.expected(from) else {
            return Err(format!(
                "a sealed message from {from} arrived, but no trusted key is known for {from}; dropped"
            ));
        };
        let opening = self.trust.seal_key(from, &key, false)?;
        let plaintext = sealed
            .open_with(&opening, from, &self.me)
            .map_err(|e| format!("a sealed message from {from} was dropped: {e}"))?;
        if !Trust::fresh(
            &mut self.trust.seals_seen,
            from,
            &sealed.nonce,
            REMEMBERED_SEALS,
        ) {
            return Err(format!(
                "a sealed message from {from} was replayed; dropped"
            ));
        }
        Ok(plaintext)
    }
}
