//! Device pairing bodies (PROTOCOL.md §4–5), plus the claim exchange (ours) through which a
//! device fetches its own token once approved, so nobody copies tokens by hand.

use crate::ids::PeerId;
use serde::{Deserialize, Serialize};

/// Pairing entry lifecycle: `pending_approval → approved | rejected`, `approved → revoked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingStatus {
    /// Waiting for the admin.
    PendingApproval,
    /// Approved: the device token works.
    Approved,
    /// Refused by the admin.
    Rejected,
    /// Approved once, now revoked.
    Revoked,
}

/// The answer to `POST /api/pairing/generate-code`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateCodeResponse {
    /// Six digits.
    pub code: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

/// The body of `POST /api/pairing/pair`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRequest {
    /// The six-digit code.
    pub code: String,
    /// Name the device asks for.
    pub agent_name: String,
    /// (ours) A secret the device keeps; with it, `POST /api/pairing/{id}/claim` hands the
    /// device its token once approved. Upstream clients omit it and get the token from the admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_secret: Option<String>,
    /// **(new, ADR 0015)** The device's identity key, bound to its peer id on approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<crate::identity::PublicKey>,
}

/// The answer to `POST /api/pairing/pair`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairResponse {
    /// Pairing entry id.
    pub id: String,
    /// Always `pending_approval`.
    pub status: PairingStatus,
    /// Peer id the device will have.
    pub peer_id: PeerId,
}

/// A pairing entry as admins list it; never carries a device token (ours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairingEntry {
    /// Entry id.
    pub id: String,
    /// Name the device asked for.
    pub agent_name: String,
    /// Peer id of the device.
    pub peer_id: PeerId,
    /// Lifecycle state.
    pub status: PairingStatus,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds of the last status change.
    #[serde(default)]
    pub updated_at: f64,
}

/// The answer to `POST /api/pairing/{id}/approve`: the device token, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproveResponse {
    /// Entry id.
    pub id: String,
    /// Now `approved`.
    pub status: PairingStatus,
    /// `dt_` + 32 hex; stored hashed, never shown again.
    pub device_token: String,
}

/// The body of `POST /api/pairing/{id}/claim` (ours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// The secret sent with the pairing request.
    pub claim_secret: String,
    /// Seconds to wait for a decision before answering `pending_approval` (default 25, max 60).
    #[serde(default)]
    pub wait_secs: Option<u64>,
}

/// The answer to a claim: the token once approved (only the first claim carries it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimResponse {
    /// Entry id.
    pub id: String,
    /// Current status.
    pub status: PairingStatus,
    /// Peer id of the device.
    pub peer_id: PeerId,
    /// Present exactly once: in the first claim after approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

impl PairingStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "pending_approval",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Revoked => "revoked",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending_approval" => Self::PendingApproval,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "revoked" => Self::Revoked,
            _ => return None,
        })
    }

    /// Whether `self → next` is a legal transition.
    pub fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::PendingApproval, Self::Approved)
                | (Self::PendingApproval, Self::Rejected)
                | (Self::Approved, Self::Revoked)
        )
    }
}
