//! The accept loop: our own instead of `axum::serve`, because slow clients must not take the
//! registry down (issue 17, docs/adr/0012).
//!
//! - A request's headers must arrive within `HEADER_READ_TIMEOUT_SECS` (hyper's
//!   `header_read_timeout`, which also runs while a keep-alive connection waits for its next
//!   request, so it is the idle timeout too), and its body within `BODY_READ_TIMEOUT_SECS`
//!   after that — a deadline, not a per-chunk timeout, so dribbling does not extend it.
//! - At most `MAX_HTTP_CONNECTIONS` connections are open before their upgrade to a WebSocket
//!   (which `MAX_WS_CONNECTIONS` then bounds). When full, a new connection evicts the oldest
//!   one that has not sent a whole request yet, so sockets that never finish their headers
//!   cannot lock normal clients out; if every open connection is working, the new one is
//!   closed at once, before the process runs out of file descriptors.

use axum::{extract::ConnectInfo, Router};
use hyper::{
    body::{Body, Frame, Incoming, SizeHint},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{
    collections::BTreeMap,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// How long open requests get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(5);

/// The timeouts and the cap, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Headers must arrive within this (and an idle keep-alive connection is closed after it).
    pub header_read: Duration,
    /// A body must arrive within this after its headers.
    pub body_read: Duration,
    /// Most connections not upgraded to a WebSocket.
    pub max_http: usize,
}

/// The default cap: half the process's open-file limit, so connections that never finish
/// their headers cannot exhaust the file descriptors everything else needs.
pub fn default_max_http() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    (soft / 2).clamp(16, 16_384)
}

#[derive(Default)]
struct Table {
    next: u64,
    open: usize,
    /// Connections that have not sent a whole request yet, oldest first: the ones to evict.
    waiting: BTreeMap<u64, CancellationToken>,
}

/// Open HTTP connections, for the cap and eviction.
struct ConnTable {
    max: usize,
    table: Mutex<Table>,
}

/// One admitted connection; dropping it frees the slot.
struct Slot {
    id: u64,
    table: Arc<ConnTable>,
    evicted: CancellationToken,
}

impl ConnTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection, evicting the oldest waiting one when full; `None` when full of
    /// connections that are all working.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut t = self.lock();
        if t.open >= self.max {
            let oldest = t.waiting.keys().next().copied()?;
            if let Some(token) = t.waiting.remove(&oldest) {
                token.cancel();
            }
            // The evicted connection's slot is freed when its task ends; count it gone now so
            // a burst evicts one per arrival, not all of them for one.
            t.open -= 1;
        }
        t.next += 1;
        t.open += 1;
        let id = t.next;
        let evicted = CancellationToken::new();
        t.waiting.insert(id, evicted.clone());
        Some(Slot {
            id,
            table: self.clone(),
            evicted,
        })
    }

    fn served(&self, id: u64) {
        self.lock().waiting.remove(&id);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.table.lock();
        // An evicted slot was already uncounted.
        if !self.evicted.is_cancelled() {
            t.open = t.open.saturating_sub(1);
        }
        t.waiting.remove(&self.id);
    }
}

/// A request body that must arrive whole before a deadline.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within the read timeout")]
struct BodyTimeout;

impl Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(|e| Box::new(e) as Self::Error)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `app` on `listener` until `shutdown`, then drains open requests for a few seconds.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) {
    let table = Arc::new(ConnTable {
        max: limits.max_http.max(1),
        table: Mutex::new(Table::default()),
    });
    let tasks = TaskTracker::new();
    tracing::info!(
        max_http = table.max,
        header_read_secs = limits.header_read.as_secs_f64(),
        "accepting connections"
    );
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Some(slot) = table.admit() else {
            tracing::debug!(%remote, "connection refused: every HTTP slot is busy");
            continue;
        };
        // Signaling frames are small and latency-bound: never let Nagle hold one back.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(connection(tcp, remote, app, limits, slot, shutdown));
    }
    tasks.close();
    if tokio::time::timeout(DRAIN * 2, tasks.wait()).await.is_err() {
        tracing::warn!("connections still open after the drain; closing them");
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    app: Router,
    limits: ConnLimits,
    slot: Slot,
    shutdown: CancellationToken,
) {
    let table = slot.table.clone();
    let id = slot.id;
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        table.served(id);
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(ConnectInfo(remote));
        let body = DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(limits.body_read)),
        };
        app.clone().oneshot(hyper::Request::from_parts(
            parts,
            axum::body::Body::new(body),
        ))
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let conn = builder
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        }
        _ = slot.evicted.cancelled() => {
            tracing::debug!(%remote, "connection evicted: no request yet and the table is full");
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn.as_mut()).await;
        }
    }
    drop(slot);
}
