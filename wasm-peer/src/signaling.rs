//! The registry WebSocket, over `gloo-net`. It opens with a single-use ticket in the URL
//! (docs/adr/0013), so nothing needs a subprotocol and any proxy carries it.
//!
//! One task owns the socket: it reports `Open` once the socket is open, hands every text
//! frame to `report`, writes what [`Signaling::send`] queued, and reports `Closed` when the
//! socket ends — unless the driver closed it itself.

use futures_util::{future::Either, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, State};
use std::{cell::Cell, rc::Rc};
use wasm_bindgen_futures::spawn_local;

/// What the socket reports.
pub enum SocketEvent {
    /// It is open.
    Open,
    /// A text frame arrived.
    Frame(String),
    /// It closed (or never opened).
    Closed,
}

/// An open (or opening) signaling socket.
pub struct Signaling {
    out: futures_channel::mpsc::UnboundedSender<String>,
    /// Set when the driver closes the socket: its end is then not reported.
    quiet: Rc<Cell<bool>>,
}

impl Signaling {
    /// Opens `ws_url`; what happens goes to `report`.
    pub fn open(ws_url: &str, report: Rc<dyn Fn(SocketEvent)>) -> Result<Self, String> {
        let mut ws = WebSocket::open(ws_url).map_err(|e| e.to_string())?;
        let (out, mut queued) = futures_channel::mpsc::unbounded::<String>();
        let quiet = Rc::new(Cell::new(false));
        let silenced = quiet.clone();
        spawn_local(async move {
            // The sink is ready once the socket left CONNECTING (open, or already failed).
            let ready = futures_util::future::poll_fn(|cx| ws.poll_ready_unpin(cx)).await;
            if ready.is_ok() && matches!(ws.state(), State::Open) {
                report(SocketEvent::Open);
                loop {
                    match futures_util::future::select(ws.next(), queued.next()).await {
                        Either::Left((Some(Ok(Message::Text(text))), _)) => {
                            report(SocketEvent::Frame(text))
                        }
                        Either::Left((Some(Ok(Message::Bytes(_))), _)) => {}
                        Either::Left((Some(Err(_)) | None, _)) => break,
                        Either::Right((Some(frame), _)) => {
                            if ws.send(Message::Text(frame)).await.is_err() {
                                break;
                            }
                        }
                        // The driver dropped its handle: close quietly.
                        Either::Right((None, _)) => break,
                    }
                }
            }
            let _ = ws.close(None, None);
            if !silenced.get() {
                report(SocketEvent::Closed);
            }
        });
        Ok(Self { out, quiet })
    }

    /// Queues one frame; false when the socket has ended.
    pub fn send(&self, frame: &str) -> bool {
        self.out.unbounded_send(frame.to_owned()).is_ok()
    }

    /// Closes without reporting (the driver already knows).
    pub fn close(&self) {
        self.quiet.set(true);
        self.out.close_channel();
    }
}

/// A socket nobody holds any more (e.g. the peer left while it was being opened) closes, so
/// no ghost connection stays registered as this peer.
impl Drop for Signaling {
    fn drop(&mut self) {
        self.close();
    }
}
