//! Device pairing bodies (PROTOCOL.md §4–5). The routes arrive with the pairing issue; the
//! shapes live here so every peer agrees on them.

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
