//! DataChannel framing (`protocol/src/framing.rs`): every binary DataChannel message a remote
//! peer sends goes through `Inboxes::push`, so the chunk header parser and the reassembler
//! see attacker-chosen bytes.
//!
//! The input is a sequence of operations on one `Inboxes<peer, attempt>`: raw binary frames,
//! frames with a chosen header (sizes may exceed `MAX_FRAME`, as a hostile peer's may), the
//! next chunk a link expects, link closes, and `encode` round trips. Asserts:
//! - no panic, whatever arrives;
//! - every result equals that of a reference model written from the module's documentation
//!   (header check, one partial message per link, in-order chunks, a new link attempt and
//!   every error start clean, `MAX_MESSAGE` bound, UTF-8 check);
//! - a reassembled message is at most `MAX_MESSAGE` bytes and no single allocation made while
//!   pushing a frame exceeds `2 * MAX_MESSAGE` (the documented memory bound per peer, plus
//!   `Vec`'s doubling);
//! - `encode` produces one text frame up to `MAX_FRAME` bytes, chunks of at most `MAX_FRAME`
//!   bytes otherwise, and those chunks reassemble to the original text.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use meshwork_protocol::framing::{
    encode, Frame, FramingError, Inboxes, Reassembler, MAX_FRAME, MAX_MESSAGE,
};
use std::{
    alloc::{GlobalAlloc, Layout, System},
    collections::HashMap,
    sync::atomic::{AtomicUsize, Ordering},
};

/// Records the largest single allocation so the memory bound can be checked.
struct Tracking;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

const HEADER: usize = 16;
/// Peers and attempts are folded into small ranges so operations collide on the same link.
const PEERS: u8 = 3;
const ATTEMPTS: u8 = 3;
const MAX_OPS: usize = 64;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Arbitrary bytes as one binary DataChannel message.
    Raw {
        peer: u8,
        attempt: u8,
        bytes: Vec<u8>,
    },
    /// A chunk with the given header fields over `body` plus `pad * 64` filler bytes.
    Chunk {
        peer: u8,
        attempt: u8,
        /// Replaces the "MW" magic when set.
        magic: Option<[u8; 2]>,
        /// Replaces version 1 when set.
        version: Option<u8>,
        reserved: u8,
        id: u32,
        index: u32,
        count: u32,
        body: Vec<u8>,
        pad: u16,
    },
    /// The chunk the model says `peer` expects next (or a first chunk of `count`).
    Next {
        peer: u8,
        count: u16,
        body: Vec<u8>,
        pad: u16,
    },
    /// The link to `peer` closed.
    Forget { peer: u8 },
    /// `encode` the text repeated `repeat` times (bounded), then reassemble.
    RoundTrip { text: String, repeat: u16, id: u32 },
}

/// The reference model: what the module documentation says a link does.
#[derive(Default)]
struct ModelLink {
    attempt: u8,
    /// (message id, count, next index, bytes so far)
    partial: Option<(u32, u32, u32, Vec<u8>)>,
}

fn be(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

impl ModelLink {
    fn push(&mut self, frame: &[u8]) -> Result<Option<String>, FramingError> {
        let result = self.push_inner(frame);
        if result.is_err() {
            self.partial = None;
        }
        result
    }

    fn push_inner(&mut self, frame: &[u8]) -> Result<Option<String>, FramingError> {
        if frame.len() < HEADER || &frame[..2] != b"MW" || frame[2] != 1 {
            return Err(FramingError::NotAChunk);
        }
        let (id, index, count) = (be(&frame[4..]), be(&frame[8..]), be(&frame[12..]));
        if count == 0 || index >= count {
            return Err(FramingError::NotAChunk);
        }
        // The announced size: `count` full chunks may not exceed the bound (one frame slack).
        if u64::from(count) * (MAX_FRAME - HEADER) as u64 > (MAX_MESSAGE + MAX_FRAME) as u64 {
            return Err(FramingError::TooLarge);
        }
        let body = &frame[HEADER..];
        // The first chunk of another message replaces an unfinished one.
        if index == 0 && self.partial.as_ref().is_some_and(|(pid, ..)| *pid != id) {
            self.partial = None;
        }
        match &mut self.partial {
            None if index == 0 => self.partial = Some((id, count, 0, Vec::new())),
            None => {
                return Err(FramingError::OutOfOrder {
                    expected: 0,
                    got: index,
                })
            }
            Some((pid, pcount, next, _)) if *pid != id || *pcount != count || *next != index => {
                return Err(FramingError::OutOfOrder {
                    expected: *next,
                    got: index,
                })
            }
            Some(_) => {}
        }
        let (_, count, next, bytes) = self.partial.as_mut().expect("set above");
        if bytes.len() + body.len() > MAX_MESSAGE {
            return Err(FramingError::TooLarge);
        }
        bytes.extend_from_slice(body);
        *next += 1;
        if *next < *count {
            return Ok(None);
        }
        let (_, _, _, bytes) = self.partial.take().expect("set above");
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| FramingError::NotUtf8)
    }
}

/// A binary frame: `head` is magic, version and reserved byte; then the three header
/// numbers, `body` and `pad * 64` filler bytes.
fn chunk(head: [u8; 4], id: u32, index: u32, count: u32, body: &[u8], pad: u16) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER + body.len() + usize::from(pad) * 64);
    frame.extend_from_slice(&head);
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(&index.to_be_bytes());
    frame.extend_from_slice(&count.to_be_bytes());
    frame.extend_from_slice(body);
    frame.resize(frame.len() + usize::from(pad) * 64, b'a');
    frame
}

struct Harness {
    inboxes: Inboxes<u8, u8>,
    model: HashMap<u8, ModelLink>,
}

impl Harness {
    fn push(&mut self, peer: u8, attempt: u8, frame: &[u8]) {
        let link = self.model.entry(peer).or_insert_with(|| ModelLink {
            attempt,
            partial: None,
        });
        if link.attempt != attempt {
            *link = ModelLink {
                attempt,
                partial: None,
            };
        }
        let expected = link.push(frame);

        LARGEST.store(0, Ordering::Relaxed);
        let got = self.inboxes.push(&peer, attempt, frame);
        let largest = LARGEST.load(Ordering::Relaxed);

        assert!(
            largest <= 2 * MAX_MESSAGE,
            "pushing a {}-byte frame allocated {largest} bytes at once",
            frame.len()
        );
        if let Ok(Some(text)) = &got {
            assert!(
                text.len() <= MAX_MESSAGE,
                "reassembled {} bytes",
                text.len()
            );
        }
        assert_eq!(
            got,
            expected,
            "peer {peer} attempt {attempt}, {}-byte frame",
            frame.len()
        );
    }
}

fn round_trip(text: &str, repeat: u16, id: u32) {
    let unit = text.len().max(1);
    let times = usize::from(repeat).min(4 * MAX_FRAME / unit);
    let whole = text.repeat(times);
    let frames = encode(whole.clone(), id);
    if whole.len() <= MAX_FRAME {
        assert_eq!(frames, vec![Frame::Text(whole)]);
        return;
    }
    let mut r = Reassembler::new();
    let last = frames.len() - 1;
    for (i, frame) in frames.into_iter().enumerate() {
        let Frame::Chunk(bytes) = frame else {
            panic!("a {}-byte message produced a text frame", whole.len());
        };
        assert!(bytes.len() <= MAX_FRAME, "a {}-byte chunk", bytes.len());
        let got = r.push(&bytes).expect("our own chunks reassemble");
        if i < last {
            assert_eq!(
                got,
                None,
                "message complete after chunk {i} of {}",
                last + 1
            );
        } else {
            assert_eq!(
                got.as_deref(),
                Some(whole.as_str()),
                "reassembled text differs"
            );
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut h = Harness {
        inboxes: Inboxes::default(),
        model: HashMap::new(),
    };
    for op in ops.into_iter().take(MAX_OPS) {
        match op {
            Op::Raw {
                peer,
                attempt,
                bytes,
            } => h.push(peer % PEERS, attempt % ATTEMPTS, &bytes),
            Op::Chunk {
                peer,
                attempt,
                magic,
                version,
                reserved,
                id,
                index,
                count,
                body,
                pad,
            } => {
                let [m0, m1] = magic.unwrap_or(*b"MW");
                let frame = chunk(
                    [m0, m1, version.unwrap_or(1), reserved],
                    id,
                    index,
                    count,
                    &body,
                    pad,
                );
                h.push(peer % PEERS, attempt % ATTEMPTS, &frame);
            }
            Op::Next {
                peer,
                count,
                body,
                pad,
            } => {
                let peer = peer % PEERS;
                let link = h.model.get(&peer);
                let attempt = link.map_or(0, |l| l.attempt);
                let (id, count, index) = match link.and_then(|l| l.partial.as_ref()) {
                    Some((id, count, next, _)) => (*id, *count, *next),
                    None => (7, u32::from(count), 0),
                };
                let frame = chunk(*b"MW\x01\x00", id, index, count, &body, pad);
                h.push(peer, attempt, &frame);
            }
            Op::Forget { peer } => {
                let peer = peer % PEERS;
                h.inboxes.forget(&peer);
                h.model.remove(&peer);
            }
            Op::RoundTrip { text, repeat, id } => round_trip(&text, repeat, id),
        }
    }
});
