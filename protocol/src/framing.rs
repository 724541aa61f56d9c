//! DataChannel framing: messages larger than one DataChannel message arrive whole.
//!
//! A message that fits in [`MAX_FRAME`] bytes is sent as one plain JSON text message, exactly
//! as upstream does. A larger one is split into binary chunks, each a 16-byte header plus up
//! to `MAX_FRAME - 16` bytes of the message's UTF-8 text:
//!
//! ```text
//! "MW" | version u8 = 1 | reserved u8 | message id u32 BE | index u32 BE | count u32 BE | bytes
//! ```
//!
//! The `mesh` channel is reliable and ordered and a sender writes a message's chunks back to
//! back, so a receiver holds at most one partial message per channel. Text messages and
//! chunks may interleave only between messages.

/// Largest DataChannel message we send: under webrtc-rs's 64 KiB default, far under the
/// ~256 KiB browsers accept.
pub const MAX_FRAME: usize = 60 * 1024;

/// Largest message reassembled; a bigger one is refused (memory bound per peer).
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

const HEADER: usize = 16;
const MAGIC: &[u8; 2] = b"MW";
const VERSION: u8 = 1;

/// One DataChannel message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole message as text.
    Text(String),
    /// One binary chunk of a large message.
    Chunk(Vec<u8>),
}

/// Why a received frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Not a meshwork chunk (bad magic, version or header).
    #[error("binary frame is not a meshwork chunk")]
    NotAChunk,
    /// Chunk index out of order, or a new message started before the last one finished.
    #[error("chunk out of order: expected {expected}, got {got}")]
    OutOfOrder {
        /// Index expected next.
        expected: u32,
        /// Index received.
        got: u32,
    },
    /// The announced or accumulated size exceeds [`MAX_MESSAGE`].
    #[error("message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    /// The reassembled bytes are not UTF-8.
    #[error("reassembled message is not UTF-8")]
    NotUtf8,
}

/// Splits one message into frames; `message_id` distinguishes a sender's large messages.
pub fn encode(text: String, message_id: u32) -> Vec<Frame> {
    if text.len() <= MAX_FRAME {
        return vec![Frame::Text(text)];
    }
    let body = MAX_FRAME - HEADER;
    let bytes = text.as_bytes();
    let count = bytes.len().div_ceil(body);
    let count_u32 = u32::try_from(count).unwrap_or(u32::MAX);
    bytes
        .chunks(body)
        .enumerate()
        .map(|(index, part)| {
            let mut frame = Vec::with_capacity(HEADER + part.len());
            frame.extend_from_slice(MAGIC);
            frame.push(VERSION);
            frame.push(0);
            frame.extend_from_slice(&message_id.to_be_bytes());
            frame.extend_from_slice(&u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes());
            frame.extend_from_slice(&count_u32.to_be_bytes());
            frame.extend_from_slice(part);
            Frame::Chunk(frame)
        })
        .collect()
}

/// The message text that [`encode`] split into `frames` (the sender's own frames, e.g. to
/// re-route a message whose channel write failed); `None` if they are not one message.
pub fn text_of(frames: &[Frame]) -> Option<String> {
    match frames {
        [Frame::Text(text)] => Some(text.clone()),
        _ => {
            let mut bytes = Vec::new();
            for frame in frames {
                match frame {
                    Frame::Chunk(chunk) if chunk.len() >= HEADER => {
                        bytes.extend_from_slice(&chunk[HEADER..])
                    }
                    _ => return None,
                }
            }
            String::from_utf8(bytes).ok()
        }
    }
}

fn be_u32(bytes: &[u8]) -> u32 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(buf)
}

struct Partial {
    message_id: u32,
    next: u32,
    count: u32,
    bytes: Vec<u8>,
}

/// Reassembles chunks received on one channel.
#[derive(Default)]
pub struct Reassembler {
    partial: Option<Partial>,
}

impl Reassembler {
    /// A reassembler with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one binary frame; returns the whole message once its last chunk arrived.
    /// After an error the partial message is dropped and the next message starts clean.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<String>, FramingError> {
        let result = self.push_inner(frame);
        if result.is_err() {
            self.partial = None;
        }
        result
    }

    fn push_inner(&mut self, frame: &[u8]) -> Result<Option<String>, FramingError> {
        if frame.len() < HEADER || &frame[..2] != MAGIC || frame[2] != VERSION {
            return Err(FramingError::NotAChunk);
        }
        let message_id = be_u32(&frame[4..]);
        let index = be_u32(&frame[8..]);
        let count = be_u32(&frame[12..]);
        let part = &frame[HEADER..];
        if count == 0 || index >= count {
            return Err(FramingError::NotAChunk);
        }
        if (count as usize).saturating_mul(MAX_FRAME - HEADER) > MAX_MESSAGE + MAX_FRAME {
            return Err(FramingError::TooLarge);
        }
        // The first chunk of another message: the partial one will never be finished (its
        // sender's write failed midway), so it is dropped and this one starts.
        if index == 0
            && self
                .partial
                .as_ref()
                .is_some_and(|p| p.message_id != message_id)
        {
            self.partial = None;
        }
        let partial = match self.partial.as_mut() {
            Some(p) if p.message_id == message_id && p.count == count => p,
            Some(p) => {
                return Err(FramingError::OutOfOrder {
                    expected: p.next,
                    got: index,
                });
            }
            // Reserve for the announced size, never beyond the bound: a hostile first chunk
            // longer than `MAX_FRAME` must not multiply into a huge (or, on wasm32, an
            // overflowing) reservation.
            None if index == 0 => self.partial.insert(Partial {
                message_id,
                next: 0,
                count,
                bytes: Vec::with_capacity(
                    part.len().saturating_mul(count as usize).min(MAX_MESSAGE),
                ),
            }),
            None => {
                return Err(FramingError::OutOfOrder {
                    expected: 0,
                    got: index,
                })
            }
        };
        if index != partial.next {
            return Err(FramingError::OutOfOrder {
                expected: partial.next,
                got: index,
            });
        }
        if partial.bytes.len() + part.len() > MAX_MESSAGE {
            return Err(FramingError::TooLarge);
        }
        partial.bytes.extend_from_slice(part);
        partial.next += 1;
        if partial.next < partial.count {
            return Ok(None);
        }
        let done = self.partial.take().map(|p| p.bytes).unwrap_or_default();
        String::from_utf8(done)
            .map(Some)
            .map_err(|_| FramingError::NotUtf8)
    }
}

/// The reassemblers of every link of a peer process, keyed by remote peer. Chunks of a new
/// link attempt start clean, so a half-received message never survives a reconnect.
pub struct Inboxes<P, A> {
    links: std::collections::HashMap<P, (A, Reassembler)>,
}

impl<P, A> std::fmt::Debug for Inboxes<P, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inboxes")
            .field("links", &self.links.len())
            .finish()
    }
}

impl<P, A> Default for Inboxes<P, A> {
    fn default() -> Self {
        Self {
            links: std::collections::HashMap::new(),
        }
    }
}

impl<P: Eq + std::hash::Hash + Clone, A: PartialEq + Copy> Inboxes<P, A> {
    /// Feeds one binary frame received from `peer` on link attempt `attempt`.
    pub fn push(
        &mut self,
        peer: &P,
        attempt: A,
        frame: &[u8],
    ) -> Result<Option<String>, FramingError> {
        let entry = self
            .links
            .entry(peer.clone())
            .or_insert_with(|| (attempt, Reassembler::new()));
        if entry.0 != attempt {
            *entry = (attempt, Reassembler::new());
        }
        entry.1.push(frame)
    }

    /// Drops whatever was pending from `peer` (its link closed).
    pub fn forget(&mut self, peer: &P) {
        self.links.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_gives_back_what_encode_split() {
        let small = "{\"type\":\"ping\"}".to_owned();
        assert_eq!(
            text_of(&encode(small.clone(), 1)).as_deref(),
            Some(&small[..])
        );
        let large = "x".repeat(3 * MAX_FRAME + 7);
        assert_eq!(text_of(&encode(large.clone(), 2)), Some(large));
        assert_eq!(text_of(&[Frame::Chunk(vec![1, 2])]), None);
    }

    fn reassemble(frames: Vec<Frame>) -> Result<Option<String>, FramingError> {
        let mut r = Reassembler::new();
        let mut out = None;
        for f in frames {
            match f {
                Frame::Text(t) => out = Some(t),
                Frame::Chunk(c) => out = r.push(&c)?,
            }
        }
        Ok(out)
    }

    #[test]
    fn a_new_attempt_drops_the_half_message_of_the_old_one() {
        let text = "x".repeat(3 * MAX_FRAME);
        let frames = encode(text.clone(), 1);
        let mut inboxes: Inboxes<&str, u64> = Inboxes::default();
        let Frame::Chunk(first) = &frames[0] else {
            panic!("chunk")
        };
        assert_eq!(inboxes.push(&"bob", 1, first), Ok(None));
        // The link is re-established: the same message arrives again, whole.
        let mut out = None;
        for f in encode(text.clone(), 1) {
            let Frame::Chunk(c) = f else { panic!("chunk") };
            out = inboxes.push(&"bob", 2, &c).expect("clean start");
        }
        assert_eq!(out, Some(text));
    }

    #[test]
    fn small_message_stays_one_plain_text_frame() {
        let frames = encode("{\"type\":\"ping\"}".into(), 1);
        assert_eq!(frames, vec![Frame::Text("{\"type\":\"ping\"}".into())]);
    }

    #[test]
    fn one_mebibyte_message_round_trips_in_chunks() {
        let text = format!("{{\"payload\":\"{}\"}}", "é".repeat(512 * 1024));
        let frames = encode(text.clone(), 7);
        assert!(frames.len() > 16);
        assert!(frames
            .iter()
            .all(|f| matches!(f, Frame::Chunk(c) if c.len() <= MAX_FRAME)));
        assert_eq!(reassemble(frames), Ok(Some(text)));
    }

    #[test]
    fn chunk_boundary_inside_a_multibyte_char_is_fine() {
        let text = "ü".repeat(MAX_FRAME);
        assert_eq!(reassemble(encode(text.clone(), 1)), Ok(Some(text)));
    }

    #[test]
    fn out_of_order_chunk_is_refused_and_next_message_starts_clean() {
        let text = "x".repeat(3 * MAX_FRAME);
        let mut frames = encode(text.clone(), 1);
        frames.swap(1, 2);
        assert!(matches!(
            reassemble(frames),
            Err(FramingError::OutOfOrder { .. })
        ));
        let mut r = Reassembler::new();
        let frames = encode(text.clone(), 1);
        let Frame::Chunk(first) = &frames[0] else {
            panic!("chunk")
        };
        assert_eq!(r.push(first), Ok(None));
        let Frame::Chunk(other) = &encode(text.clone(), 2)[1] else {
            panic!("chunk")
        };
        assert!(r.push(other).is_err());
        assert_eq!(reassemble(encode(text.clone(), 3)), Ok(Some(text)));
    }

    #[test]
    fn garbage_and_oversize_announcements_are_refused() {
        let mut r = Reassembler::new();
        assert_eq!(r.push(b"hello"), Err(FramingError::NotAChunk));
        assert_eq!(r.push(&[0u8; 40]), Err(FramingError::NotAChunk));
        let mut huge = b"MW\x01\x00".to_vec();
        huge.extend_from_slice(&1u32.to_be_bytes());
        huge.extend_from_slice(&0u32.to_be_bytes());
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(r.push(&huge), Err(FramingError::TooLarge));
    }

    #[test]
    fn an_oversized_first_chunk_reserves_no_more_than_the_bound() {
        // Found by fuzz/dc_frames: the reservation was the first chunk's length times the
        // announced count, so one 1 MiB frame announcing 43 chunks reserved 43 MiB.
        let mut frame = b"MW\x01\x00".to_vec();
        frame.extend_from_slice(&1u32.to_be_bytes());
        frame.extend_from_slice(&0u32.to_be_bytes());
        frame.extend_from_slice(&43u32.to_be_bytes());
        frame.resize(HEADER + 1024 * 1024, b'a');
        let mut r = Reassembler::new();
        assert_eq!(r.push(&frame), Ok(None));
        let reserved = r.partial.as_ref().map_or(0, |p| p.bytes.capacity());
        assert!(reserved <= MAX_MESSAGE, "reserved {reserved} bytes");
    }
}
