//! `RegistryProcess`: the real `meshwork-registry` binary as a child process on an ephemeral
//! loopback port, with its own data dir. Dropping it kills the process and removes the dir.
//! With `MESHWORK_TEST_POSTGRES` set its state goes to a PostgreSQL database of its own instead
//! of the embedded SQLite (see [`crate::postgres`]).

use crate::{
    bins::{bin_path, temp_dir},
    postgres,
};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::Duration,
};

/// How to start a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Contents of an `api_keys.json` to write and pass as `API_KEYS_FILE`.
    pub api_keys: Option<Value>,
    /// `--dev`.
    pub dev: bool,
    /// `MESHWORK_COMPAT=chatixia`.
    pub compat_chatixia: bool,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Reuse this data dir (restart tests) instead of a fresh one.
    pub data_dir: Option<PathBuf>,
    /// Fixed port (restart tests); 0 picks one.
    pub port: u16,
    /// Serve the hub from here (default: a directory that does not exist).
    pub hub_dist_dir: Option<PathBuf>,
    /// Keep what it writes to stderr (its log) for [`RegistryProcess::log`] instead of
    /// passing it through.
    pub capture_log: bool,
    /// Run it under this open-file limit (`prlimit --nofile`).
    pub max_open_files: Option<u32>,
    /// Always on the embedded SQLite file, even in a PostgreSQL run: for tests about that
    /// file itself (its permissions).
    pub sqlite: bool,
    /// In a PostgreSQL run, share the database of the registry on this data dir (registries
    /// that act as one); ignored with SQLite.
    pub database_of: Option<PathBuf>,
    /// This `--database-url`, whatever the run's backend.
    pub database_url: Option<String>,
}

/// The admin token every test registry uses.
pub const ADMIN_TOKEN: &str = "adm_test_token";

/// A running registry.
pub struct RegistryProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The port it listens on.
    pub port: u16,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// Lines it printed after the first (banner).
    pub banner: Vec<String>,
    log: Arc<Mutex<Vec<String>>>,
    keep_data: bool,
}

impl RegistryProcess {
    /// Starts a registry and waits (10 s at most) until it listens.
    pub fn start(opts: RegistryOptions) -> Self {
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| temp_dir("registry"));
        let mut cmd = match opts.max_open_files {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(bin_path("meshwork-registry"));
                c
            }
            None => Command::new(bin_path("meshwork-registry")),
        };
        cmd.arg("--port")
            .arg(opts.port.to_string())
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--hub-dist-dir")
            .arg(
                opts.hub_dist_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("no-hub")),
            )
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(if opts.capture_log {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });
        for var in [
            "PORT",
            "API_KEYS_FILE",
            "SIGNALING_SECRET",
            "MESHWORK_COMPAT",
            "MESHWORK_DEV",
            "DATABASE_URL",
            "NATS_URL",
        ] {
            cmd.env_remove(var);
        }
        let url = opts.database_url.clone().or_else(|| {
            (!opts.sqlite)
                .then(|| {
                    postgres::database_url_for(opts.database_of.as_deref().unwrap_or(&data_dir))
                })
                .flatten()
        });
        if let Some(url) = url {
            cmd.arg("--database-url").arg(url);
        }
        if let Some(keys) = &opts.api_keys {
            let path = data_dir.join("api_keys.json");
            std::fs::write(&path, keys.to_string()).expect("writing api_keys.json");
            cmd.arg("--api-keys-file").arg(path);
        }
        if opts.dev {
            cmd.arg("--dev");
        }
        if opts.compat_chatixia {
            cmd.env("MESHWORK_COMPAT", "chatixia");
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawning meshwork-registry");
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("registry did not print its address within 10 s (exit: {status:?})");
            }
        };
        let base_url = first
            .strip_prefix("meshwork-registry listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        let port = base_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        let mut banner = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let hub = line.contains("hub: ");
            banner.push(line);
            if hub {
                break;
            }
        }
        Self {
            child: Some(child),
            base_url,
            port,
            data_dir,
            banner,
            log,
            keep_data: false,
        }
    }

    /// The log lines written so far (with [`RegistryOptions::capture_log`]).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Where the registry's store still holds `needle` (ASCII letters, digits and `-`): with
    /// SQLite, the `registry.db*` files holding those bytes anywhere (free pages and WAL
    /// included); with PostgreSQL, the `memory_events` rows holding it, by id (PostgreSQL's
    /// own files are the database operator's: ADR 0023).
    pub fn stored_copies_of(&self, needle: &str) -> Vec<String> {
        assert!(
            needle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "a plain marker, safe to quote: {needle:?}"
        );
        let sql = format!(
            "SELECT id FROM memory_events \
             WHERE strpos(header, '{needle}') > 0 OR strpos(COALESCE(body, ''), '{needle}') > 0"
        );
        match postgres::query(&self.data_dir, &sql) {
            Some(rows) => rows.lines().map(str::to_owned).collect(),
            None => crate::bins::files_containing(&self.data_dir, "registry.db", needle),
        }
    }

    /// `ws://127.0.0.1:PORT/ws`.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base_url.replacen("http://", "ws://", 1))
    }

    /// A URL under the registry.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// SIGKILL, keeping the data dir for a restart (pass it back in [`RegistryOptions`]; the
    /// registry started on it removes it). A crash that is not restarted is `drop`.
    #[must_use = "the data dir is kept for a restart; drop the registry to crash it for good"]
    pub fn kill9(mut self) -> PathBuf {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.keep_data = true;
        self.data_dir.clone()
    }

    /// SIGTERM and wait for a clean exit; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.keep_data {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}
