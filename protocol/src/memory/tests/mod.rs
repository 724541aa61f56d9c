//! Tests of the memory, one file per module, plus the convergence properties.

mod convergence;
mod event;
mod lossy_links;
mod projection;
mod replica;
mod store;
mod sync;

use super::{Author, Links, Replica};
use crate::{identity::Identity, PeerId};
use serde_json::{json, Value};

/// A writer named `name` whose key derives from `seed`.
pub(super) fn author(name: &str, seed: u8) -> Author {
    Author {
        peer: PeerId::from(name),
        identity: Identity::from_seed([seed; 32]),
    }
}

/// An empty replica with default limits.
pub(super) fn replica() -> Replica {
    Replica::new(Default::default())
}

/// Writes `value` under `key` and returns the new event.
pub(super) fn put(r: &mut Replica, a: &Author, key: &str, value: Value, now: u64) -> super::Event {
    let applied = r.put(a, key.into(), value, Links::default(), now).unwrap();
    applied.events[0].clone()
}

/// Forgets `key` and returns the forget event.
pub(super) fn forget(r: &mut Replica, a: &Author, key: &str, now: u64) -> super::Event {
    r.forget(a, key.into(), now).unwrap().events[0].clone()
}

/// A small JSON value.
pub(super) fn val(n: u64) -> Value {
    json!({ "n": n })
}
