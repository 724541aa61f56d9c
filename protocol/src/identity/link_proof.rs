//! The identity proof an `offer`/`answer` carries: a signature by the sender's identity key
//! over the DTLS fingerprints of its SDP, both peer ids and a fresh nonce. A registry that
//! rewrites the fingerprint (to sit in the middle of the DTLS handshake) breaks it; one that
//! replays an old offer is caught by its nonce, and an answer names the offer it answers.

use super::{Identity, IdentityError, PublicKey};
use crate::ids::PeerId;
use serde::{Deserialize, Serialize};

/// Whether a proof belongs to an offer or to an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRole {
    /// The offerer's proof.
    Offer,
    /// The answerer's proof; it names the offer's nonce.
    Answer,
}

/// The `identity` field of an `offer`/`answer` payload **(new)**; upstream peers ignore it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkProof {
    /// The sender's public identity key.
    pub key: PublicKey,
    /// 16 fresh random bytes, hex.
    pub nonce: String,
    /// In an answer: the nonce of the offer it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The sender's signature over [`signed_bytes`].
    pub signature: String,
}

impl LinkProof {
    /// `identity`'s proof for an SDP of `role` from `from` to `to`.
    pub fn sign(
        identity: &Identity,
        role: LinkRole,
        from: &PeerId,
        to: &PeerId,
        sdp: &str,
        nonce: String,
        reply_to: Option<String>,
    ) -> Self {
        let message = signed_bytes(role, from, to, &sdp_fingerprints(sdp), &nonce, &reply_to);
        Self {
            key: identity.public(),
            signature: identity.sign(&message),
            nonce,
            reply_to,
        }
    }

    /// Checks that this proof, made by `key`, covers exactly the fingerprints in `sdp` sent
    /// from `from` to `to` as `role`.
    pub fn verify(
        &self,
        key: &PublicKey,
        role: LinkRole,
        from: &PeerId,
        to: &PeerId,
        sdp: &str,
    ) -> Result<(), IdentityError> {
        let fingerprints = sdp_fingerprints(sdp);
        if fingerprints.is_empty() || (role == LinkRole::Offer && self.reply_to.is_some()) {
            return Err(IdentityError::Forged);
        }
        let message = signed_bytes(role, from, to, &fingerprints, &self.nonce, &self.reply_to);
        key.verify(&message, &self.signature)
    }
}

/// The DTLS fingerprints an SDP declares, normalized (`"sha-256 AB:CD:…"`, algorithm in lower
/// case, hex in upper case), sorted and without duplicates.
pub fn sdp_fingerprints(sdp: &str) -> Vec<String> {
    let mut found: Vec<String> = sdp
        .lines()
        .filter_map(|line| line.trim().strip_prefix("a=fingerprint:"))
        .filter_map(|value| {
            let (algorithm, hex) = value.trim().split_once(' ')?;
            Some(format!(
                "{} {}",
                algorithm.to_ascii_lowercase(),
                hex.trim().to_ascii_uppercase()
            ))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// What a proof signs: a domain tag, then each field length-prefixed so no two different
/// field lists give the same bytes.
fn signed_bytes(
    role: LinkRole,
    from: &PeerId,
    to: &PeerId,
    fingerprints: &[String],
    nonce: &str,
    reply_to: &Option<String>,
) -> Vec<u8> {
    let role = match role {
        LinkRole::Offer => "offer",
        LinkRole::Answer => "answer",
    };
    let mut out = b"meshwork link proof v1".to_vec();
    let mut field = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    field(role.as_bytes());
    field(from.as_str().as_bytes());
    field(to.as_str().as_bytes());
    field(fingerprints.join(",").as_bytes());
    field(nonce.as_bytes());
    field(reply_to.as_deref().unwrap_or("").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\na=fingerprint:sha-256 ab:cd:EF\r\nm=application 9\r\n";

    fn ids() -> (PeerId, PeerId) {
        (PeerId::new("alice"), PeerId::new("bob"))
    }

    #[test]
    fn fingerprints_are_read_and_normalized() {
        let sdp = "a=fingerprint:SHA-256 ab:cd\r\nx\r\na=fingerprint:sha-256 AB:CD\r\n";
        assert_eq!(sdp_fingerprints(sdp), vec!["sha-256 AB:CD".to_owned()]);
        assert!(sdp_fingerprints("v=0\r\n").is_empty());
    }

    #[test]
    fn a_proof_verifies_for_its_own_sdp() {
        let (a, b) = ids();
        let alice = Identity::from_seed([1; 32]);
        let proof = LinkProof::sign(&alice, LinkRole::Offer, &a, &b, SDP, "n1".into(), None);
        assert_eq!(
            proof.verify(&alice.public(), LinkRole::Offer, &a, &b, SDP),
            Ok(())
        );
    }

    #[test]
    fn a_rewritten_fingerprint_breaks_the_proof() {
        let (a, b) = ids();
        let alice = Identity::from_seed([1; 32]);
        let proof = LinkProof::sign(&alice, LinkRole::Offer, &a, &b, SDP, "n1".into(), None);
        let forged = SDP.replace("ab:cd:EF", "00:11:22");
        assert_eq!(
            proof.verify(&alice.public(), LinkRole::Offer, &a, &b, &forged),
            Err(IdentityError::Forged)
        );
    }

    #[test]
    fn a_proof_is_bound_to_both_ids_and_its_role() {
        let (a, b) = ids();
        let carol = PeerId::new("carol");
        let alice = Identity::from_seed([1; 32]);
        let key = alice.public();
        let offer = LinkProof::sign(&alice, LinkRole::Offer, &a, &b, SDP, "n1".into(), None);
        assert!(offer
            .verify(&key, LinkRole::Offer, &a, &carol, SDP)
            .is_err());
        assert!(offer
            .verify(&key, LinkRole::Offer, &carol, &b, SDP)
            .is_err());
        let answer = LinkProof::sign(
            &alice,
            LinkRole::Answer,
            &a,
            &b,
            SDP,
            "n2".into(),
            Some("n1".into()),
        );
        assert_eq!(answer.verify(&key, LinkRole::Answer, &a, &b, SDP), Ok(()));
        let mut replayed = answer.clone();
        replayed.reply_to = Some("n0".into());
        assert!(replayed
            .verify(&key, LinkRole::Answer, &a, &b, SDP)
            .is_err());
    }

    #[test]
    fn an_sdp_without_fingerprint_is_never_verified() {
        let (a, b) = ids();
        let alice = Identity::from_seed([1; 32]);
        let proof = LinkProof::sign(&alice, LinkRole::Offer, &a, &b, "v=0", "n".into(), None);
        assert!(proof
            .verify(&alice.public(), LinkRole::Offer, &a, &b, "v=0")
            .is_err());
    }
}
