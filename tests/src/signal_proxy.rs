//! A signaling proxy a test puts between a sidecar and the registry: it plays a registry
//! that has been broken into (rewriting DTLS fingerprints, dropping ICE candidates) and
//! records every frame it carries, in both directions.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_tungstenite::{
    accept_hdr_async, connect_async,
    tungstenite::{
        handshake::server::{Request, Response},
        Message,
    },
};

/// What the proxy does to the frames it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Nothing: it only records.
    Nothing,
    /// Replaces the DTLS fingerprint of every offer and answer (a man in the middle).
    Fingerprints,
    /// Drops every ICE candidate, so no DataChannel can open (the registry tier remains).
    Candidates,
}

/// A running proxy; it stops when dropped.
pub struct SignalProxy {
    /// `ws://127.0.0.1:PORT/ws`: give it to a sidecar as `SIGNALING_URL`.
    pub url: String,
    frames: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SignalProxy {
    /// Proxies to the registry's WebSocket URL `upstream` (`ws://…/ws`).
    pub async fn start(upstream: &str, tamper: Tamper) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let record = frames.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let record = record.clone();
                tokio::spawn(async move {
                    let mut query = String::new();
                    #[allow(clippy::result_large_err)] // tungstenite's callback signature
                    let callback = |req: &Request, resp: Response| {
                        query = req.uri().query().unwrap_or_default().to_owned();
                        Ok(resp)
                    };
                    let Ok(client) = accept_hdr_async(tcp, callback).await else {
                        return;
                    };
                    let Ok((server, _)) = connect_async(format!("{upstream}?{query}")).await else {
                        return;
                    };
                    let (mut client_tx, mut client_rx) = client.split();
                    let (mut server_tx, mut server_rx) = server.split();
                    loop {
                        tokio::select! {
                            Some(Ok(msg)) = client_rx.next() => {
                                let Some(msg) = carry(msg, tamper, &record) else { continue };
                                if server_tx.send(msg).await.is_err() { break; }
                            }
                            Some(Ok(msg)) = server_rx.next() => {
                                let Some(msg) = carry(msg, tamper, &record) else { continue };
                                if client_tx.send(msg).await.is_err() { break; }
                            }
                            else => break,
                        }
                    }
                });
            }
        });
        Self {
            url: format!("ws://127.0.0.1:{port}/ws"),
            frames,
            task,
        }
    }

    /// Every text frame carried so far (after tampering), both directions.
    pub fn frames(&self) -> Vec<String> {
        self.frames.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

impl Drop for SignalProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn carry(msg: Message, tamper: Tamper, record: &Mutex<Vec<String>>) -> Option<Message> {
    let Message::Text(text) = msg else {
        return Some(msg);
    };
    let mut frame: Value = serde_json::from_str(text.as_str()).ok()?;
    let kind = frame["type"].as_str().unwrap_or_default().to_owned();
    match tamper {
        Tamper::Candidates if kind == "ice_candidate" => return None,
        Tamper::Fingerprints if kind == "offer" || kind == "answer" => {
            let sdp = frame["payload"]["sdp"].as_str().unwrap_or_default();
            let forged: Vec<String> = sdp
                .split("\r\n")
                .map(|line| {
                    if line.starts_with("a=fingerprint:") {
                        format!("a=fingerprint:sha-256 {}", ["AB"; 32].join(":"))
                    } else {
                        line.to_owned()
                    }
                })
                .collect();
            frame["payload"]["sdp"] = Value::String(forged.join("\r\n"));
        }
        _ => {}
    }
    let text = frame.to_string();
    if let Ok(mut frames) = record.lock() {
        frames.push(text.clone());
    }
    Some(Message::text(text))
}
