//! Where browser callbacks report. Links and the signaling socket hold a [`Sink`] (a weak
//! handle on the driver, behind this trait) and know nothing else, so the modules form no
//! import cycle: `peer` → `driver` → `shell` → `links`/`sink` → `signaling`.

use crate::signaling::Signaling;
use meshwork_protocol::{
    core::{Attempt, Event},
    PeerId,
};
use std::rc::Weak;
use web_sys::RtcDataChannel;

/// What the platform observed, for the driver.
pub trait Report {
    /// An event for the core.
    fn event(&self, event: Event);
    /// A signaling frame as it arrived (the core parses it).
    fn signal_text(&self, text: String);
    /// The answerer received the offerer's `mesh` channel.
    fn channel(&self, peer: &PeerId, attempt: Attempt, channel: RtcDataChannel);
    /// A signaling socket was opened (it reports `SignalingConnected` when it is up).
    fn signaling_opened(&self, socket: Signaling);
    /// The signaling socket closed.
    fn signaling_closed(&self);
    /// A problem the core does not own (a browser API refused something).
    fn error(&self, message: String);
}

/// A weak handle on the driver.
pub type Sink = Weak<dyn Report>;

/// Reports `event` if the driver still exists.
pub fn event(sink: &Sink, event: Event) {
    if let Some(driver) = sink.upgrade() {
        driver.event(event);
    }
}

/// Hands a signaling frame (text) to the driver.
pub fn signal_text(sink: &Sink, text: String) {
    if let Some(driver) = sink.upgrade() {
        driver.signal_text(text);
    }
}

/// Reports a problem if the driver still exists.
pub fn error(sink: &Sink, message: String) {
    if let Some(driver) = sink.upgrade() {
        driver.error(message);
    }
}
