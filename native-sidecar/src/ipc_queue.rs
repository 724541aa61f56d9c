//! `ClientQueue`: the lines waiting for one IPC client, counted in bytes.
//!
//! Above [`HIGH_WATER`] the client is *backlogged*: the driver stops taking messages from
//! DataChannels until it drains (the writer wakes the driver through `room`), so a slow agent
//! slows its senders through SCTP flow control instead of growing this process. A line is
//! refused only past [`MAX_QUEUED_BYTES`] (events that do not come from channels, e.g. a
//! burst of errors), and a client that stays backlogged without reading is dropped by the
//! driver (`clients`).

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// Bytes queued for one client above which the driver pauses channel reads.
pub const HIGH_WATER: usize = 8 * 1024 * 1024;

/// Bytes of lines queued for one client before it counts as stuck.
pub const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

/// The driver's end: push lines; fails when the client is stuck or gone.
#[derive(Debug, Clone)]
pub struct ClientQueue {
    tx: mpsc::UnboundedSender<String>,
    queued: Arc<AtomicUsize>,
    limit: usize,
    /// Cancelled to end the client's connection (it stopped reading).
    pub hang_up: CancellationToken,
}

/// The writer's end: take lines; each taken line is no longer counted.
#[derive(Debug)]
pub struct ClientLines {
    rx: mpsc::UnboundedReceiver<String>,
    queued: Arc<AtomicUsize>,
    room: Arc<Notify>,
}

/// Why a line was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over the byte limit: the client is not reading.
    Stuck,
    /// The client's writer is gone.
    Gone,
}

/// A queue holding at most `limit` bytes; `room` is notified when it drains below
/// [`HIGH_WATER`].
pub fn client_queue(limit: usize, room: Arc<Notify>) -> (ClientQueue, ClientLines) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (
        ClientQueue {
            tx,
            queued: queued.clone(),
            limit,
            hang_up: CancellationToken::new(),
        },
        ClientLines { rx, queued, room },
    )
}

impl ClientQueue {
    /// Queues `line` unless that would exceed the limit.
    pub fn push(&self, line: String) -> Result<(), Refused> {
        let len = line.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before.saturating_add(len) > self.limit && before > 0 {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(Refused::Stuck);
        }
        self.tx.send(line).map_err(|_| {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            Refused::Gone
        })
    }

    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether the client is behind by more than [`HIGH_WATER`].
    pub fn backlogged(&self) -> bool {
        self.queued() > HIGH_WATER
    }
}

impl ClientLines {
    /// The next line, `None` once the driver dropped the client.
    pub async fn recv(&mut self) -> Option<String> {
        let line = self.rx.recv().await?;
        Some(self.taken(line))
    }

    /// The next line if one is queued now (the writer batches what is waiting into one
    /// write).
    pub fn try_recv(&mut self) -> Option<String> {
        let line = self.rx.try_recv().ok()?;
        Some(self.taken(line))
    }

    /// Stops counting a taken line; wakes the driver when the queue drains below
    /// [`HIGH_WATER`].
    fn taken(&self, line: String) -> String {
        let before = self.queued.fetch_sub(line.len(), Ordering::AcqRel);
        if before > HIGH_WATER && before - line.len() <= HIGH_WATER {
            self.room.notify_one();
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_waiting_now_are_taken_without_waiting_and_counted_off() {
        let (queue, mut lines) = client_queue(100, Default::default());
        assert_eq!(lines.try_recv(), None);
        assert_eq!(queue.push("abc".into()), Ok(()));
        assert_eq!(queue.push("de".into()), Ok(()));
        assert_eq!(queue.queued(), 5);
        assert_eq!(lines.try_recv().as_deref(), Some("abc"));
        assert_eq!(queue.queued(), 2);
        assert_eq!(lines.try_recv().as_deref(), Some("de"));
        assert_eq!(lines.try_recv(), None);
        assert_eq!(queue.queued(), 0);
    }

    #[tokio::test]
    async fn lines_count_until_taken_and_the_limit_is_in_bytes() {
        let (queue, mut lines) = client_queue(10, Default::default());
        assert_eq!(queue.push("12345".into()), Ok(()));
        assert_eq!(queue.push("12345".into()), Ok(()));
        assert_eq!(queue.push("1".into()), Err(Refused::Stuck));
        assert_eq!(lines.recv().await.as_deref(), Some("12345"));
        assert_eq!(
            queue.push("1".into()),
            Ok(()),
            "taking a line frees its bytes"
        );
        drop(lines);
        assert_eq!(queue.push("2".into()), Err(Refused::Gone));
    }

    #[tokio::test]
    async fn one_line_larger_than_the_limit_still_goes_to_an_idle_client() {
        let (queue, mut lines) = client_queue(4, Default::default());
        assert_eq!(queue.push("a long line".into()), Ok(()));
        assert_eq!(lines.recv().await.as_deref(), Some("a long line"));
    }
}
