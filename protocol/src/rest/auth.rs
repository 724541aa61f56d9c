//! Identity: `POST /api/token`, `GET /api/config`.

use crate::ids::PeerId;
use serde::{Deserialize, Serialize};

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An agent (API key) or its sidecar.
    Agent,
    /// A paired device.
    Device,
    /// A browser tab joined as a peer.
    Browser,
    /// The hub operator.
    Admin,
}

impl Role {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Device => "device",
            Self::Browser => "browser",
            Self::Admin => "admin",
        }
    }
}

/// The answer to `POST /api/token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// HS256 JWT, valid 300 s.
    pub token: String,
    /// The `sub` of the token.
    pub peer_id: PeerId,
    /// The role of the token.
    pub role: Role,
}

/// The answer to `POST /api/ws-ticket` (ours, docs/adr/0013): open a socket with
/// `?ticket=<ticket>` instead of a token in `Sec-WebSocket-Protocol`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsTicket {
    /// `wst_…`: single use.
    pub ticket: String,
    /// Seconds it can be redeemed.
    pub expires_in: u64,
}

/// One ICE server, as `RTCIceServer` spells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` / `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN REST username, `"<unix expiry>:<peer id>"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN REST credential, `base64(HMAC-SHA1(secret, username))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The answer to `GET /api/config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IceConfig {
    /// ICE servers to use (camelCase on the wire, as `RTCConfiguration`).
    #[serde(rename = "iceServers")]
    pub ice_servers: Vec<IceServer>,
}
