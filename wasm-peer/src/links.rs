//! One `RTCPeerConnection` per link attempt, with its `mesh` channel. Every callback is
//! tagged with the peer and the attempt, so the core ignores events of replaced attempts.

use crate::{
    path::RemoteRelays,
    sink::{self, Sink},
};
use meshwork_protocol::{
    core::{Attempt, ConnectionState, Event, Incoming, SdpType},
    framing::Frame,
    rest::IceServer,
    signaling::{relay_address, IceCandidatePayload},
    PeerId,
};
use std::{cell::RefCell, rc::Rc};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent, RtcDataChannelInit,
    RtcDataChannelType, RtcIceCandidateInit, RtcIceServer, RtcIceTransportPolicy,
    RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcSdpType,
    RtcSessionDescriptionInit,
};

type Callback = Closure<dyn FnMut(JsValue)>;

/// Creates our offer or answer and applies it locally; returns its SDP.
async fn local_description(pc: &RtcPeerConnection, kind: SdpType) -> Result<String, JsValue> {
    let (promise, sdp_type) = match kind {
        SdpType::Offer => (pc.create_offer(), RtcSdpType::Offer),
        SdpType::Answer => (pc.create_answer(), RtcSdpType::Answer),
    };
    let description = JsFuture::from(promise).await?;
    let sdp = js_sys::Reflect::get(&description, &JsValue::from_str("sdp"))?
        .as_string()
        .unwrap_or_default();
    let init = RtcSessionDescriptionInit::new(sdp_type);
    init.set_sdp(&sdp);
    JsFuture::from(pc.set_local_description(&init)).await?;
    Ok(sdp)
}

/// A link operation failed: the core treats the attempt as failed.
fn failed(driver: &Sink, peer: &PeerId, attempt: Attempt, error: JsValue) {
    let message = error.as_string().unwrap_or_else(|| format!("{error:?}"));
    sink::error(driver, format!("link to {peer}: {message}"));
    let state = ConnectionState::Failed;
    sink::event(
        driver,
        Event::ConnectionStateChanged {
            peer: peer.clone(),
            attempt,
            state,
        },
    );
}

fn report_local(
    driver: &Sink,
    peer: &PeerId,
    attempt: Attempt,
    sdp_type: SdpType,
    result: Result<String, JsValue>,
) {
    match result {
        Ok(sdp) => sink::event(
            driver,
            Event::LocalDescription {
                peer: peer.clone(),
                attempt,
                sdp_type,
                sdp,
            },
        ),
        Err(e) => failed(driver, peer, attempt, e),
    }
}

/// A link attempt.
pub struct Link {
    /// The attempt.
    pub attempt: Attempt,
    /// The connection.
    pub pc: RtcPeerConnection,
    /// The `mesh` channel, once created or received.
    pub dc: Option<RtcDataChannel>,
    /// Relay candidates the remote peer signaled (see `path::selected`).
    pub remote_relays: Rc<RefCell<RemoteRelays>>,
    callbacks: Vec<Callback>,
}

fn configuration(ice_servers: &[IceServer], relay_only: bool) -> RtcConfiguration {
    let config = RtcConfiguration::new();
    let servers = js_sys::Array::new();
    for s in ice_servers {
        let server = RtcIceServer::new();
        let urls = js_sys::Array::new();
        for u in &s.urls {
            urls.push(&JsValue::from_str(u));
        }
        server.set_urls(&urls);
        if let Some(user) = &s.username {
            server.set_username(user);
        }
        if let Some(cred) = &s.credential {
            server.set_credential(cred);
        }
        servers.push(&server);
    }
    config.set_ice_servers(&servers);
    if relay_only {
        config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
    }
    config
}

impl Link {
    /// Creates the connection and wires its callbacks; the offerer also creates the channel.
    pub fn new(
        driver: &Sink,
        peer: &PeerId,
        attempt: Attempt,
        ice_servers: &[IceServer],
        relay_only: bool,
        offerer: bool,
    ) -> Result<Self, JsValue> {
        let config = configuration(ice_servers, relay_only);
        let pc = RtcPeerConnection::new_with_configuration(&config)?;
        let mut link = Self {
            attempt,
            pc,
            dc: None,
            remote_relays: Rc::default(),
            callbacks: Vec::new(),
        };

        let (d, p) = (driver.clone(), peer.clone());
        let on_candidate = Callback::new(move |ev: JsValue| {
            let Ok(ev) = ev.dyn_into::<RtcPeerConnectionIceEvent>() else {
                return;
            };
            let Some(c) = ev.candidate() else { return }; // end of candidates
            let candidate = IceCandidatePayload {
                candidate: c.candidate(),
                sdp_mid: c.sdp_mid(),
                sdp_m_line_index: c.sdp_m_line_index(),
            };
            sink::event(
                &d,
                Event::LocalCandidate {
                    peer: p.clone(),
                    attempt,
                    candidate,
                },
            );
        });
        link.pc
            .set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        link.callbacks.push(on_candidate);

        let (d, p, pc) = (driver.clone(), peer.clone(), link.pc.clone());
        let on_state = Callback::new(move |_| {
            let state = match pc.connection_state() {
                RtcPeerConnectionState::New => ConnectionState::New,
                RtcPeerConnectionState::Connecting => ConnectionState::Connecting,
                RtcPeerConnectionState::Connected => ConnectionState::Connected,
                RtcPeerConnectionState::Disconnected => ConnectionState::Disconnected,
                RtcPeerConnectionState::Failed => ConnectionState::Failed,
                RtcPeerConnectionState::Closed => ConnectionState::Closed,
                _ => return,
            };
            sink::event(
                &d,
                Event::ConnectionStateChanged {
                    peer: p.clone(),
                    attempt,
                    state,
                },
            );
        });
        link.pc
            .set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        link.callbacks.push(on_state);

        // Some browsers only keep a channel's transport alive with an ICE-state listener.
        let on_ice_state = Callback::new(move |_| {});
        link.pc
            .set_oniceconnectionstatechange(Some(on_ice_state.as_ref().unchecked_ref()));
        link.callbacks.push(on_ice_state);

        if offerer {
            let init = RtcDataChannelInit::new();
            init.set_ordered(true);
            let dc = link
                .pc
                .create_data_channel_with_data_channel_dict("mesh", &init);
            link.attach_channel(driver, peer, dc);
        } else {
            let (d, p) = (driver.clone(), peer.clone());
            let on_channel = Callback::new(move |ev: JsValue| {
                let Ok(ev) = ev.dyn_into::<RtcDataChannelEvent>() else {
                    return;
                };
                let dc = ev.channel();
                if let Some(driver) = d.upgrade().filter(|_| dc.label() == "mesh") {
                    driver.channel(&p, attempt, dc);
                }
            });
            link.pc
                .set_ondatachannel(Some(on_channel.as_ref().unchecked_ref()));
            link.callbacks.push(on_channel);
        }
        Ok(link)
    }

    /// Wires the `mesh` channel's callbacks. Returns whether the channel is open already
    /// (handed over open: the caller reports `ChannelOpened`, once it holds no borrow).
    pub fn attach_channel(&mut self, driver: &Sink, peer: &PeerId, dc: RtcDataChannel) -> bool {
        let attempt = self.attempt;
        dc.set_binary_type(RtcDataChannelType::Arraybuffer);
        let (d, p) = (driver.clone(), peer.clone());
        let on_open = Callback::new(move |_| {
            sink::event(
                &d,
                Event::ChannelOpened {
                    peer: p.clone(),
                    attempt,
                },
            );
        });
        let (d, p) = (driver.clone(), peer.clone());
        let on_message = Callback::new(move |ev: JsValue| {
            let Ok(ev) = ev.dyn_into::<MessageEvent>() else {
                return;
            };
            let data = ev.data();
            let data = if let Some(text) = data.as_string() {
                Incoming::Text(text)
            } else if let Ok(buf) = data.dyn_into::<js_sys::ArrayBuffer>() {
                Incoming::Binary(js_sys::Uint8Array::new(&buf).to_vec())
            } else {
                return;
            };
            let peer = p.clone();
            sink::event(
                &d,
                Event::Data {
                    peer,
                    attempt,
                    data,
                },
            );
        });
        let (d, p) = (driver.clone(), peer.clone());
        let on_close = Callback::new(move |_| {
            sink::event(
                &d,
                Event::ChannelClosed {
                    peer: p.clone(),
                    attempt,
                },
            );
        });
        dc.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        dc.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        dc.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.callbacks.extend([on_open, on_message, on_close]);
        let open = dc.ready_state() == web_sys::RtcDataChannelState::Open;
        self.dc = Some(dc);
        open
    }

    /// Writes one message's frames; `Err` when the channel is missing or refuses.
    pub fn write(&self, frames: Vec<Frame>) -> Result<(), String> {
        let Some(dc) = &self.dc else {
            return Err("no channel yet".into());
        };
        for frame in frames {
            let sent = match frame {
                Frame::Text(text) => dc.send_with_str(&text),
                Frame::Chunk(bytes) => dc.send_with_u8_array(&bytes),
            };
            sent.map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))?;
        }
        Ok(())
    }

    /// Creates the offer and reports it.
    pub fn offer(&self, driver: &Sink, peer: &PeerId) {
        let (pc, d, p, attempt) = (self.pc.clone(), driver.clone(), peer.clone(), self.attempt);
        spawn_local(async move {
            report_local(
                &d,
                &p,
                attempt,
                SdpType::Offer,
                local_description(&pc, SdpType::Offer).await,
            );
        });
    }

    fn learn_relays(&self, sdp: &str) {
        self.remote_relays
            .borrow_mut()
            .extend(sdp.lines().filter_map(relay_address));
    }

    /// Applies a remote offer, answers it, reports both steps.
    pub fn answer(&self, driver: &Sink, peer: &PeerId, offer_sdp: String) {
        self.learn_relays(&offer_sdp);
        let (pc, d, p, attempt) = (self.pc.clone(), driver.clone(), peer.clone(), self.attempt);
        spawn_local(async move {
            let remote = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
            remote.set_sdp(&offer_sdp);
            if let Err(e) = JsFuture::from(pc.set_remote_description(&remote)).await {
                return failed(&d, &p, attempt, e);
            }
            sink::event(
                &d,
                Event::RemoteDescriptionApplied {
                    peer: p.clone(),
                    attempt,
                },
            );
            let answer = local_description(&pc, SdpType::Answer).await;
            report_local(&d, &p, attempt, SdpType::Answer, answer);
        });
    }

    /// Applies the remote answer.
    pub fn apply_answer(&self, driver: &Sink, peer: &PeerId, sdp: String) {
        self.learn_relays(&sdp);
        let (pc, d, p, attempt) = (self.pc.clone(), driver.clone(), peer.clone(), self.attempt);
        spawn_local(async move {
            let remote = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
            remote.set_sdp(&sdp);
            match JsFuture::from(pc.set_remote_description(&remote)).await {
                Ok(_) => sink::event(&d, Event::RemoteDescriptionApplied { peer: p, attempt }),
                Err(e) => failed(&d, &p, attempt, e),
            }
        });
    }

    /// Applies a remote candidate; a bad one is that candidate's problem, not the link's.
    pub fn add_candidate(&self, candidate: IceCandidatePayload) {
        if candidate.candidate.is_empty() {
            return;
        }
        self.remote_relays
            .borrow_mut()
            .extend(candidate.relay_address());
        let init = RtcIceCandidateInit::new(&candidate.candidate);
        init.set_sdp_mid(candidate.sdp_mid.as_deref());
        init.set_sdp_m_line_index(candidate.sdp_m_line_index);
        let pc = self.pc.clone();
        spawn_local(async move {
            let _ =
                JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
                    .await;
        });
    }

    /// Closes the connection without reporting back.
    pub fn close(&self) {
        if let Some(dc) = &self.dc {
            dc.set_onclose(None);
            dc.set_onmessage(None);
            dc.set_onopen(None);
            dc.close();
        }
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_onicecandidate(None);
        self.pc.set_ondatachannel(None);
        self.pc.close();
    }
}
