//! A simulated mesh: N cores, a fake registry and a fake WebRTC transport on a virtual clock.
//!
//! Like quinn-proto's `tests/util.rs` `Pair`, but for any number of peers. Every message
//! between parties is a scheduled delivery; the clock always jumps to the earliest pending
//! delivery or core deadline, so seconds of protocol time run in microseconds. The fake
//! transport also checks the core's promises (one connection per pair, candidates only after
//! the remote description, closes name the live attempt) and panics when one is broken.

use crate::{
    core::{
        Action, AppEvent, Attempt, Config, Event, Incoming, LinkStart, Mesh, MeshCore, Route,
        RouteError, SdpType, Shell, Tier, Time,
    },
    framing::{self, Frame},
    identity::{Identity, PublicKey},
    ids::PeerId,
    mesh_message::MeshMessage,
    rest::IceServer,
    signaling::{
        ErrorPayload, IceCandidatePayload, LeaveReason, LinkReportPayload, PeerJoinedPayload,
        PeerLeftPayload, PeerListPayload, SignalErrorCode, SignalMessage, SignalType,
    },
};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

/// One hop through the registry.
pub const SIGNAL_DELAY: u64 = 5;
/// One hop on a DataChannel.
pub const DATA_DELAY: u64 = 2;
/// From "both sides have descriptions and candidates" to "channel open".
pub const ICE_DELAY: u64 = 20;

/// A peer id.
pub fn id(name: &str) -> PeerId {
    PeerId::new(name)
}

/// A time `ms` after the epoch.
pub fn at(ms: u64) -> Time {
    Time::from_millis(ms)
}

/// A candidate whose `candidate` line is `line`.
pub fn candidate(line: &str) -> IceCandidatePayload {
    IceCandidatePayload {
        candidate: line.to_owned(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    }
}

/// The config every simulated node gets, with a seed of its own.
pub fn config_for(name: &str) -> Config {
    let seed = name
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    Config {
        rng_seed: seed,
        ..Config::default()
    }
}

/// Takes every queued action.
pub fn drain(core: &mut MeshCore) -> Vec<Action> {
    std::iter::from_fn(|| core.poll_action()).collect()
}

/// A relayed frame `from` → `to`, as the core receives it.
pub fn relayed(kind: SignalType, from: &str, to: &str, payload: &impl serde::Serialize) -> Event {
    Event::SignalReceived(SignalMessage::new(kind, from, Some(id(to)), payload))
}

/// A frame from the registry, as the core receives it.
pub fn from_registry(kind: SignalType, payload: &impl serde::Serialize) -> Event {
    Event::SignalReceived(SignalMessage::from_registry(kind, payload))
}

/// One side's half of a fake peer connection.
#[derive(Debug, Clone)]
pub struct FakePc {
    pub attempt: Attempt,
    local: Option<String>,
    remote: Option<String>,
    candidates: Vec<String>,
    open: bool,
}

impl FakePc {
    fn new(attempt: Attempt) -> Self {
        Self {
            attempt,
            local: None,
            remote: None,
            candidates: Vec::new(),
            open: false,
        }
    }

    /// Whether `self` and `other` are the two halves of one negotiation.
    fn pairs_with(&self, other: &FakePc) -> bool {
        self.local.is_some()
            && self.remote.is_some()
            && self.local == other.remote
            && self.remote == other.local
    }
}

/// What the simulated shell asks the world to do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// An action, as the shell was asked to perform it.
    Act(Action),
    /// Frames written on the pair's open channel.
    Write { peer: PeerId, frames: Vec<Frame> },
}

/// The simulated platform: it records what the dispatch asks for; the world performs it.
pub struct SimShell {
    /// The world's clock when the dispatch runs (for the log).
    pub now: Time,
    signaling_up: bool,
    /// Whether a `ConnectSignaling` succeeds.
    pub registry_reachable: bool,
    pub pcs: BTreeMap<PeerId, FakePc>,
    /// Every action the core emitted, with its time.
    pub log: Vec<(Time, Action)>,
    /// What the application was told.
    pub app: Vec<AppEvent>,
    outbox: Vec<Effect>,
}

impl Shell for SimShell {
    fn connect_signaling(&mut self) {
        self.outbox.push(Effect::Act(Action::ConnectSignaling));
    }

    fn send_signal(&mut self, frame: SignalMessage) -> Result<(), SignalMessage> {
        if !self.signaling_up {
            return Err(frame);
        }
        self.outbox.push(Effect::Act(Action::SendSignal(frame)));
        Ok(())
    }

    fn create_link(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        start: LinkStart,
        ice_servers: Vec<IceServer>,
    ) {
        let peer = peer.clone();
        let action = match start {
            LinkStart::Offer { meshwork_peer } => Action::CreateOffer {
                peer,
                attempt,
                ice_restart: false,
                ice_servers,
                meshwork_peer,
            },
            LinkStart::Answer(sdp) => Action::AcceptOffer {
                peer,
                attempt,
                sdp,
                ice_servers,
            },
        };
        self.outbox.push(Effect::Act(action));
    }

    fn apply_answer(&mut self, peer: &PeerId, attempt: Attempt, sdp: String) {
        let peer = peer.clone();
        self.outbox
            .push(Effect::Act(Action::ApplyAnswer { peer, attempt, sdp }));
    }

    fn add_candidate(&mut self, peer: &PeerId, attempt: Attempt, candidate: IceCandidatePayload) {
        let peer = peer.clone();
        self.outbox.push(Effect::Act(Action::AddIceCandidate {
            peer,
            attempt,
            candidate,
        }));
    }

    fn close_link(&mut self, peer: &PeerId, attempt: Attempt) {
        let peer = peer.clone();
        self.outbox
            .push(Effect::Act(Action::ClosePeer { peer, attempt }));
    }

    fn write(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        frames: Vec<Frame>,
        _purpose: crate::core::Purpose,
    ) -> Result<(), String> {
        let open = self
            .pcs
            .get(peer)
            .is_some_and(|pc| pc.attempt == attempt && pc.open);
        if !open {
            return Err("channel not open".into());
        }
        let peer = peer.clone();
        self.outbox.push(Effect::Write { peer, frames });
        Ok(())
    }

    fn probe_path(&mut self, _peer: &PeerId, _attempt: Attempt) {}

    fn fetch_ice_servers(&mut self) {}

    fn notify(&mut self, event: AppEvent) {
        self.app.push(event);
    }

    fn observe(&mut self, action: &Action) {
        self.log.push((self.now, action.clone()));
    }
}

/// One simulated peer: the real dispatch (`Mesh`) over the simulated shell.
pub struct Node {
    pub mesh: Mesh<SimShell>,
    pub alive: bool,
}

impl std::ops::Deref for Node {
    type Target = SimShell;

    fn deref(&self) -> &SimShell {
        &self.mesh.shell
    }
}

impl std::ops::DerefMut for Node {
    fn deref_mut(&mut self) -> &mut SimShell {
        &mut self.mesh.shell
    }
}

impl Node {
    /// How many logged actions match.
    pub fn count(&self, pred: impl Fn(&Action) -> bool) -> usize {
        self.log.iter().filter(|(_, a)| pred(a)).count()
    }

    /// Times of the logged actions that match.
    pub fn times(&self, pred: impl Fn(&Action) -> bool) -> Vec<Time> {
        self.log
            .iter()
            .filter(|(_, a)| pred(a))
            .map(|(t, _)| *t)
            .collect()
    }

    /// How many offer frames this node sent.
    pub fn offers_sent(&self) -> usize {
        self.count(|a| matches!(a, Action::SendSignal(f) if f.kind == SignalType::Offer))
    }

    /// Messages delivered to the application: sender, message, rtt.
    pub fn delivered(&self) -> Vec<(PeerId, MeshMessage, Option<u64>)> {
        self.log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Deliver {
                    peer,
                    message,
                    rtt_ms,
                    ..
                } => Some((peer.clone(), message.clone(), *rtt_ms)),
                _ => None,
            })
            .collect()
    }

    /// Messages delivered to the application with the tier that carried them.
    pub fn delivered_via(&self) -> Vec<(PeerId, String, Route)> {
        self.log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Deliver {
                    peer, message, via, ..
                } => Some((peer.clone(), message.request_id.clone(), *via)),
                _ => None,
            })
            .collect()
    }
}

/// The DTLS fingerprint line of `peer`'s simulated certificate.
pub fn fingerprint_line(peer: &PeerId) -> String {
    let hex: Vec<String> = peer.as_str().bytes().map(|b| format!("{b:02X}")).collect();
    format!("a=fingerprint:sha-256 {}", hex.join(":"))
}

/// `name`'s identity, the same on every call.
pub fn identity_of(name: &str) -> Identity {
    let mut seed = [0u8; 32];
    for (slot, byte) in seed.iter_mut().zip(name.bytes().cycle()) {
        *slot = byte;
    }
    Identity::from_seed(seed)
}

/// [`config_for`] with an identity key.
pub fn keyed_config(name: &str) -> Config {
    Config {
        identity: Some(identity_of(name)),
        entropy: [name.len() as u8; 32],
        ..config_for(name)
    }
}

/// Whether `action` is `PeerConnected { peer }`.
pub fn connected_to(peer: &PeerId) -> impl Fn(&Action) -> bool + '_ {
    move |a| matches!(a, Action::PeerConnected { peer: p, .. } if p == peer)
}

/// Whether `action` is `PeerDisconnected { peer }`.
pub fn disconnected_from(peer: &PeerId) -> impl Fn(&Action) -> bool + '_ {
    move |a| matches!(a, Action::PeerDisconnected { peer: p } if p == peer)
}

/// Whether `action` is `CreateOffer { peer }`.
pub fn offer_to(peer: &PeerId) -> impl Fn(&Action) -> bool + '_ {
    move |a| matches!(a, Action::CreateOffer { peer: p, .. } if p == peer)
}

/// Whether `action` is `ClosePeer { peer }`.
pub fn close_of(peer: &PeerId) -> impl Fn(&Action) -> bool + '_ {
    move |a| matches!(a, Action::ClosePeer { peer: p, .. } if p == peer)
}

/// The simulated world.
pub struct Net {
    pub now: Time,
    pub nodes: BTreeMap<PeerId, Node>,
    /// Deliveries by (time, sequence): equal delays keep FIFO order per pair.
    queue: BTreeMap<(Time, u64), (PeerId, Event)>,
    seq: u64,
    /// Peers registered at the fake registry.
    online: BTreeSet<PeerId>,
    /// Relayed frames from `.0` to `.1` are lost.
    pub blocked_relay: BTreeSet<(PeerId, PeerId)>,
    /// DataChannel messages from `.0` to `.1` are lost.
    pub blocked_data: BTreeSet<(PeerId, PeerId)>,
    /// Peers that registered saying they take `mesh_message` frames.
    pub takes_mesh_messages: BTreeSet<PeerId>,
    /// Pairs whose ICE never connects (either order): their channel never opens.
    pub blocked_ice: BTreeSet<(PeerId, PeerId)>,
    /// The last `link_report` of each peer.
    pub link_reports: BTreeMap<PeerId, Vec<PeerId>>,
    /// One hop through the registry, in milliseconds.
    pub signal_delay: u64,
    /// Identity keys the fake registry holds, from `register`.
    pub keys: BTreeMap<PeerId, PublicKey>,
    /// A registry in the middle: the DTLS fingerprint of SDP from these peers is rewritten.
    pub rewrite_fingerprint_from: BTreeSet<PeerId>,
    /// Every `mesh_message` frame the registry relayed, as its JSON text.
    pub relayed_mesh_messages: Vec<String>,
}

impl Net {
    /// An empty world at time zero.
    pub fn new() -> Self {
        Self {
            now: Time::ZERO,
            nodes: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            online: BTreeSet::new(),
            blocked_relay: BTreeSet::new(),
            blocked_data: BTreeSet::new(),
            blocked_ice: BTreeSet::new(),
            takes_mesh_messages: BTreeSet::new(),
            link_reports: BTreeMap::new(),
            signal_delay: SIGNAL_DELAY,
            keys: BTreeMap::new(),
            rewrite_fingerprint_from: BTreeSet::new(),
            relayed_mesh_messages: Vec::new(),
        }
    }

    /// A world with these peers, run until every pair is connected.
    pub fn meshed(names: &[&str]) -> Self {
        let mut net = Self::new();
        for name in names {
            net.add(name);
        }
        net.run_until_meshed(Duration::from_secs(5));
        net
    }

    /// Adds (or restarts, with a fresh core) a peer; it starts connecting to the registry.
    pub fn add(&mut self, name: &str) -> PeerId {
        self.add_with(name, config_for(name))
    }

    /// Adds a peer with a custom config.
    pub fn add_with(&mut self, name: &str, config: Config) -> PeerId {
        let me = id(name);
        let shell = SimShell {
            now: self.now,
            signaling_up: false,
            registry_reachable: true,
            pcs: BTreeMap::new(),
            log: Vec::new(),
            app: Vec::new(),
            outbox: Vec::new(),
        };
        let node = Node {
            mesh: Mesh::new(MeshCore::new(me.clone(), config), shell),
            alive: true,
        };
        self.nodes.insert(me.clone(), node);
        self.flush(&me);
        me
    }

    /// The node `peer`.
    pub fn node(&self, peer: &PeerId) -> &Node {
        &self.nodes[peer]
    }

    /// Feeds an event to `peer`'s core now, as its shell would.
    pub fn inject(&mut self, peer: &PeerId, event: Event) {
        self.deliver(peer, event);
    }

    /// Calls `handle_timeout(now)` on `peer` whether or not anything is due, as a shell
    /// with a stale timer would.
    pub fn poke(&mut self, peer: &PeerId) {
        let now = self.now;
        if let Some(node) = self.nodes.get_mut(peer) {
            node.now = now;
            node.mesh.handle_timeout(now);
        }
        self.flush(peer);
    }

    /// Makes `from` offer to `to` now, whatever the offer rule says (to force glare).
    pub fn force_offer(&mut self, from: &PeerId, to: &PeerId) {
        let now = self.now;
        if let Some(node) = self.nodes.get_mut(from) {
            node.mesh.shell.now = now;
            node.mesh.core.start_offer(to, now);
        }
        self.flush(from);
    }

    /// Whether `a` and `b` both see an open channel to each other over one matched connection.
    pub fn linked(&self, a: &PeerId, b: &PeerId) -> bool {
        let (na, nb) = (&self.nodes[a], &self.nodes[b]);
        let open = na.mesh.core.connected_peers().contains(b)
            && nb.mesh.core.connected_peers().contains(a);
        let matched = match (na.pcs.get(b), nb.pcs.get(a)) {
            (Some(pa), Some(pb)) => pa.pairs_with(pb) && pa.open && pb.open,
            _ => false,
        };
        open && matched
    }

    /// Whether every pair of live peers is linked.
    pub fn is_meshed(&self) -> bool {
        let ids: Vec<&PeerId> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.alive)
            .map(|(i, _)| i)
            .collect();
        ids.iter()
            .enumerate()
            .all(|(i, a)| ids[i + 1..].iter().all(|b| self.linked(a, b)))
    }

    /// Runs until every pair is linked; panics if that takes longer than `limit`.
    pub fn run_until_meshed(&mut self, limit: Duration) {
        let end = self.now + limit;
        assert!(
            self.run_until(end, Self::is_meshed),
            "no full mesh by {end:?}"
        );
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end, |_| false);
    }

    /// Runs until `done` holds (returns true) or `end` is reached (returns false).
    pub fn run_until(&mut self, end: Time, done: impl Fn(&Net) -> bool) -> bool {
        for _ in 0..1_000_000 {
            if done(self) {
                return true;
            }
            let next_delivery = self.queue.keys().next().map(|(t, _)| *t);
            let next_timer = self
                .nodes
                .values()
                .filter(|n| n.alive)
                .filter_map(|n| n.mesh.next_timeout())
                .min();
            let next = match [next_delivery, next_timer].into_iter().flatten().min() {
                Some(t) if t <= end => t,
                _ => {
                    self.now = end;
                    return done(self);
                }
            };
            self.now = self.now.max(next);
            if next_delivery == Some(next) {
                if let Some((_, (to, event))) = self.queue.pop_first() {
                    self.deliver(&to, event);
                }
            } else {
                let due: Vec<PeerId> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.alive && n.mesh.next_timeout().is_some_and(|t| t <= next))
                    .map(|(i, _)| i.clone())
                    .collect();
                for peer in due {
                    let now = self.now;
                    if let Some(node) = self.nodes.get_mut(&peer) {
                        node.now = now;
                        node.mesh.handle_timeout(now);
                    }
                    self.flush(&peer);
                }
            }
        }
        panic!("simulation did not settle: a core keeps asking for past deadlines");
    }

    /// The registry loses `peer`'s socket; `reachable` decides whether reconnects succeed.
    pub fn drop_signaling(&mut self, peer: &PeerId, reachable: bool) {
        let node = self.nodes.get_mut(peer).expect("known peer");
        node.signaling_up = false;
        node.registry_reachable = reachable;
        self.unregister(peer, LeaveReason::Disconnected);
        self.schedule(1, peer, Event::SignalingDisconnected);
    }

    /// An admin revokes `peer`: the registry drops it and tells the others.
    pub fn revoke(&mut self, peer: &PeerId) {
        let node = self.nodes.get_mut(peer).expect("known peer");
        node.signaling_up = false;
        node.registry_reachable = false;
        self.unregister(peer, LeaveReason::Revoked);
        self.schedule(1, peer, Event::SignalingDisconnected);
    }

    /// `kill -9`: the process vanishes; the registry sees its socket close, ICE notices nothing.
    pub fn kill(&mut self, peer: &PeerId) {
        let node = self.nodes.get_mut(peer).expect("known peer");
        node.alive = false;
        node.signaling_up = false;
        self.unregister(peer, LeaveReason::Disconnected);
    }

    /// Writes an application message straight on the DataChannel (as a peer that skips the
    /// core would), tracking it as a request if `timeout` is given.
    pub fn send_app(
        &mut self,
        from: &PeerId,
        to: &PeerId,
        message: MeshMessage,
        timeout: Option<Duration>,
    ) {
        if let Some(timeout) = timeout {
            let request_id = message.request_id.clone();
            self.inject(
                from,
                Event::RequestSent {
                    request_id,
                    peer: to.clone(),
                    timeout,
                },
            );
        }
        self.send_frames(from, to, framing::encode(message.to_json(), 0));
    }

    /// Sends an application message the way the shells do: `Mesh::send`, on the route the
    /// core picks.
    pub fn send_routed(
        &mut self,
        from: &PeerId,
        to: &PeerId,
        message: MeshMessage,
    ) -> Result<Route, RouteError> {
        let now = self.now;
        let node = self.nodes.get_mut(from).expect("known peer");
        node.now = now;
        let tier = node.mesh.send(to, &message, now)?;
        self.flush(from);
        Ok(match tier {
            Tier::Registry => Route::Registry,
            Tier::Direct | Tier::Relay => Route::Channel,
        })
    }

    /// Sends a memory sync frame the way the shells do (`Mesh::send_memory`).
    pub fn send_memory(
        &mut self,
        from: &PeerId,
        to: &PeerId,
        frame: &crate::memory::SyncMessage,
    ) -> Result<Tier, RouteError> {
        let now = self.now;
        let node = self.nodes.get_mut(from).expect("known peer");
        node.now = now;
        let tier = node.mesh.send_memory(to, frame, now)?;
        self.flush(from);
        Ok(tier)
    }

    /// Runs the shared pump (`Mesh::pump_memory`) for `peer`'s replica and delivers what it
    /// sent; the `memory_changed` lines it produced.
    pub fn pump_memory(
        &mut self,
        peer: &PeerId,
        memory: &mut crate::memory::AgentMemory,
        store: &mut impl crate::core::MemoryStore,
    ) -> crate::memory::Outgoing {
        let now = self.now;
        let node = self.nodes.get_mut(peer).expect("known peer");
        node.now = now;
        let pumped = node.mesh.pump_memory(memory, store, now);
        assert!(pumped.failures.is_empty(), "{:?}", pumped.failures);
        self.flush(peer);
        pumped.lines
    }

    /// Takes the memory frames `peer`'s shell received.
    pub fn take_memory_frames(
        &mut self,
        peer: &PeerId,
    ) -> Vec<(PeerId, crate::memory::SyncMessage)> {
        let node = self.nodes.get_mut(peer).expect("known peer");
        std::mem::take(&mut node.mesh.memory_inbox.frames)
    }

    /// Peers `peer`'s core would sync its memory with now.
    pub fn memory_peers(&self, peer: &PeerId) -> Vec<PeerId> {
        self.nodes[peer].mesh.core.memory_peers()
    }

    /// Broadcasts the way the shells do (`Mesh::broadcast`); how many channels took it.
    pub fn broadcast(&mut self, from: &PeerId, message: MeshMessage) -> usize {
        let now = self.now;
        let node = self.nodes.get_mut(from).expect("known peer");
        node.now = now;
        let sent = node.mesh.broadcast(&message, now);
        self.flush(from);
        sent
    }

    fn schedule(&mut self, delay: u64, to: &PeerId, event: Event) {
        self.seq += 1;
        let at = Time::from_millis(self.now.as_millis() + delay);
        self.queue.insert((at, self.seq), (to.clone(), event));
    }

    fn deliver(&mut self, to: &PeerId, event: Event) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(to).filter(|n| n.alive) else {
            return;
        };
        match event {
            Event::SignalingConnected => node.signaling_up = true,
            Event::SignalReceived(_) if !node.signaling_up => return,
            _ => {}
        }
        node.now = now;
        node.mesh.handle(event, now);
        self.flush(to);
    }

    /// Runs `peer`'s dispatch, then performs what its shell recorded.
    fn flush(&mut self, peer: &PeerId) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(peer) else {
            return;
        };
        node.now = now;
        node.mesh.flush(now);
        let effects = std::mem::take(&mut node.mesh.shell.outbox);
        for effect in effects {
            match effect {
                Effect::Act(action) => self.perform(peer, action),
                Effect::Write { peer: to, frames } => self.send_frames(peer, &to, frames),
            }
        }
    }

    /// What the world does for each action the shell was asked to perform.
    fn perform(&mut self, me: &PeerId, action: Action) {
        match action {
            Action::ConnectSignaling => {
                let event = if self.nodes[me].registry_reachable {
                    Event::SignalingConnected
                } else {
                    Event::SignalingDisconnected
                };
                self.schedule(self.signal_delay, me, event);
            }
            Action::SendSignal(frame) if self.nodes[me].signaling_up => {
                self.registry_receive(me, frame)
            }
            Action::CreateOffer { peer, attempt, .. } => {
                let sdp = format!("offer {me}->{peer} {attempt}\r\n{}", fingerprint_line(me));
                let pc = self.new_pc(me, &peer, attempt);
                pc.local = Some(sdp.clone());
                let sdp_type = SdpType::Offer;
                self.schedule(
                    1,
                    me,
                    Event::LocalDescription {
                        peer: peer.clone(),
                        attempt,
                        sdp_type,
                        sdp,
                    },
                );
                self.gather(me, &peer, attempt, 2);
            }
            Action::AcceptOffer {
                peer, attempt, sdp, ..
            } => {
                let answer = format!("answer {me}->{peer} {attempt}\r\n{}", fingerprint_line(me));
                let pc = self.new_pc(me, &peer, attempt);
                pc.remote = Some(sdp);
                pc.local = Some(answer.clone());
                self.schedule(
                    1,
                    me,
                    Event::RemoteDescriptionApplied {
                        peer: peer.clone(),
                        attempt,
                    },
                );
                let sdp_type = SdpType::Answer;
                let event = Event::LocalDescription {
                    peer: peer.clone(),
                    attempt,
                    sdp_type,
                    sdp: answer,
                };
                self.schedule(2, me, event);
                self.gather(me, &peer, attempt, 3);
            }
            Action::ApplyAnswer { peer, attempt, sdp } => {
                self.pc(me, &peer, attempt).remote = Some(sdp);
                self.schedule(1, me, Event::RemoteDescriptionApplied { peer, attempt });
            }
            Action::AddIceCandidate {
                peer,
                attempt,
                candidate,
            } => {
                let pc = self.pc(me, &peer, attempt);
                assert!(
                    pc.remote.is_some(),
                    "{me}: candidate added before the remote description"
                );
                pc.candidates.push(candidate.candidate);
                self.try_open(me, &peer);
            }
            Action::ClosePeer { peer, attempt } => {
                let pc = self.pc(me, &peer, attempt).clone();
                if let Some(node) = self.nodes.get_mut(me) {
                    node.pcs.remove(&peer);
                }
                let other = self.nodes.get(&peer).and_then(|n| n.pcs.get(me)).cloned();
                if let Some(other) = other.filter(|o| pc.open && o.open && o.pairs_with(&pc)) {
                    let event = Event::ChannelClosed {
                        peer: me.clone(),
                        attempt: other.attempt,
                    };
                    self.schedule(DATA_DELAY, &peer, event);
                }
            }
            _ => {}
        }
    }

    fn new_pc(&mut self, me: &PeerId, peer: &PeerId, attempt: Attempt) -> &mut FakePc {
        let node = self.nodes.get_mut(me).expect("known peer");
        assert!(
            !node.pcs.contains_key(peer),
            "{me}: second connection to {peer} without a close"
        );
        node.pcs.entry(peer.clone()).or_insert(FakePc::new(attempt))
    }

    fn pc(&mut self, me: &PeerId, peer: &PeerId, attempt: Attempt) -> &mut FakePc {
        let pc = self.nodes.get_mut(me).and_then(|n| n.pcs.get_mut(peer));
        let pc =
            pc.unwrap_or_else(|| panic!("{me}: action on a connection to {peer} it never made"));
        assert_eq!(pc.attempt, attempt, "{me}: action names a stale attempt");
        pc
    }

    /// Reports two local candidates, after the local description as real stacks do.
    fn gather(&mut self, me: &PeerId, peer: &PeerId, attempt: Attempt, first_delay: u64) {
        for i in 0..2 {
            let candidate = candidate(&format!("candidate:{me}-{attempt}-{i}"));
            let event = Event::LocalCandidate {
                peer: peer.clone(),
                attempt,
                candidate,
            };
            self.schedule(first_delay + i, me, event);
        }
    }

    /// Opens the channel once both halves match and both have a remote candidate.
    fn try_open(&mut self, a: &PeerId, b: &PeerId) {
        let (Some(pa), Some(pb)) = (
            self.nodes.get(a).and_then(|n| n.pcs.get(b)),
            self.nodes.get(b).and_then(|n| n.pcs.get(a)),
        ) else {
            return;
        };
        let no_ice = self.blocked_ice.contains(&(a.clone(), b.clone()))
            || self.blocked_ice.contains(&(b.clone(), a.clone()));
        let ready = !no_ice
            && pa.pairs_with(pb)
            && !pa.open
            && !pa.candidates.is_empty()
            && !pb.candidates.is_empty();
        if !ready {
            return;
        }
        let (attempt_a, attempt_b) = (pa.attempt, pb.attempt);
        for (x, y) in [(a, b), (b, a)] {
            if let Some(pc) = self.nodes.get_mut(x).and_then(|n| n.pcs.get_mut(y)) {
                pc.open = true;
            }
        }
        self.schedule(
            ICE_DELAY,
            a,
            Event::ChannelOpened {
                peer: b.clone(),
                attempt: attempt_a,
            },
        );
        self.schedule(
            ICE_DELAY,
            b,
            Event::ChannelOpened {
                peer: a.clone(),
                attempt: attempt_b,
            },
        );
    }

    /// Carries frames over the pair's channel when both halves are open and matched.
    fn send_frames(&mut self, from: &PeerId, to: &PeerId, frames: Vec<Frame>) {
        let (Some(mine), Some(theirs)) = (
            self.nodes.get(from).and_then(|n| n.pcs.get(to)),
            self.nodes
                .get(to)
                .filter(|n| n.alive)
                .and_then(|n| n.pcs.get(from)),
        ) else {
            return;
        };
        let up = mine.open && theirs.open && mine.pairs_with(theirs);
        if !up || self.blocked_data.contains(&(from.clone(), to.clone())) {
            return;
        }
        let attempt = theirs.attempt;
        for frame in frames {
            let data = match frame {
                Frame::Text(text) => Incoming::Text(text),
                Frame::Chunk(bytes) => Incoming::Binary(bytes),
            };
            let event = Event::Data {
                peer: from.clone(),
                attempt,
                data,
            };
            self.schedule(DATA_DELAY, to, event);
        }
    }

    /// The fake registry's handling of one frame from `from`.
    fn registry_receive(&mut self, from: &PeerId, frame: SignalMessage) {
        match frame.kind {
            SignalType::Register => {
                let register = frame
                    .payload_as::<crate::signaling::RegisterPayload>()
                    .unwrap_or_default();
                let takes = register.registry_tier == Some(true);
                match register.identity_key {
                    Some(key) => self.keys.insert(from.clone(), key),
                    None => self.keys.remove(from),
                };
                if takes {
                    self.takes_mesh_messages.insert(from.clone());
                } else {
                    self.takes_mesh_messages.remove(from);
                }
                let others: Vec<PeerId> =
                    self.online.iter().filter(|p| *p != from).cloned().collect();
                self.registry_send(
                    from,
                    SignalType::PeerList,
                    &PeerListPayload {
                        peers: others.clone(),
                        keys: others
                            .iter()
                            .filter_map(|p| Some((p.clone(), *self.keys.get(p)?)))
                            .collect(),
                        memory: None,
                    },
                );
                if self.online.insert(from.clone()) {
                    let joined = PeerJoinedPayload {
                        peer_id: from.clone(),
                        identity_key: self.keys.get(from).copied(),
                    };
                    for other in others {
                        self.registry_send(&other, SignalType::PeerJoined, &joined);
                    }
                }
            }
            SignalType::Offer
            | SignalType::Answer
            | SignalType::IceCandidate
            | SignalType::MeshMessage => {
                let Some(to) = frame.target_id.clone() else {
                    return;
                };
                if self.blocked_relay.contains(&(from.clone(), to.clone())) {
                    return;
                }
                let mut frame = frame;
                if frame.kind == SignalType::MeshMessage {
                    self.relayed_mesh_messages.push(frame.to_json());
                }
                if self.rewrite_fingerprint_from.contains(from) {
                    if let Some(sdp) = frame.payload.get_mut("sdp") {
                        let forged = sdp
                            .as_str()
                            .unwrap_or_default()
                            .replace(&fingerprint_line(from), "a=fingerprint:sha-256 66:66:66:66");
                        *sdp = serde_json::Value::String(forged);
                    }
                }
                let declined = frame.kind == SignalType::MeshMessage
                    && !self.takes_mesh_messages.contains(&to);
                if self.online.contains(&to) && declined {
                    let error = ErrorPayload {
                        code: SignalErrorCode::NotPermitted,
                        message: format!("{to} does not take registry-carried messages"),
                        refused: Some(frame.kind),
                        target_id: Some(to.clone()),
                        request_id: frame.payload["request_id"].as_str().map(str::to_owned),
                    };
                    self.registry_send(from, SignalType::Error, &error);
                } else if self.online.contains(&to) {
                    self.schedule(self.signal_delay, &to, Event::SignalReceived(frame));
                } else {
                    let error = ErrorPayload {
                        code: SignalErrorCode::UnknownTarget,
                        message: format!("{to} is not connected"),
                        refused: Some(frame.kind),
                        target_id: Some(to.clone()),
                        request_id: frame.payload["request_id"].as_str().map(str::to_owned),
                    };
                    self.registry_send(from, SignalType::Error, &error);
                }
            }
            SignalType::LinkReport => {
                if let Ok(report) = frame.payload_as::<LinkReportPayload>() {
                    let peers = report.links.into_iter().map(|l| l.peer_id).collect();
                    self.link_reports.insert(from.clone(), peers);
                }
            }
            _ => {}
        }
    }

    fn registry_send(&mut self, to: &PeerId, kind: SignalType, payload: &impl serde::Serialize) {
        let frame = SignalMessage::from_registry(kind, payload);
        self.schedule(self.signal_delay, to, Event::SignalReceived(frame));
    }

    fn unregister(&mut self, peer: &PeerId, reason: LeaveReason) {
        if self.online.remove(peer) {
            let left = PeerLeftPayload {
                peer_id: peer.clone(),
                reason,
            };
            for other in self.online.clone() {
                self.registry_send(&other, SignalType::PeerLeft, &left);
            }
        }
    }
}
