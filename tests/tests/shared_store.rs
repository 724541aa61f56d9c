//! Registries that share one PostgreSQL database (issue 15, ADR 0023): they act as one store.
//! A task is handed out once however many registries answer its agent's heartbeats, secrets
//! (the JWT signing key, the admin token, the dev key) are the same on every instance, and
//! a task created on one is read, assigned and finished on another.
//!
//! These tests need the PostgreSQL run of the suite (`MESHWORK_TEST_POSTGRES`, set by
//! `scripts/test.sh`); with the embedded SQLite there is nothing to share, and they say so.

use meshwork_tests::{
    http::{call, Cred},
    postgres, RegistryOptions, RegistryProcess,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::{
    collections::BTreeSet,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

const TASKS: usize = 120;

fn keys() -> Value {
    json!({"keys": {"ak_alice": {"peer_id": "alice"}}})
}

/// Two registries on one database, or `None` (with a note) in an SQLite run.
fn pair() -> Option<(RegistryProcess, RegistryProcess)> {
    if postgres::test_cluster().is_none() {
        eprintln!(
            "needs the PostgreSQL run ({}); nothing to share on SQLite",
            postgres::ENV
        );
        return None;
    }
    let a = RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        ..Default::default()
    });
    let b = RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys()),
        database_of: Some(a.data_dir.clone()),
        ..Default::default()
    });
    Some((a, b))
}

async fn create(reg: &RegistryProcess, n: usize) -> String {
    let body = json!({"skill": "echo", "target_agent_id": "alice-agent", "payload": {"n": n}});
    let (status, resp) = call(reg, Method::POST, "/api/hub/tasks", Cred::Admin, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "create on {}: {resp}", reg.base_url);
    resp["task_id"].as_str().expect("task_id").to_owned()
}

/// Heartbeats alice's agent on `reg`; the ids of the tasks handed over.
async fn heartbeat(reg: &RegistryProcess) -> Vec<String> {
    let hb = json!({"agent_id": "alice-agent", "skill_names": ["echo"]});
    let (status, resp) = call(
        reg,
        Method::POST,
        "/api/hub/heartbeat",
        Cred::ApiKey("ak_alice"),
        Some(hb),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "heartbeat on {}: {resp}",
        reg.base_url
    );
    resp["pending_tasks"]
        .as_array()
        .expect("pending_tasks")
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn two_registries_never_hand_out_one_task_twice() {
    let Some((a, b)) = pair() else { return };
    let created = AtomicBool::new(false);
    // Heartbeats on both registries race each other the whole time tasks are being created.
    let poll = |reg: &'static str| {
        let reg = if reg == "a" { &a } else { &b };
        let created = &created;
        async move {
            let mut got = Vec::new();
            loop {
                let all_created = created.load(Ordering::SeqCst);
                let handed = heartbeat(reg).await;
                let quiet = handed.is_empty();
                got.extend(handed);
                if quiet && all_created {
                    return got;
                }
            }
        }
    };
    let create_all = async {
        let mut ids = BTreeSet::new();
        for n in 0..TASKS {
            let reg = if n % 2 == 0 { &a } else { &b };
            ids.insert(create(reg, n).await);
        }
        created.store(true, Ordering::SeqCst);
        ids
    };
    let (got_a, got_b, ids) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(poll("a"), poll("b"), create_all)
    })
    .await
    .expect("the heartbeats finish");
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "both registries handed tasks out"
    );
    let handed: Vec<String> = got_a.into_iter().chain(got_b).collect();
    let unique: BTreeSet<String> = handed.iter().cloned().collect();
    assert_eq!(unique.len(), handed.len(), "a task was handed out twice");
    assert_eq!(unique, ids, "every task handed out exactly once");
}

#[tokio::test]
async fn a_task_created_on_one_registry_is_finished_on_another() {
    let Some((a, b)) = pair() else { return };
    let id = create(&a, 1).await;
    assert_eq!(heartbeat(&b).await, std::slice::from_ref(&id));
    let done = json!({"state": "completed", "result": "## done"});
    let path = format!("/api/hub/tasks/{id}");
    let (status, resp) = call(
        &b,
        Method::POST,
        &path,
        Cred::ApiKey("ak_alice"),
        Some(done),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let (status, task) = call(&a, Method::GET, &path, Cred::Admin, None).await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(task["state"], "completed");
    assert_eq!(task["result"], "## done");
    let states: Vec<&str> = task["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    assert_eq!(states, ["pending", "assigned", "completed"]);
}

#[tokio::test]
async fn a_token_from_one_registry_is_good_on_another() {
    let Some((a, b)) = pair() else { return };
    let (status, token) = call(
        &a,
        Method::POST,
        "/api/token",
        Cred::ApiKey("ak_alice"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let jwt = token["token"].as_str().expect("token");
    let (status, agents) = call(
        &b,
        Method::GET,
        "/api/registry/agents",
        Cred::Bearer(jwt),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "b accepts a's token: {agents}");
}
