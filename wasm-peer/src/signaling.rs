//! The registry WebSocket. Browsers cannot set headers, so the JWT travels in
//! `Sec-WebSocket-Protocol` next to `meshwork` (ADR 0006).

use crate::sink::{self, Sink};
use meshwork_protocol::{core::Event, SignalMessage};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{MessageEvent, WebSocket};

/// An open (or opening) signaling socket and the callbacks it needs kept alive.
pub struct Signaling {
    /// The socket.
    pub ws: WebSocket,
    _on_open: Closure<dyn FnMut(JsValue)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(JsValue)>,
}

impl Signaling {
    /// Opens `ws_url` with the token; events go to the driver.
    pub fn open(ws_url: &str, jwt: &str, driver: Sink) -> Result<Self, JsValue> {
        let protocols = js_sys::Array::of2(&JsValue::from_str("meshwork"), &JsValue::from_str(jwt));
        let ws = WebSocket::new_with_str_sequence(ws_url, &protocols)?;
        let d = driver.clone();
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            sink::event(&d, Event::SignalingConnected);
        });
        let d = driver.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            match SignalMessage::parse(&text) {
                Ok(msg) => sink::event(&d, Event::SignalReceived(msg)),
                Err(e) => sink::error(&d, format!("unparseable signaling frame: {e}")),
            }
        });
        let d = driver;
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(driver) = d.upgrade() {
                driver.signaling_closed();
            }
        });
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
