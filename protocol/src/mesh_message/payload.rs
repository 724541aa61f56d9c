//! A MeshMessage's `payload`, carried as the JSON text it arrived as.
//!
//! Nothing in the mesh reads an application payload: a sidecar passes it from agent to
//! channel and from channel to agent. Parsing it into a tree and writing it out again was
//! 14 % of a busy sidecar's CPU (issue 18); as text it is checked once (valid JSON, nesting
//! within serde_json's limit, one line) and copied. Where the core does read one (memory
//! frames), [`Payload::to_value`] parses it.

use serde::{
    de::{Error as _, MapAccess, Visitor},
    ser::SerializeStruct,
    Deserialize, Deserializer, Serialize, Serializer,
};
use serde_json::Value;

/// Above this many `[` and `{` (in strings or not), the nesting is checked by parsing.
const BRACKETS_WITHOUT_CHECK: usize = 100;

/// JSON text of one value, on one line. Only serde_json's parser (which checked it) and
/// serializer (of a `Value`) make one, so the text is always valid JSON.
#[derive(Clone)]
pub struct Payload(Box<str>);

impl Payload {
    /// `{}`.
    pub fn empty_object() -> Self {
        Self::from(&Value::Object(serde_json::Map::new()))
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// The payload as a tree (parsed on each call).
    pub fn to_value(&self) -> Value {
        // The text was valid JSON when this was built; `Null` cannot happen.
        serde_json::from_str(self.json()).unwrap_or(Value::Null)
    }

    /// Whether the text must be parsed before it is passed on: a line break (allowed as
    /// whitespace in JSON) would split the IPC line an agent reads, and deep nesting is
    /// refused as it was when payloads were parsed.
    fn needs_parse(text: &str) -> bool {
        let bytes = text.as_bytes();
        memchr::memchr2(b'\n', b'\r', bytes).is_some()
            || memchr::memchr2_iter(b'[', b'{', bytes).count() > BRACKETS_WITHOUT_CHECK
    }
}

impl From<&Value> for Payload {
    fn from(value: &Value) -> Self {
        // A `Value` always serializes; its compact form has no line break.
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
        Self(text.into_boxed_str())
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

impl Default for Payload {
    fn default() -> Self {
        Self::empty_object()
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json())
    }
}

impl PartialEq for Payload {
    /// Equal JSON values, however they are spelled.
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json() || self.to_value() == other.to_value()
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl Serialize for Payload {
    /// As serde_json writes a `RawValue`: the text as it is.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut raw = s.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.json())?;
        raw.end()
    }
}

/// The name under which serde_json's deserializers (of text and of `Value`s) hand over a
/// value's raw text and its serializers take one, as they do for `RawValue` (whose API
/// would check the text a second time). Other deserializers (serde's buffer for an
/// adjacently tagged enum whose `payload` comes before its `type`) see a plain newtype and
/// give the value as a tree. The unit tests fail if the raw path stops being taken.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(RAW_VALUE_TOKEN, PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    /// serde_json's raw text: one entry, the token and the text.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload, A::Error> {
        match map.next_key::<String>()? {
            Some(key) if key == RAW_VALUE_TOKEN => {}
            _ => return Err(A::Error::custom("expected serde_json's raw value")),
        }
        let text: String = map.next_value()?;
        if Payload::needs_parse(&text) {
            let value: Value = serde_json::from_str(&text).map_err(A::Error::custom)?;
            return Ok(Payload::from(&value));
        }
        // serde_json's parser checked the text it hands over.
        Ok(Payload(text.into_boxed_str()))
    }

    /// Any other deserializer: the value as a tree.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Payload, D::Error> {
        Value::deserialize(d).map(|v| Payload::from(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Payload, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn the_text_passes_through_as_it_came() {
        let text = r#"{"b":1,"a":[1.0,2e3,"\u00e9"],"c":{}}"#;
        let payload = parse(text).expect("valid");
        assert_eq!(payload.json(), text);
        assert_eq!(serde_json::to_string(&payload).expect("writes"), text);
        assert_eq!(payload, json!({"a": [1.0, 2000.0, "é"], "b": 1, "c": {}}));
    }

    #[test]
    fn line_breaks_between_tokens_are_removed_so_an_ipc_line_stays_one_line() {
        let payload = parse("{\n \"a\" :\r\n [1,\n2]\n}").expect("valid");
        assert_eq!(payload.json(), r#"{"a":[1,2]}"#);
        // Escaped line breaks inside strings are text, not line breaks, and stay.
        let payload = parse(r#"{"a":"x\ny"}"#).expect("valid");
        assert_eq!(payload.json(), r#"{"a":"x\ny"}"#);
    }

    #[test]
    fn invalid_or_too_deep_payloads_are_refused() {
        assert!(parse(r#"{"a":}"#).is_err());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&deep).is_err(), "nesting over serde_json's limit");
        let wide = format!("[{}]", vec!["[]"; 200].join(","));
        assert_eq!(parse(&wide).expect("wide is fine").json(), wide);
        let in_strings = format!(r#"{{"s":"{}"}}"#, "[".repeat(500));
        assert_eq!(
            parse(&in_strings).expect("brackets in a string").json(),
            in_strings
        );
    }

    #[test]
    fn a_payload_before_its_type_in_a_tagged_command_still_parses() {
        // serde buffers an adjacently tagged enum's content when it comes first.
        let line = r#"{"payload":{"target_peer":"bob","message":{"type":"x","payload":{"b":1,"a":2}}},"type":"send"}"#;
        let cmd: crate::ipc::IpcCommand = serde_json::from_str(line).expect("parses");
        let crate::ipc::IpcCommand::Send { message, .. } = cmd else {
            panic!("not a send: {cmd:?}");
        };
        assert_eq!(message.payload, json!({"a": 2, "b": 1}));
    }

    #[test]
    fn a_payload_read_from_a_value_tree_keeps_its_text() {
        let value = json!({"m": {"k": [1, "two"]}, "n": null});
        let from_tree: Payload =
            serde_json::from_value(json!({"p": value.clone()})["p"].clone()).expect("from a Value");
        assert_eq!(from_tree, value);
        assert_eq!(serde_json::to_value(&from_tree).expect("to a Value"), value);
    }
}
