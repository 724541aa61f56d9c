//! Queued tasks delivered over the mesh (docs/adr/0018).
//!
//! Unmodified chatixia agents learn of queued tasks only on their 15 s heartbeat, yet they
//! run a `task_request` that arrives over their sidecar's IPC at once and answer the sending
//! peer with a `task_response`. So when a task's agent has its sidecar connected here and
//! that sidecar announced `tasks` at `register`, the registry sends the task at once as a
//! `task_request` `mesh_message` from its reserved peer id (`"registry"`); the sidecar says
//! whether its agent got it (`task_received`), and the agent's answer comes back as a
//! `mesh_message` to `"registry"` and completes the task.
//!
//! The queue stays the safety net: a task the sidecar could not hand to an agent, or did
//! not acknowledge within `TASK_ACK_TIMEOUT_MS`, goes back to `pending` for the heartbeat
//! path, and is not sent over that connection again. Every hand-out is one guarded SQL
//! update (`pending → assigned`), so the heartbeat and the mesh never both get a task.
//!
//! # Layout
//! - [`inflight`]: the tasks sent and not yet answered, and the connections that declined.
//! - [`dispatch`]: which pending task goes to which sidecar, and when.
//! - [`answers`]: acknowledgements and answers from sidecars.

pub mod answers;
pub mod dispatch;
pub mod inflight;

pub use answers::{on_answer, on_received, sidecar_gone};
pub use dispatch::{offer, run, sweep};
