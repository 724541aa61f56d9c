//! Bounds on what a replica buffers and sends.

/// Bounds on what a replica buffers and sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most out-of-order events held at once.
    pub pending_events: usize,
    /// Most bytes of out-of-order events held at once.
    pub pending_bytes: usize,
    /// Largest encoded sync frame: 40 KiB still fits one registry-tier frame once sealed
    /// (base64 adds a third, the envelope a little; ADR 0015); one larger event goes alone.
    pub frame_bytes: usize,
    /// Most event bytes one reply carries before asking the peer to come back (`more`).
    pub reply_bytes: usize,
    /// Most ranges one `memory_want` names.
    pub want_ranges: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            pending_events: 1024,
            pending_bytes: 4 << 20,
            frame_bytes: 40 * 1024,
            reply_bytes: 1 << 20,
            want_ranges: 64,
        }
    }
}
