//! `meshwork-registry`: runs the registry with its hub until SIGINT/SIGTERM.

use clap::Parser;
use meshwork_registry::{config::Config, server};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let config = Config::parse();
    server::run(config).await
}
