//! WebSocket signaling frames (PROTOCOL.md §1).
//!
//! One JSON object per text frame: `{"type", "peer_id", "target_id"?, "payload"}`. The envelope
//! keeps `payload` as raw JSON so the registry can relay offers, answers and candidates
//! unchanged; [`SignalMessage::payload_as`] reads it as one of the typed payloads below.

use crate::{
    identity::{LinkProof, PublicKey},
    ids::PeerId,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The closed set of signaling frame types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalType {
    /// peer → registry: join; answered with `peer_list`.
    Register,
    /// registry → peer: the peers this one may connect to.
    PeerList,
    /// peer → peer: SDP offer.
    Offer,
    /// peer → peer: SDP answer.
    Answer,
    /// peer → peer: trickled ICE candidate.
    IceCandidate,
    /// peer → registry: keep-alive.
    Heartbeat,
    /// registry → peers: a permitted peer registered (new).
    PeerJoined,
    /// registry → peers: a peer left or was revoked (new).
    PeerLeft,
    /// registry → peer: the last frame was refused (new).
    Error,
    /// peer → registry: the links this peer has open, for the topology (new).
    LinkReport,
    /// peer → peer via registry: one DataChannel message, carried by the registry because
    /// the pair has no open channel (new, the registry tier; docs/adr/0010).
    MeshMessage,
    /// peer ⇄ registry: a shared-memory sync frame with the registry's replica **(new,
    /// ADR 0016)**; never relayed.
    MemorySync,
    /// peer → registry: whether a `task_request` the registry sent (from its reserved peer
    /// id) reached an application **(new, ADR 0018)**; never relayed.
    TaskReceived,
}

impl SignalType {
    /// Whether the registry relays this type to `target_id` rather than consuming it.
    pub fn is_relayed(self) -> bool {
        matches!(
            self,
            Self::Offer | Self::Answer | Self::IceCandidate | Self::MeshMessage
        )
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::PeerList => "peer_list",
            Self::Offer => "offer",
            Self::Answer => "answer",
            Self::IceCandidate => "ice_candidate",
            Self::Heartbeat => "heartbeat",
            Self::PeerJoined => "peer_joined",
            Self::PeerLeft => "peer_left",
            Self::Error => "error",
            Self::LinkReport => "link_report",
            Self::MeshMessage => "mesh_message",
            Self::MemorySync => "memory_sync",
            Self::TaskReceived => "task_received",
        }
    }
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// One signaling frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalMessage {
    /// The frame type (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: SignalType,
    /// The sender; frames from the registry carry `"registry"`.
    #[serde(default)]
    pub peer_id: PeerId,
    /// The recipient of a relayed frame; omitted when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<PeerId>,
    /// Type-specific body, `{}` by default.
    #[serde(default = "empty_object")]
    pub payload: Value,
}

/// The `peer_id` the registry puts on the frames it originates.
pub const REGISTRY_PEER_ID: &str = "registry";

impl SignalMessage {
    /// Builds a frame with a typed payload.
    pub fn new(
        kind: SignalType,
        peer_id: impl Into<PeerId>,
        target_id: Option<PeerId>,
        payload: &impl Serialize,
    ) -> Self {
        Self {
            kind,
            peer_id: peer_id.into(),
            target_id,
            payload: serde_json::to_value(payload).unwrap_or_else(|_| empty_object()),
        }
    }

    /// Builds a frame originated by the registry.
    pub fn from_registry(kind: SignalType, payload: &impl Serialize) -> Self {
        Self::new(kind, REGISTRY_PEER_ID, None, payload)
    }

    /// Reads the payload as one of the typed payloads.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }

    /// Parses a text frame.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serializes to a text frame.
    pub fn to_json(&self) -> String {
        // A struct of strings and a JSON value always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What kind of program a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerKind {
    /// A native sidecar (webrtc-rs).
    #[default]
    Native,
    /// A browser tab (the wasm peer).
    Browser,
}

/// `register` payload: optional self-description (ours).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RegisterPayload {
    /// Native sidecar or browser tab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PeerKind>,
    /// DTLS certificate fingerprint, `"sha-256 AB:CD:…"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Whether this peer takes `mesh_message` frames (the registry tier, ADR 0010). Absent
    /// (upstream peers): no, so the registry refuses to carry messages to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_tier: Option<bool>,
    /// The peer's public identity key **(new, ADR 0015)**; the registry binds it to the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<PublicKey>,
    /// Whether this peer holds a memory replica and takes `memory_sync` frames **(new)**.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<bool>,
    /// Whether this peer takes queued tasks the registry delivers as `task_request`
    /// `mesh_message` frames from its reserved peer id, and answers `task_received`
    /// **(new, ADR 0018)**. Absent (upstream sidecars, tabs): never sent any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<bool>,
}

/// `task_received` payload **(new, ADR 0018)**: a peer tells the registry whether the
/// `task_request` it delivered reached an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReceivedPayload {
    /// The `task_request`'s `request_id` (the task's id).
    pub request_id: String,
    /// Whether an application (the agent) got it; `false`: the registry queues it again.
    pub delivered: bool,
    /// Why not, when not delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `peer_list` payload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PeerListPayload {
    /// Peers the recipient may connect to (never itself).
    pub peers: Vec<PeerId>,
    /// The identity keys the registry holds for listed peers **(new)**; peers without one
    /// are absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<PeerId, PublicKey>,
    /// Whether the registry keeps a memory replica to sync with **(new, ADR 0016)**.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<bool>,
}

/// `offer` / `answer` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SdpPayload {
    /// The session description.
    pub sdp: String,
    /// The sender's proof over the SDP's DTLS fingerprints **(new, ADR 0015)**.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<LinkProof>,
}

/// `ice_candidate` payload, camelCase as browsers spell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IceCandidatePayload {
    /// `candidate:…` line; empty for end-of-candidates.
    pub candidate: String,
    /// Media stream id the candidate belongs to.
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// Index of the m-line the candidate belongs to.
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
}

impl IceCandidatePayload {
    /// The address and port of a `typ relay` candidate line (RFC 8839 §5.1), else `None`.
    ///
    /// A peer that reaches our host candidate from its TURN allocation shows up on our side as
    /// a peer-reflexive candidate with the allocation's address; matching that address against
    /// the relay candidates the peer signaled tells the path is relayed after all.
    pub fn relay_address(&self) -> Option<(String, u16)> {
        relay_address(&self.candidate)
    }
}

/// [`IceCandidatePayload::relay_address`] for one `candidate:` or `a=candidate:` line.
pub fn relay_address(line: &str) -> Option<(String, u16)> {
    let mut fields = line.split_ascii_whitespace();
    let _foundation = fields.next()?;
    let _component = fields.next()?;
    let _transport = fields.next()?;
    let _priority = fields.next()?;
    let address = fields.next()?;
    let port = fields.next()?.parse().ok()?;
    (fields.next()? == "typ" && fields.next()? == "relay").then(|| (address.to_owned(), port))
}

/// The type a link's selected pair counts as, for link reports and a message's tier: `relay`
/// when either end is a TURN allocation — including a remote end ICE calls peer-reflexive
/// whose address is one of the relay candidates the peer signaled (its allocation reached us
/// before its candidate did) — else the local candidate's type. One rule for both shells.
pub fn path_type(
    local: Option<CandidateType>,
    remote: Option<CandidateType>,
    remote_is_signaled_relay: bool,
) -> Option<CandidateType> {
    if local == Some(CandidateType::Relay)
        || remote == Some(CandidateType::Relay)
        || remote_is_signaled_relay
    {
        Some(CandidateType::Relay)
    } else {
        local
    }
}

/// `peer_joined` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerJoinedPayload {
    /// The peer that registered.
    pub peer_id: PeerId,
    /// Its identity key, if it has one **(new)**.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<PublicKey>,
}

/// Why a peer left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// Its signaling socket closed; its DataChannels may still be alive.
    #[default]
    Disconnected,
    /// An admin revoked it: drop it at once.
    Revoked,
}

/// `peer_left` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerLeftPayload {
    /// The peer that left.
    pub peer_id: PeerId,
    /// Why it left.
    #[serde(default)]
    pub reason: LeaveReason,
}

/// The closed set of signaling error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalErrorCode {
    /// Not JSON, or not a signaling frame.
    Malformed,
    /// Larger than the configured frame limit.
    FrameTooLarge,
    /// `peer_id` differs from the token's `sub`.
    SenderMismatch,
    /// `target_id` missing or not a connected peer.
    UnknownTarget,
    /// The sender may not talk to the target, or may not send this type.
    NotPermitted,
    /// A valid type that peers may not send (e.g. `peer_list`).
    UnsupportedType,
    /// Too many frames.
    RateLimited,
    /// **(new, ADR 0015)** `register` with another identity key than the one bound to the
    /// peer id (or none while one is bound).
    IdentityKeyMismatch,
}

/// `error` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// Machine-readable reason.
    pub code: SignalErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// The type of the refused frame (ours), so a sender can tell a lost `mesh_message`
    /// from a lost candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<SignalType>,
    /// The refused frame's `target_id` (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<PeerId>,
    /// The refused `mesh_message`'s `request_id` (ours), so the sender knows which one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// ICE candidate type of a selected pair, as in RFC 8445.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateType {
    /// Direct host address.
    Host,
    /// Server-reflexive (learned from STUN).
    Srflx,
    /// Peer-reflexive (learned from connectivity checks).
    Prflx,
    /// Relayed through TURN.
    Relay,
}

impl CandidateType {
    /// Reads a candidate type as stacks name it: the SDP / `getStats()` spelling (`host`,
    /// `srflx`, `prflx`, `relay`) or a Rust enum's (`ServerReflexive`, `Relayed`, …), any case.
    pub fn from_name(name: &str) -> Option<CandidateType> {
        match name.to_ascii_lowercase().as_str() {
            "host" => Some(CandidateType::Host),
            "srflx" | "serverreflexive" => Some(CandidateType::Srflx),
            "prflx" | "peerreflexive" => Some(CandidateType::Prflx),
            "relay" | "relayed" => Some(CandidateType::Relay),
            _ => None,
        }
    }
}

/// One open link in a `link_report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkInfo {
    /// The remote end of the DataChannel.
    pub peer_id: PeerId,
    /// Last measured round-trip time, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Local candidate type of the selected pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_type: Option<CandidateType>,
    /// Whether the link is bound to both peers' identity keys **(new, ADR 0015)**.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified: bool,
}

/// `link_report` payload (new): the complete set of links the sender has open now.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LinkReportPayload {
    /// Every open link; a report replaces the previous one.
    pub links: Vec<LinkInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_types_are_read_in_either_spelling() {
        assert_eq!(
            CandidateType::from_name("srflx"),
            Some(CandidateType::Srflx)
        );
        assert_eq!(
            CandidateType::from_name("ServerReflexive"),
            Some(CandidateType::Srflx)
        );
        assert_eq!(
            CandidateType::from_name("Relayed"),
            Some(CandidateType::Relay)
        );
        assert_eq!(CandidateType::from_name("unspecified"), None);
    }

    #[test]
    fn a_path_is_relayed_when_either_end_is() {
        use CandidateType::*;
        assert_eq!(path_type(Some(Host), Some(Host), false), Some(Host));
        assert_eq!(path_type(Some(Relay), Some(Host), false), Some(Relay));
        assert_eq!(path_type(Some(Host), Some(Relay), false), Some(Relay));
        assert_eq!(path_type(Some(Host), Some(Prflx), true), Some(Relay));
        assert_eq!(path_type(Some(Srflx), Some(Prflx), false), Some(Srflx));
        assert_eq!(path_type(None, None, false), None);
    }

    #[test]
    fn relay_candidates_are_recognised_by_their_type() {
        let relay =
            "candidate:1 1 udp 16777215 127.0.0.1 49160 typ relay raddr 127.0.0.2 rport 5000";
        assert_eq!(relay_address(relay), Some(("127.0.0.1".into(), 49160)));
        let sdp_line = format!("a={relay}");
        assert_eq!(relay_address(&sdp_line), Some(("127.0.0.1".into(), 49160)));
        let host = "candidate:2 1 udp 2130706431 127.0.0.2 5000 typ host";
        assert_eq!(relay_address(host), None);
        assert_eq!(relay_address("candidate:garbage"), None);
        assert_eq!(relay_address(""), None);
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "float_roundtrip is native-only")]
    fn relayed_payload_numbers_are_unchanged() {
        // Found by fuzz/signaling_frame: the registry relays `payload` after parsing it into a
        // `Value`; without serde_json's `float_roundtrip` a number could come out one ULP off.
        let text = r#"{"type":"link_report","peer_id":"a","payload":{"links":[{"peer_id":"b","rtt_ms":9.992e57}]}}"#;
        let frame = SignalMessage::parse(text).expect("parses");
        let relayed = SignalMessage::parse(&frame.to_json()).expect("parses again");
        assert_eq!(frame, relayed);
        let report: LinkReportPayload = frame.payload_as().expect("typed payload");
        assert_eq!(report.links[0].rtt_ms, Some(9.992e57));
    }
}
