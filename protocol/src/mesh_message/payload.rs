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

use super::scan::scan;

/// Deepest nesting accepted in a payload: what serde_json's limit (128 for a whole line)
/// left for a payload inside a command when payloads were parsed.
pub const MAX_DEPTH: usize = 120;

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

    /// A payload from text serde_json checked: refused if nested deeper than
    /// [`MAX_DEPTH`]; kept as it is if [plain](super::scan::Scan::plain); otherwise parsed
    /// (which refuses what serde_json skimmed but cannot read: an unpaired surrogate, a
    /// number out of range) and written again on one line (a line break between tokens
    /// would split the IPC line an agent reads).
    fn from_checked(text: String) -> Result<Self, String> {
        let found = scan(&text);
        if found.depth > MAX_DEPTH {
            return Err(format!("payload nested deeper than {MAX_DEPTH} levels"));
        }
        if found.plain {
            return Ok(Self(text.into_boxed_str()));
        }
        // serde_json's `Value` parser treats an object keyed by this token as raw text to
        // parse afresh, with a fresh depth limit: refused here rather than parsed.
        if text.contains(RAW_VALUE_TOKEN) {
            return Err("payload uses a key reserved by the JSON parser".to_owned());
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        Ok(Self::from(&value))
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
        // serde_json's parser checked the text it hands over.
        let text: String = map.next_value()?;
        Payload::from_checked(text).map_err(A::Error::custom)
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
        let text = r#"{"b":1,"a":[1.0,-3.250,"\u00e9"],"c":{}}"#;
        let payload = parse(text).expect("valid");
        assert_eq!(payload.json(), text);
        assert_eq!(serde_json::to_string(&payload).expect("writes"), text);
        assert_eq!(payload, json!({"a": [1.0, -3.25, "é"], "b": 1, "c": {}}));
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
        let deep = format!("{}{}", "[".repeat(121), "]".repeat(121));
        assert!(parse(&deep).is_err(), "nesting over {MAX_DEPTH}");
        let fits = format!("{}{}", "[".repeat(120), "]".repeat(120));
        assert_eq!(parse(&fits).expect("120 levels").json(), fits);
        // What serde_json skims but cannot read into a value.
        assert!(parse(r#"{"s":"\ud800"}"#).is_err(), "unpaired surrogate");
        assert!(parse(r#"{"n":1e400}"#).is_err(), "number out of range");
        // The parser's raw-value key may not smuggle nesting past the limit.
        let nested = r#"{"n":1e5,"x":{"$serde_json::private::RawValue":"[[1]]"}}"#;
        assert!(parse(nested).is_err(), "reserved key");
        // Valid ones of the same kinds are parsed and kept.
        let valid = parse(r#"["\ud83d\ude00",2E3]"#).expect("valid");
        assert_eq!(valid, json!(["\u{1F600}", 2000.0]));
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
