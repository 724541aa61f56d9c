//! The ICE servers new connections are built with, and when their TURN credentials are
//! renewed: halfway to the earliest expiry (`turn::expiry`), again after
//! `MIN_RENEW_SECS` when a fetch fails, and at once when a connection is about to be built
//! with a credential that expired. An expired credential is never handed to ICE.

use super::{Action, MeshCore, Time};
use crate::{
    rest::IceServer,
    turn::{expiry, rest_expiry},
};
use std::time::Duration;

/// What the core knows of the registry's ICE servers.
#[derive(Debug, Clone, Default)]
pub(super) struct IceServers {
    /// Each server with the (core-clock) time its TURN credential expires, if it has one.
    servers: Vec<(IceServer, Option<Time>)>,
    /// When to fetch fresh credentials.
    renew_at: Option<Time>,
    /// A `FetchIceServers` is outstanding.
    fetching: bool,
}

impl IceServers {
    pub fn next_deadline(&self) -> Option<Time> {
        self.renew_at.filter(|_| !self.fetching)
    }
}

impl MeshCore {
    /// Fresh servers from the registry. `unix_now` converts their wall-clock expiries to
    /// the core's clock once, so later decisions need no wall clock.
    pub(super) fn on_ice_servers(&mut self, servers: Vec<IceServer>, unix_now: u64, now: Time) {
        let on_core_clock = |at: u64| now + Duration::from_secs(at.saturating_sub(unix_now));
        self.ice.renew_at =
            expiry::renew_after(&servers, unix_now).map(|secs| now + Duration::from_secs(secs));
        self.ice.servers = servers
            .into_iter()
            .map(|s| {
                let expires = s
                    .username
                    .as_deref()
                    .and_then(rest_expiry)
                    .map(on_core_clock);
                (s, expires)
            })
            .collect();
        self.ice.fetching = false;
    }

    /// A fetch failed: keep the current servers, try again soon.
    pub(super) fn on_ice_servers_failed(&mut self, now: Time) {
        self.ice.fetching = false;
        self.ice.renew_at = Some(now + Duration::from_secs(expiry::MIN_RENEW_SECS));
    }

    pub(super) fn ice_timeout(&mut self, now: Time) {
        if self.ice.next_deadline().is_some_and(|at| at <= now) {
            self.fetch_ice_servers();
        }
    }

    fn fetch_ice_servers(&mut self) {
        if !self.ice.fetching {
            self.ice.fetching = true;
            self.emit(Action::FetchIceServers);
        }
    }

    /// The servers a connection built now may use: expired TURN credentials are left out,
    /// the application is told, and fresh ones are fetched for the attempts to come.
    pub(super) fn usable_ice_servers(&mut self, now: Time) -> Vec<IceServer> {
        let expired = self
            .ice
            .servers
            .iter()
            .any(|(_, at)| at.is_some_and(|at| at <= now));
        if expired {
            self.problem(None, expiry::EXPIRED_TEXT.to_owned());
            self.fetch_ice_servers();
        }
        self.ice
            .servers
            .iter()
            .filter(|(_, at)| at.is_none_or(|at| at > now))
            .map(|(s, _)| s.clone())
            .collect()
    }
}
