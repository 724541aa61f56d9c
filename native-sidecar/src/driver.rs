//! The driver: one task that owns the mesh (core + native shell) and feeds it what the
//! signaling task, the link tasks and the IPC clients report, in order. No locks; every mesh
//! decision is the core's (`Mesh` applies its actions through the shell).
//!
//! Flow control: while an IPC client is behind, channel data waits in the bounded data queue
//! (and then in SCTP, slowing the sender); while a link's send queue is full, the agents'
//! input waits in their sockets (slowing the agent).

use crate::{
    clients::Clients,
    config::SidecarConfig,
    ipc::{ClientId, IpcInput},
    memory::Memory,
    rtc::Sinks,
    shell::NativeShell,
    signaling::SignalingEvent,
};
use meshwork_protocol::{
    core::{self, ConnectionState, Event, Mesh, MeshCore, Time},
    ipc::{IpcCommand, IpcEvent},
    PeerId,
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// Inputs the driver waits on.
pub struct Inputs {
    /// From the signaling task.
    pub signaling: mpsc::Receiver<SignalingEvent>,
    /// Connection lifecycle from link tasks.
    pub control: mpsc::UnboundedReceiver<Event>,
    /// Channel data from link tasks (bounded).
    pub data: mpsc::Receiver<Event>,
    /// From IPC clients.
    pub ipc: mpsc::Receiver<IpcInput>,
    /// Notified when a client's or a link's queue drains.
    pub room: Arc<Notify>,
}

/// How often every reachable replica hears what this one holds (anti-entropy).
const MEMORY_RESYNC: Duration = Duration::from_secs(10);

/// The sidecar's brain-stem: see the module docs.
pub struct Driver {
    mesh: Mesh<NativeShell>,
    start: Instant,
    /// Since when no agent is connected (`None` while one is); the sidecar exits after the
    /// grace period so it never lingers as a ghost peer (docs/adr/0005).
    agent_absent_since: Option<Instant>,
    agent_grace: Option<Duration>,
    /// Channel reads are paused for a client that is behind (the core knows, so silence
    /// meanwhile does not fail links).
    reads_paused: bool,
    /// The shared memory's replica (PROTOCOL.md §6).
    memory: Memory,
}

/// This sidecar's identity and the keys it pinned, loaded from its data directory.
pub struct Keys {
    /// Our identity key (`None`: upstream-like, unkeyed).
    pub identity: Option<meshwork_protocol::identity::Identity>,
    /// Keys pinned at earlier verified contacts.
    pub known: std::collections::BTreeMap<PeerId, meshwork_protocol::identity::PublicKey>,
    /// Where new pins go.
    pub store: crate::identity_store::IdentityStore,
}

impl Driver {
    /// A driver for peer `me`; `sinks` is where its link tasks report.
    pub fn new(
        config: SidecarConfig,
        me: PeerId,
        signaling_tx: mpsc::Sender<SignalingEvent>,
        sinks: Sinks,
        keys: Keys,
        memory: Memory,
        clients: Clients,
    ) -> Self {
        let core_config = core::Config {
            identity: keys.identity,
            known_keys: keys.known,
            entropy: rand::random(),
            rng_seed: rand::random(),
            registry_tier: config.registry_tier,
            relay_only: config.ice_transport_policy == crate::config::IcePolicy::Relay,
            memory: true,
            // Our agents run tasks: the registry may deliver queued ones over signaling.
            registry_tasks: true,
            ..Default::default()
        };
        let agent_grace = if config.keep_alive {
            None
        } else if config.stdio {
            Some(Duration::ZERO)
        } else {
            Some(config.agent_grace)
        };
        let mut core = MeshCore::new(me.clone(), core_config);
        core.set_application_present(!clients.is_empty());
        let mut shell = NativeShell::new(config, me, signaling_tx, sinks, keys.store);
        let agent_absent_since = clients.is_empty().then(Instant::now);
        shell.clients = clients;
        Self {
            mesh: Mesh::new(core, shell),
            start: Instant::now(),
            agent_absent_since,
            agent_grace,
            reads_paused: false,
            memory,
        }
    }

    fn now(&self) -> Time {
        Time::from_millis(core::millis(self.start.elapsed()))
    }

    fn instant_of(&self, t: Time) -> Instant {
        self.start + Duration::from_millis(t.as_millis())
    }

    fn handle(&mut self, event: Event) {
        let now = self.now();
        self.mesh.handle(event, now);
    }

    /// Runs until shutdown or until the agent is gone for good. `backlog`: the agents'
    /// lines that arrived before the registry answered, handled first.
    pub async fn run(
        mut self,
        mut inputs: Inputs,
        shutdown: CancellationToken,
        backlog: Vec<IpcInput>,
    ) {
        let now = self.now();
        self.mesh.flush(now);
        for input in backlog {
            self.on_ipc(input);
        }
        let mut anti_entropy = tokio::time::interval(MEMORY_RESYNC);
        loop {
            self.pump_memory();
            let timer = self.mesh.next_timeout().map(|t| self.instant_of(t));
            let agent_deadline = match (self.agent_grace, self.agent_absent_since) {
                (Some(grace), Some(since)) => Some(since + grace),
                _ => None,
            };
            let clients_behind = self.mesh.shell.clients.backlogged(Instant::now());
            if clients_behind != self.reads_paused {
                self.reads_paused = clients_behind;
                self.handle(Event::ReadsPaused(clients_behind));
            }
            let stuck_deadline = self.mesh.shell.clients.stuck_deadline();
            let links_behind = self.mesh.shell.links_backlogged();
            tokio::select! {
                Some(ev) = inputs.signaling.recv() => self.on_signaling(ev),
                Some(ev) = inputs.control.recv() => {
                    if ends_connection(&ev) {
                        // What the channel delivered before the end goes first.
                        while let Ok(data) = inputs.data.try_recv() {
                            self.on_link_event(data);
                        }
                    }
                    self.on_link_event(ev)
                }
                Some(ev) = inputs.data.recv(), if !clients_behind => self.on_link_event(ev),
                Some(input) = inputs.ipc.recv(), if !links_behind => self.on_ipc(input),
                _ = inputs.room.notified(), if clients_behind || links_behind => {}
                _ = sleep_until(stuck_deadline.filter(|_| clients_behind)) => {}
                _ = sleep_until(timer) => {
                    let now = self.now();
                    self.mesh.handle_timeout(now);
                }
                _ = anti_entropy.tick() => self.resync_memory(),
                _ = sleep_until(agent_deadline) => {
                    tracing::info!("no agent connected: leaving the mesh");
                    break;
                }
                _ = shutdown.cancelled() => break,
            }
        }
        self.mesh.shell.close_all();
        // Give the link tasks a moment to send their DTLS close alerts.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Moves the memory's sync traffic (the shared `Mesh::pump_memory`); subscribers hear
    /// of what arrived.
    fn pump_memory(&mut self) {
        let now = self.now();
        for (client, line) in self.memory.pump(&mut self.mesh, now) {
            self.mesh.shell.clients.reply(client, line);
        }
    }

    /// Anti-entropy: every replica we can reach hears what we hold, so a frame lost on the
    /// way (or a peer reachable only through the registry) is caught up.
    fn resync_memory(&mut self) {
        let now = self.now();
        self.memory.resync(&mut self.mesh, now);
    }

    fn on_signaling(&mut self, ev: SignalingEvent) {
        match ev {
            SignalingEvent::Up {
                peer_id,
                ice_servers,
                outbound,
            } => {
                if &peer_id != self.mesh.core.id() {
                    tracing::error!(expected = %self.mesh.core.id(), got = %peer_id, "credential now maps to another peer id; ignoring this connection");
                    return;
                }
                tracing::info!("signaling connected");
                self.mesh.shell.signaling_out = Some(outbound);
                self.on_signaling(SignalingEvent::IceServers(ice_servers));
                self.handle(Event::SignalingConnected);
            }
            SignalingEvent::IceServers(Ok(servers)) => {
                let unix_now = crate::credentials::unix_now();
                self.handle(Event::IceServers { servers, unix_now });
            }
            SignalingEvent::IceServers(Err(error)) => {
                tracing::warn!(%error, "renewing the ICE servers failed; keeping the current ones");
                self.handle(Event::IceServersFailed { error });
            }
            SignalingEvent::Frame(text) => {
                let now = self.now();
                self.mesh.handle_signal_text(&text, now);
            }
            SignalingEvent::Down(reason) => {
                tracing::info!(%reason, "signaling down");
                self.mesh.shell.signaling_out = None;
                self.handle(Event::SignalingDisconnected);
            }
        }
    }

    fn on_link_event(&mut self, event: Event) {
        if let Event::ChannelOpened { peer, attempt } = &event {
            if let Some(ms) = self.mesh.shell.setup_ms(peer, *attempt) {
                tracing::info!(peer = %peer, setup_ms = ms, "channel open");
            }
        }
        self.handle(event);
    }

    fn on_ipc(&mut self, input: IpcInput) {
        let clients = &mut self.mesh.shell.clients;
        match input {
            IpcInput::Connected { id, tx } => {
                tracing::info!(client = id, "agent connected");
                clients.add(id, tx);
                self.agent_absent_since = None;
                self.mesh.core.set_application_present(true);
                // A (re)connecting agent learns the links that opened before it arrived.
                for peer_id in self.mesh.core.connected_peers() {
                    let verified = Some(self.mesh.core.is_verified(&peer_id));
                    let event = IpcEvent::PeerConnected { peer_id, verified };
                    self.mesh.shell.clients.reply(id, event);
                }
            }
            IpcInput::Disconnected { id } => {
                tracing::info!(client = id, "agent disconnected");
                clients.remove(id);
                self.memory.client_gone(id);
                if clients.is_empty() {
                    self.agent_absent_since = Some(Instant::now());
                    self.mesh.core.set_application_present(false);
                }
            }
            IpcInput::Refused { id, message } => clients.reply(id, IpcEvent::error(message)),
            IpcInput::Line { id, line, .. } => match IpcCommand::parse_line(&line) {
                Ok(cmd) => self.on_command(id, cmd),
                Err(e) => clients.reply(id, malformed(&line, &e)),
            },
        }
    }

    fn on_command(&mut self, id: ClientId, cmd: IpcCommand) {
        let now = self.now();
        match cmd {
            cmd @ (IpcCommand::MemoryPut { .. }
            | IpcCommand::MemoryGet { .. }
            | IpcCommand::MemoryList { .. }
            | IpcCommand::MemoryHistory { .. }
            | IpcCommand::MemoryForget { .. }
            | IpcCommand::MemorySubscribe { .. }) => {
                for (client, event) in self.memory.handle(id, cmd) {
                    self.mesh.shell.clients.reply(client, event);
                }
            }
            IpcCommand::Send {
                target_peer,
                message,
                ack,
                timeout_ms,
            } => match match timeout_ms {
                Some(ms) => {
                    let timeout = Duration::from_millis(ms);
                    self.mesh.request(&target_peer, &message, timeout, now)
                }
                None => self.mesh.send(&target_peer, &message, now),
            } {
                Ok(via) if ack => self.mesh.shell.clients.reply(
                    id,
                    IpcEvent::Sent {
                        target_peer,
                        request_id: message.request_id,
                        via,
                    },
                ),
                Ok(_) => {}
                Err(e) => {
                    let id_ = &message.request_id;
                    let message = format!("message {id_} to {target_peer} not sent: {e}");
                    self.mesh.shell.clients.reply(id, IpcEvent::error(message))
                }
            },
            IpcCommand::Broadcast { message } => {
                self.mesh.broadcast(&message, now);
            }
            IpcCommand::ListPeers {} => {
                let peers = self.mesh.core.connected_peers();
                self.mesh
                    .shell
                    .clients
                    .reply(id, IpcEvent::PeerList { peers });
            }
            IpcCommand::Connect { target_peer_id } => {
                self.handle(Event::ConnectRequested {
                    peer: target_peer_id,
                });
            }
        }
    }
}

/// The error answering a line that did not parse; a memory command's carries its
/// `request_id` (PROTOCOL.md §6).
pub fn malformed(line: &str, error: &serde_json::Error) -> IpcEvent {
    IpcEvent::Error {
        request_id: IpcCommand::memory_request_id(line),
        message: format!("malformed command: {error}"),
    }
}

/// Whether `event` ends a connection (data still queued for it must be handled first).
fn ends_connection(event: &Event) -> bool {
    matches!(
        event,
        Event::ConnectionStateChanged {
            state: ConnectionState::Failed | ConnectionState::Closed,
            ..
        }
    )
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
