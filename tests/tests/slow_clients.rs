//! Slow clients against a real registry (issue 17 item 3, docs/adr/0012): sockets that dribble
//! their headers are closed, and while they last a normal client is still served, even with
//! more of them than the registry has file descriptors; a signaling socket whose peer stopped
//! reading ends when its peer id connects again, even while a write to it is stuck.

use meshwork_tests::{
    http::{call, Cred},
    RegistryOptions, RegistryProcess, SignalClient,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
    task::JoinSet,
};

/// More slow sockets than the registry's open-file limit.
const SLOW: usize = 400;
const OPEN_FILES: u32 = 256;

/// Opens a socket that sends a request line, then one header line every 300 ms and never the
/// end of the headers; says on `started` when its first bytes went out (or could not), and
/// returns once the server closed it (or after 60 lines at most).
async fn dribble(port: u16, started: mpsc::Sender<()>) -> bool {
    let connect = TcpStream::connect(("127.0.0.1", port));
    let mut tcp = match tokio::time::timeout(Duration::from_secs(3), connect).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(_)) => {
            let _ = started.send(()).await;
            return true; // refused outright counts as closed
        }
        Err(_) => {
            // Stuck in the listen backlog: the server stopped accepting.
            let _ = started.send(()).await;
            return false;
        }
    };
    let first = tcp
        .write_all(b"GET /api/registry/agents HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await;
    let _ = started.send(()).await;
    if first.is_err() {
        return true;
    }
    let mut buf = [0u8; 512];
    for i in 0..60 {
        tokio::select! {
            read = tcp.read(&mut buf) => match read {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue, // a 408 or similar before the close
            },
            _ = tokio::time::sleep(Duration::from_millis(300)) => {
                let line = format!("X-Slow-{i}: 1\r\n");
                if tcp.write_all(line.as_bytes()).await.is_err() {
                    return true;
                }
            }
        }
    }
    false
}

#[tokio::test]
async fn slow_header_sockets_are_closed_and_normal_clients_are_served_meanwhile() {
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_alice": {"peer_id": "alice-sidecar"}}})),
        env: vec![("HEADER_READ_TIMEOUT_SECS".into(), "2".into())],
        max_open_files: Some(OPEN_FILES),
        ..Default::default()
    });
    let mut slow = JoinSet::new();
    let (started_tx, mut started) = mpsc::channel(SLOW);
    for _ in 0..SLOW {
        slow.spawn(dribble(reg.port, started_tx.clone()));
    }
    // Every slow socket has connected and started dribbling.
    for n in 0..SLOW {
        tokio::time::timeout(Duration::from_secs(10), started.recv())
            .await
            .unwrap_or_else(|_| panic!("only {n} slow sockets started"));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for i in 0..5 {
        let resp = client
            .post(reg.url("/api/token"))
            .header("x-api-key", "ak_alice")
            .send()
            .await
            .unwrap_or_else(|e| panic!("token request {i} while {SLOW} sockets dribble: {e}"));
        assert_eq!(resp.status(), StatusCode::OK, "token request {i}");
        let (status, _) = call(&reg, Method::GET, "/api/registry/agents", Cred::Admin, None).await;
        assert_eq!(status, StatusCode::OK, "REST request {i}");
    }
    // Every slow socket is closed by the server, well within the test's bound.
    let all_closed = tokio::time::timeout(Duration::from_secs(20), async {
        let mut open = 0;
        while let Some(closed) = slow.join_next().await {
            if !matches!(closed, Ok(true)) {
                open += 1;
            }
        }
        open
    })
    .await;
    assert_eq!(all_closed, Ok(0), "slow sockets the server never closed");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let reg = RegistryProcess::start(RegistryOptions {
        env: vec![("HEADER_READ_TIMEOUT_SECS".into(), "1".into())],
        ..Default::default()
    });
    let mut tcp = TcpStream::connect(("127.0.0.1", reg.port))
        .await
        .expect("connect");
    tcp.write_all(b"GET /.well-known/agent.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("request");
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the idle connection is closed within 10 s");
    assert!(closed.starts_with(b"HTTP/1.1 200"), "answered first");
}

#[tokio::test]
async fn a_silent_signaling_socket_is_closed_and_a_live_one_is_kept() {
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_alice": {"peer_id": "alice-sidecar"},
            "ak_bob": {"peer_id": "bob-sidecar"},
        }})),
        env: vec![("WS_IDLE_TIMEOUT_SECS".into(), "1".into())],
        ..Default::default()
    });
    let token = |key: &'static str| {
        let reg = &reg;
        async move {
            let (_, body) = call(reg, Method::POST, "/api/token", Cred::ApiKey(key), None).await;
            body["token"].as_str().expect("token").to_owned()
        }
    };
    let mut silent =
        SignalClient::connect(&reg.ws_url(), &token("ak_alice").await, "alice-sidecar")
            .await
            .expect("alice connects");
    let mut live = SignalClient::connect(&reg.ws_url(), &token("ak_bob").await, "bob-sidecar")
        .await
        .expect("bob connects");
    live.register("native").await.expect("bob registers");
    // bob keeps reading (and so answers the registry's pings) for three idle periods; alice
    // reads nothing, so her pongs never go out.
    let reading = live.next_frame(Duration::from_secs(3)).await;
    assert!(
        reading.is_err_and(|e| e.to_string().contains("no frame within")),
        "bob's socket stayed open and quiet"
    );
    // (Its close frame may be lost behind the pongs it now tries to send: any close counts.)
    assert!(
        silent.closed_within(Duration::from_secs(5)).await,
        "alice's silent socket was closed as idle"
    );
    live.register("native").await.expect("bob is still served");
}

#[tokio::test]
async fn a_replaced_connection_stuck_on_a_peer_that_stopped_reading_frees_its_slot() {
    let reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {
            "ak_alice": {"peer_id": "alice-sidecar"},
            "ak_bob": {"peer_id": "bob-sidecar"},
            "ak_carol": {"peer_id": "carol-sidecar"},
        }})),
        env: vec![("MAX_WS_CONNECTIONS".into(), "3".into())],
        ..Default::default()
    });
    let token = |key: &'static str| {
        let reg = &reg;
        async move {
            let (_, body) = call(reg, Method::POST, "/api/token", Cred::ApiKey(key), None).await;
            body["token"].as_str().expect("token").to_owned()
        }
    };
    let connect = |key: &'static str, peer: &'static str| {
        let (reg, token) = (&reg, &token);
        async move { SignalClient::connect(&reg.ws_url(), &token(key).await, peer).await }
    };
    // alice registers, then reads nothing more.
    let mut stalled = connect("ak_alice", "alice-sidecar").await.expect("alice");
    // (She takes mesh messages through the registry: the relay tier, ADR 0010.)
    let register = json!({"kind": "native", "registry_tier": true});
    stalled
        .send("register", None, register.clone())
        .await
        .expect("alice registers");
    stalled
        .expect("peer_list")
        .await
        .expect("alice's peer list");
    let mut bob = connect("ak_bob", "bob-sidecar").await.expect("bob");
    bob.register("native").await.expect("bob registers");

    // bob fills alice's socket and then her queue, until the registry says she is not
    // keeping up: her connection's writer is then stuck on a write that does not end.
    let filler = "x".repeat(60 * 1024);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut refusals = std::collections::BTreeSet::new();
    'flood: loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice's queue never filled; bob heard: {refusals:?}"
        );
        for _ in 0..50 {
            let payload = json!({"type": "chat", "request_id": "", "payload": {"fill": filler}});
            bob.send("mesh_message", Some("alice-sidecar"), payload)
                .await
                .expect("bob sends");
        }
        while let Ok(frame) = bob.next_frame(Duration::from_millis(20)).await {
            let message = frame["payload"]["message"].as_str().unwrap_or_default();
            if message.contains("not keeping up") {
                break 'flood;
            }
            refusals.insert(message.to_owned());
        }
    }

    // alice comes back on a new connection: the stuck one is replaced (killed). It must end
    // and free its slot although its writer can never finish.
    let mut alice = connect("ak_alice", "alice-sidecar")
        .await
        .expect("alice again");
    alice
        .register("native")
        .await
        .expect("alice registers again");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut carol = loop {
        match connect("ak_carol", "carol-sidecar").await {
            Ok(carol) => break carol,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the replaced connection still holds its slot: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let peers = carol.register("native").await.expect("carol registers");
    assert!(peers.contains(&"alice-sidecar".to_owned()), "{peers:?}");
    drop(stalled);
}
