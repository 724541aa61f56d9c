//! The browser shell: the [`Shell`] contract over `RTCPeerConnection`s, the signaling
//! `WebSocket` and `fetch`. It translates — it decides nothing the core could decide.

use crate::{
    http,
    links::Link,
    path, registry,
    signaling::{Signaling, SocketEvent},
    sink::{self, Sink},
};
use gloo_net::http::Method;
use meshwork_protocol::{
    core::{AppEvent, AppEvent as PeerEvent, Attempt, Event, LinkStart, Purpose, Shell},
    framing::Frame,
    rest::{IceServer, WsTicket},
    signaling::IceCandidatePayload,
    PeerId, SignalMessage,
};
use std::{collections::HashMap, rc::Rc};
use wasm_bindgen_futures::spawn_local;

/// What a tab's platform side holds.
pub struct WebShell {
    /// Registry base URL (`http(s)://host:port`).
    pub base: String,
    /// The hub's admin token (the tab's credential, ADR 0006).
    pub admin_token: String,
    /// Only relay candidates.
    pub relay_only: bool,
    /// This tab's peer id (tokens are renewed for it).
    pub me: PeerId,
    pub(crate) signaling: Option<Signaling>,
    pub(crate) links: HashMap<PeerId, Link>,
    /// Events for the application, handed to listeners once no borrow is held.
    pub(crate) pending: Vec<PeerEvent>,
    pub(crate) sink: Sink,
}

impl WebShell {
    fn link(&self, peer: &PeerId, attempt: Attempt) -> Option<&Link> {
        self.links.get(peer).filter(|l| l.attempt == attempt)
    }

    /// Attaches the channel the offerer opened; true when it is open already.
    pub fn attach_channel(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        dc: web_sys::RtcDataChannel,
    ) -> bool {
        let sink = self.sink.clone();
        match self.links.get_mut(peer).filter(|l| l.attempt == attempt) {
            Some(link) => link.attach_channel(&sink, peer, dc),
            None => false,
        }
    }

    /// Closes every link and the signaling socket (leaving the mesh).
    pub fn close_all(&mut self) {
        for (_, link) in self.links.drain() {
            link.close();
        }
        if let Some(s) = self.signaling.take() {
            s.close();
        }
    }
}

/// Wall-clock seconds since the Unix epoch, from the browser's clock.
fn unix_now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

impl Shell for WebShell {
    fn connect_signaling(&mut self) {
        let (sink, base, admin, me) = (
            self.sink.clone(),
            self.base.clone(),
            self.admin_token.clone(),
            self.me.clone(),
        );
        spawn_local(async move {
            let token = match registry::browser_token(&base, &admin, Some(me.as_str())).await {
                Ok(t) => t,
                Err(e) => {
                    sink::error(&sink, format!("cannot get a token: {e}"));
                    return sink::event(&sink, Event::SignalingDisconnected);
                }
            };
            match registry::ice_config(&base, &token.token).await {
                Ok(ice) => {
                    let servers = ice.ice_servers;
                    sink::event(
                        &sink,
                        Event::IceServers {
                            servers,
                            unix_now: unix_now(),
                        },
                    );
                }
                Err(error) => {
                    sink::error(&sink, format!("no ICE servers from the registry ({error})"));
                    sink::event(&sink, Event::IceServersFailed { error });
                }
            }
            let url = format!("{base}/api/ws-ticket");
            let ticket = match http::json::<WsTicket>(Method::POST, &url, &token.token, None).await
            {
                Ok(t) => t.ticket,
                Err(e) => {
                    sink::error(&sink, format!("cannot get a socket ticket: {e}"));
                    return sink::event(&sink, Event::SignalingDisconnected);
                }
            };
            let ws_url = format!("{}/ws?ticket={ticket}", base.replacen("http", "ws", 1));
            let to_driver = sink.clone();
            let report = Rc::new(move |ev: SocketEvent| match ev {
                SocketEvent::Open => sink::event(&to_driver, Event::SignalingConnected),
                SocketEvent::Frame(text) => sink::signal_text(&to_driver, text),
                SocketEvent::Closed => {
                    if let Some(driver) = to_driver.upgrade() {
                        driver.signaling_closed();
                    }
                }
            });
            match Signaling::open(&ws_url, report) {
                Ok(socket) => {
                    if let Some(driver) = sink.upgrade() {
                        driver.signaling_opened(socket);
                    }
                }
                Err(e) => {
                    sink::error(&sink, format!("cannot open signaling: {e:?}"));
                    sink::event(&sink, Event::SignalingDisconnected);
                }
            }
        });
    }

    fn send_signal(&mut self, frame: SignalMessage) -> Result<(), SignalMessage> {
        match &self.signaling {
            Some(s) if s.send(&frame.to_json()) => Ok(()),
            _ => Err(frame),
        }
    }

    fn create_link(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        start: LinkStart,
        ice_servers: Vec<IceServer>,
    ) {
        if let Some(old) = self.links.remove(peer) {
            old.close();
        }
        let offerer = matches!(start, LinkStart::Offer { .. });
        let link = match Link::new(
            &self.sink,
            peer,
            attempt,
            &ice_servers,
            self.relay_only,
            offerer,
        ) {
            Ok(link) => link,
            Err(e) => {
                self.pending.push(PeerEvent::Error {
                    peer: Some(peer.clone()),
                    message: format!("cannot create a connection: {e:?}"),
                });
                // Reported later, outside this dispatch: the core retries the attempt.
                let (sink, peer) = (self.sink.clone(), peer.clone());
                spawn_local(async move {
                    let state = meshwork_protocol::core::ConnectionState::Failed;
                    sink::event(
                        &sink,
                        Event::ConnectionStateChanged {
                            peer,
                            attempt,
                            state,
                        },
                    );
                });
                return;
            }
        };
        match start {
            LinkStart::Offer { .. } => link.offer(&self.sink, peer),
            LinkStart::Answer(sdp) => link.answer(&self.sink, peer, sdp),
        }
        self.links.insert(peer.clone(), link);
    }

    fn apply_answer(&mut self, peer: &PeerId, attempt: Attempt, sdp: String) {
        if let Some(link) = self.link(peer, attempt) {
            link.apply_answer(&self.sink, peer, sdp);
        }
    }

    fn add_candidate(&mut self, peer: &PeerId, attempt: Attempt, candidate: IceCandidatePayload) {
        if let Some(link) = self.link(peer, attempt) {
            link.add_candidate(candidate);
        }
    }

    fn close_link(&mut self, peer: &PeerId, attempt: Attempt) {
        if self.link(peer, attempt).is_some() {
            if let Some(link) = self.links.remove(peer) {
                link.close();
            }
        }
    }

    /// The browser's `send` either takes a message or throws at once: there is no later
    /// failure to report, whatever the `purpose`.
    fn write(
        &mut self,
        peer: &PeerId,
        attempt: Attempt,
        frames: Vec<Frame>,
        _purpose: Purpose,
    ) -> Result<(), String> {
        match self.link(peer, attempt) {
            Some(link) => link.write(frames),
            None => Err(format!("no connection to {peer}")),
        }
    }

    fn probe_path(&mut self, peer: &PeerId, attempt: Attempt) {
        let Some(link) = self.link(peer, attempt) else {
            return;
        };
        let (pc, relays) = (link.pc.clone(), link.remote_relays.borrow().clone());
        let (sink, peer) = (self.sink.clone(), peer.clone());
        spawn_local(async move {
            let (candidate_type, rtt_ms) = path::selected(&pc, &relays).await;
            let event = Event::PathObserved {
                peer,
                attempt,
                candidate_type,
                rtt_ms,
            };
            sink::event(&sink, event);
        });
    }

    /// A fresh token first: the one signaling connected with lives 5 minutes, TURN
    /// credentials a day.
    fn fetch_ice_servers(&mut self) {
        let (sink, base, admin, me) = (
            self.sink.clone(),
            self.base.clone(),
            self.admin_token.clone(),
            self.me.clone(),
        );
        spawn_local(async move {
            let fetched = async {
                let token = registry::browser_token(&base, &admin, Some(me.as_str())).await?;
                registry::ice_config(&base, &token.token).await
            }
            .await;
            let event = match fetched {
                Ok(ice) => Event::IceServers {
                    servers: ice.ice_servers,
                    unix_now: unix_now(),
                },
                Err(e) => Event::IceServersFailed {
                    error: e.to_string(),
                },
            };
            sink::event(&sink, event);
        });
    }

    fn notify(&mut self, event: AppEvent) {
        self.pending.push(event);
    }
}
