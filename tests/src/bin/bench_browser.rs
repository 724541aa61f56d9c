//! Browser ↔ native benchmark: a headless Chromium tab (the real page, the wasm peer) and a
//! real sidecar, through a real registry. Must run in the loopback-only namespace:
//!
//! ```text
//! cargo build --release --bins && trunk build --release
//! scripts/in-netns.sh target/release/bench_browser [--runs 20]
//! ```
//!
//! 1. Setup: the sidecar's link start (its offer, or the tab's offer arriving) → channel open
//!    on the sidecar (`--sidecar-id alice`: it offers, "alice" < "tab-…"; `zed`: the tab does), and
//!    "Join" clicked → the tab sees `peer_connected` (token, signaling, ICE, DTLS, SCTP).
//!    Baseline in the same run: two Chromium peers in one page, before the first
//!    `RTCPeerConnection` is built → channel open.
//! 2. RTT: tab → sidecar → agent → sidecar → tab, ping/pong timed in the page.

use meshwork_tests::cli::Flag;
use meshwork_tests::stats::percentile;
use meshwork_tests::{
    browser::Browser, registry::ADMIN_TOKEN, RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = meshwork_tests::cli::parse(
        "Browser ↔ native benchmark: setup and RTT between a headless Chromium tab and a \
         sidecar (run inside scripts/in-netns.sh).",
        &[
            Flag {
                name: "--runs",
                value: "N",
                help: "fresh tabs for the setup time (20)",
            },
            Flag {
                name: "--sidecar-id",
                value: "ID",
                help: "the sidecar's peer id (alice: the sidecar offers; zed: the tab offers)",
            },
        ],
    );
    let runs: usize = args.get("--runs", 20);
    let sidecar: String = args.get("--sidecar-id", "alice".to_owned());
    let offerer = if sidecar.as_str() < "tab-" {
        "sidecar"
    } else {
        "tab"
    };
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist");
    anyhow::ensure!(
        dist.join("index.html").exists(),
        "build the page first: trunk build --release"
    );
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_alice": {"peer_id": sidecar}}})),
        hub_dist_dir: Some(dist),
        ..Default::default()
    });
    let (log_tx, log_rx) = std::sync::mpsc::channel();
    // More of the sidecar's log, printed as it comes (to see where setup time goes).
    let extra_log = std::env::var("BENCH_SIDECAR_LOG").ok();
    let log_filter = match &extra_log {
        Some(extra) => format!("error,meshwork_sidecar::driver=info,{extra}"),
        None => "error,meshwork_sidecar::driver=info".to_owned(),
    };
    let alice = SidecarProcess::start_logged(
        &reg,
        "ak_alice",
        &sidecar,
        &[
            ("MESHWORK_KEEP_ALIVE", "1"),
            ("RUST_LOG", log_filter.as_str()),
        ],
        log_tx,
    );
    let mut agent = alice.ipc().await;
    let browser = Browser::start().await;

    let mut offer_to_open = Vec::new();
    let mut click_to_connected = Vec::new();
    for _ in 0..runs {
        browser
            .client
            .goto(&reg.url(&format!("/?token={ADMIN_TOKEN}")))
            .await?;
        browser
            .wait_for(
                "bindings",
                Duration::from_secs(30),
                "return !!window.wasmBindings",
            )
            .await;
        let t = Instant::now();
        browser
            .eval(
                r#"window.benchT0 = performance.now();
                   addEventListener("mesh-bench", () => {});
                   document.getElementById('join').click();
                   return true"#,
            )
            .await;
        let id = browser
            .wait_for(
                "tab id",
                Duration::from_secs(30),
                "return window.meshPeer && window.meshPeer.id()",
            )
            .await;
        let id = id.as_str().unwrap_or_default().to_owned();
        let ms = browser
            .wait_for(
                "peer_connected",
                Duration::from_secs(30),
                &format!(r#"const i = window.meshEvents.findIndex(e => e.type === "peer_connected" && e.peer === "{sidecar}");
                   if (i < 0) return null;
                   if (!window.benchT1) window.benchT1 = performance.now();
                   return window.benchT1 - window.benchT0"#),
            )
            .await;
        click_to_connected.push(ms.as_f64().unwrap_or(t.elapsed().as_secs_f64() * 1e3));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, line) =
                log_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
            if extra_log.is_some() {
                eprintln!("{line}");
            }
            if line.contains("channel open") && line.contains(&id) {
                if let Some(v) = line
                    .split("setup_ms=")
                    .nth(1)
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    offer_to_open.push(v);
                    break;
                }
            }
        }
        agent.wait_connected(&[&id]).await;
    }
    println!("# meshwork browser ↔ native benchmark (headless Chromium, loopback namespace)");
    println!("## Setup ({runs} fresh tabs)");
    println!(
        "offer → channel open on the sidecar ({offerer} offers): p50 {:.1} ms  p99 {:.1} ms",
        percentile(&mut offer_to_open.clone(), 50.0),
        percentile(&mut offer_to_open, 99.0)
    );
    println!(
        "'Join' clicked → tab sees peer_connected:      p50 {:.1} ms  p99 {:.1} ms",
        percentile(&mut click_to_connected.clone(), 50.0),
        percentile(&mut click_to_connected, 99.0)
    );

    // The baseline in the same browser: two RTCPeerConnections in one page, candidates and
    // descriptions handed over directly (no signaling server), timed from before the first
    // connection is built to the offerer's channel open.
    let chromium = browser
        .client
        .execute_async(
            &format!(
                r#"const done = arguments[arguments.length - 1];
               (async () => {{
                 const out = [];
                 for (let i = 0; i < {runs}; i++) {{
                   const t0 = performance.now();
                   const a = new RTCPeerConnection(), b = new RTCPeerConnection();
                   const wire = (from, to) => {{
                     const held = []; let ready = false;
                     from.onicecandidate = e => {{ if (e.candidate) ready ? to.addIceCandidate(e.candidate) : held.push(e.candidate); }};
                     return () => {{ ready = true; held.forEach(c => to.addIceCandidate(c)); }};
                   }};
                   const toB = wire(a, b), toA = wire(b, a);
                   const dc = a.createDataChannel("mesh");
                   const open = new Promise(r => dc.onopen = r);
                   const offer = await a.createOffer(); await a.setLocalDescription(offer);
                   await b.setRemoteDescription(offer); toB();
                   const answer = await b.createAnswer(); await b.setLocalDescription(answer);
                   await a.setRemoteDescription(answer); toA();
                   await open;
                   out.push(performance.now() - t0);
                   a.close(); b.close();
                 }}
                 done(out);
               }})().catch(e => done(String(e)));"#
            ),
            vec![],
        )
        .await?;
    let mut chromium_ms: Vec<f64> = chromium
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    anyhow::ensure!(
        chromium_ms.len() == runs,
        "the in-page baseline failed: {chromium}"
    );
    println!(
        "baseline: two Chromium peers in one page:      p50 {:.1} ms  p99 {:.1} ms",
        percentile(&mut chromium_ms.clone(), 50.0),
        percentile(&mut chromium_ms, 99.0)
    );

    // RTT: the agent answers pings; the page times 500 round trips.
    let tab = browser
        .eval("return window.meshPeer.id()")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let echo = tokio::spawn(async move {
        loop {
            let Ok(line) = agent.next_line(Duration::from_secs(60)).await else {
                return;
            };
            let Ok(ev) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if ev["type"] == "message" && ev["payload"]["message"]["type"] == "ping" {
                let id = ev["payload"]["message"]["request_id"].clone();
                agent
                    .send(json!({"type": "send", "payload": {"target_peer": tab, "message": {"type": "pong", "request_id": id}}}))
                    .await;
            }
        }
    });
    let rtts = browser
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1]; const SIDECAR = arguments[0];
               const peer = window.meshPeer; const out = []; let i = 0; let t0 = 0;
               const next = () => {
                 if (i === 550) { done(out.slice(50)); return; }
                 t0 = performance.now();
                 peer.send(SIDECAR, JSON.stringify({type: "ping", request_id: "b" + i}));
               };
               peer.on((ev) => {
                 if (ev.type === "message" && ev.message.type === "pong" && ev.message.request_id === "b" + i) {
                   out.push((performance.now() - t0) * 1000); i += 1; next();
                 }
               });
               next();"#,
            vec![json!(sidecar)],
        )
        .await?;
    echo.abort();
    let mut us: Vec<f64> = rtts
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    println!("## RTT tab → sidecar → agent → sidecar → tab (500 round trips)");
    println!(
        "p50 {:.0} µs  p99 {:.0} µs",
        percentile(&mut us.clone(), 50.0),
        percentile(&mut us, 99.0)
    );
    browser.close().await;
    drop(alice);
    Ok(())
}
