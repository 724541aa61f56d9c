//! The native shell: the [`Shell`] contract over webrtc-rs link tasks, the signaling task
//! and the IPC clients. It translates — it decides nothing the core could decide.

use crate::{
    clients::Clients,
    config::SidecarConfig,
    credentials,
    identity_store::IdentityStore,
    rtc::{
        link::{self, LinkHandle, LinkOp, LinkSettings},
        Sinks,
    },
    signaling::{self, SignalingEvent},
};
use meshwork_protocol::{
    core::{AppEvent, Attempt, LinkStart, Purpose, Shell},
    framing::Frame,
    identity::PublicKey,
    ipc::IpcEvent,
    rest::IceServer,
    signaling::IceCandidatePayload,
    PeerId, SignalMessage,
};
use rtc::peer_connection::transport::RTCDtlsRole;
use std::collections::HashMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Everything the sidecar's platform side holds.
pub struct NativeShell {
    pub(crate) config: SidecarConfig,
    me: PeerId,
    link_settings: LinkSettings,
    links: HashMap<PeerId, LinkHandle>,
    /// Frames to the current signaling connection, while it is up.
    pub(crate) signaling_out: Option<mpsc::Sender<String>>,
    signaling_tx: mpsc::Sender<SignalingEvent>,
    /// Cancelled to end the current signaling attempt (replaced per attempt).
    signaling_stop: CancellationToken,
    sinks: Sinks,
    /// The agent and any other IPC clients.
    pub(crate) clients: Clients,
    /// The data directory: pinned peer keys go there.
    identity_store: IdentityStore,
}

impl NativeShell {
    /// A shell for peer `me`.
    pub fn new(
        config: SidecarConfig,
        me: PeerId,
        signaling_tx: mpsc::Sender<SignalingEvent>,
        sinks: Sinks,
        identity_store: IdentityStore,
    ) -> Self {
        let link_settings = LinkSettings {
            policy: config.ice_transport_policy,
            bind_addrs: crate::rtc::settings::bind_addrs(&config.ice_bind_addrs),
            answering: RTCDtlsRole::Server,
        };
        Self {
            config,
            me,
            link_settings,
            links: HashMap::new(),
            signaling_out: None,
            signaling_tx,
            signaling_stop: CancellationToken::new(),
            sinks,
            clients: Clients::default(),
            identity_store,
        }
    }

    /// The link task of `peer`'s connection `attempt`, if it is the current one.
    fn link(&self, peer: &PeerId, attempt: Attempt) -> Option<&LinkHandle> {
        self.links.get(peer).filter(|l| l.attempt == attempt)
    }

    /// How long the current link to `peer` took to open, for the log.
    pub fn setup_ms(&self, peer: &PeerId, attempt: Attempt) -> Option<f64> {
        self.link(peer, attempt)
            .map(|l| l.started.elapsed().as_secs_f64() * 1e3)
    }

    /// Whether some link has more than its high-water mark waiting to be written.
    pub fn links_backlogged(&self) -> bool {
        self.links.values().any(LinkHandle::backlogged)
    }

    /// Ends signaling and closes every link (shutdown).
    pub fn close_all(&mut self) {
        self.signaling_stop.cancel();
        for (_, link) in self.links.drain() {
            link.op(LinkOp::Close);
        }
    }
}

impl Shell for NativeShell {
    fn connect_signaling(&mut self) {
        self.signaling_stop.cancel();
        self.signaling_stop = CancellationToken::new();
        signaling::spawn(
            self.config.clone(),
            self.signaling_tx.clone(),
            self.signaling_stop.clone(),
        );
    }

    fn send_signal(&mut self, frame: SignalMessage) -> Result<(), SignalMessage> {
        match &self.signaling_out {
            Some(out) if out.try_send(frame.to_json()).is_ok() => Ok(()),
            _ => Err(frame),
        }
    }

    fn create_link(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        start: LinkStart,
        ice_servers: Vec<IceServer>,
    ) {
        if let Some(old) = self.links.remove(peer) {
            old.op(LinkOp::Close);
        }
        let mut settings = self.link_settings.clone();
        if let LinkStart::Answer(offer) = &start {
            settings.answering = crate::rtc::settings::answering_role(offer);
        }
        let handle = link::spawn(
            peer.clone(),
            attempt,
            settings,
            ice_servers,
            self.sinks.clone(),
        );
        handle.op(match start {
            LinkStart::Offer { meshwork_peer } => LinkOp::CreateOffer { meshwork_peer },
            LinkStart::Answer(sdp) => LinkOp::AcceptOffer(sdp),
        });
        self.links.insert(peer.clone(), handle);
    }

    fn apply_answer(&mut self, peer: &PeerId, attempt: Attempt, sdp: String) {
        if let Some(link) = self.link(peer, attempt) {
            link.op(LinkOp::ApplyAnswer(sdp));
        }
    }

    fn add_candidate(&mut self, peer: &PeerId, attempt: Attempt, candidate: IceCandidatePayload) {
        if let Some(link) = self.link(peer, attempt) {
            link.op(LinkOp::AddCandidate(candidate));
        }
    }

    fn close_link(&mut self, peer: &PeerId, attempt: Attempt) {
        if self.link(peer, attempt).is_some() {
            if let Some(link) = self.links.remove(peer) {
                link.op(LinkOp::Close);
            }
        }
    }

    fn write(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        frames: Vec<Frame>,
        purpose: Purpose,
    ) -> Result<(), String> {
        match self.link(peer, attempt) {
            Some(link) if link.op(LinkOp::Send(frames, purpose)) => Ok(()),
            _ => Err(format!("no link task for {peer}")),
        }
    }

    fn probe_path(&mut self, peer: &PeerId, attempt: Attempt) {
        if let Some(link) = self.link(peer, attempt) {
            link.op(LinkOp::ProbePath);
        }
    }

    fn fetch_ice_servers(&mut self) {
        let (config, me, tx) = (
            self.config.clone(),
            self.me.clone(),
            self.signaling_tx.clone(),
        );
        tokio::spawn(async move {
            let fetched = credentials::renew_ice_servers(&config, me.as_str())
                .await
                .map_err(|e| e.to_string());
            let _ = tx.send(SignalingEvent::IceServers(fetched)).await;
        });
    }

    fn remember_key(&mut self, peer: &PeerId, key: &PublicKey) {
        match self.identity_store.remember(peer, key) {
            Ok(()) => tracing::info!(peer = %peer, key = %key.fingerprint(), "peer key pinned"),
            Err(e) => tracing::warn!(peer = %peer, error = %e, "cannot pin the peer's key"),
        }
    }

    fn notify(&mut self, event: AppEvent) {
        let event = match event {
            // Agents have no such event upstream; the driver logs signaling state.
            AppEvent::Signaling { .. } => return,
            AppEvent::PeerConnected { peer, verified } => {
                tracing::info!(peer = %peer, verified, "peer connected");
                IpcEvent::PeerConnected {
                    peer_id: peer,
                    verified: Some(verified),
                }
            }
            AppEvent::PeerDisconnected { peer } => {
                tracing::info!(peer = %peer, "peer disconnected");
                IpcEvent::PeerDisconnected { peer_id: peer }
            }
            AppEvent::Message {
                from,
                message,
                via,
                rtt_ms,
                verified,
            } => IpcEvent::Message {
                verified: Some(verified),
                from_peer: from,
                message,
                via: Some(via),
                rtt_ms,
            },
            AppEvent::RequestTimedOut { request_id, peer } => IpcEvent::RequestTimedOut {
                request_id,
                peer_id: peer,
            },
            AppEvent::Error { message, .. } => {
                tracing::warn!(%message);
                IpcEvent::error(message)
            }
        };
        self.clients.emit(event);
    }
}
