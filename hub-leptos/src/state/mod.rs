//! Reactive state, created once at the root and shared through context.

pub mod hub;
pub mod mesh;

pub use hub::{Conn, Hub, Session};
pub use mesh::{JoinState, Mesh};
