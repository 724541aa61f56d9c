//! Request/response correlation with deadlines.

use super::time::Time;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

/// Pending requests keyed by `request_id`, each with a caller-chosen token and a deadline.
///
/// Sans-IO like the core: the caller passes `now`, asks [`Correlator::next_deadline`] when to
/// wake up, and collects what [`Correlator::expire`] returns. Ordered maps keep expiry order
/// deterministic (by deadline, then id).
#[derive(Debug, Clone)]
pub struct Correlator<T> {
    pending: BTreeMap<String, (T, Time)>,
    /// Deadline index so `next_deadline` and `expire` need not scan every request.
    by_deadline: BTreeSet<(Time, String)>,
}

impl<T> Default for Correlator<T> {
    fn default() -> Self {
        Self {
            pending: BTreeMap::new(),
            by_deadline: BTreeSet::new(),
        }
    }
}

impl<T> Correlator<T> {
    /// An empty correlator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tracks `request_id` until `now + timeout`; returns the token it replaced, if any.
    pub fn insert(
        &mut self,
        request_id: impl Into<String>,
        token: T,
        now: Time,
        timeout: Duration,
    ) -> Option<T> {
        let request_id = request_id.into();
        let deadline = now + timeout;
        let old = self.remove(&request_id);
        self.by_deadline.insert((deadline, request_id.clone()));
        self.pending.insert(request_id, (token, deadline));
        old
    }

    /// The token of a pending request, without resolving it.
    pub fn get(&self, request_id: &str) -> Option<&T> {
        self.pending.get(request_id).map(|(token, _)| token)
    }

    /// Stops tracking `request_id` and returns its token, if it was still pending.
    pub fn resolve(&mut self, request_id: &str) -> Option<T> {
        self.remove(request_id)
    }

    /// Removes and returns every request whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Time) -> Vec<(String, T)> {
        let mut expired = Vec::new();
        while let Some((deadline, id)) = self.by_deadline.first().cloned() {
            if deadline > now {
                break;
            }
            if let Some(token) = self.remove(&id) {
                expired.push((id, token));
            }
        }
        expired
    }

    /// The earliest deadline of any pending request.
    pub fn next_deadline(&self) -> Option<Time> {
        self.by_deadline.first().map(|(deadline, _)| *deadline)
    }

    /// Number of pending requests.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn remove(&mut self, request_id: &str) -> Option<T> {
        let (token, deadline) = self.pending.remove(request_id)?;
        self.by_deadline.remove(&(deadline, request_id.to_owned()));
        Some(token)
    }
}
