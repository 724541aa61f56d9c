//! The signaling connection: one task per connection attempt. It fetches a fresh JWT (tokens
//! live 5 minutes, reconnects may come much later), connects, and forwards frames both ways.
//! Its end is reported to the driver, which asks the core when to try again.

use crate::{config::SidecarConfig, credentials};
use futures_util::{SinkExt, StreamExt};
use meshwork_protocol::{rest::IceServer, turn::expiry, PeerId};
use std::time::Duration;
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
        /// ICE servers to use from now on.
        ice_servers: Vec<IceServer>,
        /// Where to send frames.
        outbound: mpsc::Sender<String>,
    },
    /// Fresh ICE servers (TURN credentials renewed before they expire).
    IceServers(Vec<IceServer>),
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
        let _ = events.send(SignalingEvent::Down(reason)).await;
    });
}

async fn connect_and_pump(config: &SidecarConfig, events: &mpsc::Sender<SignalingEvent>) -> String {
    let token = match credentials::fetch_token(config).await {
        Ok(t) => t,
        Err(e) => return format!("token: {e}"),
    };
    let ice_servers = credentials::fetch_ice_servers(config, token.peer_id.as_str()).await;
    let url = format!("{}?token={}", config.signaling_url, token.token);
    let ws = match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok((ws, _)) => ws,
        Err(e) => return format!("connect {}: {e}", config.signaling_url),
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let first_renewal = credentials::refresh_after(&ice_servers);
    let peer_id = token.peer_id;
    let up = SignalingEvent::Up {
        peer_id: peer_id.clone(),
        ice_servers,
        outbound: tx,
    };
    if events.send(up).await.is_err() {
        return "driver gone".into();
    }
    // Polled next to the socket, so a slow fetch never holds frames back.
    let renewal = renew_credentials(config, &peer_id, first_renewal, events);
    tokio::pin!(renewal);
    loop {
        tokio::select! {
            reason = &mut renewal => return reason,
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

/// Renews the ICE servers (TURN credentials) for as long as this connection lives: halfway
/// to the earliest expiry (`turn::expiry`); a failed fetch keeps the current servers and tries
/// again in 5 s. Returns only when the driver is gone.
async fn renew_credentials(
    config: &SidecarConfig,
    peer_id: &PeerId,
    first: Option<Duration>,
    events: &mpsc::Sender<SignalingEvent>,
) -> String {
    let Some(mut wait) = first else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(wait).await;
        match credentials::renew_ice_servers(config, peer_id.as_str()).await {
            Ok(servers) => {
                let next = credentials::refresh_after(&servers);
                tracing::debug!(?next, "ICE servers renewed");
                if events
                    .send(SignalingEvent::IceServers(servers))
                    .await
                    .is_err()
                {
                    return "driver gone".into();
                }
                match next {
                    Some(next) => wait = next,
                    None => return std::future::pending().await,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "renewing the ICE servers failed; keeping the current ones, retrying in 5 s");
                wait = Duration::from_secs(expiry::MIN_RENEW_SECS);
            }
        }
    }
}
