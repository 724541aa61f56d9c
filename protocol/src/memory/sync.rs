//! The messages two replicas exchange over a link, and the pure step that answers them.
//!
//! On link open each side sends [`SyncMessage::MemoryHave`] with its version; the other answers
//! with the events the first lacks, in [`SyncMessage::MemoryEvents`] frames of at most
//! `frame_bytes` encoded (one event larger than that goes alone; the DataChannel framing
//! chunks it, the registry tier's shell must too). One answer carries at most `reply_bytes`;
//! if it stopped early its last frame says `more`, and the receiver asks again with its new
//! version. New local events are pushed as `memory_events` too. Events that arrive after a gap
//! are held and the gap is asked for with [`SyncMessage::MemoryWant`].

use super::{
    event::Event,
    replica::{Applied, Limits, Received, Replica},
    version::Version,
};
use crate::PeerId;
use serde::{Deserialize, Serialize};

/// A memory sync frame, JSON `{"type":"memory_have",…}` on the `mesh` DataChannel or the
/// registry tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "Frame")]
pub enum SyncMessage {
    /// "I hold this": sent on link open, after a `more` frame, and periodically.
    MemoryHave {
        /// The sender's version.
        version: Version,
    },
    /// Events the receiver lacks (an answer, or a push of new events).
    MemoryEvents {
        /// In chain order per author.
        events: Vec<Event>,
        /// The sender stopped early: ask again with `memory_have`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        more: bool,
    },
    /// Missing events, by author and seq range (inclusive), to fill gaps.
    MemoryWant {
        /// The ranges wanted.
        ranges: Vec<WantRange>,
    },
}

/// The flat shape frames are parsed through: an internally tagged enum would buffer every
/// event through serde's generic `Content` first (slower, and ~20 KB more wasm).
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: FrameType,
    version: Option<Version>,
    events: Option<Vec<Event>>,
    #[serde(default)]
    more: bool,
    ranges: Option<Vec<WantRange>>,
}

#[derive(Deserialize)]
enum FrameType {
    #[serde(rename = "memory_have")]
    Have,
    #[serde(rename = "memory_events")]
    Events,
    #[serde(rename = "memory_want")]
    Want,
}

impl TryFrom<Frame> for SyncMessage {
    type Error = &'static str;
    fn try_from(frame: Frame) -> Result<Self, &'static str> {
        Ok(
            match (frame.kind, frame.version, frame.events, frame.ranges) {
                (FrameType::Have, Some(version), _, _) => SyncMessage::MemoryHave { version },
                (FrameType::Events, _, Some(events), _) => SyncMessage::MemoryEvents {
                    events,
                    more: frame.more,
                },
                (FrameType::Want, _, _, Some(ranges)) => SyncMessage::MemoryWant { ranges },
                _ => return Err("memory sync frame without its field"),
            },
        )
    }
}

/// Events `from..=to` of `author`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantRange {
    /// The author.
    pub author: PeerId,
    /// First seq wanted.
    pub from: u64,
    /// Last seq wanted.
    pub to: u64,
}

/// What one incoming frame produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Frames to send back to the peer, in order.
    pub replies: Vec<SyncMessage>,
    /// Events applied: persist them, announce them, push them to the other links.
    pub applied: Applied,
}

/// The frame to send when a link opens (and periodically, as anti-entropy).
pub fn open(replica: &Replica) -> SyncMessage {
    SyncMessage::MemoryHave {
        version: replica.version().clone(),
    }
}

/// Answers one frame from a peer: applies what it carries, returns the replies.
pub fn handle(replica: &mut Replica, message: SyncMessage) -> Step {
    let limits = replica.limits;
    match message {
        SyncMessage::MemoryHave { version } => {
            let version = version.normalized();
            let mut wanted = Vec::new();
            for (author, have) in replica.version().iter() {
                let from = version.get(author) + 1;
                if from <= have {
                    wanted.push((author.clone(), from, have));
                }
            }
            let mut replies = answer(replica, &wanted, &limits);
            if !replica.version().includes(&version) {
                replies.push(open(replica));
            }
            Step {
                replies,
                applied: Applied::default(),
            }
        }
        SyncMessage::MemoryEvents { events, more } => {
            let mut applied = Applied::default();
            let mut gap = false;
            for event in events {
                if let Ok((received, step)) = replica.receive_one(event) {
                    gap |= matches!(received, Received::Pending | Received::Dropped);
                    applied.events.extend(step.events);
                    applied.erased.extend(step.erased);
                }
            }
            let mut replies = Vec::new();
            if gap {
                let ranges: Vec<WantRange> = replica
                    .gaps()
                    .into_iter()
                    .take(limits.want_ranges)
                    .map(|(author, from, to)| WantRange { author, from, to })
                    .collect();
                if !ranges.is_empty() {
                    replies.push(SyncMessage::MemoryWant { ranges });
                }
            }
            if more {
                replies.push(open(replica));
            }
            Step { replies, applied }
        }
        SyncMessage::MemoryWant { ranges } => {
            let wanted: Vec<(PeerId, u64, u64)> = ranges
                .into_iter()
                .take(limits.want_ranges)
                .map(|r| {
                    let to = r.to.min(replica.version().get(&r.author));
                    (r.author, r.from.max(1), to)
                })
                .collect();
            Step {
                replies: answer(replica, &wanted, &limits),
                applied: Applied::default(),
            }
        }
    }
}

/// Frames pushing new events (e.g. [`Applied::events`]) to a peer.
pub fn push(events: &[Event], limits: &Limits) -> Vec<SyncMessage> {
    frames(events.to_vec(), limits.frame_bytes, false)
}

/// The held events of the wanted ranges, framed, at most `reply_bytes` of them.
fn answer(replica: &Replica, wanted: &[(PeerId, u64, u64)], limits: &Limits) -> Vec<SyncMessage> {
    let mut events = Vec::new();
    let mut bytes = 0;
    let mut more = false;
    'ranges: for (author, from, to) in wanted {
        for seq in *from..=*to {
            let Some(event) = replica.event_at(author, seq) else {
                break;
            };
            if bytes > 0 && bytes + encoded_len(event) > limits.reply_bytes {
                more = true;
                break 'ranges;
            }
            bytes += encoded_len(event);
            events.push(event.clone());
        }
    }
    frames(events, limits.frame_bytes, more)
}

/// Packs events into frames of at most `frame_bytes` encoded; `more` marks the last frame.
fn frames(events: Vec<Event>, frame_bytes: usize, more: bool) -> Vec<SyncMessage> {
    const OVERHEAD: usize = r#"{"type":"memory_events","events":[],"more":true}"#.len();
    let mut out = Vec::new();
    let mut batch = Vec::new();
    let mut bytes = OVERHEAD;
    for event in events {
        let len = encoded_len(&event) + 1;
        if !batch.is_empty() && bytes + len > frame_bytes {
            out.push(std::mem::take(&mut batch));
            bytes = OVERHEAD;
        }
        bytes += len;
        batch.push(event);
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    let last = out.len().saturating_sub(1);
    let mut frames: Vec<SyncMessage> = out
        .into_iter()
        .enumerate()
        .map(|(i, events)| SyncMessage::MemoryEvents {
            events,
            more: more && i == last,
        })
        .collect();
    if more && frames.is_empty() {
        frames.push(SyncMessage::MemoryEvents {
            events: Vec::new(),
            more,
        });
    }
    frames
}

/// An event's JSON length (serialization of these types cannot fail; 0 if it ever did).
fn encoded_len(event: &Event) -> usize {
    serde_json::to_vec(event).map_or(0, |v| v.len())
}
