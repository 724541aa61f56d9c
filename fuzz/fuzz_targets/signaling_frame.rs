//! Signaling frames (PROTOCOL.md §1): the registry parses every WebSocket text frame a peer
//! sends, and peers parse every frame the registry relays.
//!
//! Asserts: `SignalMessage::parse` never panics; a parsed frame re-serialized with `to_json`
//! parses back equal, with stable text; every typed payload that reads from the frame's
//! payload round-trips too, and reads back equal from a frame rebuilt with
//! `SignalMessage::new` (how peers build the frames they send).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshwork_fuzz::assert_round_trip;
use meshwork_protocol::signaling::{
    ErrorPayload, IceCandidatePayload, LinkReportPayload, PeerJoinedPayload, PeerLeftPayload,
    PeerListPayload, RegisterPayload, SdpPayload, SignalMessage,
};
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

fn check_payload<T>(frame: &SignalMessage)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(payload) = frame.payload_as::<T>() else {
        return;
    };
    assert_round_trip(&payload);
    let rebuilt = SignalMessage::new(
        frame.kind,
        frame.peer_id.clone(),
        frame.target_id.clone(),
        &payload,
    );
    let reread: T = SignalMessage::parse(&rebuilt.to_json())
        .expect("a rebuilt frame parses")
        .payload_as()
        .expect("a rebuilt payload reads back");
    assert_eq!(payload, reread);
}

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8 by definition; the WebSocket layer refuses anything else.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(frame) = SignalMessage::parse(text) else {
        return;
    };
    let json = frame.to_json();
    assert!(!json.is_empty(), "to_json returned nothing for {frame:?}");
    let again =
        SignalMessage::parse(&json).unwrap_or_else(|e| panic!("re-parsing {json:?} failed: {e}"));
    assert_eq!(frame, again, "round trip through {json:?}");
    assert_eq!(json, again.to_json(), "to_json is not stable");
    assert_round_trip(&frame);
    let _ = frame.kind.is_relayed();
    assert_eq!(
        serde_json::to_value(frame.kind).expect("kind serializes"),
        serde_json::Value::from(frame.kind.as_str()),
        "as_str disagrees with serde"
    );

    // Every payload type, whatever the frame type says: the parsers must cope with any payload.
    check_payload::<RegisterPayload>(&frame);
    check_payload::<PeerListPayload>(&frame);
    check_payload::<SdpPayload>(&frame);
    check_payload::<IceCandidatePayload>(&frame);
    check_payload::<PeerJoinedPayload>(&frame);
    check_payload::<PeerLeftPayload>(&frame);
    check_payload::<ErrorPayload>(&frame);
    check_payload::<LinkReportPayload>(&frame);
});
