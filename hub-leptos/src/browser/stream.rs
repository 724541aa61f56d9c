//! The hub stream: `GET /api/hub/stream?ticket=` over a WebSocket (a single-use ticket from
//! `POST /api/ws-ticket`, docs/adr/0013: no token in the URL, nothing a proxy must carry),
//! applied to [`Hub`] as it arrives, reconnected with backoff when it drops.
//!
//! The decisions (delays, when to suspect the token) are [`Reconnect`]'s; this file only
//! opens sockets, arms timers and probes the token.

use crate::{
    browser::{api, now_ms},
    model::reconnect::{AfterClose, Reconnect},
    state::{Conn, Hub},
};
use leptos::prelude::{set_timeout_with_handle, Set, TimeoutHandle};
use meshwork_protocol::rest::{HubUpdate, WsTicket, HUB_STREAM_PATH};

/// Where the stream's tickets come from.
const TICKET_PATH: &str = "/api/ws-ticket";
use futures_util::{future::Either, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use std::{cell::RefCell, rc::Rc, time::Duration};

/// The stream client of this tab; a clone is another handle on it.
#[derive(Clone)]
pub struct Stream {
    inner: Rc<RefCell<Inner>>,
}

/// The open socket's reader task (gloo-net); dropping this ends it, closing the socket
/// without a report.
struct Socket {
    _stop: futures_channel::oneshot::Sender<()>,
}

impl Socket {
    fn close(self) {}
}

struct Inner {
    hub: Hub,
    token: Option<String>,
    socket: Option<Socket>,
    policy: Reconnect,
    /// Bumped on every connect and stop, so callbacks of an older socket are ignored.
    generation: u64,
    retry: Option<TimeoutHandle>,
}

fn stream_url() -> String {
    let origin = super::origin();
    let ws_origin = match origin.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", origin.trim_start_matches("http://")),
    };
    format!("{ws_origin}{HUB_STREAM_PATH}")
}

impl Stream {
    /// A stopped client feeding `hub`.
    pub fn new(hub: Hub) -> Self {
        Self {
            inner: Rc::new(RefCell::new(Inner {
                hub,
                token: None,
                socket: None,
                policy: Reconnect::default(),
                generation: 0,
                retry: None,
            })),
        }
    }

    /// (Re)starts with `token`, from a fresh backoff.
    pub fn start(&self, token: String) {
        {
            let mut i = self.inner.borrow_mut();
            i.token = Some(token);
            i.policy = Reconnect::default();
        }
        self.connect();
    }

    /// Closes the socket and stops reconnecting.
    pub fn stop(&self) {
        let hub = {
            let mut i = self.inner.borrow_mut();
            i.generation += 1;
            i.token = None;
            if let Some(t) = i.retry.take() {
                t.clear();
            }
            if let Some(s) = i.socket.take() {
                s.close();
            }
            i.hub
        };
        hub.conn.set(Conn::Stopped);
    }

    fn connect(&self) {
        let (hub, token, generation) = {
            let mut i = self.inner.borrow_mut();
            if let Some(t) = i.retry.take() {
                t.clear();
            }
            if let Some(s) = i.socket.take() {
                s.close();
            }
            i.generation += 1;
            i.policy.connecting();
            let Some(token) = i.token.clone() else {
                return;
            };
            (i.hub, token, i.generation)
        };
        hub.conn.set(Conn::Connecting);
        let this = self.clone();
        leptos::task::spawn_local(async move {
            let ticket = api::post::<(), WsTicket>(TICKET_PATH, &token, None).await;
            if this.inner.borrow().generation != generation {
                return; // stopped or reconnected meanwhile
            }
            match ticket {
                Ok(t) => this.open(&t.ticket, generation),
                Err(api::ApiError::Refused) => {
                    this.stop();
                    hub.refuse();
                }
                Err(_) => this.closed(generation),
            }
        });
    }

    /// Opens the socket of `generation` with its ticket.
    fn open(&self, ticket: &str, generation: u64) {
        let url = format!("{}?ticket={ticket}", stream_url());
        let Ok(mut ws) = WebSocket::open(&url) else {
            return self.closed(generation);
        };
        let (stop, mut stopped) = futures_channel::oneshot::channel::<()>();
        let this = self.clone();
        leptos::task::spawn_local(async move {
            loop {
                let next = match futures_util::future::select(ws.next(), &mut stopped).await {
                    Either::Left((next, _)) => next,
                    // Closed by `stop`/`connect`: no report, a newer socket (or none) owns the
                    // stream now.
                    Either::Right(_) => return,
                };
                match next {
                    Some(Ok(Message::Text(text))) => this.received(&text, generation),
                    Some(Ok(Message::Bytes(_))) => {}
                    Some(Err(_)) | None => break,
                }
            }
            this.closed(generation);
        });
        self.inner.borrow_mut().socket = Some(Socket { _stop: stop });
    }

    /// One message of the socket of `generation`.
    fn received(&self, text: &str, generation: u64) {
        let update = match serde_json::from_str::<HubUpdate>(text) {
            Ok(u) => u,
            Err(e) => {
                leptos::logging::warn!("hub stream: unreadable message ignored: {e}");
                return;
            }
        };
        let hub = {
            let mut i = self.inner.borrow_mut();
            if i.generation != generation {
                return;
            }
            i.policy.message();
            i.hub
        };
        hub.apply(update);
        hub.conn.set(Conn::Live);
    }

    /// The socket of `generation` closed (or never opened).
    fn closed(&self, generation: u64) {
        let (hub, after, token) = {
            let mut i = self.inner.borrow_mut();
            if i.generation != generation {
                return;
            }
            let after = i.policy.closed();
            (i.hub, after, i.token.clone())
        };
        let delay = match after {
            AfterClose::Retry(d) => d,
            AfterClose::ProbeToken(d) => {
                if let Some(token) = token {
                    self.probe(token);
                }
                d
            }
        };
        hub.conn.set(Conn::Retrying {
            at_ms: now_ms() + delay.as_secs_f64() * 1000.0,
        });
        self.schedule(delay, generation);
    }

    /// Reconnects after `delay` unless something newer happened meanwhile.
    fn schedule(&self, delay: Duration, generation: u64) {
        let weak = Rc::downgrade(&self.inner);
        let handle = set_timeout_with_handle(
            move || {
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                if inner.borrow().generation == generation {
                    Stream { inner }.connect();
                }
            },
            delay,
        );
        if let Ok(h) = handle {
            self.inner.borrow_mut().retry = Some(h);
        }
    }

    /// Asks the REST API whether the token is refused; the retry stays armed meanwhile.
    fn probe(&self, token: String) {
        let this = self.clone();
        leptos::task::spawn_local(async move {
            if let Ok(false) = api::token_accepted(&token).await {
                let (hub, same_token) = {
                    let i = this.inner.borrow();
                    (i.hub, i.token.as_deref() == Some(token.as_str()))
                };
                if same_token {
                    this.stop();
                    hub.refuse();
                }
            }
        });
    }
}
