//! Shared checks for the meshwork fuzz targets (see `docs/FUZZING.md`).
//!
//! Every target parses untrusted input; whatever parses must survive a serialize → parse
//! round trip unchanged, both through JSON text (what goes on the wire) and through a
//! `serde_json::Value` (what the registry and the sidecar do when they relay a payload).

use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

/// Asserts that `value` survives JSON text and `Value` round trips, and that its
/// serialization is stable (serialize → parse → serialize gives the same text).
pub fn assert_round_trip<T>(value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text = serde_json::to_string(value).expect("a parsed value serializes");
    let back: T =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("re-parsing {text:?} failed: {e}"));
    assert_eq!(*value, back, "text round trip through {text:?}");
    let again = serde_json::to_string(&back).expect("serializes");
    assert_eq!(text, again, "serialization is not stable");

    let tree = serde_json::to_value(value).expect("a parsed value converts to a Value");
    let back: T = serde_json::from_value(tree.clone())
        .unwrap_or_else(|e| panic!("re-reading {tree} failed: {e}"));
    assert_eq!(*value, back, "Value round trip through {tree}");
}

/// Parses `bytes` as a `T` (as axum's `Json` extractor does) and, if that succeeds, checks
/// the round trips. Returns the parsed value.
pub fn parse_and_check<T>(bytes: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let value: T = serde_json::from_slice(bytes).ok()?;
    assert_round_trip(&value);
    Some(value)
}
