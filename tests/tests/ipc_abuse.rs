//! IPC clients that misbehave (issue 17): a line that is not UTF-8 or over the limit is
//! refused on its own, and clients that never read cannot grow the sidecar without bound —
//! they are hung up on, while an agent that reads gets everything.

use meshwork_tests::{RegistryOptions, RegistryProcess, SidecarProcess};
use serde_json::json;
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::UnixStream,
};

fn registry() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_alice": {"peer_id": "alice"}, "ak_bob": {"peer_id": "bob"}}})),
        ..Default::default()
    })
}

fn peak_rss_mib(pid: u32) -> u64 {
    meshwork_tests::stats::peak_rss_kib(pid) / 1024
}

/// Reads what the sidecar answers on `raw` until it holds `error` and then a `peer_list`
/// (10 s at most), and asserts that order: the bad line was refused, the next one served.
async fn refused_then_served(raw: &mut UnixStream, error: &str) {
    let mut got = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(got.contains(error) && got.contains("peer_list")) {
        let mut buf = [0u8; 4096];
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let n = tokio::time::timeout(left, raw.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(n > 0, "the sidecar hung up on the client: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let error_at = got.find(error).unwrap_or(usize::MAX);
    let list_at = got.find("peer_list").unwrap_or(0);
    assert!(
        error_at < list_at,
        "the error, then the next line served: {got}"
    );
}

#[tokio::test]
async fn a_line_that_is_not_utf8_gets_an_error_and_the_client_stays() {
    let reg = registry();
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut agent = alice.ipc().await;
    let mut raw = UnixStream::connect(&alice.socket).await.expect("connect");
    raw.write_all(b"{\"type\":\"list_peers\",\"payload\":{}}\xff\xfe\n")
        .await
        .expect("write");
    raw.write_all(b"{\"type\":\"list_peers\",\"payload\":{}}\n")
        .await
        .expect("write");
    refused_then_served(&mut raw, "not UTF-8").await;
    // Other clients are not disturbed.
    assert!(agent.list_peers().await.is_empty());
}

#[tokio::test]
async fn a_line_over_the_limit_gets_an_error_and_the_client_stays() {
    let reg = registry();
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut agent = alice.ipc().await;
    let mut raw = UnixStream::connect(&alice.socket).await.expect("connect");
    // 17 MiB + 1 byte: over the largest message plus its command (16 MiB + 1 MiB).
    let mut long = vec![b'x'; 17 * 1024 * 1024 + 1];
    long.push(b'\n');
    raw.write_all(&long).await.expect("write");
    raw.write_all(b"{\"type\":\"list_peers\",\"payload\":{}}\n")
        .await
        .expect("write");
    refused_then_served(&mut raw, "bytes skipped").await;
    assert!(agent.list_peers().await.is_empty());
}

#[tokio::test]
async fn clients_that_never_read_are_hung_up_on_and_cannot_grow_the_sidecar() {
    const MESSAGES: usize = 1_024;
    const PAYLOAD: usize = 64 * 1024;
    let reg = registry();
    let alice = SidecarProcess::start(&reg, "ak_alice", "alice");
    let bob = SidecarProcess::start(&reg, "ak_bob", "bob");
    let mut flooder = alice.ipc().await;
    let mut reader = bob.ipc().await;
    // Four clients that connect and never read a byte.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(UnixStream::connect(&bob.socket).await.expect("connect"));
    }
    flooder.wait_connected(&["bob"]).await;
    reader.wait_connected(&["alice"]).await;
    let body = "x".repeat(PAYLOAD);
    let sender = tokio::spawn(async move {
        for i in 0..MESSAGES {
            let message = json!({"type": "agent_prompt", "request_id": format!("m{i}"),
                "payload": {"message": body}});
            flooder
                .send(
                    json!({"type": "send", "payload": {"target_peer": "bob", "message": message}}),
                )
                .await;
        }
    });
    // The reading agent gets every message in order: the idle clients are dropped once they
    // have been behind for a while, instead of holding everyone back (or growing) for ever.
    let mut got = 0;
    while got < MESSAGES {
        let ev = reader
            .next_event(Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("message {got} never arrived: {e}"));
        if ev["type"] == "message" {
            assert_eq!(ev["payload"]["message"]["request_id"], format!("m{got}"));
            got += 1;
        }
    }
    sender.await.expect("sender");
    for mut client in idle {
        // Hung up on: after whatever it was sent, the socket ends.
        let mut sink = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut sink)).await;
        assert!(read.is_ok(), "an idle client was never disconnected");
    }
    let peak = peak_rss_mib(bob.pid().expect("pid"));
    eprintln!("receiving sidecar peak RSS: {peak} MiB (4 idle clients, 64 MiB sent)");
    assert!(peak > 0 && peak < 120, "the sidecar grew to {peak} MiB");
}
