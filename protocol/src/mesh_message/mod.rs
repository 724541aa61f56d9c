//! The JSON carried on the `mesh` DataChannel (PROTOCOL.md §2).

mod payload;
mod scan;

pub use payload::Payload;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A `MeshMessage` type. Unknown types are kept verbatim in [`MeshMessageType::Other`] so the
/// transport passes them to the application instead of dropping them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MeshMessageType {
    /// Liveness probe; answered with `pong` echoing `request_id`.
    Ping,
    /// Answer to `ping`.
    Pong,
    /// Ask an agent to run a skill.
    TaskRequest,
    /// Result of a `task_request`.
    TaskResponse,
    /// Partial result of a streaming task.
    TaskStreamChunk,
    /// Ask which skills a peer has.
    SkillQuery,
    /// Answer to `skill_query`.
    SkillResponse,
    /// Status broadcast.
    AgentStatus,
    /// Free-form prompt to an agent.
    AgentPrompt,
    /// Answer to `agent_prompt`.
    AgentResponse,
    /// Partial answer to `agent_prompt`.
    AgentStreamChunk,
    /// Any other type, passed through untouched.
    Other(String),
}

impl MeshMessageType {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ping => "ping",
            Self::Pong => "pong",
            Self::TaskRequest => "task_request",
            Self::TaskResponse => "task_response",
            Self::TaskStreamChunk => "task_stream_chunk",
            Self::SkillQuery => "skill_query",
            Self::SkillResponse => "skill_response",
            Self::AgentStatus => "agent_status",
            Self::AgentPrompt => "agent_prompt",
            Self::AgentResponse => "agent_response",
            Self::AgentStreamChunk => "agent_stream_chunk",
            Self::Other(s) => s,
        }
    }

    /// Parses the wire spelling; never fails.
    pub fn parse(s: &str) -> Self {
        match s {
            "ping" => Self::Ping,
            "pong" => Self::Pong,
            "task_request" => Self::TaskRequest,
            "task_response" => Self::TaskResponse,
            "task_stream_chunk" => Self::TaskStreamChunk,
            "skill_query" => Self::SkillQuery,
            "skill_response" => Self::SkillResponse,
            "agent_status" => Self::AgentStatus,
            "agent_prompt" => Self::AgentPrompt,
            "agent_response" => Self::AgentResponse,
            "agent_stream_chunk" => Self::AgentStreamChunk,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether this type answers an earlier request with the same `request_id`.
    pub fn is_response(&self) -> bool {
        matches!(
            self,
            Self::Pong | Self::TaskResponse | Self::SkillResponse | Self::AgentResponse
        )
    }
}

impl Serialize for MeshMessageType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MeshMessageType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// One application message between peers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshMessage {
    /// The message type (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: MeshMessageType,
    /// Correlates a response with its request.
    #[serde(default)]
    pub request_id: String,
    /// The sending agent's name.
    #[serde(default)]
    pub source_agent: String,
    /// The intended agent's name.
    #[serde(default)]
    pub target_agent: String,
    /// Type-specific body, as JSON text ([`Payload`]).
    pub payload: Payload,
    /// Fields this version does not know, kept so they reach the application.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Hand-written so unknown fields land in `extra` in one pass: serde's `flatten` would
/// buffer the whole message (megabytes for large payloads) and deserialize it twice.
impl<'de> Deserialize<'de> for MeshMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = MeshMessage;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a MeshMessage object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MeshMessage, A::Error> {
                let mut kind = None;
                let mut msg = MeshMessage::new(MeshMessageType::Ping, "", Payload::default());
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "type" => kind = Some(map.next_value::<MeshMessageType>()?),
                        "request_id" => msg.request_id = map.next_value()?,
                        "source_agent" => msg.source_agent = map.next_value()?,
                        "target_agent" => msg.target_agent = map.next_value()?,
                        "payload" => msg.payload = map.next_value()?,
                        _ => {
                            let value = map.next_value::<Value>()?;
                            msg.extra.insert(key, value);
                        }
                    }
                }
                msg.kind = kind.ok_or_else(|| serde::de::Error::missing_field("type"))?;
                Ok(msg)
            }
        }
        d.deserialize_map(Visitor)
    }
}

impl MeshMessage {
    /// Builds a message with no extra fields.
    pub fn new(
        kind: MeshMessageType,
        request_id: impl Into<String>,
        payload: impl Into<Payload>,
    ) -> Self {
        Self {
            kind,
            request_id: request_id.into(),
            source_agent: String::new(),
            target_agent: String::new(),
            payload: payload.into(),
            extra: Map::new(),
        }
    }

    /// Parses one DataChannel text message.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serializes to one DataChannel text message.
    pub fn to_json(&self) -> String {
        // Sized for the payload up front: growing by doubling copied a large one ~4 times.
        let mut out = Vec::with_capacity(self.payload.json().len() + 256);
        if serde_json::to_writer(&mut out, self).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "float_roundtrip is native-only")]
    fn numbers_survive_a_relay_unchanged() {
        // Found by fuzz/ipc_line: without serde_json's `float_roundtrip` the parser is off by
        // one ULP for some numbers, so every hop (agent → sidecar → peer → agent) that parses
        // and re-serializes a message could change them.
        let text = r#"{"type":"x","payload":{"a":9.992e57},"span":3.3333333333333332e41}"#;
        let first = MeshMessage::parse(text).expect("parses");
        let relayed = MeshMessage::parse(&first.to_json()).expect("parses again");
        assert_eq!(first, relayed);
        assert_eq!(first.to_json(), relayed.to_json());
    }
}
