//! The signaling connection: one task per connection attempt. It fetches a fresh JWT (tokens
//! live 5 minutes, reconnects may come much later), connects, and forwards frames both ways.
//! Its end is reported to the driver, which asks the core when to try again. When to renew
//! the TURN credentials is the core's decision too (`Action::FetchIceServers`).

use crate::{config::SidecarConfig, credentials};
use futures_util::{SinkExt, StreamExt};
use meshwork_protocol::{rest::IceServer, PeerId};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// What the signaling task reports to the driver.
#[derive(Debug)]
pub enum SignalingEvent {
    /// Connected as this peer; frames can flow. Carries the ICE servers for new links.
    Up {
        /// Our peer id (the token's subject).
        peer_id: PeerId,
        /// ICE servers to use from now on, or why they could not be fetched.
        ice_servers: Result<Vec<IceServer>, String>,
        /// Where to send frames.
        outbound: mpsc::Sender<String>,
    },
    /// The outcome of a `FetchIceServers`.
    IceServers(Result<Vec<IceServer>, String>),
    /// One text frame from the registry.
    Frame(String),
    /// The connection ended (or never came up).
    Down(String),
}

/// Starts one connection attempt; it reports `Up`, then frames, then exactly one `Down`.
pub fn spawn(config: SidecarConfig, events: mpsc::Sender<SignalingEvent>, stop: CancellationToken) {
    tokio::spawn(async move {
        let reason = tokio::select! {
            r = connect_and_pump(&config, &events) => r,
            _ = stop.cancelled() => "stopped".to_owned(),
        };
        // Its registry is gone or refused us: the next attempt tries the next one (when
        // several are configured; they act as one, ADR 0024).
        if reason != "stopped" {
            config.next_registry();
        }
        let _ = events.send(SignalingEvent::Down(reason)).await;
    });
}

async fn connect_and_pump(config: &SidecarConfig, events: &mpsc::Sender<SignalingEvent>) -> String {
    let token = match credentials::fetch_token(config).await {
        Ok(t) => t,
        Err(e) => return format!("token: {e}"),
    };
    let ice_servers = credentials::renew_ice_servers(config, token.peer_id.as_str())
        .await
        .map_err(|e| e.to_string());
    let signaling_url = config.signaling_url();
    let url = format!("{signaling_url}?token={}", token.token);
    // TCP_NODELAY: signaling frames are small and latency-bound. With Nagle on, a frame sent
    // right after another (a task's acknowledgement, then its answer) waits for the
    // registry's delayed ACK: +40 ms per task (ADR 0018's bench found it).
    let connected = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true).await;
    let ws = match connected {
        Ok((ws, _)) => ws,
        Err(e) => return format!("connect {signaling_url}: {e}"),
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let up = SignalingEvent::Up {
        peer_id: token.peer_id,
        ice_servers,
        outbound: tx,
    };
    if events.send(up).await.is_err() {
        return "driver gone".into();
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(frame) => {
                    if let Err(e) = sink.send(Message::Text(frame.into())).await {
                        return format!("send: {e}");
                    }
                }
                None => {
                    let _ = sink.send(Message::Close(None)).await;
                    return "closed by driver".into();
                }
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if events.send(SignalingEvent::Frame(text.to_string())).await.is_err() {
                        return "driver gone".into();
                    }
                }
                Some(Ok(Message::Close(_))) | None => return "closed by registry".into(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return format!("receive: {e}"),
            },
        }
    }
}
