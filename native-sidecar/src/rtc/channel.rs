//! The `mesh` DataChannel's event pump: open, messages and close become core events, sent to
//! the driver in the channel's order through a bounded queue — a full queue stops the pump,
//! which is what slows a flooding sender (see `rtc::DATA_QUEUE`).

use meshwork_protocol::{
    core::{Attempt, Event, Incoming},
    PeerId,
};
use std::sync::Arc;
use tokio::sync::mpsc::Sender;
use webrtc::data_channel::{DataChannel, DataChannelEvent};

/// Reads the channel until it closes.
pub fn spawn_pump(peer: PeerId, attempt: Attempt, dc: Arc<dyn DataChannel>, events: Sender<Event>) {
    tokio::spawn(async move {
        while let Some(event) = dc.poll().await {
            let data = match event {
                DataChannelEvent::OnOpen => {
                    let open = Event::ChannelOpened {
                        peer: peer.clone(),
                        attempt,
                    };
                    if events.send(open).await.is_err() {
                        return;
                    }
                    continue;
                }
                // Text that is not UTF-8 is decoded with replacement characters, as browsers do.
                DataChannelEvent::OnMessage(msg) if msg.is_string => Incoming::Text(
                    String::from_utf8(msg.data.to_vec())
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                ),
                DataChannelEvent::OnMessage(msg) => Incoming::Binary(msg.data.to_vec()),
                DataChannelEvent::OnClose => break,
                _ => continue,
            };
            let event = Event::Data {
                peer: peer.clone(),
                attempt,
                data,
            };
            if events.send(event).await.is_err() {
                return;
            }
        }
        let _ = events.send(Event::ChannelClosed { peer, attempt }).await;
    });
}
