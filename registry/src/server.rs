//! Startup: open the store, resolve secrets and keys, bind, print the hub URL, serve until
//! SIGINT/SIGTERM, then drain.

use crate::{
    auth::{
        admin::{self, AdminTokenSource},
        api_keys::{ApiKeys, KeysSource},
        jwt::JwtKeys,
        secrets::{credential_id, random_hex},
    },
    config::{Compat, Config},
    connections::{self, ConnLimits},
    events::Events,
    limits::Limits,
    maintenance,
    metrics::Metrics,
    pairing::DeviceTokens,
    routes::{self, CHATIXIA_OPEN_ROUTES},
    signaling::hub::SignalingHub,
    state::AppState,
};
use anyhow::Context;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// Upstream's well-known default secret; refused outside dev mode.
pub const UPSTREAM_DEFAULT_SECRET: &str = "dev-secret-change-me";

/// Builds the shared state from the configuration.
pub async fn build_state(config: Config) -> anyhow::Result<(Arc<AppState>, Vec<String>)> {
    let db = crate::store::open(config.database_url.as_deref(), &config.data_dir)
        .await
        .context("opening the registry database")?;
    let mut banner = Vec::new();

    let secret = match config.signaling_secret.as_deref().filter(|s| !s.is_empty()) {
        Some(s) if s == UPSTREAM_DEFAULT_SECRET && !config.dev => anyhow::bail!(
            "SIGNALING_SECRET is upstream's published default; set a real secret or pass --dev"
        ),
        Some(s) => s.to_owned(),
        None => {
            db.setting_or_insert("signaling_secret", random_hex(32))
                .await?
        }
    };

    let (api_keys, source) =
        ApiKeys::load(config.api_keys_file.as_deref(), config.dev, &*db, &secret).await?;
    if api_keys.short_keys() > 0 {
        tracing::warn!(
            short = api_keys.short_keys(),
            min_len = crate::auth::api_keys::MIN_KEY_LEN,
            "API keys shorter than the minimum are guessable; use long random keys"
        );
    }
    match source {
        KeysSource::File(path) => banner.push(format!("API keys: {} from {path}", api_keys.len())),
        KeysSource::DevKey { key, peer_id } => banner.push(format!(
            "dev API key: {key} (peer id {peer_id}; a chatixia agent named `dev-agent` matches)"
        )),
        KeysSource::None => {
            tracing::warn!(
                "no API keys file (api_keys.json) and not in --dev mode: agents cannot get tokens"
            );
            banner.push("API keys: none (create api_keys.json, or run with --dev)".into());
        }
    }

    let (admin_token, admin_source) = admin::resolve(config.admin_token.as_deref(), &*db).await?;
    if admin_source == AdminTokenSource::Persisted {
        banner.push(match db.backend() {
            "sqlite" => format!(
                "admin token kept in {}",
                config.data_dir.join("registry.db").display()
            ),
            other => format!("admin token kept in the {other} database"),
        });
    }

    if config.compat == Compat::Chatixia {
        tracing::warn!(
            routes = ?CHATIXIA_OPEN_ROUTES,
            "MESHWORK_COMPAT=chatixia: these routes accept requests without credentials"
        );
    }

    let memory = if config.memory_replica {
        Some(crate::memory::RegistryMemory::open(&*db).await?)
    } else {
        None
    };
    let limits = Limits::new(&config);
    let metrics = Metrics::default();
    if let Some(memory) = &memory {
        let held = i64::try_from(memory.events_held().await).unwrap_or(i64::MAX);
        metrics.memory_events.set(held);
    }
    let admin_cid = credential_id(&secret, "admin", &admin_token);
    let hub = SignalingHub::default();
    let events = Events::default();
    let cluster = if config.nats_url.is_empty() {
        None
    } else {
        if config.database_url.is_none() {
            anyhow::bail!(
                "NATS_URL needs DATABASE_URL: registries act as one only on a shared database"
            );
        }
        let grace = Duration::try_from_secs_f64(config.cluster_grace_secs)
            .unwrap_or(Duration::from_secs(10));
        let (cluster, subscriptions) =
            crate::cluster::Cluster::connect(&config.nats_url, &config.cluster_name, grace).await?;
        let (presence, changes, outboxes) = crate::cluster::Cluster::outboxes();
        hub.join_cluster(crate::signaling::hub::ClusterLink {
            instance: cluster.instance.clone(),
            outbox: presence,
        });
        events.join_cluster(changes);
        banner.push(format!(
            "cluster: registry {} of {:?} over NATS {}",
            cluster.instance,
            config.cluster_name,
            config.nats_url.join(",")
        ));
        Some((Arc::new(cluster), (outboxes, subscriptions)))
    };
    let (cluster, feeds) = match cluster {
        Some((c, f)) => (Some(c), Some(f)),
        None => (None, None),
    };
    let state = Arc::new(AppState {
        jwt: JwtKeys::new(&secret, config.jwt_ttl_secs),
        config,
        db,
        api_keys,
        admin_token,
        admin_cid,
        hub,
        metrics,
        events,
        limits,
        device_tokens: DeviceTokens::new(&secret),
        tickets: Default::default(),
        memory,
        mesh_tasks: Default::default(),
        cluster,
        shutdown: CancellationToken::new(),
    });
    if let (Some(cluster), Some((outboxes, subscriptions))) = (&state.cluster, feeds) {
        tokio::spawn(crate::cluster::run(
            state.clone(),
            cluster.clone(),
            outboxes,
            subscriptions,
        ));
    }
    Ok((state, banner))
}

/// Runs the registry until a shutdown signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = SocketAddr::new(config.host, config.port);
    let (state, banner) = build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    let shown_host = if local.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        local.ip().to_string()
    };
    let base = format!("http://{shown_host}:{}", local.port());

    // Machine-readable first line: tests and scripts wait for it.
    println!("meshwork-registry listening on {base}");
    for line in &banner {
        println!("  {line}");
    }
    println!("  hub: {base}/?token={}", state.admin_token);

    let maintenance = tokio::spawn(maintenance::run(state.clone()));
    tokio::spawn(crate::task_delivery::run(state.clone()));
    let app = routes::router(state.clone());
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
    let config = &state.config;
    let limits = ConnLimits {
        header_read: secs(config.header_read_timeout_secs),
        body_read: secs(config.body_read_timeout_secs),
        max_http: config
            .max_http_connections
            .unwrap_or_else(connections::default_max_http),
    };
    connections::serve(listener, app, limits, state.shutdown.clone()).await;
    let _ = maintenance.await;
    Ok(())
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(10))
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
