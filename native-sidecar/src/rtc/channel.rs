//! The `mesh` DataChannel's event pump: open, messages and close become driver events.

use super::RtcEvent;
use meshwork_protocol::{
    core::{Attempt, Event},
    PeerId,
};
use std::{sync::Arc, time::Duration};
use tokio::sync::mpsc::UnboundedSender;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};

/// Reads the channel until it closes. `kick` works around webrtc-rs 0.21.1 not flushing the
/// handshake packets it queues while handling an event: touching any channel setter wakes its
/// writer, so the offerer does that every millisecond until the channel is open.
pub fn spawn_pump(
    peer: PeerId,
    attempt: Attempt,
    dc: Arc<dyn DataChannel>,
    events: UnboundedSender<RtcEvent>,
    kick: bool,
) {
    if kick {
        let dc = dc.clone();
        tokio::spawn(async move {
            for _ in 0..10_000 {
                match dc.ready_state().await {
                    Ok(RTCDataChannelState::Connecting) => {}
                    _ => break,
                }
                let _ = dc.set_buffered_amount_low_threshold(0).await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }
    tokio::spawn(async move {
        while let Some(event) = dc.poll().await {
            let out = match event {
                DataChannelEvent::OnOpen => RtcEvent::Core(Event::ChannelOpened {
                    peer: peer.clone(),
                    attempt,
                }),
                DataChannelEvent::OnMessage(msg) if msg.is_string => {
                    match String::from_utf8(msg.data.to_vec()) {
                        Ok(text) => RtcEvent::Text {
                            peer: peer.clone(),
                            attempt,
                            text,
                        },
                        Err(_) => {
                            tracing::warn!(peer = %peer, "text message is not UTF-8; dropped");
                            continue;
                        }
                    }
                }
                DataChannelEvent::OnMessage(msg) => RtcEvent::Binary {
                    peer: peer.clone(),
                    attempt,
                    bytes: msg.data.to_vec(),
                },
                DataChannelEvent::OnClose => break,
                _ => continue,
            };
            if events.send(out).is_err() {
                return;
            }
        }
        let _ = events.send(RtcEvent::Core(Event::ChannelClosed { peer, attempt }));
    });
}
