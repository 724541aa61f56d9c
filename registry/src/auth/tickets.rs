//! WebSocket tickets: a short-lived, single-use handle on a credential, so a browser can open
//! a socket with `?ticket=` in the URL instead of its token as a `Sec-WebSocket-Protocol`
//! (which proxies such as `trunk serve` do not carry through). The URL never holds the admin
//! token or a JWT; the ticket is worth one socket within [`TICKET_TTL`], and the credential
//! it stands for is checked again when the socket opens (docs/adr/0013).

use crate::auth::secrets::random_hex;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a ticket can be redeemed.
pub const TICKET_TTL: Duration = Duration::from_secs(30);
/// Outstanding tickets at most; past it the oldest are forgotten.
pub const MAX_TICKETS: usize = 4096;

/// Tickets waiting to be redeemed.
#[derive(Default)]
pub struct Tickets {
    /// Ticket → (the bearer credential it stands for, when it was issued).
    open: Mutex<HashMap<String, (String, Instant)>>,
}

impl Tickets {
    /// A new ticket for `bearer` (already verified by the caller).
    pub fn issue(&self, bearer: &str, now: Instant) -> String {
        let ticket = format!("wst_{}", random_hex(16));
        if let Ok(mut open) = self.open.lock() {
            open.retain(|_, (_, at)| now.duration_since(*at) < TICKET_TTL);
            while open.len() >= MAX_TICKETS {
                let oldest = open
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(t, _)| t.clone());
                match oldest {
                    Some(t) => open.remove(&t),
                    None => break,
                };
            }
            open.insert(ticket.clone(), (bearer.to_owned(), now));
        }
        ticket
    }

    /// The credential `ticket` stands for, once: a redeemed or expired ticket is `None`.
    pub fn redeem(&self, ticket: &str, now: Instant) -> Option<String> {
        let (bearer, at) = self.open.lock().ok()?.remove(ticket)?;
        (now.duration_since(at) < TICKET_TTL).then_some(bearer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_redeemed_once_and_only_before_it_expires() {
        let tickets = Tickets::default();
        let now = Instant::now();
        let t = tickets.issue("jwt-a", now);
        assert!(t.starts_with("wst_"));
        assert_eq!(tickets.redeem(&t, now).as_deref(), Some("jwt-a"));
        assert_eq!(tickets.redeem(&t, now), None, "single use");
        let late = tickets.issue("jwt-b", now);
        assert_eq!(tickets.redeem(&late, now + TICKET_TTL), None, "expired");
        assert_eq!(tickets.redeem("wst_unknown", now), None);
    }
}
