//! Who is calling: the `Caller` extractor and the checks of a request's credential against
//! the registry's state (JWT `cid`s, live device approvals, the failure throttle). Kept apart
//! from `auth` (the credentials themselves), which the state holds: `access` → `state` →
//! `auth`, no cycle.

pub mod caller;
pub mod device;

pub use caller::Caller;
