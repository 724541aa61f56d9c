//! Who hears of which keys: `memory_subscribe` prefixes per IPC client.

use super::agent::ClientId;
use std::collections::{BTreeMap, BTreeSet};

/// Each client's subscribed prefixes.
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_client: BTreeMap<ClientId, BTreeSet<String>>,
}

impl Subscriptions {
    /// `client` hears of every event under `prefix` from now on.
    pub fn add(&mut self, client: ClientId, prefix: String) {
        self.by_client.entry(client).or_default().insert(prefix);
    }

    /// `client` is gone: it hears of nothing more.
    pub fn remove_client(&mut self, client: ClientId) {
        self.by_client.remove(&client);
    }

    /// The clients to tell of an event on `key`: each once, however many of its prefixes
    /// match.
    pub fn matching(&self, key: &str) -> Vec<ClientId> {
        self.by_client
            .iter()
            .filter(|(_, prefixes)| prefixes.iter().any(|p| key.starts_with(p.as_str())))
            .map(|(client, _)| *client)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hears_once_per_event_and_nothing_after_leaving() {
        let mut subs = Subscriptions::default();
        subs.add(1, "a".into());
        subs.add(1, "ab".into());
        subs.add(2, String::new());
        subs.add(3, "b".into());
        assert_eq!(subs.matching("abc"), vec![1, 2]);
        subs.remove_client(1);
        assert_eq!(subs.matching("abc"), vec![2]);
    }
}
