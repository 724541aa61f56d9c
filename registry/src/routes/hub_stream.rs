//! `GET /api/hub/stream`: the hub's live view (`HubUpdate`). A snapshot on connect, then the
//! sections that changed, coalesced over a few milliseconds; after falling behind, a snapshot
//! again. Admin only; the token travels as `Sec-WebSocket-Protocol: meshwork, <token>`.

use super::{agents::to_record, topology};
use crate::{
    auth::{caller::throttled, secrets::constant_time_eq},
    clock::unix_now,
    error::ApiError,
    events::Change,
    limits::ClientIp,
    signaling::connection::{token_from_protocols, SUBPROTOCOL},
    state::AppState,
};
use axum::{
    extract::{
        ws::{rejection::WebSocketUpgradeRejection, Message, WebSocket, WebSocketUpgrade},
        State,
    },
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use meshwork_protocol::rest::HubUpdate;
use std::{collections::BTreeSet, sync::Arc, time::Duration};
use tokio::sync::broadcast::error::RecvError;

/// How long changes are gathered before one update per section goes out.
const COALESCE: Duration = Duration::from_millis(5);
/// Keep-alive ping period (proxies drop silent sockets).
const PING_EVERY: Duration = Duration::from_secs(20);

/// Upgrades an admin to the stream.
pub async fn stream(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let refusal = || {
        ApiError::unauthorized("admin token required as Sec-WebSocket-Protocol: meshwork, <token>")
    };
    let Some(token) = token_from_protocols(&headers) else {
        return refusal().into_response();
    };
    let checked = throttled(&state, ip, "bearer", &token, || {
        if constant_time_eq(&token, &state.admin_token) {
            Ok(())
        } else {
            Err(refusal())
        }
    });
    if let Err(e) = checked {
        return e.into_response();
    }
    match upgrade {
        Ok(u) => u
            .protocols([SUBPROTOCOL])
            .on_upgrade(move |socket| run(state, socket)),
        Err(rejection) => rejection.into_response(),
    }
}

/// The update for one section (or everything).
pub fn update(state: &AppState, section: Option<Change>) -> rusqlite::Result<HubUpdate> {
    let now = unix_now();
    let agents = || -> rusqlite::Result<_> {
        Ok(state
            .db
            .agents()?
            .into_iter()
            .map(|a| to_record(state, a, now))
            .collect())
    };
    Ok(match section {
        None => HubUpdate::Snapshot {
            agents: agents()?,
            tasks: state.db.tasks()?,
            pairings: state.db.pairings(None)?,
            topology: topology::build(state)?,
        },
        Some(Change::Agents) => HubUpdate::Agents { agents: agents()? },
        Some(Change::Tasks) => HubUpdate::Tasks {
            tasks: state.db.tasks()?,
        },
        Some(Change::Pairings) => HubUpdate::Pairings {
            pairings: state.db.pairings(None)?,
        },
        Some(Change::Topology) => HubUpdate::Topology {
            topology: topology::build(state)?,
        },
    })
}

async fn send(socket: &mut WebSocket, update: &HubUpdate) -> bool {
    let Ok(text) = serde_json::to_string(update) else {
        return false;
    };
    socket.send(Message::Text(text.into())).await.is_ok()
}

async fn run(state: Arc<AppState>, mut socket: WebSocket) {
    let mut changes = state.events.subscribe();
    let mut pending: BTreeSet<Option<Change>> = BTreeSet::from([None]);
    let mut ping = tokio::time::interval(PING_EVERY);
    loop {
        for section in std::mem::take(&mut pending) {
            match update(&state, section) {
                Ok(u) if send(&mut socket, &u).await => {}
                Ok(_) => return,
                Err(e) => tracing::error!(error = %e, "hub stream: cannot read the store"),
            }
        }
        tokio::select! {
            change = changes.recv() => {
                match change {
                    Ok(c) => { pending.insert(Some(c)); }
                    Err(RecvError::Lagged(_)) => { pending.insert(None); }
                    Err(RecvError::Closed) => return,
                }
                // Gather what else changes meanwhile into the same round of updates.
                let until = tokio::time::Instant::now() + COALESCE;
                while let Ok(Ok(c)) = tokio::time::timeout_at(until, changes.recv()).await {
                    pending.insert(Some(c));
                }
                if pending.contains(&None) {
                    pending = BTreeSet::from([None]);
                }
            }
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            _ = state.shutdown.cancelled() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
}
