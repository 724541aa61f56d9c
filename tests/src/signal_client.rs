//! A signaling WebSocket client for tests: send frames, wait for frames with timeouts.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    connect_async,
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One signaling connection.
pub struct SignalClient {
    ws: Ws,
    /// The peer id this client speaks as.
    pub peer_id: String,
}

/// Default time to wait for an expected frame.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a WebSocket to `url` with the given `Host` (and `Origin`, if any) and returns the
/// refusal, if the server refused the upgrade (e.g. `HTTP error: 403 Forbidden`).
pub async fn upgrade_refusal(url: &str, host: &str, origin: Option<&str>) -> Option<String> {
    let mut req = tokio_tungstenite::tungstenite::http::Request::builder()
        .uri(url)
        .header("host", host)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    let req = req.body(()).expect("upgrade request");
    connect_async(req).await.err().map(|e| e.to_string())
}

impl SignalClient {
    /// Connects with `?token=`.
    pub async fn connect(ws_url: &str, token: &str, peer_id: &str) -> anyhow::Result<Self> {
        let (ws, _) = connect_async(format!("{ws_url}?token={token}")).await?;
        Ok(Self {
            ws,
            peer_id: peer_id.to_owned(),
        })
    }

    /// Connects the way a browser must: token in `Sec-WebSocket-Protocol`.
    pub async fn connect_subprotocol(
        ws_url: &str,
        token: &str,
        peer_id: &str,
    ) -> anyhow::Result<(Self, Option<String>)> {
        let mut req = ws_url.into_client_request()?;
        req.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(&format!("meshwork, {token}"))?,
        );
        let (ws, resp) = connect_async(req).await?;
        let chosen = resp
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((
            Self {
                ws,
                peer_id: peer_id.to_owned(),
            },
            chosen,
        ))
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: impl Into<String>) -> anyhow::Result<()> {
        self.ws.send(Message::Text(text.into().into())).await?;
        Ok(())
    }

    /// Sends a frame as this peer.
    pub async fn send(
        &mut self,
        kind: &str,
        target: Option<&str>,
        payload: Value,
    ) -> anyhow::Result<()> {
        let mut frame = json!({"type": kind, "peer_id": self.peer_id, "payload": payload});
        if let Some(t) = target {
            frame["target_id"] = json!(t);
        }
        self.send_text(frame.to_string()).await
    }

    /// Registers and returns the peer list.
    pub async fn register(&mut self, kind: &str) -> anyhow::Result<Vec<String>> {
        self.send("register", None, json!({"kind": kind})).await?;
        let list = self.expect("peer_list").await?;
        Ok(list["payload"]["peers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The next JSON frame, within `timeout`. Errors on close, timeout or non-JSON.
    pub async fn next_frame(&mut self, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| anyhow::anyhow!("{}: no frame within {timeout:?}", self.peer_id))?;
            match msg {
                Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str())?),
                Some(Ok(Message::Close(_))) | None => {
                    anyhow::bail!("{}: socket closed", self.peer_id)
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => anyhow::bail!("{}: {e}", self.peer_id),
            }
        }
    }

    /// The next frame of type `kind` (others are skipped), within [`FRAME_TIMEOUT`].
    pub async fn expect(&mut self, kind: &str) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + FRAME_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self
                .next_frame(left)
                .await
                .map_err(|e| anyhow::anyhow!("waiting for {kind}: {e}"))?;
            if frame["type"] == kind {
                return Ok(frame);
            }
        }
    }

    /// Waits for the next `error` frame and returns its code.
    pub async fn expect_error(&mut self) -> anyhow::Result<String> {
        let frame = self.expect("error").await?;
        Ok(frame["payload"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Whether the server closes the socket within `timeout`.
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The code of the server's close frame, skipping other frames; `None` when the socket
    /// ends without one, or nothing ends within `timeout`.
    pub async fn close_code_within(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Err(_) | Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
