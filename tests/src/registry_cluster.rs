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
    keys: Value,
    env: Vec<(String, String)>,
}

impl RegistryCluster {
    /// Starts `n` registries with these API keys and extra environment.
    pub fn start(n: usize, keys: Value, env: &[(&str, &str)]) -> Self {
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
            keys,
            env,
        };
        for _ in 0..n {
            cluster.add();
        }
        cluster
    }

    /// Starts one more registry in the cluster; its index.
    pub fn add(&mut self) -> usize {
        self.registries
            .push(RegistryProcess::start(RegistryOptions {
                api_keys: Some(self.keys.clone()),
                database_url: Some(self.url.clone()),
                env: self.env.clone(),
                ..Default::default()
            }));
        self.registries.len() - 1
    }
}
