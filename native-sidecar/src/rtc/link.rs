//! One link attempt: a task that owns the `RTCPeerConnection` and performs the core's
//! decisions in order (so candidates never overtake the description they belong to).

use super::{
    channel::spawn_pump,
    handler::{ChannelSlot, Handler},
    settings, RtcEvent,
};
use crate::config::IcePolicy;
use bytes::BytesMut;
use meshwork_protocol::{
    core::{Attempt, ConnectionState, Event, SdpType},
    framing::Frame,
    rest::IceServer,
    signaling::{path_type, relay_address, CandidateType, IceCandidatePayload},
    PeerId,
};
use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Instant,
};
use tokio::sync::mpsc::{self, UnboundedSender};
use webrtc::{
    data_channel::{DataChannel, RTCDataChannelInit},
    peer_connection::{
        PeerConnection, PeerConnectionBuilder, RTCIceCandidateInit, RTCSessionDescription,
        RTCStatsReportEntry, StatsSelector,
    },
};

/// What a link task is asked to do.
#[derive(Debug)]
pub enum LinkOp {
    /// Create the `mesh` channel and an offer.
    CreateOffer,
    /// Apply a remote offer and answer it.
    AcceptOffer(String),
    /// Apply the remote answer.
    ApplyAnswer(String),
    /// Apply a remote candidate.
    AddCandidate(IceCandidatePayload),
    /// Send frames of one message, in order.
    Send {
        /// The frames.
        frames: Vec<Frame>,
        /// The message's `request_id`: a failed send is reported with it (empty: not
        /// reported, e.g. keepalives).
        request_id: String,
    },
    /// The channel is open: start reading the selected path (both ends, offerer or not).
    ProbePath,
    /// Close and end the task.
    Close,
}

/// How to build connections.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// ICE servers.
    pub ice_servers: Vec<IceServer>,
    /// `all` or `relay`.
    pub policy: IcePolicy,
    /// UDP bind addresses.
    pub bind_addrs: Vec<String>,
}

/// The driver's handle on a link task.
pub struct LinkHandle {
    /// The attempt this task serves.
    pub attempt: Attempt,
    ops: mpsc::UnboundedSender<LinkOp>,
    /// When the offer/answer work started (for setup-time logs).
    pub started: Instant,
}

impl LinkHandle {
    /// Queues an operation; false when the task has ended.
    pub fn op(&self, op: LinkOp) -> bool {
        self.ops.send(op).is_ok()
    }
}

/// Starts a link task for one attempt.
pub fn spawn(
    peer: PeerId,
    attempt: Attempt,
    link: LinkSettings,
    events: UnboundedSender<RtcEvent>,
) -> LinkHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(peer, attempt, link, events, rx));
    LinkHandle {
        attempt,
        ops: tx,
        started: Instant::now(),
    }
}

fn failed(events: &UnboundedSender<RtcEvent>, peer: &PeerId, attempt: Attempt) {
    let _ = events.send(RtcEvent::Core(Event::ConnectionStateChanged {
        peer: peer.clone(),
        attempt,
        state: ConnectionState::Failed,
    }));
}

async fn run(
    peer: PeerId,
    attempt: Attempt,
    link: LinkSettings,
    events: UnboundedSender<RtcEvent>,
    mut ops: mpsc::UnboundedReceiver<LinkOp>,
) {
    let channel: ChannelSlot = Default::default();
    let handler = Arc::new(Handler {
        peer: peer.clone(),
        attempt,
        events: events.clone(),
        channel: channel.clone(),
    });
    let built = PeerConnectionBuilder::new()
        .with_configuration(settings::configuration(&link.ice_servers, link.policy))
        .with_setting_engine(settings::setting_engine())
        .with_handler(handler)
        .with_udp_addrs(link.bind_addrs.clone())
        .with_data_channel_send_buffer_limit(4 * 1024 * 1024)
        .build()
        .await;
    let pc: Arc<dyn PeerConnection> = match built {
        Ok(pc) => Arc::new(pc),
        Err(e) => {
            tracing::error!(peer = %peer, error = %e, "cannot build peer connection");
            failed(&events, &peer, attempt);
            return;
        }
    };
    let mut stats_started = false;
    let relays = RemoteRelays::default();
    let kick_pending = Arc::new(AtomicBool::new(false));
    while let Some(op) = ops.recv().await {
        if matches!(op, LinkOp::Close) {
            break;
        }
        relays.learn(&op);
        if matches!(op, LinkOp::ProbePath) {
            if !stats_started {
                stats_started = true;
                spawn_path_probe(
                    peer.clone(),
                    attempt,
                    pc.clone(),
                    events.clone(),
                    relays.clone(),
                );
            }
            continue;
        }
        let sending = match &op {
            LinkOp::Send { request_id, .. } => Some(request_id.clone()),
            _ => None,
        };
        if let Err(e) = perform(&peer, attempt, &pc, &channel, &events, op, &kick_pending).await {
            if let Some(request_id) = sending {
                tracing::warn!(peer = %peer, error = %e, "send failed");
                if !request_id.is_empty() {
                    let _ = events.send(RtcEvent::SendFailed {
                        peer: peer.clone(),
                        request_id,
                        error: e.to_string(),
                    });
                }
            } else {
                tracing::warn!(peer = %peer, attempt = %attempt, error = %e, "link operation failed");
                failed(&events, &peer, attempt);
            }
        }
    }
    let dc = channel.lock().ok().and_then(|c| c.clone());
    if let Some(dc) = dc {
        let _ = dc.close().await;
    }
    let _ = pc.close().await;
}

async fn perform(
    peer: &PeerId,
    attempt: Attempt,
    pc: &Arc<dyn PeerConnection>,
    channel: &ChannelSlot,
    events: &UnboundedSender<RtcEvent>,
    op: LinkOp,
    kick_pending: &Arc<AtomicBool>,
) -> Result<(), webrtc::error::Error> {
    let core = |event| {
        let _ = events.send(RtcEvent::Core(event));
    };
    match op {
        LinkOp::CreateOffer => {
            let init = RTCDataChannelInit {
                ordered: true,
                ..Default::default()
            };
            let dc = pc.create_data_channel("mesh", Some(init)).await?;
            if let Ok(mut slot) = channel.lock() {
                *slot = Some(dc.clone());
            }
            spawn_pump(peer.clone(), attempt, dc, events.clone(), true);
            let offer = pc.create_offer(None).await?;
            pc.set_local_description(offer.clone()).await?;
            core(Event::LocalDescription {
                peer: peer.clone(),
                attempt,
                sdp_type: SdpType::Offer,
                sdp: offer.sdp,
            });
        }
        LinkOp::AcceptOffer(sdp) => {
            pc.set_remote_description(description("offer", sdp)?)
                .await?;
            core(Event::RemoteDescriptionApplied {
                peer: peer.clone(),
                attempt,
            });
            let answer = pc.create_answer(None).await?;
            pc.set_local_description(answer.clone()).await?;
            core(Event::LocalDescription {
                peer: peer.clone(),
                attempt,
                sdp_type: SdpType::Answer,
                sdp: answer.sdp,
            });
        }
        LinkOp::ApplyAnswer(sdp) => {
            pc.set_remote_description(description("answer", sdp)?)
                .await?;
            core(Event::RemoteDescriptionApplied {
                peer: peer.clone(),
                attempt,
            });
        }
        LinkOp::AddCandidate(c) => {
            if c.candidate.is_empty() {
                return Ok(()); // end-of-candidates
            }
            let init = RTCIceCandidateInit {
                candidate: c.candidate,
                sdp_mid: c.sdp_mid,
                sdp_mline_index: c.sdp_m_line_index,
                username_fragment: None,
                ..Default::default()
            };
            if let Err(e) = pc.add_ice_candidate(init).await {
                // A bad candidate from the network is that candidate's problem, not the link's.
                tracing::debug!(peer = %peer, error = %e, "remote candidate refused");
            }
        }
        LinkOp::Send { frames, .. } => {
            let dc = channel.lock().ok().and_then(|c| c.clone());
            let Some(dc) = dc else {
                return Err(webrtc::error::Error::Other("no channel yet".into()));
            };
            send_frames(&dc, frames).await?;
            wake_writer(&dc, kick_pending);
        }
        LinkOp::Close | LinkOp::ProbePath => {}
    }
    Ok(())
}

/// Wakes the connection's writer once more, right after the current burst of sends.
///
/// webrtc-rs 0.21.1 can leave a send stranded in its core until the next timer (~200 ms)
/// when it lands while the driver is mid-iteration; on a TURN-relayed path every message hit
/// it (request → reply 387 ms instead of 0.46 ms, `bench_tiers`). Touching a channel setter
/// from a task that runs after this one yields makes the driver drain again. One kick per
/// burst: `pending` coalesces.
fn wake_writer(dc: &Arc<dyn DataChannel>, pending: &Arc<AtomicBool>) {
    if pending.swap(true, Ordering::AcqRel) {
        return;
    }
    let (dc, pending) = (dc.clone(), pending.clone());
    tokio::spawn(async move {
        tokio::task::yield_now().await;
        pending.store(false, Ordering::Release);
        let _ = dc.set_buffered_amount_low_threshold(0).await;
    });
}

async fn send_frames(
    dc: &Arc<dyn DataChannel>,
    frames: Vec<Frame>,
) -> Result<(), webrtc::error::Error> {
    for frame in frames {
        match frame {
            Frame::Text(text) => dc.send_text(&text).await?,
            Frame::Chunk(bytes) => dc.send(BytesMut::from(&bytes[..])).await?,
        }
    }
    Ok(())
}

fn description(kind: &str, sdp: String) -> Result<RTCSessionDescription, webrtc::error::Error> {
    serde_json::from_value(serde_json::json!({ "type": kind, "sdp": sdp }))
        .map_err(|e| webrtc::error::Error::Other(format!("invalid {kind}: {e}")))
}

/// The addresses of the relay candidates the remote peer signaled (in its description or
/// trickled), shared with the path probe.
#[derive(Debug, Clone, Default)]
struct RemoteRelays(Arc<std::sync::Mutex<HashSet<(String, u16)>>>);

impl RemoteRelays {
    fn learn(&self, op: &LinkOp) {
        let found: Vec<(String, u16)> = match op {
            LinkOp::AcceptOffer(sdp) | LinkOp::ApplyAnswer(sdp) => {
                sdp.lines().filter_map(relay_address).collect()
            }
            LinkOp::AddCandidate(c) => c.relay_address().into_iter().collect(),
            _ => return,
        };
        if let Ok(mut set) = self.0.lock() {
            set.extend(found);
        }
    }

    fn contains(&self, address: &str, port: u16) -> bool {
        self.0
            .lock()
            .is_ok_and(|set| set.contains(&(address.to_owned(), port)))
    }
}

/// Reads the selected candidate pair once the link is up (and again every 10 s while it lives)
/// so link reports carry the path type and ICE's RTT.
fn spawn_path_probe(
    peer: PeerId,
    attempt: Attempt,
    pc: Arc<dyn PeerConnection>,
    events: UnboundedSender<RtcEvent>,
    relays: RemoteRelays,
) {
    tokio::spawn(async move {
        for delay_ms in [0u64, 100, 500, 2000]
            .into_iter()
            .chain(std::iter::repeat(10_000))
        {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            let (candidate_type, rtt_ms) = selected_path(&pc, &relays).await;
            if candidate_type.is_none() && delay_ms >= 10_000 {
                return; // closed
            }
            let event = RtcEvent::PathKnown {
                peer: peer.clone(),
                attempt,
                candidate_type,
                rtt_ms,
            };
            if events.send(event).is_err() {
                return;
            }
        }
    });
}

async fn selected_path(
    pc: &Arc<dyn PeerConnection>,
    relays: &RemoteRelays,
) -> (Option<CandidateType>, Option<f64>) {
    // RTT from the selected pair's stats; the path type from the ICE transport itself (the
    // stats report does not index local candidates by the pair's id in 0.21.1).
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let rtt = report
        .transport()
        .map(|t| t.selected_candidate_pair_id.clone())
        .and_then(|id| match report.get(&id) {
            Some(RTCStatsReportEntry::IceCandidatePair(pair)) => Some(pair.current_round_trip_time),
            _ => None,
        })
        .filter(|rtt| *rtt > 0.0)
        .map(|rtt| rtt * 1000.0);
    let Some(sctp) = pc.sctp().await else {
        return (None, rtt);
    };
    let kind = match sctp
        .transport()
        .ice_transport()
        .get_selected_candidate_pair()
        .await
    {
        // The shared rule (`signaling::path_type`): relayed when either end is a TURN
        // allocation, signaled relay addresses included.
        Ok(Some(pair)) => {
            let (local, remote) = (pair.local(), pair.remote());
            let kind = path_type(
                CandidateType::from_name(&format!("{:?}", local.typ)),
                CandidateType::from_name(&format!("{:?}", remote.typ)),
                relays.contains(&remote.address, remote.port),
            );
            tracing::debug!(
                local = ?local.typ,
                local_addr = %format!("{}:{}", local.address, local.port),
                remote = ?remote.typ,
                remote_addr = %format!("{}:{}", remote.address, remote.port),
                ?kind,
                "selected candidate pair"
            );
            kind
        }
        _ => None,
    };
    (kind, rtt)
}
