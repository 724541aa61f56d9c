//! `GET /api/hub/stream`: the hub's live view (`HubUpdate`). A snapshot on connect, then what
//! changed, coalesced over a few milliseconds — a section only when it differs from what this
//! stream last sent, and only the tasks that changed; after falling behind, a snapshot again. Admin only; the token travels as `Sec-WebSocket-Protocol: meshwork, <token>`.

use super::{agents::to_record, topology};
use crate::{
    access::caller::throttled,
    auth::secrets::constant_time_eq,
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
        Query, State,
    },
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use meshwork_protocol::rest::{HubUpdate, Task};
use std::{
    collections::{hash_map::DefaultHasher, BTreeSet, HashMap},
    hash::{Hash, Hasher},
    sync::Arc,
    time::Duration,
};
use tokio::sync::broadcast::error::RecvError;

/// How long changes are gathered before one update per section goes out.
const COALESCE: Duration = Duration::from_millis(5);
/// Keep-alive ping period (proxies drop silent sockets).
const PING_EVERY: Duration = Duration::from_secs(20);

/// `?ticket=` (docs/adr/0013).
#[derive(serde::Deserialize)]
pub struct TicketQuery {
    ticket: Option<String>,
}

/// Upgrades an admin to the stream.
pub async fn stream(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    Query(query): Query<TicketQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let refusal = || {
        ApiError::unauthorized(
            "admin token required: ?ticket= (POST /api/ws-ticket) or \
             Sec-WebSocket-Protocol: meshwork, <token>",
        )
    };
    let token = match query.ticket.filter(|t| !t.is_empty()) {
        Some(ticket) => state.tickets.redeem(&ticket, std::time::Instant::now()),
        None => token_from_protocols(&headers),
    };
    let Some(token) = token else {
        return refusal().into_response();
    };
    let checked = throttled(&state, ip, "bearer", &token, async {
        if constant_time_eq(&token, &state.admin_token) {
            Ok(())
        } else {
            Err(refusal())
        }
    })
    .await;
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

/// Task changes are re-read from this many seconds before the newest change already seen, so
/// two changes in the same instant (or a clock step) are not missed; resends are filtered out.
const TASK_SKEW_SECS: f64 = 2.0;

/// What one stream last sent, so it never resends what did not change (issue 17).
#[derive(Default)]
pub struct Sent {
    /// Hash of each section's last message.
    sections: HashMap<Change, u64>,
    /// The newest `updated_at` among the tasks sent.
    watermark: f64,
    /// `(updated_at, hash)` of each task sent that changed within `TASK_SKEW_SECS` of the
    /// watermark (older ones are never re-read).
    recent_tasks: HashMap<String, (f64, u64)>,
}

fn hash_of(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

impl Sent {
    /// Records tasks as sent; returns those that differ from what was sent before.
    fn tasks_changed(&mut self, tasks: Vec<Task>) -> Vec<Task> {
        let mut changed = Vec::new();
        for task in tasks {
            let hash = serde_json::to_string(&task)
                .map(|t| hash_of(&t))
                .unwrap_or(0);
            if self.recent_tasks.get(&task.id).map(|(_, h)| *h) == Some(hash) {
                continue;
            }
            self.watermark = self.watermark.max(task.updated_at);
            self.recent_tasks
                .insert(task.id.clone(), (task.updated_at, hash));
            changed.push(task);
        }
        let floor = self.watermark - TASK_SKEW_SECS;
        self.recent_tasks.retain(|_, (at, _)| *at >= floor);
        changed
    }

    /// Whether `text` differs from the last message sent for `section` (and records it).
    fn section_changed(&mut self, section: Change, text: &str) -> bool {
        let hash = hash_of(text);
        self.sections.insert(section, hash) != Some(hash)
    }
}

/// The message for one section (or everything), or `None` when nothing changed since `sent`.
pub async fn next_message(
    state: &AppState,
    section: Option<Change>,
    sent: &mut Sent,
) -> crate::store::StoreResult<Option<String>> {
    let now = unix_now();
    let agents = || async move {
        crate::store::StoreResult::Ok(
            state
                .db
                .agents()
                .await?
                .into_iter()
                .map(|a| to_record(state, a, now))
                .collect::<Vec<_>>(),
        )
    };
    let update = match section {
        None => {
            *sent = Sent::default();
            // The newest tasks, as bounded as the REST list (the hub pages the rest).
            let tasks = state.db.tasks_page(super::tasks::TASK_LIST_MAX, 0).await?;
            sent.tasks_changed(tasks.clone());
            let update = HubUpdate::Snapshot {
                agents: agents().await?,
                tasks,
                pairings: state.db.pairings(None).await?,
                topology: topology::build(state).await?,
            };
            return Ok(serde_json::to_string(&update).ok());
        }
        Some(Change::Tasks) => {
            let since = sent.watermark - TASK_SKEW_SECS;
            let tasks = sent.tasks_changed(state.db.tasks_updated_since(since).await?);
            if tasks.is_empty() {
                return Ok(None);
            }
            return Ok(serde_json::to_string(&HubUpdate::TasksChanged { tasks }).ok());
        }
        Some(Change::Agents) => HubUpdate::Agents {
            agents: agents().await?,
        },
        Some(Change::Pairings) => HubUpdate::Pairings {
            pairings: state.db.pairings(None).await?,
        },
        Some(Change::Topology) => HubUpdate::Topology {
            topology: topology::build(state).await?,
        },
    };
    let Some(section) = section else {
        return Ok(None);
    };
    Ok(serde_json::to_string(&update)
        .ok()
        .filter(|text| sent.section_changed(section, text)))
}

async fn run(state: Arc<AppState>, mut socket: WebSocket) {
    let mut changes = state.events.subscribe();
    let mut pending: BTreeSet<Option<Change>> = BTreeSet::from([None]);
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut sent = Sent::default();
    loop {
        for section in std::mem::take(&mut pending) {
            match next_message(&state, section, &mut sent).await {
                Ok(Some(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Ok(None) => {}
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
