//! `meshwork-sidecar`: the native mesh peer. It joins the mesh through the registry, keeps a
//! `mesh` DataChannel to every permitted peer, and bridges one local agent (chatixia's IPC:
//! JSON lines over a Unix socket, or stdin/stdout with `--stdio`).
//!
//! # Layout
//! - `config`: environment and flags (PROTOCOL.md §3).
//! - `credentials`: JWT and ICE servers from the registry.
//! - `signaling`: the registry WebSocket, one task per connection attempt.
//! - `rtc`: the webrtc-rs shell (one task per link attempt).
//! - `ipc`: the agent's socket; `ipc_queue`: each client's byte-counted outbound queue;
//!   `clients`: the connected clients and who is behind.
//! - `shell`: the `Shell` contract over all of the above.
//! - `driver`: the loop that feeds the mesh (core + shell) with what happens.
//! - `early`: before the registry answers: memory commands answered, the rest kept.
//! - `memory`: the shared memory's replica, `memory.db`, subscriptions (PROTOCOL.md §6).
//! - `client_cmds`: `send` and `listen`, for a person without an agent.
//! - `memory_cmds`: `memory put|get|list|history|forget|watch`, the same for the memory.
//! - `pairing`: `pair`, onboarding a device with a code from the hub.
//!
//! All mesh decisions live in `meshwork_protocol::core`; this crate must not make any.
#![forbid(unsafe_code)]

mod client_cmds;
mod clients;
mod config;
mod credentials;
mod driver;
mod early;
mod identity_store;
mod ipc;
mod ipc_lines;
mod ipc_queue;
mod memory;
mod memory_cmds;
mod pairing;
mod rtc;
mod shell;
mod signaling;

use clap::Parser;
use config::{Cli, Command, SidecarConfig};
use meshwork_protocol::core::{Backoff, BackoffConfig, Rng};
use std::{io::IsTerminal, process::ExitCode, sync::Arc, time::Duration};
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            EnvFilter::new(
                "info,webrtc=error,rtc=error,rtc_ice=error,rtc_dtls=error,rtc_sctp=error",
            )
        }))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    // One thread: the driver and every connection's webrtc-rs driver share it. On loopback this
    // measured 3× lower RTT and steadier throughput than the multi-thread runtime (UDP
    // buffers overflow while a receiving driver is descheduled); see docs/BENCHMARKS.md.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Send {
                peer,
                message,
                wait,
            }) => client_cmds::send(&cli.sidecar.ipc_socket, &peer, &message, wait).await,
            Some(Command::Listen) => client_cmds::listen(&cli.sidecar.ipc_socket).await,
            Some(Command::Memory { op }) => memory_cmds::run(&cli.sidecar.ipc_socket, op).await,
            Some(Command::Pair { code, name, no_run }) => {
                let mut config = cli.sidecar;
                let file = config
                    .device_token_file
                    .clone()
                    .unwrap_or_else(pairing::default_token_file);
                let token = pairing::pair(&config, &code, &name, &file).await?;
                if no_run {
                    return Ok(());
                }
                config.device_token = Some(token);
                run_sidecar(config).await
            }
            None => run_sidecar(cli.sidecar).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshwork-sidecar: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_sidecar(mut config: SidecarConfig) -> anyhow::Result<()> {
    if config.device_token.as_deref().is_none_or(str::is_empty) {
        if let Some(file) = &config.device_token_file {
            config.device_token = Some(pairing::load_token(file)?);
        }
    }
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());

    let room = Arc::new(Notify::new());
    let budget = Arc::new(Semaphore::new(ipc::INPUT_BUDGET));
    // Few lines wait for the driver: a paused driver must also pause the agents' sockets.
    let (ipc_tx, mut ipc_rx) = mpsc::channel(32);
    let _socket_guard = if config.stdio {
        let (stdin, stdout) = (tokio::io::stdin(), tokio::io::stdout());
        let shared = ipc::Shared {
            inputs: ipc_tx,
            room: room.clone(),
            budget: budget.clone(),
        };
        ipc::spawn_client(0, stdin, stdout, shared, || {});
        None
    } else {
        let (listener, guard) = ipc::bind(&config.ipc_socket).await?;
        tracing::info!(socket = %config.ipc_socket.display(), "IPC socket ready");
        tokio::spawn(ipc::accept_loop(
            listener,
            ipc_tx,
            room.clone(),
            budget.clone(),
        ));
        Some(guard)
    };

    // With MESHWORK_DATA_DIR the memory opens now; the default data dir is named after our
    // peer id, which only the registry's token tells: memory commands wait for it (ADR 0017).
    let (opened, mut memory) = match &config.data_dir {
        Some(dir) => {
            let (store, identity, memory) = open_data_dir(dir, config.identity)?;
            (Some((store, identity)), memory)
        }
        None => (None, memory::Memory::opens_with_peer()),
    };
    let mut early = early::Early::default();
    let me = {
        let token = fetch_peer_id(&config, &shutdown);
        tokio::pin!(token);
        loop {
            tokio::select! {
                peer = &mut token => match peer {
                    Some(peer) => break peer,
                    None => return Ok(()),
                },
                Some(input) = ipc_rx.recv() => early.on_ipc(input, &mut memory),
                _ = shutdown.cancelled() => return Ok(()),
            }
        }
    };
    let (store, identity) = match opened {
        Some(opened) => opened,
        None => {
            let (store, identity, opened_memory) =
                open_data_dir(&config.data_dir_for(me.as_str()), config.identity)?;
            memory = opened_memory;
            (store, identity)
        }
    };
    memory.set_peer(me.clone());
    let key = identity.as_ref().map(|i| i.public().fingerprint());
    let keys = driver::Keys {
        identity,
        known: store.known_peers()?,
        store,
    };
    tracing::info!(peer_id = %me, key = key.as_deref().unwrap_or("none"), "joining the mesh");

    let (signaling_tx, signaling_rx) = mpsc::channel(1024);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (data_tx, data_rx) = mpsc::channel(rtc::DATA_QUEUE);
    let sinks = rtc::Sinks {
        control: control_tx,
        data: data_tx,
        room: room.clone(),
    };
    let driver = driver::Driver::new(config, me, signaling_tx, sinks, keys, memory, early.clients);
    let inputs = driver::Inputs {
        signaling: signaling_rx,
        control: control_rx,
        data: data_rx,
        ipc: ipc_rx,
        room,
    };
    driver.run(inputs, shutdown, early.backlog).await;
    Ok(())
}

/// Opens the data directory: the identity store, our identity key (unless disabled) and the
/// memory replica. A memory that fails to open is reported to the agents that use it; the
/// mesh runs without it.
fn open_data_dir(
    dir: &std::path::Path,
    with_identity: bool,
) -> anyhow::Result<(
    identity_store::IdentityStore,
    Option<meshwork_protocol::identity::Identity>,
    memory::Memory,
)> {
    let store = identity_store::IdentityStore::open(dir)?;
    let identity = if with_identity {
        Some(store.identity()?)
    } else {
        None
    };
    let memory = memory::Memory::open(dir, identity.clone()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the shared memory is unavailable");
        memory::Memory::unavailable(format!("the shared memory is unavailable: {e}"))
    });
    Ok((store, identity, memory))
}

/// Our peer id is the token's subject: asks until the registry answers, with the core's
/// backoff (equal jitter, so sidecars started together do not ask in lockstep). `None` on
/// shutdown.
async fn fetch_peer_id(
    config: &SidecarConfig,
    shutdown: &CancellationToken,
) -> Option<meshwork_protocol::PeerId> {
    let mut backoff = Backoff::new(BackoffConfig {
        base: Duration::from_millis(250),
        factor: 2,
        cap: Duration::from_secs(10),
    });
    let mut rng = Rng::new(rand::random());
    loop {
        match credentials::fetch_token(config).await {
            Ok(token) => return Some(token.peer_id),
            Err(e) => {
                let delay = backoff.next_delay(&mut rng);
                tracing::warn!(error = %e, retry_in = ?delay, "cannot get a token yet");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => return None,
                }
            }
        }
    }
}

fn spawn_signal_handler(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    // Registered here, before the IPC socket exists: a SIGTERM in the sidecar's first
    // milliseconds must already find the handler (in a spawned task it would be installed
    // only once the task first ran, and the default action would kill the process with its
    // socket file left behind).
    let term = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    tokio::spawn(async move {
        match (term, interrupt) {
            (Ok(mut term), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (term, interrupt) => {
                let why = term.err().or(interrupt.err());
                tracing::warn!(error = ?why, "cannot watch SIGTERM; only Ctrl-C stops the sidecar");
                if let Err(e) = tokio::signal::ctrl_c().await {
                    // No signal can reach us: run until the process is killed, rather than
                    // shutting down at once as if asked to.
                    tracing::warn!(error = %e, "cannot watch Ctrl-C either");
                    std::future::pending::<()>().await;
                }
            }
        }
        shutdown.cancel();
    });
}
