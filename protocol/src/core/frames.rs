//! Builders for the signaling frames the core sends (PROTOCOL.md §1).

use crate::{
    identity::{LinkProof, PublicKey},
    ids::PeerId,
    signaling::{
        IceCandidatePayload, LinkInfo, LinkReportPayload, PeerKind, RegisterPayload, SdpPayload,
        SignalMessage, SignalType,
    },
};

/// The `register` frame announcing `from` and what kind of program it is. `tasks` (ADR 0018)
/// is announced only with the registry tier on: queued tasks travel over it.
pub fn register(
    from: &PeerId,
    kind: PeerKind,
    fingerprint: Option<String>,
    registry_tier: bool,
    identity_key: Option<PublicKey>,
    memory: bool,
    tasks: bool,
) -> SignalMessage {
    let payload = RegisterPayload {
        kind: Some(kind),
        fingerprint,
        registry_tier: Some(registry_tier),
        identity_key,
        memory: memory.then_some(true),
        tasks: (tasks && registry_tier).then_some(true),
    };
    SignalMessage::new(SignalType::Register, from.clone(), None, &payload)
}

/// An `offer` or `answer` frame carrying `sdp` (and our proof over it) to `to`.
pub fn sdp(
    kind: SignalType,
    from: &PeerId,
    to: &PeerId,
    sdp: String,
    identity: Option<LinkProof>,
) -> SignalMessage {
    let payload = SdpPayload { sdp, identity };
    SignalMessage::new(kind, from.clone(), Some(to.clone()), &payload)
}

/// An `ice_candidate` frame carrying one local candidate to `to`.
pub fn ice_candidate(from: &PeerId, to: &PeerId, candidate: &IceCandidatePayload) -> SignalMessage {
    SignalMessage::new(
        SignalType::IceCandidate,
        from.clone(),
        Some(to.clone()),
        candidate,
    )
}

/// The `link_report` frame telling the registry which links `from` has open now.
pub fn link_report(from: &PeerId, links: Vec<LinkInfo>) -> SignalMessage {
    SignalMessage::new(
        SignalType::LinkReport,
        from.clone(),
        None,
        &LinkReportPayload { links },
    )
}
