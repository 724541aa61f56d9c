//! The store under a long history (issue 15): hub-stream update latency and signaling relay
//! throughput with an empty store, then with 100,000 finished tasks (three timeline steps
//! each) in it — on SQLite, and on PostgreSQL (a throwaway cluster). Release mode:
//!
//! ```text
//! cargo build --release -p meshwork-registry -p meshwork-tests --bins
//! target/release/bench_store [--tasks N] [--updates N] [--seconds S]
//! ```

use meshwork_tests::{
    cli::Flag,
    postgres::TestCluster,
    registry::ADMIN_TOKEN,
    relay_load::{bench_env, keys, throughput},
    stats::percentile,
    RegistryOptions, RegistryProcess, SignalClient,
};
use std::{
    path::Path,
    time::{Duration, Instant},
};

/// Finished tasks, as the registry would have left them, written straight into the tables.
/// Last changed an hour ago: inside the retention, so maintenance keeps them.
fn history_sql(n: usize, now: f64) -> [String; 2] {
    let t = now - 3600.0;
    [
        format!(
            "INSERT INTO tasks (id, skill, target_agent_id, source_agent_id, assigned_agent_id, \
             payload, state, result, error, created_at, updated_at, ttl) \
             SELECT 'old-' || i, 'echo', 'agent', 'hub', 'agent', '{{}}', 'completed', \
             'a result of some length, as agents write them', '', {t} + i * 0.001, \
             {t} + i * 0.001 + 1, 300 FROM n"
        ),
        format!(
            "INSERT INTO task_steps (task_id, at, state, via, note) \
             SELECT 'old-' || i, {t} + i * 0.001, s.state, s.via, s.note FROM n, \
             (SELECT 'pending' AS state, '' AS via, 'queued' AS note \
              UNION ALL SELECT 'assigned', 'mesh', 'sent to agent-sidecar' \
              UNION ALL SELECT 'completed', '', 'answered over the mesh') AS s"
        ),
    ]
    .map(|sql| sql.replace("FROM n", &format!("FROM n{n}")))
}

fn fill_sqlite(data_dir: &Path, n: usize, now: f64) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(data_dir.join("registry.db"))?;
    let numbers = format!(
        "WITH RECURSIVE n{n}(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n{n} WHERE i < {n}) "
    );
    for sql in history_sql(n, now) {
        conn.execute_batch(&format!("{numbers}{sql}"))?;
    }
    Ok(())
}

fn fill_postgres(url: &str, n: usize, now: f64) -> anyhow::Result<()> {
    let numbers = format!("WITH n{n}(i) AS (SELECT generate_series(1, {n})) ");
    let analyze = ["VACUUM ANALYZE".to_owned()];
    for sql in history_sql(n, now).iter().chain(&analyze) {
        let numbers = if sql == "VACUUM ANALYZE" {
            ""
        } else {
            numbers.as_str()
        };
        let out = std::process::Command::new("psql")
            .arg("-d")
            .arg(url)
            .arg("-qc")
            .arg(format!("{numbers}{sql}"))
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Tasks created one at a time; milliseconds from the create call to the stream's update.
async fn stream_latency(reg: &RegistryProcess, updates: usize) -> anyhow::Result<Vec<f64>> {
    let url = format!("ws://127.0.0.1:{}/api/hub/stream", reg.port);
    let (mut stream, _) = SignalClient::connect_subprotocol(&url, ADMIN_TOKEN, "hub").await?;
    stream.expect("snapshot").await?;
    let http = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(updates);
    for i in 0..updates + 20 {
        let start = Instant::now();
        let created: serde_json::Value = http
            .post(reg.url("/api/hub/tasks"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({"skill": "echo", "target_agent_id": "nobody", "payload": {}}))
            .send()
            .await?
            .json()
            .await?;
        let id = created["task_id"].as_str().unwrap_or_default().to_owned();
        loop {
            let update = stream.next_frame(Duration::from_secs(10)).await?;
            let tasks = update["tasks"].as_array().cloned().unwrap_or_default();
            if update["type"] == "tasks_changed" && tasks.iter().any(|t| t["id"] == id.as_str()) {
                break;
            }
        }
        if i >= 20 {
            latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(latencies)
}

struct Figures {
    stream_p50: f64,
    stream_p99: f64,
    relay: f64,
}

async fn measure(
    reg: &RegistryProcess,
    updates: usize,
    seconds: u64,
    run: usize,
) -> anyhow::Result<Figures> {
    let mut lat = stream_latency(reg, updates).await?;
    let relay = throughput(reg, reg, run * 2, 1, seconds).await?;
    Ok(Figures {
        stream_p50: percentile(&mut lat, 50.0),
        stream_p99: percentile(&mut lat, 99.0),
        relay,
    })
}

fn print(label: &str, f: &Figures) {
    println!(
        "{label:<26} hub-stream update p50 {:.2} ms, p99 {:.2} ms; relay {:.0} msgs/s",
        f.stream_p50, f.stream_p99, f.relay
    );
}

fn start(data_dir: Option<std::path::PathBuf>, url: Option<String>) -> RegistryProcess {
    let mut env: Vec<(String, String)> = bench_env()
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    env.push(("TASK_CREATE_PER_MIN".into(), "1000000".into()));
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys(16)),
        data_dir,
        database_url: url,
        sqlite: true,
        env,
        ..Default::default()
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = meshwork_tests::cli::parse(
        "The store under a long history: hub-stream latency and relay throughput, empty vs full.",
        &[
            Flag {
                name: "--tasks",
                value: "N",
                help: "finished tasks in the full store (100000)",
            },
            Flag {
                name: "--updates",
                value: "N",
                help: "task updates timed per run (300)",
            },
            Flag {
                name: "--seconds",
                value: "S",
                help: "seconds per relay run (5)",
            },
        ],
    );
    let n: usize = args.get("--tasks", 100_000);
    let updates: usize = args.get("--updates", 300);
    let seconds: u64 = args.get("--seconds", 5);
    println!("# meshwork store benchmark: {n} finished tasks vs an empty store");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);

    let reg = start(None, None);
    let empty = measure(&reg, updates, seconds, 0).await?;
    let dir = reg.kill9();
    let filled = Instant::now();
    fill_sqlite(&dir, n, now)?;
    let took = filled.elapsed();
    let reg = start(Some(dir), None);
    let full = measure(&reg, updates, seconds, 1).await?;
    println!("## SQLite (filled in {:.1} s)", took.as_secs_f64());
    print("empty store", &empty);
    print(&format!("{n} finished tasks"), &full);
    drop(reg);

    let pg = TestCluster::shared_or_start();
    let dir = meshwork_tests::bins::temp_dir("bench-store");
    let url = pg.database_url(&dir);
    let reg = start(None, Some(url.clone()));
    let empty = measure(&reg, updates, seconds, 2).await?;
    let filled = Instant::now();
    fill_postgres(&url, n, now)?;
    let took = filled.elapsed();
    let full = measure(&reg, updates, seconds, 3).await?;
    println!("## PostgreSQL (filled in {:.1} s)", took.as_secs_f64());
    print("empty store", &empty);
    print(&format!("{n} finished tasks"), &full);
    Ok(())
}
