//! Version vectors: `{"<peer id>": <count of that peer's events>}` (PROTOCOL.md §6).

use crate::PeerId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many events of each author a replica holds, or a reader asks to see (a consistent cut).
///
/// Because each author's events form a contiguous chain (seq 1, 2, …), a count per author
/// names a set of events exactly; authors at zero are never stored, so equal sets compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(BTreeMap<PeerId, u64>);

impl Version {
    /// The empty version: no events.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many of `author`'s events this version covers.
    pub fn get(&self, author: &PeerId) -> u64 {
        self.0.get(author).copied().unwrap_or(0)
    }

    /// Sets `author`'s count; zero removes the entry.
    pub fn set(&mut self, author: PeerId, count: u64) {
        if count == 0 {
            self.0.remove(&author);
        } else {
            self.0.insert(author, count);
        }
    }

    /// Whether event number `seq` of `author` lies inside this version.
    pub fn covers(&self, author: &PeerId, seq: u64) -> bool {
        seq >= 1 && seq <= self.get(author)
    }

    /// Whether every event of `other` lies inside this version.
    pub fn includes(&self, other: &Version) -> bool {
        other.0.iter().all(|(author, &n)| self.get(author) >= n)
    }

    /// The componentwise minimum: the events both versions cover.
    pub fn meet(&self, other: &Version) -> Version {
        let mut out = Version::new();
        for (author, &n) in &self.0 {
            out.set(author.clone(), n.min(other.get(author)));
        }
        out
    }

    /// The componentwise maximum: the events either version covers.
    pub fn join(&self, other: &Version) -> Version {
        let mut out = self.clone();
        for (author, &n) in &other.0 {
            out.set(author.clone(), n.max(self.get(author)));
        }
        out
    }

    /// The authors and their counts, in peer id order.
    pub fn iter(&self) -> impl Iterator<Item = (&PeerId, u64)> {
        self.0.iter().map(|(author, &n)| (author, n))
    }

    /// How many authors have a non-zero count.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no author has a non-zero count.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Drops zero entries a peer may have sent, so equal sets compare equal.
    pub(crate) fn normalized(mut self) -> Self {
        self.0.retain(|_, n| *n > 0);
        self
    }
}

impl FromIterator<(PeerId, u64)> for Version {
    fn from_iter<I: IntoIterator<Item = (PeerId, u64)>>(iter: I) -> Self {
        let mut out = Version::new();
        for (author, n) in iter {
            out.set(author, n);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(pairs: &[(&str, u64)]) -> Version {
        pairs.iter().map(|(p, n)| (PeerId::from(*p), *n)).collect()
    }

    #[test]
    fn zero_counts_are_not_stored() {
        assert_eq!(v(&[("a", 0)]), Version::new());
        let parsed: Version = serde_json::from_str(r#"{"a":0,"b":2}"#).unwrap();
        assert_eq!(parsed.normalized(), v(&[("b", 2)]));
    }

    #[test]
    fn covers_and_includes_follow_the_counts() {
        let x = v(&[("a", 2), ("b", 1)]);
        assert!(x.covers(&"a".into(), 2));
        assert!(!x.covers(&"a".into(), 3));
        assert!(!x.covers(&"a".into(), 0));
        assert!(x.includes(&v(&[("a", 1)])));
        assert!(!x.includes(&v(&[("c", 1)])));
    }

    #[test]
    fn meet_and_join_are_componentwise() {
        let x = v(&[("a", 2), ("b", 1)]);
        let y = v(&[("a", 1), ("c", 3)]);
        assert_eq!(x.meet(&y), v(&[("a", 1)]));
        assert_eq!(x.join(&y), v(&[("a", 2), ("b", 1), ("c", 3)]));
    }

    #[test]
    fn the_wire_form_is_a_plain_object() {
        assert_eq!(
            serde_json::to_string(&v(&[("a", 2)])).unwrap(),
            r#"{"a":2}"#
        );
    }
}
