//! One link attempt: a task that owns the `RTCPeerConnection` and performs the core's
//! decisions in order (so candidates never overtake the description they belong to).

use super::{
    channel::spawn_pump,
    handler::{ChannelSlot, Handler},
    path::{self, RemoteRelays},
    settings, Sinks,
};
use crate::config::IcePolicy;
use bytes::BytesMut;
use meshwork_protocol::{
    core::{Attempt, ConnectionState, Event, Purpose, SdpType},
    framing::Frame,
    rest::IceServer,
    signaling::IceCandidatePayload,
    PeerId,
};
use rtc::peer_connection::transport::RTCDtlsRole;
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Instant,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use webrtc::{
    data_channel::{DataChannel, RTCDataChannelInit},
    peer_connection::{
        PeerConnection, PeerConnectionBuilder, RTCIceCandidateInit, RTCSessionDescription,
    },
};

/// Bytes of messages waiting in one link's queue above which the driver stops taking its
/// agents' input (the agent's writes then block: backpressure instead of memory).
pub const SEND_HIGH_WATER: usize = 8 * 1024 * 1024;

/// What a link task is asked to do.
#[derive(Debug)]
pub enum LinkOp {
    /// Create the `mesh` channel and an offer (`meshwork_peer`: see
    /// [`settings::offer_to_signal`]).
    CreateOffer {
        /// The peer is known to run meshwork.
        meshwork_peer: bool,
    },
    /// Apply a remote offer and answer it.
    AcceptOffer(String),
    /// Apply the remote answer.
    ApplyAnswer(String),
    /// Apply a remote candidate.
    AddCandidate(IceCandidatePayload),
    /// Send the frames of one message, in order; a failure is reported with them.
    Send(Vec<Frame>, Purpose),
    /// Read the selected path once and report it.
    ProbePath,
    /// Close and end the task.
    Close,
}

/// How to build connections (the ICE servers come from the core with each attempt).
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// `all` or `relay`.
    pub policy: IcePolicy,
    /// UDP bind addresses.
    pub bind_addrs: Vec<String>,
    /// The DTLS role this link takes if it answers ([`settings::answering_role`]).
    pub answering: RTCDtlsRole,
}

/// The driver's handle on a link task.
pub struct LinkHandle {
    /// The attempt this task serves.
    pub attempt: Attempt,
    ops: mpsc::UnboundedSender<LinkOp>,
    /// Bytes of `Send`s queued and not yet written (the task subtracts what it wrote).
    queued: Arc<AtomicUsize>,
    /// Ends the task at once, even while a write waits for SCTP (`Close` would queue
    /// behind it).
    close: CancellationToken,
    /// When the offer/answer work started (for setup-time logs).
    pub started: Instant,
}

impl LinkHandle {
    /// Queues an operation; false when the task has ended. `Close` ends it at once.
    pub fn op(&self, op: LinkOp) -> bool {
        if matches!(op, LinkOp::Close) {
            self.close.cancel();
            return true;
        }
        let bytes = op_bytes(&op);
        self.queued.fetch_add(bytes, Ordering::AcqRel);
        let queued = self.ops.send(op).is_ok();
        if !queued {
            self.queued.fetch_sub(bytes, Ordering::AcqRel);
        }
        queued
    }

    /// Whether more than [`SEND_HIGH_WATER`] bytes wait to be written.
    pub fn backlogged(&self) -> bool {
        self.queued.load(Ordering::Acquire) > SEND_HIGH_WATER
    }
}

fn op_bytes(op: &LinkOp) -> usize {
    match op {
        LinkOp::Send(frames, _) => frames.iter().map(frame_len).sum(),
        _ => 0,
    }
}

fn frame_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(text) => text.len(),
        Frame::Chunk(bytes) => bytes.len(),
    }
}

/// Starts a link task for one attempt.
pub fn spawn(
    peer: PeerId,
    attempt: Attempt,
    link: LinkSettings,
    ice_servers: Vec<IceServer>,
    sinks: Sinks,
) -> LinkHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let close = CancellationToken::new();
    let task = Task {
        peer,
        attempt,
        sinks,
        queued: queued.clone(),
    };
    tokio::spawn(run(task, link, ice_servers, rx, close.clone()));
    LinkHandle {
        attempt,
        ops: tx,
        queued,
        close,
        started: Instant::now(),
    }
}

/// What a link task knows about itself.
struct Task {
    peer: PeerId,
    attempt: Attempt,
    sinks: Sinks,
    queued: Arc<AtomicUsize>,
}

impl Task {
    fn failed(&self) {
        self.sinks.core(Event::ConnectionStateChanged {
            peer: self.peer.clone(),
            attempt: self.attempt,
            state: ConnectionState::Failed,
        });
    }

    /// `bytes` left the queue (written or failed): wake a driver waiting for room.
    fn dequeued(&self, bytes: usize) {
        let before = self.queued.fetch_sub(bytes, Ordering::AcqRel);
        if before > SEND_HIGH_WATER && before - bytes <= SEND_HIGH_WATER {
            self.sinks.room.notify_one();
        }
    }
}

async fn run(
    task: Task,
    link: LinkSettings,
    ice_servers: Vec<IceServer>,
    mut ops: mpsc::UnboundedReceiver<LinkOp>,
    close: CancellationToken,
) {
    let (peer, attempt) = (task.peer.clone(), task.attempt);
    let channel: ChannelSlot = Default::default();
    let handler = Arc::new(Handler {
        peer: peer.clone(),
        attempt,
        sinks: task.sinks.clone(),
        channel: channel.clone(),
    });
    // Boxed: this task lives as long as the link, and an inline build future would keep its
    // whole (large) state in the task for that long.
    let built = Box::pin(
        PeerConnectionBuilder::new()
            .with_configuration(settings::configuration(&ice_servers, link.policy))
            .with_setting_engine(settings::setting_engine(link.answering))
            .with_handler(handler)
            .with_udp_addrs(link.bind_addrs.clone())
            .with_data_channel_send_buffer_limit(4 * 1024 * 1024)
            .build(),
    )
    .await;
    let pc: Arc<dyn PeerConnection> = match built {
        Ok(pc) => Arc::new(pc),
        Err(e) => {
            tracing::error!(peer = %peer, error = %e, "cannot build peer connection");
            task.failed();
            return;
        }
    };
    let relays = RemoteRelays::default();
    loop {
        let op = tokio::select! {
            op = ops.recv() => op,
            _ = close.cancelled() => None,
        };
        let Some(op) = op else { break };
        relays.learn(&op);
        match op {
            LinkOp::Close => break,
            LinkOp::ProbePath => spawn_probe(&task, pc.clone(), relays.clone()),
            LinkOp::Send(frames, purpose) => {
                let bytes = frames.iter().map(frame_len).sum();
                let dc = channel.lock().ok().and_then(|c| c.clone());
                let sent = match dc {
                    Some(dc) => tokio::select! {
                        sent = send_frames(&dc, &frames) => sent,
                        // Closed while waiting for SCTP: the core has moved on.
                        _ = close.cancelled() => break,
                    },
                    None => Err(webrtc::error::Error::Other("no channel yet".into())),
                };
                task.dequeued(bytes);
                if let Err(e) = sent {
                    tracing::debug!(peer = %peer, error = %e, "write failed; the core re-routes it");
                    task.sinks.core(Event::WriteFailed {
                        peer: peer.clone(),
                        attempt,
                        frames,
                        purpose,
                        error: e.to_string(),
                    });
                }
            }
            op => {
                if let Err(e) = perform(&task, &pc, &channel, op).await {
                    tracing::warn!(peer = %peer, attempt = %attempt, error = %e, "link operation failed");
                    task.failed();
                }
            }
        }
    }
    let dc = channel.lock().ok().and_then(|c| c.clone());
    if let Some(dc) = dc {
        let _ = dc.close().await;
    }
    let _ = pc.close().await;
}

/// Reads the selected path once, off the link's task (stats take a while).
fn spawn_probe(task: &Task, pc: Arc<dyn PeerConnection>, relays: RemoteRelays) {
    let (peer, attempt, sinks) = (task.peer.clone(), task.attempt, task.sinks.clone());
    tokio::spawn(async move {
        let (candidate_type, rtt_ms) = path::selected(&pc, &relays).await;
        sinks.core(Event::PathObserved {
            peer,
            attempt,
            candidate_type,
            rtt_ms,
        });
    });
}

async fn perform(
    task: &Task,
    pc: &Arc<dyn PeerConnection>,
    channel: &ChannelSlot,
    op: LinkOp,
) -> Result<(), webrtc::error::Error> {
    let (peer, attempt) = (&task.peer, task.attempt);
    let core = |event| task.sinks.core(event);
    match op {
        LinkOp::CreateOffer { meshwork_peer } => {
            let init = RTCDataChannelInit {
                ordered: true,
                ..Default::default()
            };
            let dc = pc.create_data_channel("mesh", Some(init)).await?;
            if let Ok(mut slot) = channel.lock() {
                *slot = Some(dc.clone());
            }
            spawn_pump(peer.clone(), attempt, dc, task.sinks.data.clone());
            let offer = pc.create_offer(None).await?;
            pc.set_local_description(offer.clone()).await?;
            core(Event::LocalDescription {
                peer: peer.clone(),
                attempt,
                sdp_type: SdpType::Offer,
                sdp: settings::offer_to_signal(offer.sdp, meshwork_peer),
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
        LinkOp::Close | LinkOp::ProbePath | LinkOp::Send(..) => {}
    }
    Ok(())
}

/// Writes one message's frames, waiting while the channel's send buffer is full (SCTP flow
/// control).
async fn send_frames(
    dc: &Arc<dyn DataChannel>,
    frames: &[Frame],
) -> Result<(), webrtc::error::Error> {
    for frame in frames {
        match frame {
            Frame::Text(text) => dc.send_text(text).await?,
            Frame::Chunk(bytes) => dc.send(BytesMut::from(&bytes[..])).await?,
        }
    }
    Ok(())
}

fn description(kind: &str, sdp: String) -> Result<RTCSessionDescription, webrtc::error::Error> {
    serde_json::from_value(serde_json::json!({ "type": kind, "sdp": sdp }))
        .map_err(|e| webrtc::error::Error::Other(format!("invalid {kind}: {e}")))
}
