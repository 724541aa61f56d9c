//! Flow control end to end: a flooding peer and an agent that reads slowly. The sidecars
//! must slow the sender (SCTP flow control, then the sending agent's socket) instead of
//! growing, and lose nothing.

use meshwork_tests::{IpcClient, RegistryOptions, RegistryProcess, SidecarProcess};
use serde_json::json;
use std::time::Duration;

/// Messages in the flood, each [`PAYLOAD`] bytes: 128 MiB in all.
const MESSAGES: usize = 2_048;
const PAYLOAD: usize = 64 * 1024;
/// How long the slow agent stops reading once, a quarter of the way through.
const PAUSE: Duration = Duration::from_secs(8);
/// What either sidecar may hold at its peak (resident memory, debug build).
const RSS_LIMIT_MIB: u64 = 80;

fn peak_rss_mib(pid: u32) -> u64 {
    meshwork_tests::stats::peak_rss_kib(pid) / 1024
}

#[tokio::test]
async fn a_flooding_peer_is_slowed_by_a_slow_agent_and_nothing_is_lost() {
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_alice": {"peer_id": "alice"}, "ak_bob": {"peer_id": "bob"}}})),
        ..Default::default()
    });
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice");
    let bob = SidecarProcess::start(&reg, "ak_bob", "bob");
    let mut flooder = alice.ipc().await;
    let mut slow = bob.ipc().await;
    flooder.wait_connected(&["bob"]).await;
    slow.wait_connected(&["alice"]).await;

    // The flooding agent writes as fast as its socket takes lines.
    let body = "x".repeat(PAYLOAD);
    let sender = tokio::spawn(async move {
        for i in 0..MESSAGES {
            let message = json!({"type": "agent_prompt", "request_id": format!("m{i}"),
                "payload": {"message": body}});
            let line =
                json!({"type": "send", "payload": {"target_peer": "bob", "message": message}});
            flooder.send(line).await;
        }
        flooder
    });

    // The slow agent reads a message every millisecond (at most 64 MiB/s, far below the channel).
    let (mut got, mut dropped) = (0, 0);
    while got < MESSAGES {
        let ev = slow
            .next_event(Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("message {got} never arrived: {e}"));
        if ev["type"] == "peer_disconnected" {
            dropped += 1;
        }
        if ev["type"] != "message" {
            continue;
        }
        let message = &ev["payload"]["message"];
        assert_eq!(
            message["request_id"],
            format!("m{got}"),
            "in order, none lost"
        );
        assert_eq!(
            message["payload"]["message"].as_str().map(str::len),
            Some(PAYLOAD)
        );
        assert_eq!(ev["payload"]["via"], "direct");
        got += 1;
        if got == MESSAGES / 4 {
            // The agent is busy for longer than a link's silence timeout (6 s): the paused
            // reads must not be taken for a dead link, and nothing may be lost.
            tokio::time::sleep(PAUSE).await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut flooder: IpcClient = sender.await.expect("sender task");
    // Still responsive afterwards, and the link never dropped (paused reads are not silence).
    assert_eq!(flooder.list_peers().await, ["bob"]);
    assert_eq!(dropped, 0, "bob's link to alice dropped during the pause");

    let (alice_pid, bob_pid) = (alice.pid().expect("pid"), bob.pid().expect("pid"));
    let (alice_peak, bob_peak) = (peak_rss_mib(alice_pid), peak_rss_mib(bob_pid));
    eprintln!(
        "peak RSS: sender {alice_peak} MiB, receiver {bob_peak} MiB (flood of {} MiB)",
        MESSAGES * PAYLOAD / (1024 * 1024)
    );
    assert!(alice_peak > 0 && bob_peak > 0, "read /proc");
    assert!(
        alice_peak < RSS_LIMIT_MIB,
        "the sender grew to {alice_peak} MiB"
    );
    assert!(
        bob_peak < RSS_LIMIT_MIB,
        "the receiver grew to {bob_peak} MiB"
    );
}
