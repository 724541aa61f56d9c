//! `RegistryCluster`: registries that act as one (ADR 0024) — a PostgreSQL database they share
//! ([`TestCluster`]: the run's, or one of its own), a three-node [`NatsCluster`], and `n`
//! registry processes started with both.

use crate::{nats::NatsCluster, postgres::TestCluster, RegistryOptions, RegistryProcess};
use serde_json::Value;

/// PostgreSQL, NATS and the registries sharing both.
pub struct RegistryCluster {
    /// The registries, in start order.
    pub registries: Vec<RegistryProcess>,
    /// The NATS servers.
    pub nats: NatsCluster,
    /// The shared database's cluster.
    pub pg: TestCluster,
    url: String,
    /// Names the shared database (and holds its marker); removed on drop.
    _db_dir: crate::bins::RemovedOnDrop,
    keys: Value,
    env: Vec<(String, String)>,
    hub: Option<std::path::PathBuf>,
}

impl RegistryCluster {
    /// Starts `n` registries with these API keys and extra environment.
    pub fn start(n: usize, keys: Value, env: &[(&str, &str)]) -> Self {
        Self::start_serving(n, keys, env, None)
    }

    /// [`start`](Self::start), each registry serving the hub from `hub` (trunk's `dist/`).
    pub fn start_serving(
        n: usize,
        keys: Value,
        env: &[(&str, &str)],
        hub: Option<std::path::PathBuf>,
    ) -> Self {
        let pg = TestCluster::shared_or_start();
        let nats = NatsCluster::start(3);
        let shared = crate::bins::temp_dir("cluster-db");
        let url = pg.database_url(&shared);
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.push(("NATS_URL".into(), nats.urls()));
        let mut cluster = Self {
            registries: Vec::new(),
            nats,
            pg,
            url,
            _db_dir: crate::bins::RemovedOnDrop(shared),
            keys,
            env,
            hub,
        };
        for _ in 0..n {
            cluster.add();
        }
        cluster
    }

    /// The first three registries.
    pub fn trio(&self) -> [&RegistryProcess; 3] {
        [
            &self.registries[0],
            &self.registries[1],
            &self.registries[2],
        ]
    }

    /// Starts one more registry in the cluster; its index.
    pub fn add(&mut self) -> usize {
        self.registries
            .push(RegistryProcess::start(RegistryOptions {
                api_keys: Some(self.keys.clone()),
                database_url: Some(self.url.clone()),
                env: self.env.clone(),
                hub_dist_dir: self.hub.clone(),
                ..Default::default()
            }));
        self.registries.len() - 1
    }
}
