//! One signaling WebSocket: authenticated at upgrade, then a reader and a writer task joined by
//! a bounded queue; either ending (or the connection being replaced) ends both.

use super::frame::{error_frame, handle_text, refusal, Origin};
use super::hub::OUTBOUND_QUEUE;
use crate::{
    access::{caller::throttled, device::verify_jwt},
    auth::origin::origin_allowed,
    error::ApiError,
    events::Change,
    limits::{ClientIp, TokenBucket},
    state::AppState,
};
use axum::{
    extract::{
        ws::{
            close_code, rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket,
            WebSocketUpgrade,
        },
        Query, State,
    },
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use meshwork_protocol::{signaling::SignalErrorCode, PeerId};
use serde::Deserialize;
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The subprotocol a browser offers next to its token: `new WebSocket(url, ["meshwork", jwt])`.
pub const SUBPROTOCOL: &str = "meshwork";

/// How long a closing connection's writer may take to send what is queued and the close
/// frame before it is dropped (a peer that stopped reading never takes them).
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// `?token=` (upstream's way) or `?ticket=` (browsers, docs/adr/0013).
#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
    ticket: Option<String>,
}

/// The token a browser offers as the subprotocol next to `meshwork`.
pub fn token_from_protocols(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("sec-websocket-protocol")?.to_str().ok()?;
    value
        .split(',')
        .map(str::trim)
        .find(|p| !p.is_empty() && *p != SUBPROTOCOL)
        .map(str::to_owned)
}

/// `GET /ws`: checks the JWT, then upgrades.
pub async fn ws_handler(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ticket = query.ticket.filter(|t| !t.is_empty());
    let redeemed = ticket.map(|t| state.tickets.redeem(&t, Instant::now()));
    if redeemed == Some(None) {
        return ApiError::unauthorized("unknown, used or expired ticket").into_response();
    }
    let Some(token) = redeemed
        .flatten()
        .or_else(|| query.token.filter(|t| !t.is_empty()))
        .or_else(|| token_from_protocols(&headers))
    else {
        return ApiError::unauthorized(
            "token required: ?ticket=, ?token=<JWT> or Sec-WebSocket-Protocol",
        )
        .into_response();
    };
    if !origin_allowed(&headers, &state.config.cors_origins) {
        return ApiError::forbidden("this page's origin may not open signaling sockets")
            .into_response();
    }
    let claims = match throttled(&state, ip, "bearer", &token, verify_jwt(&state, &token)).await {
        Ok(claims) => claims,
        Err(e) => return e.into_response(),
    };
    let Ok(permit) = state.limits.ws_slots.clone().try_acquire_owned() else {
        tracing::warn!(peer_id = %claims.sub, "signaling connection refused: at MAX_WS_CONNECTIONS");
        return ApiError::unavailable("too many signaling connections; try again later", 5)
            .into_response();
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    // Frames up to this size are read and answered with `error` when over the configured
    // limit; anything larger closes the socket (it would cost memory to even read it).
    let hard_cap = state
        .config
        .max_frame_bytes
        .saturating_mul(4)
        .max(1024 * 1024);
    upgrade
        .protocols([SUBPROTOCOL])
        // tungstenite's default 128 KiB read and write buffers per socket would dominate the
        // memory of an idle peer; signaling frames are small.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        .on_upgrade(move |socket| async move {
            run(state, claims.sub, socket).await;
            drop(permit);
        })
}

/// Whether a read failed because a frame or message was over the size cap.
fn too_large(e: axum::Error) -> bool {
    e.into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

async fn run(state: Arc<AppState>, peer_id: PeerId, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<String>(OUTBOUND_QUEUE);
    let kill = CancellationToken::new();
    let conn_id = state.hub.connect(&peer_id, tx.clone(), kill.clone());
    tracing::info!(peer_id = %peer_id, conn_id, "signaling connected");

    // Why the socket closes, when the reader knows (a frame over the hard cap: 1009).
    let close_with: Arc<Mutex<Option<CloseFrame>>> = Arc::default();
    let writer_close = close_with.clone();
    let writer_kill = kill.clone();
    let shutdown = state.shutdown.clone();
    // Pings make every live peer answer (browsers and tungstenite pong on their own), so
    // silence for `idle` means a dead or stalled peer, whose slot is then freed.
    let idle = Duration::try_from_secs_f64(state.config.ws_idle_timeout_secs)
        .unwrap_or(Duration::from_secs(90))
        .max(Duration::from_millis(300));
    let mut ping = tokio::time::interval(idle / 3);
    ping.reset();
    let mut writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Some(frame) => {
                        // Queue everything already waiting, then write it with one flush.
                        let mut batch = vec![frame];
                        while batch.len() < 64 {
                            match rx.try_recv() {
                                Ok(next) => batch.push(next),
                                Err(_) => break,
                            }
                        }
                        // A peer that takes nothing for `idle` is stalled: a write that waits that
                        // long ends the connection, so a kill or a shutdown is never stuck
                        // behind it.
                        let write = async {
                            for frame in batch {
                                sink.feed(Message::Text(frame.into())).await?;
                            }
                            sink.flush().await
                        };
                        if !matches!(tokio::time::timeout(idle, write).await, Ok(Ok(()))) {
                            return;
                        }
                    }
                    None => break,
                },
                _ = ping.tick() => {
                    let ping = sink.send(Message::Ping(Vec::new().into()));
                    if !matches!(tokio::time::timeout(idle, ping).await, Ok(Ok(()))) {
                        return;
                    }
                }
                _ = writer_kill.cancelled() => break,
                _ = shutdown.cancelled() => break,
            }
        }
        // What the reader queued last (the `error` explaining the close) goes out first.
        while let Ok(frame) = rx.try_recv() {
            if sink.feed(Message::Text(frame.into())).await.is_err() {
                return;
            }
        }
        let reason = writer_close
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let _ = sink.send(Message::Close(reason)).await;
    });

    let reader_state = state.clone();
    let reader_peer = peer_id.clone();
    let mut reader = tokio::spawn(async move {
        let origin = Origin {
            peer_id: &reader_peer,
            conn_id,
            tx: &tx,
        };
        let config = &reader_state.config;
        let mut budget = TokenBucket::new(config.signal_rate_per_sec, config.signal_burst);
        loop {
            let Ok(next) = tokio::time::timeout(idle, stream.next()).await else {
                tracing::info!(peer_id = %reader_peer, "signaling socket silent; closing");
                *close_with.lock().unwrap_or_else(|p| p.into_inner()) = Some(CloseFrame {
                    code: close_code::AWAY,
                    reason: "idle".into(),
                });
                break;
            };
            let message = match next {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    if too_large(e) {
                        reader_state.metrics.signal_error();
                        let why = "frame over the registry's hard size cap; closing";
                        let _ = tx.try_send(error_frame(SignalErrorCode::FrameTooLarge, why));
                        *close_with.lock().unwrap_or_else(|p| p.into_inner()) = Some(CloseFrame {
                            code: close_code::SIZE,
                            reason: "frame too large".into(),
                        });
                    }
                    break;
                }
                None => break,
            };
            if matches!(message, Message::Text(_) | Message::Binary(_)) && !budget.take() {
                reader_state.metrics.signal_error();
                let why = format!(
                    "over {} signaling frames/s; frame dropped",
                    config.signal_rate_per_sec
                );
                let text = match &message {
                    Message::Text(text) => text.as_str(),
                    _ => "",
                };
                let _ = tx.try_send(refusal(SignalErrorCode::RateLimited, why, text));
                continue;
            }
            match message {
                Message::Text(text) => handle_text(&reader_state, &origin, text.as_str()).await,
                Message::Binary(_) => {
                    reader_state.metrics.signal_error();
                    let _ = tx.try_send(error_frame(
                        SignalErrorCode::Malformed,
                        "binary frames are not part of the protocol; send JSON text",
                    ));
                }
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    });

    // Whichever side ends first ends the other. A kill (a newer connection of this peer id,
    // a revocation) ends the reader at once, even while the writer is stuck on a peer that
    // stopped reading; the writer gets `CLOSE_GRACE` to say goodbye.
    tokio::select! {
        _ = &mut writer => reader.abort(),
        _ = &mut reader => kill.cancel(),
        _ = kill.cancelled() => reader.abort(),
    }
    if !writer.is_finished()
        && tokio::time::timeout(CLOSE_GRACE, &mut writer)
            .await
            .is_err()
    {
        writer.abort();
    }
    state.hub.disconnect(&peer_id, conn_id);
    crate::task_delivery::sidecar_gone(&state, &peer_id, conn_id).await;
    state.events.publish(Change::Topology);
    tracing::info!(peer_id = %peer_id, conn_id, "signaling disconnected");
}
