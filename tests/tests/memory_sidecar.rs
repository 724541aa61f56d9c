//! The shared memory through a real sidecar's IPC socket (PROTOCOL.md §6): every command and
//! reply, the errors, reads at a version, durability across SIGKILL, forget leaving no copy on
//! disk, the `memory` subcommands, and a sidecar answering without its registry.

use meshwork_tests::{
    bins::bin_path,
    memory_ipc::{call, get, ok, put},
    sidecar::EVENT_TIMEOUT,
    IpcClient, RegistryOptions, RegistryProcess, SidecarProcess,
};
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

fn registry() -> RegistryProcess {
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(
            json!({"keys": {"ak_alice": {"peer_id": "alice"}, "ak_bob": {"peer_id": "bob"}}}),
        ),
        ..Default::default()
    })
}

/// The data dir `SidecarProcess` gives `peer` under `reg`.
fn data_dir(reg: &RegistryProcess, peer: &str) -> PathBuf {
    reg.data_dir.join("peer-data").join(peer)
}

/// A registry that is not there: a closed loopback port.
const NO_REGISTRY: [(&str, &str); 3] = [
    ("SIGNALING_URL", "ws://127.0.0.1:1/ws"),
    ("TOKEN_URL", "http://127.0.0.1:1/api/token"),
    ("MESHWORK_KEEP_ALIVE", "1"),
];

/// An agent on a sidecar that has its token (the registry answered): `list_peers` is
/// answered only once the mesh runs.
async fn joined(car: &SidecarProcess) -> IpcClient {
    let mut ipc = car.ipc().await;
    ipc.list_peers().await;
    ipc
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn put_get_list_history_round_trip_as_specified() {
    let reg = registry();
    let car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut ipc = joined(&car).await;

    let written = put(&mut ipc, "notes/a", json!({"text": "hello", "n": 1})).await;
    assert_eq!(keys(&written), ["id", "key", "request_id", "version"]);
    assert_eq!(written["key"], "notes/a");
    assert_eq!(written["version"], json!({"alice": 1}));
    let id = written["id"].as_str().expect("id");
    assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()));

    let links = json!({"key": "notes/b", "value": [1, 2], "derived_from": [id]});
    ok(&mut ipc, "memory_put", links, "memory_written").await;

    let value = get(&mut ipc, "notes/a").await;
    assert_eq!(
        keys(&value),
        [
            "author",
            "conflicts",
            "derived_from",
            "found",
            "id",
            "key",
            "request_id",
            "value",
            "version",
            "written_at"
        ]
    );
    assert_eq!(value["found"], true);
    assert_eq!(value["value"], json!({"text": "hello", "n": 1}));
    assert_eq!(value["id"], id);
    assert_eq!(value["author"], "alice");
    assert_eq!(value["conflicts"], json!([]));
    assert_eq!(value["version"], json!({"alice": 2}));
    let written_at = value["written_at"].as_str().expect("written_at");
    assert!(
        written_at.ends_with('Z') && written_at.contains('T'),
        "{written_at}"
    );
    assert_eq!(get(&mut ipc, "notes/b").await["derived_from"], json!([id]));

    let missing = get(&mut ipc, "notes/zzz").await;
    assert_eq!(missing["found"], false);
    assert_eq!(missing["value"], Value::Null);

    put(&mut ipc, "other/c", json!("c")).await;
    let list = ok(
        &mut ipc,
        "memory_list",
        json!({"prefix": "notes/"}),
        "memory_values",
    )
    .await;
    assert_eq!(keys(&list), ["items", "request_id", "version"]);
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["key"], "notes/a");
    assert_eq!(items[1]["key"], "notes/b");
    assert_eq!(
        keys(&items[0]),
        ["author", "conflicts", "id", "key", "value", "written_at"]
    );
    assert_eq!(items[0]["conflicts"], 0);
    let limited = json!({"prefix": "", "limit": 1});
    let limited = ok(&mut ipc, "memory_list", limited, "memory_values").await;
    assert_eq!(limited["items"].as_array().map(Vec::len), Some(1));

    put(&mut ipc, "notes/a", json!("second")).await;
    let history = ok(
        &mut ipc,
        "memory_history",
        json!({"key": "notes/a"}),
        "memory_history",
    )
    .await;
    assert_eq!(keys(&history), ["events", "key", "request_id"]);
    let events = history["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    assert_eq!(
        keys(&events[0]),
        [
            "author",
            "derived_from",
            "forgotten",
            "id",
            "kind",
            "supersedes",
            "value",
            "written_at"
        ]
    );
    assert_eq!(events[0]["value"], json!({"text": "hello", "n": 1}));
    assert_eq!(events[1]["value"], "second");
    assert_eq!(events[1]["kind"], "put");
    assert_eq!(events[1]["forgotten"], false);
}

#[tokio::test]
async fn bad_keys_values_and_versions_get_errors_with_the_request_id_and_write_nothing() {
    let reg = registry();
    let car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut ipc = joined(&car).await;
    let big = "x".repeat(256 * 1024);
    let bad = [
        ("memory_put", json!({"key": "", "value": 1}), "empty"),
        (
            "memory_put",
            json!({"key": "k".repeat(513), "value": 1}),
            "513",
        ),
        ("memory_put", json!({"key": "k", "value": big}), "limit"),
        ("memory_put", json!({"key": "k"}), "value"),
        ("memory_put", json!({"key": 7, "value": 1}), "malformed"),
        (
            "memory_put",
            json!({"key": "k", "value": 1, "supersedes": ["nope"]}),
            "hex",
        ),
        ("memory_forget", json!({"key": ""}), "empty"),
        ("memory_get", json!({"key": ""}), "empty"),
        (
            "memory_get",
            json!({"key": "k", "at": "yesterday"}),
            "malformed",
        ),
        (
            "memory_get",
            json!({"key": "k", "at": {"alice": -1}}),
            "malformed",
        ),
        ("memory_list", json!({"prefix": "", "at": [1]}), "malformed"),
        ("memory_history", json!({"key": "k".repeat(600)}), "600"),
    ];
    for (kind, payload, says) in bad {
        let reply = call(&mut ipc, kind, payload.clone()).await;
        assert_eq!(reply["type"], "error", "{kind} {payload}: {reply}");
        let message = reply["payload"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{kind}: {message:?} lacks {says:?}");
    }
    let list = ok(
        &mut ipc,
        "memory_list",
        json!({"prefix": ""}),
        "memory_values",
    )
    .await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(list["version"], json!({}));
    // A value of exactly the limit's size is fine: 256 KiB of encoding, quotes included.
    let fits = "y".repeat(256 * 1024 - 2);
    put(&mut ipc, "k", json!(fits)).await;
    // The mesh commands still answer as before.
    ipc.send(json!({"type": "nonsense", "payload": {}})).await;
    let error = ipc
        .wait_for("error", EVENT_TIMEOUT, |e| e["type"] == "error")
        .await;
    assert!(error["payload"].get("request_id").is_none(), "{error}");
}

#[tokio::test]
async fn a_read_at_a_version_is_the_same_after_later_writes() {
    let reg = registry();
    let car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut ipc = joined(&car).await;
    put(&mut ipc, "doc/a", json!(1)).await;
    put(&mut ipc, "doc/b", json!("b1")).await;
    let first = get(&mut ipc, "doc/a").await;
    let cut = first["version"].clone();
    let listed = ok(
        &mut ipc,
        "memory_list",
        json!({"prefix": "doc/"}),
        "memory_values",
    )
    .await;

    put(&mut ipc, "doc/a", json!(2)).await;
    put(&mut ipc, "doc/c", json!("new")).await;
    assert_eq!(get(&mut ipc, "doc/a").await["value"], 2);

    let again = ok(
        &mut ipc,
        "memory_get",
        json!({"key": "doc/a", "at": cut}),
        "memory_value",
    )
    .await;
    assert_eq!(again["value"], 1);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["version"], cut);
    let at = json!({"prefix": "doc/", "at": cut});
    let relisted = ok(&mut ipc, "memory_list", at, "memory_values").await;
    assert_eq!(relisted["items"], listed["items"]);
}

#[tokio::test]
async fn a_value_written_survives_sigkill_right_after_the_reply() {
    let reg = registry();
    let mut car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut ipc = joined(&car).await;
    for n in 0..5 {
        put(&mut ipc, &format!("durable/{n}"), json!({"n": n})).await;
    }
    let written = put(&mut ipc, "durable/last", json!("kept")).await;
    car.kill9();

    let car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut ipc = car.ipc().await;
    let value = get(&mut ipc, "durable/last").await;
    assert_eq!(value["found"], true, "{value}");
    assert_eq!(value["value"], "kept");
    assert_eq!(value["id"], written["id"]);
    let list = ok(
        &mut ipc,
        "memory_list",
        json!({"prefix": "durable/"}),
        "memory_values",
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(6));
    // The chain goes on after a restart (no second event with the same seq).
    let next = put(&mut ipc, "durable/after", json!(1)).await;
    assert_eq!(next["version"], json!({"alice": 7}));
}

#[tokio::test]
async fn forget_erases_the_value_from_replies_and_from_the_files() {
    let reg = registry();
    let mut car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut ipc = joined(&car).await;
    let marker = "forget-me-7c1d2e9f0a";
    let big = format!("{marker}:{}", "z".repeat(50_000));
    let first = put(&mut ipc, "secret", json!({"token": marker})).await;
    put(&mut ipc, "secret", json!(big)).await;
    put(&mut ipc, "kept", json!("still-here")).await;
    let dir = data_dir(&reg, "alice");
    let files = || {
        ["memory.db", "memory.db-wal"]
            .map(|name| (name, std::fs::read(dir.join(name)).unwrap_or_default()))
    };
    // The search below can find the value: before the forget, it is on disk.
    assert!(files().iter().any(|(_, b)| contains(b, marker.as_bytes())));

    let forget = ok(
        &mut ipc,
        "memory_forget",
        json!({"key": "secret"}),
        "memory_written",
    )
    .await;
    assert_eq!(keys(&forget), ["id", "key", "request_id", "version"]);
    assert_eq!(forget["key"], "secret");

    let value = get(&mut ipc, "secret").await;
    assert_eq!(value["found"], false);
    assert_eq!(value["value"], Value::Null);
    let history = ok(
        &mut ipc,
        "memory_history",
        json!({"key": "secret"}),
        "memory_history",
    )
    .await;
    let events = history["events"].as_array().expect("events");
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["id"], first["id"]);
    for event in &events[..2] {
        assert_eq!(event["kind"], "put");
        assert_eq!(event["forgotten"], true);
        assert_eq!(event["value"], Value::Null);
        assert_eq!(event["author"], "alice");
        assert!(event["written_at"].is_string());
    }
    assert_eq!(events[2]["kind"], "forget");
    assert_eq!(events[2]["id"], forget["id"]);
    assert_eq!(get(&mut ipc, "kept").await["value"], "still-here");

    // While it runs (the erasure was checkpointed before the reply)…
    assert!(contains(&files()[0].1, b"still-here") || contains(&files()[1].1, b"still-here"));
    for (name, bytes) in files() {
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "{marker} still in {name}"
        );
    }
    // …and after a crash and a restart.
    car.kill9();
    for (name, bytes) in files() {
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "{marker} in {name} after kill"
        );
    }
    let car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut ipc = car.ipc().await;
    assert_eq!(get(&mut ipc, "secret").await["found"], false);
    assert_eq!(get(&mut ipc, "kept").await["value"], "still-here");
    // A put after the forget is a new live value.
    put(&mut ipc, "secret", json!("new")).await;
    assert_eq!(get(&mut ipc, "secret").await["value"], "new");
}

#[tokio::test]
async fn subscribers_hear_every_event_under_their_prefix() {
    let reg = registry();
    let car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut watcher = joined(&car).await;
    let mut writer = car.ipc().await;
    let subscribed = ok(
        &mut watcher,
        "memory_subscribe",
        json!({"prefix": "tasks/"}),
        "memory_subscribed",
    )
    .await;
    assert_eq!(keys(&subscribed), ["request_id"]);

    put(&mut writer, "other/x", json!("not for the watcher")).await;
    let written = put(&mut writer, "tasks/1", json!({"state": "open"})).await;
    let forgot = ok(
        &mut writer,
        "memory_forget",
        json!({"key": "tasks/1"}),
        "memory_written",
    )
    .await;

    let changed = |e: &Value| e["type"] == "memory_changed";
    let first = watcher
        .wait_for("memory_changed", EVENT_TIMEOUT, changed)
        .await;
    let payload = &first["payload"];
    assert_eq!(keys(payload), ["author", "id", "key", "kind", "value"]);
    assert_eq!(payload["key"], "tasks/1", "other/x is outside the prefix");
    assert_eq!(payload["id"], written["id"]);
    assert_eq!(payload["author"], "alice");
    assert_eq!(payload["kind"], "put");
    assert_eq!(payload["value"], json!({"state": "open"}));
    let second = watcher
        .wait_for("memory_changed", EVENT_TIMEOUT, changed)
        .await;
    assert_eq!(second["payload"]["id"], forgot["id"]);
    assert_eq!(second["payload"]["kind"], "forget");
    assert_eq!(second["payload"]["value"], Value::Null);
    // The writer did not subscribe: it got its replies only.
    let reply = call(&mut writer, "memory_get", json!({"key": "tasks/1"})).await;
    assert_eq!(reply["type"], "memory_value");
}

#[tokio::test]
async fn without_an_identity_key_writes_fail_and_reads_work() {
    let reg = registry();
    let env = [("MESHWORK_KEEP_ALIVE", "1"), ("MESHWORK_IDENTITY", "false")];
    let car = SidecarProcess::start_with(&reg, "ak_alice", "alice", &env);
    let mut ipc = joined(&car).await;
    let reply = call(&mut ipc, "memory_put", json!({"key": "k", "value": 1})).await;
    assert_eq!(reply["type"], "error");
    let message = reply["payload"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("this peer has no identity key"),
        "{message}"
    );
    assert_eq!(get(&mut ipc, "k").await["found"], false);
}

#[tokio::test]
async fn memory_answers_while_the_registry_is_unreachable() {
    let reg = registry();
    let mut car = SidecarProcess::start(&reg, "ak_alice", "alice");
    let mut ipc = joined(&car).await;
    put(&mut ipc, "offline/before", json!("from the first run")).await;
    assert!(car.terminate());

    // Same data dir, no registry: the token fetch never succeeds.
    let car = SidecarProcess::start_with(&reg, "ak_alice", "alice", &NO_REGISTRY);
    let mut ipc = car.ipc().await;
    let before = get(&mut ipc, "offline/before").await;
    assert_eq!(before["value"], "from the first run");
    let written = put(&mut ipc, "offline/during", json!({"ok": true})).await;
    assert_eq!(written["version"], json!({"alice": 2}));
    let list = ok(
        &mut ipc,
        "memory_list",
        json!({"prefix": "offline/"}),
        "memory_values",
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    let sub = json!({"prefix": "offline/"});
    ok(&mut ipc, "memory_subscribe", sub, "memory_subscribed").await;
    put(&mut ipc, "offline/again", json!(3)).await;
    let changed = ipc
        .wait_for("memory_changed", EVENT_TIMEOUT, |e| {
            e["type"] == "memory_changed"
        })
        .await;
    assert_eq!(changed["payload"]["key"], "offline/again");
}

/// Runs `meshwork-sidecar memory <args>` against `car`; returns its stdout as JSON.
fn cli(car: &SidecarProcess, args: &[&str]) -> Value {
    let out = Command::new(bin_path("meshwork-sidecar"))
        .arg("memory")
        .args(args)
        .env("IPC_SOCKET", &car.socket)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .expect("running meshwork-sidecar memory");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "memory {args:?}: {stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{stdout:?}: {e}"))
}

#[tokio::test]
async fn the_memory_subcommands_print_the_replies_as_json() {
    let reg = registry();
    let car = SidecarProcess::start(&reg, "ak_alice", "alice");
    joined(&car).await;
    let written = cli(&car, &["put", "cli/a", r#"{"x": 1}"#]);
    assert_eq!(written["key"], "cli/a");
    cli(&car, &["put", "cli/b", "plain text"]);
    let value = cli(&car, &["get", "cli/a"]);
    assert_eq!(value["value"], json!({"x": 1}));
    assert_eq!(value["id"], written["id"]);
    let cut = value["version"].to_string();
    cli(&car, &["put", "cli/a", "2"]);
    assert_eq!(cli(&car, &["get", "cli/a"])["value"], 2);
    assert_eq!(
        cli(&car, &["get", "cli/a", "--at", &cut])["value"],
        json!({"x": 1})
    );
    assert_eq!(cli(&car, &["get", "cli/b"])["value"], "plain text");
    let list = cli(&car, &["list", "cli/"]);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        cli(&car, &["history", "cli/a"])["events"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    cli(&car, &["forget", "cli/a"]);
    assert_eq!(cli(&car, &["get", "cli/a"])["found"], false);

    // An error is one line on stderr and a failing exit.
    let out = Command::new(bin_path("meshwork-sidecar"))
        .args(["memory", "put", "", "1"])
        .env("IPC_SOCKET", &car.socket)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("key is empty"));

    // `watch` prints each change under its prefix, one JSON line each.
    let mut watch = Command::new(bin_path("meshwork-sidecar"))
        .args(["memory", "watch", "cli/"])
        .env("IPC_SOCKET", &car.socket)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The watcher subscribes at its own pace: write until it reports a change.
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    let line = loop {
        cli(&car, &["put", "cli/w", "1"]);
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "watch printed nothing"
        );
    };
    let _ = watch.kill();
    let _ = watch.wait();
    let changed: Value = serde_json::from_str(&line).expect("JSON line");
    assert_eq!(changed["key"], "cli/w");
    assert_eq!(changed["kind"], "put");
}

#[tokio::test]
async fn mesh_commands_sent_before_the_registry_answers_are_handled_once_it_does() {
    let dirs = registry();
    // A port with nothing behind it yet; the registry comes up on it later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let signaling = format!("ws://127.0.0.1:{port}/ws");
    let token = format!("http://127.0.0.1:{port}/api/token");
    let env = [
        ("SIGNALING_URL", signaling.as_str()),
        ("TOKEN_URL", token.as_str()),
        ("MESHWORK_KEEP_ALIVE", "1"),
    ];
    let car = SidecarProcess::start_with(&dirs, "ak_alice", "alice", &env);
    let mut ipc = car.ipc().await;
    ipc.send(json!({"type": "list_peers", "payload": {}})).await;
    // A write in a data directory that was never named waits for the peer id (no error)...
    let early_put = json!({"request_id": "early-put", "key": "k", "value": "v"});
    ipc.send(json!({"type": "memory_put", "payload": early_put}))
        .await;
    // ...while a read, sent after it, is answered at once: its reply comes first.
    ipc.send(json!({"type": "memory_get", "payload": {"request_id": "early-get", "key": "k"}}))
        .await;
    let first = ipc
        .next_event(EVENT_TIMEOUT)
        .await
        .expect("the read is answered before the registry is up");
    assert_eq!(first["type"], "memory_value", "{first}");
    assert_eq!(first["payload"]["request_id"], "early-get");
    assert_eq!(first["payload"]["found"], false);

    let _reg = RegistryProcess::start(RegistryOptions {
        api_keys: Some(json!({"keys": {"ak_alice": {"peer_id": "alice"}}})),
        port,
        ..Default::default()
    });
    let list = ipc
        .wait_for("peer_list", Duration::from_secs(20), |e| {
            e["type"] == "peer_list"
        })
        .await;
    assert_eq!(list["payload"]["peers"], json!([]));
    // Now it knows its peer id: the waiting write is made as it, then later ones.
    let early = ipc
        .wait_for("the early write", EVENT_TIMEOUT, |e| {
            e["payload"]["request_id"] == "early-put"
        })
        .await;
    assert_eq!(early["type"], "memory_written", "{early}");
    assert_eq!(early["payload"]["version"], json!({"alice": 1}));
    let written = put(&mut ipc, "k2", json!("v2")).await;
    assert_eq!(written["version"], json!({"alice": 2}));
}
