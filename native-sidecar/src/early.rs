//! Before the registry answers: the agents' socket is up, the shared memory answers at once
//! (local-first, PROTOCOL.md §6), and every other line waits for the driver.
//!
//! Mesh commands cannot be answered yet (there is no peer id, no mesh), nor memory writes in
//! a data directory that has never been named (or any memory command before the default
//! data directory, named after the peer id, exists): their lines are kept
//! in order — bounded by the IPC input budget, since each holds its share — and handed to the
//! driver when it starts, as they would have waited in the socket before.

use crate::{clients::Clients, driver::malformed, ipc::IpcInput, memory::Memory};
use meshwork_protocol::ipc::{IpcCommand, IpcEvent};

/// The IPC clients and the lines waiting for the driver.
#[derive(Default)]
pub struct Early {
    /// Clients connected so far; the driver takes them over.
    pub clients: Clients,
    /// Lines for the driver, in arrival order.
    pub backlog: Vec<IpcInput>,
}

impl Early {
    /// Handles one IPC input: memory commands now, the rest later.
    pub fn on_ipc(&mut self, input: IpcInput, memory: &mut Memory) {
        match input {
            IpcInput::Connected { id, tx } => {
                tracing::info!(client = id, "agent connected");
                self.clients.add(id, tx);
            }
            IpcInput::Disconnected { id } => {
                tracing::info!(client = id, "agent disconnected");
                self.clients.remove(id);
                memory.client_gone(id);
            }
            IpcInput::Refused { id, message } => self.clients.reply(id, IpcEvent::error(message)),
            IpcInput::Line { id, ref line, .. } => match IpcCommand::parse_line(line) {
                Ok(cmd) if cmd.is_memory() && !memory.waits_for_peer(&cmd) => {
                    for (client, event) in memory.handle(id, cmd) {
                        self.clients.reply(client, event);
                    }
                }
                Err(e) if IpcCommand::memory_request_id(line).is_some() => {
                    self.clients.reply(id, malformed(line, &e));
                }
                _ => self.backlog.push(input),
            },
        }
    }
}
