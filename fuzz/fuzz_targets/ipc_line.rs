//! IPC lines (PROTOCOL.md §3): the sidecar parses every line a local agent writes, the
//! agent-side client parses every line the sidecar writes, and both carry `MeshMessage`s
//! that arrived from remote peers.
//!
//! Asserts: `IpcCommand::parse_line` never panics; it accepts everything plain serde accepts,
//! with the same result; a parsed command serializes to one line (no raw newline) that parses
//! back equal. The same for `IpcEvent::to_line` and for `MeshMessage` (hand-written
//! `Deserialize` with an `extra` map): parse → serialize → parse is the identity, unknown
//! fields included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshwork_fuzz::assert_round_trip;
use meshwork_protocol::{IpcCommand, IpcEvent, MeshMessage, MeshMessageType};

fuzz_target!(|data: &[u8]| {
    // The sidecar reads lines as UTF-8 and answers anything else with an `error` event.
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };

    match IpcCommand::parse_line(line) {
        Ok(cmd) => {
            let text = serde_json::to_string(&cmd).expect("a command serializes");
            assert!(
                !text.contains('\n'),
                "a command line contains a newline: {text:?}"
            );
            let again = IpcCommand::parse_line(&text)
                .unwrap_or_else(|e| panic!("re-parsing {text:?} failed: {e}"));
            assert_eq!(cmd, again, "round trip through {text:?}");
            assert_round_trip(&cmd);
            if let Ok(plain) = serde_json::from_str::<IpcCommand>(line) {
                assert_eq!(cmd, plain, "parse_line disagrees with serde");
            }
        }
        Err(_) => assert!(
            serde_json::from_str::<IpcCommand>(line).is_err(),
            "parse_line refused a line serde accepts"
        ),
    }

    if let Ok(event) = serde_json::from_str::<IpcEvent>(line) {
        let text = event.to_line();
        assert!(
            !text.is_empty() && !text.contains('\n'),
            "bad event line {text:?}"
        );
        let again: IpcEvent = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("re-parsing {text:?} failed: {e}"));
        assert_eq!(event, again, "round trip through {text:?}");
        assert_round_trip(&event);
    }

    if let Ok(message) = MeshMessage::parse(line) {
        let text = message.to_json();
        assert!(!text.is_empty(), "to_json returned nothing for {message:?}");
        let again =
            MeshMessage::parse(&text).unwrap_or_else(|e| panic!("re-parsing {text:?} failed: {e}"));
        assert_eq!(message, again, "round trip through {text:?}");
        assert_eq!(text, again.to_json(), "to_json is not stable");
        assert_round_trip(&message);
        for known in [
            "type",
            "request_id",
            "source_agent",
            "target_agent",
            "payload",
        ] {
            assert!(
                !message.extra.contains_key(known),
                "{known} landed in extra"
            );
        }
        assert_eq!(
            MeshMessageType::parse(message.kind.as_str()),
            message.kind,
            "type spelling does not round-trip"
        );
    }
});
