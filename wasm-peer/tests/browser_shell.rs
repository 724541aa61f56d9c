//! The wasm shell in a real headless Chromium (wasm-bindgen-test-runner + chromedriver):
//! what it does with bad input and unreachable servers, and that its pieces work in a
//! browser (framing, the JS API surface).
#![cfg(target_arch = "wasm32")]

use meshwork_protocol::framing::{encode, Frame, Reassembler};
use meshwork_wasm_peer::MeshPeer;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn join_with_unreachable_registry_is_an_error_not_a_panic() {
    // Port 9 (discard) on loopback: nothing listens, the fetch fails at once.
    let peer = MeshPeer::new("http://127.0.0.1:9".into(), "adm_x".into());
    let result = peer.join().await;
    assert!(result.is_err(), "join must fail");
    assert_eq!(peer.id(), None);
    assert!(peer.peers().is_empty());
}

#[wasm_bindgen_test]
fn send_to_an_unknown_peer_is_an_error() {
    let peer = MeshPeer::new("http://127.0.0.1:9".into(), "adm_x".into());
    let err = peer
        .send("bob", r#"{"type":"ping"}"#)
        .expect_err("not joined");
    let text = js_sys::Error::from(err)
        .message()
        .as_string()
        .unwrap_or_default();
    assert!(text.contains("unknown peer"), "{text}");
}

#[wasm_bindgen_test]
fn malformed_message_is_an_error() {
    let peer = MeshPeer::new("http://127.0.0.1:9".into(), "adm_x".into());
    let err = peer.send("bob", "{not json").expect_err("malformed");
    let text = js_sys::Error::from(err)
        .message()
        .as_string()
        .unwrap_or_default();
    assert!(text.contains("not a MeshMessage"), "{text}");
    assert_eq!(peer.broadcast("[1]").map_err(|_| ()), Err(()));
}

#[wasm_bindgen_test]
fn one_mebibyte_message_frames_and_reassembles_in_the_browser() {
    let text = format!("{{\"payload\":\"{}\"}}", "ü".repeat(512 * 1024));
    let mut r = Reassembler::new();
    let mut out = None;
    for frame in encode(text.clone(), 1) {
        if let Frame::Chunk(bytes) = frame {
            // Through a real Uint8Array, as a DataChannel delivers it.
            let array = js_sys::Uint8Array::from(bytes.as_slice());
            out = r.push(&array.to_vec()).expect("valid chunk");
        }
    }
    assert_eq!(out.as_deref(), Some(text.as_str()));
}

#[wasm_bindgen_test]
async fn the_http_helper_reports_an_unreachable_registry() {
    use gloo_net::http::Method;
    let result =
        meshwork_wasm_peer::http::send(Method::GET, "http://127.0.0.1:9/api/config", "t", None)
            .await;
    assert!(result.is_err(), "no server on port 9: {result:?}");
    let result: Result<serde_json::Value, String> = meshwork_wasm_peer::http::json(
        Method::POST,
        "http://127.0.0.1:9/api/token",
        "t",
        Some("{}".into()),
    )
    .await;
    assert!(result.is_err());
}

#[wasm_bindgen_test]
async fn the_core_timer_retries_signaling_after_a_failed_token_fetch() {
    use meshwork_wasm_peer::PeerEvent;
    use std::{cell::RefCell, rc::Rc};
    let peer = MeshPeer::new("http://127.0.0.1:9".into(), "adm_x".into());
    let errors = Rc::new(RefCell::new(Vec::<String>::new()));
    let seen = errors.clone();
    peer.on_event(move |event| {
        if let PeerEvent::Error { message, .. } = event {
            seen.borrow_mut().push(message.clone());
        }
    });
    peer.start_as("tab-timer-test");
    // The first token fetch fails at once; the second comes only when the core's backoff
    // timer (gloo-timers) fires and the core asks to connect again.
    for _ in 0..200 {
        if errors.borrow().len() >= 2 {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(25).await;
    }
    let errors = errors.borrow();
    assert!(errors.len() >= 2, "one retry within 5 s: {errors:?}");
    assert!(
        errors.iter().all(|e| e.contains("cannot get a token")),
        "{errors:?}"
    );
    peer.close();
}
