//! The registry WebSocket. Browsers cannot set headers, so the JWT travels in
//! `Sec-WebSocket-Protocol` next to `meshwork` (ADR 0006).

use std::rc::Rc;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{MessageEvent, WebSocket};

/// What the socket reports.
pub enum SocketEvent {
    /// It is open.
    Open,
    /// A text frame arrived.
    Frame(String),
    /// It closed (or never opened).
    Closed,
}

/// An open (or opening) signaling socket and the callbacks it needs kept alive.
pub struct Signaling {
    /// The socket.
    pub ws: WebSocket,
    _on_open: Closure<dyn FnMut(JsValue)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(JsValue)>,
}

impl Signaling {
    /// Opens `ws_url` (which carries a `?ticket=`, docs/adr/0013: no token in a URL or a
    /// subprotocol, so proxies such as `trunk serve` pass it through); what happens goes to
    /// `report`.
    pub fn open(ws_url: &str, report: Rc<dyn Fn(SocketEvent)>) -> Result<Self, JsValue> {
        let ws = WebSocket::new(ws_url)?;
        let r = report.clone();
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| r(SocketEvent::Open));
        let r = report.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if let Some(text) = ev.data().as_string() {
                r(SocketEvent::Frame(text));
            }
        });
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| report(SocketEvent::Closed));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one frame; false when the socket is not open or refused it.
    pub fn send(&self, frame: &str) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_str(frame).is_ok()
    }

    /// Closes without reporting (the driver already knows).
    pub fn close(&self) {
        self.ws.set_onclose(None);
        self.ws.set_onmessage(None);
        self.ws.set_onopen(None);
        let _ = self.ws.close();
    }
}

/// A socket nobody holds any more (e.g. the peer left while it was being opened) closes, so
/// no ghost connection stays registered as this peer.
impl Drop for Signaling {
    fn drop(&mut self) {
        self.close();
    }
}
