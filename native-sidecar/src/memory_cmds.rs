//! `meshwork-sidecar memory put|get|list|history|forget|watch`: the shared memory of a
//! running sidecar from a shell (PROTOCOL.md §6). Each is an ordinary IPC client of the
//! socket; each prints its reply's payload as one JSON line (`watch`: one per change).

use crate::config::MemoryOp;
use meshwork_protocol::{
    ipc::{IpcCommand, IpcEvent},
    memory::{EventId, Version},
};
use serde_json::Value;
use std::{path::Path, time::Duration};

/// How long a command waits for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses a `--at` version: a JSON object `{"<peer id>": <count>, …}`.
pub fn parse_version(text: &str) -> Result<Version, String> {
    serde_json::from_str(text).map_err(|e| format!("not a version ({{\"peer\": count}}): {e}"))
}

/// Parses an event id (64 lowercase hex digits).
pub fn parse_event_id(text: &str) -> Result<EventId, String> {
    EventId::try_from(text.to_owned())
}

/// Runs one memory subcommand against the sidecar at `socket`.
pub async fn run(socket: &Path, op: MemoryOp) -> anyhow::Result<()> {
    let request_id = format!("cli-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let watch = matches!(op, MemoryOp::Watch { .. });
    let command = command(request_id.clone(), op);
    let (mut lines, _write) = crate::client_cmds::connect_with(socket, &command).await?;
    let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
    let mut subscribed = false;
    loop {
        let next = if subscribed {
            lines.next_line().await
        } else {
            match tokio::time::timeout_at(deadline, lines.next_line()).await {
                Ok(next) => next,
                Err(_) => anyhow::bail!("no reply within {} s", REPLY_TIMEOUT.as_secs()),
            }
        };
        let Some(line) = next? else {
            anyhow::bail!("the sidecar closed the socket");
        };
        let Ok(event) = serde_json::from_str::<IpcEvent>(&line) else {
            continue;
        };
        match &event {
            IpcEvent::Error {
                request_id: Some(id),
                message,
            } if *id == request_id => anyhow::bail!("sidecar: {message}"),
            IpcEvent::MemorySubscribed { request_id: id } if *id == request_id && watch => {
                subscribed = true;
            }
            IpcEvent::MemoryChanged { .. } if subscribed => println!("{}", payload(&line)),
            IpcEvent::MemoryWritten { request_id: id, .. }
            | IpcEvent::MemoryValue { request_id: id, .. }
            | IpcEvent::MemoryValues { request_id: id, .. }
            | IpcEvent::MemoryHistory { request_id: id, .. }
                if *id == request_id =>
            {
                println!("{}", payload(&line));
                return Ok(());
            }
            _ => {}
        }
    }
}

/// The `payload` of an event line, as JSON text.
fn payload(line: &str) -> String {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("payload").map(Value::to_string))
        .unwrap_or_else(|| line.to_owned())
}

fn command(request_id: String, op: MemoryOp) -> IpcCommand {
    match op {
        MemoryOp::Put {
            key,
            value,
            supersedes,
            derived_from,
        } => IpcCommand::MemoryPut {
            request_id,
            key,
            // Text that is not JSON is stored as a string, as a person typing it means.
            value: serde_json::from_str(&value).unwrap_or(Value::String(value)),
            supersedes,
            derived_from,
        },
        MemoryOp::Get { key, at } => IpcCommand::MemoryGet {
            request_id,
            key,
            at,
        },
        MemoryOp::List { prefix, at, limit } => IpcCommand::MemoryList {
            request_id,
            prefix,
            at,
            limit,
        },
        MemoryOp::History { key } => IpcCommand::MemoryHistory { request_id, key },
        MemoryOp::Forget { key } => IpcCommand::MemoryForget { request_id, key },
        MemoryOp::Watch { prefix } => IpcCommand::MemorySubscribe { request_id, prefix },
    }
}
