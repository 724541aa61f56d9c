//! The selected ICE path of a link, read from `RTCPeerConnection.getStats()`: whether the
//! channel runs direct or through a TURN relay (for link reports and a message's `via`).

use meshwork_protocol::signaling::{path_type, CandidateType};
use std::collections::HashSet;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnection;

/// Addresses of the relay candidates the remote peer signaled.
pub type RemoteRelays = HashSet<(String, u16)>;

fn field(entry: &JsValue, name: &str) -> Option<String> {
    js_sys::Reflect::get(entry, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_string())
}

fn flag(entry: &JsValue, name: &str) -> bool {
    js_sys::Reflect::get(entry, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// The selected pair's path type (the shared rule, `signaling::path_type`) and its current
/// round trip in milliseconds; nothing before a pair is selected.
pub async fn selected(
    pc: &RtcPeerConnection,
    relays: &RemoteRelays,
) -> (Option<CandidateType>, Option<f64>) {
    read(pc, relays).await.unwrap_or_default()
}

async fn read(
    pc: &RtcPeerConnection,
    relays: &RemoteRelays,
) -> Option<(Option<CandidateType>, Option<f64>)> {
    let report = JsFuture::from(pc.get_stats()).await.ok()?;
    let report: js_sys::Map = report.unchecked_into();
    let mut entries: Vec<JsValue> = Vec::new();
    report.for_each(&mut |value, _key| entries.push(value));
    let by_id = |id: &str| {
        entries
            .iter()
            .find(|e| field(e, "id").as_deref() == Some(id))
    };
    // The transport names the selected pair; older stacks mark the pair itself.
    let pair = entries
        .iter()
        .find(|e| field(e, "type").as_deref() == Some("transport"))
        .and_then(|t| field(t, "selectedCandidatePairId"))
        .and_then(|id| by_id(&id))
        .or_else(|| {
            entries.iter().find(|e| {
                field(e, "type").as_deref() == Some("candidate-pair")
                    && (flag(e, "selected")
                        || (flag(e, "nominated")
                            && field(e, "state").as_deref() == Some("succeeded")))
            })
        })?;
    let local = by_id(&field(pair, "localCandidateId")?)?;
    let remote = by_id(&field(pair, "remoteCandidateId")?)?;
    let local_type = field(local, "candidateType")
        .as_deref()
        .and_then(CandidateType::from_name);
    let remote_type = field(remote, "candidateType")
        .as_deref()
        .and_then(CandidateType::from_name);
    let remote_addr = field(remote, "address").or_else(|| field(remote, "ip"));
    let remote_port = js_sys::Reflect::get(remote, &JsValue::from_str("port"))
        .ok()
        .and_then(|v| v.as_f64())
        .and_then(|p| u16::try_from(p as u32).ok());
    let signaled_relay = remote_addr
        .zip(remote_port)
        .is_some_and(|addr| relays.contains(&addr));
    let rtt_ms = js_sys::Reflect::get(pair, &JsValue::from_str("currentRoundTripTime"))
        .ok()
        .and_then(|v| v.as_f64())
        .filter(|s| *s > 0.0)
        .map(|s| s * 1000.0);
    Some((path_type(local_type, remote_type, signaled_relay), rtt_ms))
}
