//! The driver: owns the mesh core and turns its actions into work for the shells (signaling,
//! webrtc links, IPC clients), and their events back into core events. One task, no locks:
//! everything the core decides happens here, in order.

use crate::{
    config::SidecarConfig,
    ipc::{ClientId, IpcInput},
    ipc_queue::ClientQueue,
    rtc::{
        link::{self, LinkHandle, LinkOp, LinkSettings},
        RtcEvent,
    },
    signaling::{self, SignalingEvent},
};
use meshwork_protocol::{
    core::{self, Action, Attempt, Event, MeshCore, Route, Tier, Time},
    framing::{self, Inboxes},
    ipc::{IpcCommand, IpcEvent},
    signaling::CandidateType,
    MeshMessage, PeerId, SignalMessage, SignalType,
};
use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where a link's selected path stands, for link reports.
#[derive(Debug, Clone, Copy, Default)]
struct Path {
    candidate_type: Option<CandidateType>,
    rtt_ms: Option<f64>,
}

/// Inputs the driver waits on.
pub struct Inputs {
    /// From the signaling task.
    pub signaling: mpsc::Receiver<SignalingEvent>,
    /// From link tasks.
    pub rtc: mpsc::UnboundedReceiver<RtcEvent>,
    /// From IPC clients.
    pub ipc: mpsc::Receiver<IpcInput>,
}

/// The sidecar's brain-stem: see the module docs.
pub struct Driver {
    config: SidecarConfig,
    core: MeshCore,
    start: Instant,
    link_settings: LinkSettings,
    links: HashMap<PeerId, LinkHandle>,
    reassembly: Inboxes<PeerId, Attempt>,
    paths: HashMap<PeerId, (Attempt, Path)>,
    signaling_out: Option<mpsc::Sender<String>>,
    signaling_tx: mpsc::Sender<SignalingEvent>,
    /// Cancelled to end the current signaling attempt (replaced per attempt).
    signaling_stop: CancellationToken,
    rtc_tx: mpsc::UnboundedSender<RtcEvent>,
    clients: BTreeMap<ClientId, ClientQueue>,
    /// Since when no agent is connected (`None` while one is); the sidecar exits after the
    /// grace period so it never lingers as a ghost peer (docs/adr/0005).
    agent_absent_since: Option<Instant>,
    agent_grace: Option<Duration>,
    next_message_id: u32,
}

impl Driver {
    /// A driver for peer `me`.
    pub fn new(
        config: SidecarConfig,
        me: PeerId,
        signaling_tx: mpsc::Sender<SignalingEvent>,
        rtc_tx: mpsc::UnboundedSender<RtcEvent>,
    ) -> Self {
        let core_config = core::Config {
            rng_seed: rand::random(),
            registry_tier: config.registry_tier,
            ..Default::default()
        };
        let agent_grace = if config.keep_alive {
            None
        } else if config.stdio {
            Some(Duration::ZERO)
        } else {
            Some(Duration::from_secs_f64(config.agent_grace_secs.max(0.0)))
        };
        let link_settings = LinkSettings {
            ice_servers: Vec::new(),
            policy: config.ice_transport_policy,
            bind_addrs: crate::rtc::settings::bind_addrs(&config.ice_bind_addrs),
        };
        Self {
            core: MeshCore::new(me, core_config),
            config,
            start: Instant::now(),
            link_settings,
            links: HashMap::new(),
            reassembly: Inboxes::default(),
            paths: HashMap::new(),
            signaling_out: None,
            signaling_tx,
            signaling_stop: CancellationToken::new(),
            rtc_tx,
            clients: BTreeMap::new(),
            agent_absent_since: Some(Instant::now()),
            agent_grace,
            next_message_id: 1,
        }
    }

    fn now(&self) -> Time {
        Time::from_millis(core::millis(self.start.elapsed()))
    }

    fn instant_of(&self, t: Time) -> Instant {
        self.start + Duration::from_millis(t.as_millis())
    }

    /// Runs until shutdown or until the agent is gone for good.
    pub async fn run(mut self, mut inputs: Inputs, shutdown: CancellationToken) {
        self.apply_actions();
        loop {
            let timer = self.core.next_timeout().map(|t| self.instant_of(t));
            let agent_deadline = match (self.agent_grace, self.agent_absent_since) {
                (Some(grace), Some(since)) => Some(since + grace),
                _ => None,
            };
            tokio::select! {
                Some(ev) = inputs.signaling.recv() => self.on_signaling(ev),
                Some(ev) = inputs.rtc.recv() => self.on_rtc(ev),
                Some(input) = inputs.ipc.recv() => self.on_ipc(input),
                _ = sleep_until(timer) => {
                    let now = self.now();
                    self.core.handle_timeout(now);
                }
                _ = sleep_until(agent_deadline) => {
                    tracing::info!("no agent connected: leaving the mesh");
                    break;
                }
                _ = shutdown.cancelled() => break,
            }
            self.apply_actions();
        }
        self.signaling_stop.cancel();
        for (_, link) in self.links.drain() {
            link.op(LinkOp::Close);
        }
        // Give the link tasks a moment to send their DTLS close alerts.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    fn handle(&mut self, event: Event) {
        let now = self.now();
        self.core.handle(event, now);
    }

    fn on_signaling(&mut self, ev: SignalingEvent) {
        match ev {
            SignalingEvent::Up {
                peer_id,
                ice_servers,
                outbound,
            } => {
                if &peer_id != self.core.id() {
                    tracing::error!(expected = %self.core.id(), got = %peer_id, "credential now maps to another peer id; ignoring this connection");
                    return;
                }
                tracing::info!(servers = ice_servers.len(), "signaling connected");
                self.link_settings.ice_servers = ice_servers;
                self.signaling_out = Some(outbound);
                self.handle(Event::SignalingConnected);
            }
            SignalingEvent::IceServers(servers) => self.link_settings.ice_servers = servers,
            SignalingEvent::Frame(text) => match SignalMessage::parse(&text) {
                Ok(msg) => self.handle(Event::SignalReceived(msg)),
                Err(e) => tracing::warn!(error = %e, "unparseable signaling frame ignored"),
            },
            SignalingEvent::Down(reason) => {
                tracing::info!(%reason, "signaling down");
                self.signaling_out = None;
                self.handle(Event::SignalingDisconnected);
            }
        }
    }

    fn current(&self, peer: &PeerId, attempt: Attempt) -> bool {
        self.links.get(peer).is_some_and(|l| l.attempt == attempt)
    }

    fn on_rtc(&mut self, ev: RtcEvent) {
        match ev {
            RtcEvent::Core(event) => {
                if let Event::ChannelOpened { peer, attempt } = &event {
                    if let Some(l) = self.links.get(peer).filter(|l| l.attempt == *attempt) {
                        tracing::info!(peer = %peer, setup_ms = l.started.elapsed().as_secs_f64() * 1e3, "channel open");
                        l.op(LinkOp::ProbePath);
                    }
                }
                self.handle(event);
            }
            RtcEvent::Text {
                peer,
                attempt,
                text,
            } => {
                if self.current(&peer, attempt) {
                    self.on_message_text(peer, &text);
                }
            }
            RtcEvent::Binary {
                peer,
                attempt,
                bytes,
            } => {
                if !self.current(&peer, attempt) {
                    return;
                }
                self.handle(Event::DataReceived { peer: peer.clone() });
                match self.reassembly.push(&peer, attempt, &bytes) {
                    Ok(Some(text)) => self.on_message_text(peer, &text),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(peer = %peer, error = %e, "bad chunk dropped"),
                }
            }
            RtcEvent::SendFailed {
                peer,
                request_id,
                error,
            } => self.emit(IpcEvent::Error {
                message: format!("message {request_id} to {peer} was not sent: {error}"),
            }),
            RtcEvent::PathKnown {
                peer,
                attempt,
                candidate_type,
                rtt_ms,
            } => {
                if self.current(&peer, attempt) {
                    let changed = self.paths.get(&peer).map(|(_, p)| p.candidate_type)
                        != Some(candidate_type);
                    self.paths.insert(
                        peer,
                        (
                            attempt,
                            Path {
                                candidate_type,
                                rtt_ms,
                            },
                        ),
                    );
                    if changed {
                        self.send_link_report();
                    }
                }
            }
        }
    }

    fn on_message_text(&mut self, peer: PeerId, text: &str) {
        self.handle(Event::DataReceived { peer: peer.clone() });
        match MeshMessage::parse(text) {
            Ok(message) => self.handle(Event::MessageReceived { peer, message }),
            Err(e) => {
                tracing::warn!(peer = %peer, error = %e, "message that is not a MeshMessage dropped")
            }
        }
    }

    fn on_ipc(&mut self, input: IpcInput) {
        match input {
            IpcInput::Connected { id, tx } => {
                tracing::info!(client = id, "agent connected");
                self.clients.insert(id, tx);
                self.agent_absent_since = None;
                // A (re)connecting agent learns the links that opened before it arrived.
                for peer_id in self.core.connected_peers() {
                    self.reply(id, IpcEvent::PeerConnected { peer_id });
                }
            }
            IpcInput::Disconnected { id } => {
                tracing::info!(client = id, "agent disconnected");
                self.clients.remove(&id);
                if self.clients.is_empty() {
                    self.agent_absent_since = Some(Instant::now());
                }
            }
            IpcInput::Oversize { id } => self.reply(
                id,
                IpcEvent::Error {
                    message: format!("line longer than {} bytes skipped", crate::ipc::MAX_LINE),
                },
            ),
            IpcInput::Line { id, line } => match IpcCommand::parse_line(&line) {
                Ok(cmd) => self.on_command(id, cmd),
                Err(e) => self.reply(
                    id,
                    IpcEvent::Error {
                        message: format!("malformed command: {e}"),
                    },
                ),
            },
        }
    }

    fn on_command(&mut self, id: ClientId, cmd: IpcCommand) {
        match cmd {
            IpcCommand::Send {
                target_peer,
                message,
                ack,
            } => match self.send_to(&target_peer, &message) {
                Ok(via) if ack => self.reply(
                    id,
                    IpcEvent::Sent {
                        target_peer,
                        request_id: message.request_id,
                        via,
                    },
                ),
                Ok(_) => {}
                Err(message) => self.reply(id, IpcEvent::Error { message }),
            },
            IpcCommand::Broadcast { message } => {
                // Open channels only: a broadcast never puts payloads through the registry.
                for peer in self.core.connected_peers() {
                    if self.send_on_channel(&peer, &message).is_none() {
                        tracing::warn!(peer = %peer, "broadcast to peer failed: channel closing");
                    }
                }
            }
            IpcCommand::ListPeers {} => {
                let peers = self.core.connected_peers();
                self.reply(id, IpcEvent::PeerList { peers });
            }
            IpcCommand::Connect { target_peer_id } => {
                self.handle(Event::ConnectRequested {
                    peer: target_peer_id,
                });
            }
        }
    }

    /// Sends on the tier the core picks: the open channel, else the registry (also when
    /// the channel refuses because it is closing).
    fn send_to(&mut self, peer: &PeerId, message: &MeshMessage) -> Result<Tier, String> {
        let route = self.core.route(peer).map_err(|e| e.to_string())?;
        if route == Route::Channel {
            if let Some(tier) = self.send_on_channel(peer, message) {
                return Ok(tier);
            }
        }
        self.core
            .send_via_registry(peer, message)
            .map(|()| Tier::Registry)
            .map_err(|e| e.to_string())
    }

    /// Hands `message` to `peer`'s link; `None` when there is no link task to take it.
    fn send_on_channel(&mut self, peer: &PeerId, message: &MeshMessage) -> Option<Tier> {
        let link = self.links.get(peer)?;
        let id = self.next_message_id;
        self.next_message_id = self.next_message_id.wrapping_add(1);
        let op = LinkOp::Send {
            frames: framing::encode(message.to_json(), id),
            request_id: message.request_id.clone(),
        };
        link.op(op)
            .then(|| Tier::of(Route::Channel, self.path_type(peer)))
    }

    fn path_type(&self, peer: &PeerId) -> Option<CandidateType> {
        self.paths.get(peer).and_then(|(_, p)| p.candidate_type)
    }

    fn reply(&mut self, id: ClientId, event: IpcEvent) {
        if let Some(tx) = self.clients.get(&id) {
            if tx.push(event.to_line()).is_err() {
                tracing::warn!(
                    client = id,
                    "IPC client stopped reading (256 MiB queued); dropped"
                );
                self.clients.remove(&id);
            }
        }
    }

    fn emit(&mut self, event: IpcEvent) {
        let line = event.to_line();
        let stuck: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, tx)| tx.push(line.clone()).is_err())
            .map(|(id, _)| *id)
            .collect();
        for id in stuck {
            tracing::warn!(
                client = id,
                "IPC client stopped reading (256 MiB queued); dropped"
            );
            self.clients.remove(&id);
        }
    }

    /// Queues a frame for the registry; false when it was dropped.
    fn send_signal(&mut self, frame: String) -> bool {
        let Some(out) = &self.signaling_out else {
            return false;
        };
        let queued = out.try_send(frame).is_ok();
        if !queued {
            tracing::warn!("signaling queue full; frame dropped");
        }
        queued
    }

    fn send_link_report(&mut self) {
        let paths = &self.paths;
        let frame = self
            .core
            .link_report_with(|peer| {
                let path = paths.get(peer).map(|(_, p)| *p).unwrap_or_default();
                (path.candidate_type, path.rtt_ms)
            })
            .to_json();
        let _ = self.send_signal(frame);
    }

    fn apply_actions(&mut self) {
        while let Some(action) = self.core.poll_action() {
            self.apply(action);
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::ConnectSignaling => {
                self.signaling_stop.cancel();
                self.signaling_stop = CancellationToken::new();
                signaling::spawn(
                    self.config.clone(),
                    self.signaling_tx.clone(),
                    self.signaling_stop.clone(),
                );
            }
            Action::SendSignal(msg) if msg.kind == SignalType::LinkReport => {
                self.send_link_report()
            }
            Action::SendSignal(msg) => {
                let lost = !self.send_signal(msg.to_json());
                if lost && msg.kind == SignalType::MeshMessage {
                    let peer = msg.target_id.clone().unwrap_or_default();
                    let id = msg.payload["request_id"].as_str().unwrap_or_default();
                    self.emit(IpcEvent::Error {
                        message: format!(
                            "message {id} to {peer} not sent: the signaling queue is full"
                        ),
                    });
                }
            }
            Action::CreateOffer { peer, attempt, .. } => {
                let link = self.spawn_link(&peer, attempt);
                link.op(LinkOp::CreateOffer);
            }
            Action::AcceptOffer { peer, attempt, sdp } => {
                let link = self.spawn_link(&peer, attempt);
                link.op(LinkOp::AcceptOffer(sdp));
            }
            Action::ApplyAnswer { peer, attempt, sdp } => {
                if let Some(link) = self.links.get(&peer).filter(|l| l.attempt == attempt) {
                    link.op(LinkOp::ApplyAnswer(sdp));
                }
            }
            Action::AddIceCandidate {
                peer,
                attempt,
                candidate,
            } => {
                if let Some(link) = self.links.get(&peer).filter(|l| l.attempt == attempt) {
                    link.op(LinkOp::AddCandidate(candidate));
                }
            }
            Action::ClosePeer { peer, attempt } => {
                if self.links.get(&peer).is_some_and(|l| l.attempt == attempt) {
                    if let Some(link) = self.links.remove(&peer) {
                        link.op(LinkOp::Close);
                    }
                    self.reassembly.forget(&peer);
                    self.paths.remove(&peer);
                }
            }
            Action::SendKeepalive { peer, message } => {
                if let Some(link) = self.links.get(&peer) {
                    link.op(LinkOp::Send {
                        frames: vec![framing::Frame::Text(message.to_json())],
                        request_id: String::new(),
                    });
                }
            }
            Action::PeerConnected { peer } => {
                tracing::info!(peer = %peer, "peer connected");
                self.emit(IpcEvent::PeerConnected { peer_id: peer });
            }
            Action::PeerDisconnected { peer } => {
                tracing::info!(peer = %peer, "peer disconnected");
                self.emit(IpcEvent::PeerDisconnected { peer_id: peer });
            }
            Action::Deliver {
                peer, message, via, ..
            } => {
                let via = Some(Tier::of(via, self.path_type(&peer)));
                self.emit(IpcEvent::Message {
                    from_peer: peer,
                    message,
                    via,
                });
            }
            Action::Undeliverable {
                peer,
                request_id,
                reason,
            } => {
                let message = Action::undeliverable_text(&peer, request_id.as_deref(), &reason);
                tracing::warn!(%message, "the registry could not deliver a message");
                self.emit(IpcEvent::Error { message });
            }
            Action::RequestTimedOut { request_id, peer } => {
                tracing::debug!(%request_id, peer = %peer, "request timed out");
            }
            Action::SignalingError { code, message } => {
                tracing::warn!(?code, %message, "registry refused a frame");
            }
        }
    }

    fn spawn_link(&mut self, peer: &PeerId, attempt: Attempt) -> &LinkHandle {
        if let Some(old) = self.links.remove(peer) {
            old.op(LinkOp::Close);
        }
        self.reassembly.forget(peer);
        self.paths.remove(peer);
        let mut settings = self.link_settings.clone();
        settings.ice_servers = crate::credentials::unexpired(&settings.ice_servers);
        let handle = link::spawn(peer.clone(), attempt, settings, self.rtc_tx.clone());
        self.links.entry(peer.clone()).or_insert(handle)
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
