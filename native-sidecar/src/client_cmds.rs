//! `meshwork-sidecar send` and `listen`: a person's way to use a running sidecar without
//! writing an agent. Both are ordinary IPC clients of its socket.

use meshwork_protocol::{
    ipc::{IpcCommand, IpcEvent},
    mesh_message::{MeshMessage, MeshMessageType},
    PeerId,
};
use serde_json::json;
use std::{path::Path, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    net::{
        unix::{OwnedReadHalf, OwnedWriteHalf},
        UnixStream,
    },
};

/// The lines a sidecar sends one IPC client.
pub type Replies = Lines<BufReader<OwnedReadHalf>>;

/// Connects to the sidecar at `socket` and sends `command`; returns its lines and the write
/// half (kept open: dropping it would end the client).
pub async fn connect_with(
    socket: &Path,
    command: &IpcCommand,
) -> anyhow::Result<(Replies, OwnedWriteHalf)> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", socket.display()))?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(command)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    Ok((BufReader::new(read).lines(), write))
}

/// Prints every event line until the sidecar closes the socket.
pub async fn listen(socket: &Path) -> anyhow::Result<()> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", socket.display()))?;
    let mut lines = BufReader::new(stream).lines();
    while let Some(line) = lines.next_line().await? {
        println!("{line}");
    }
    Ok(())
}

/// Sends one message; waits up to `wait` seconds for a reply carrying its request_id.
pub async fn send(socket: &Path, peer: &str, text: &str, wait: Duration) -> anyhow::Result<()> {
    let mut message = match serde_json::from_str::<MeshMessage>(text) {
        Ok(m) => m,
        Err(_) => MeshMessage::new(MeshMessageType::AgentPrompt, "", json!({ "message": text })),
    };
    if message.request_id.is_empty() {
        message.request_id = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    }
    let command = if peer == "*" {
        IpcCommand::Broadcast {
            message: message.clone(),
        }
    } else {
        IpcCommand::Send {
            target_peer: PeerId::new(peer),
            message: message.clone(),
            ack: true,
            timeout_ms: None,
        }
    };
    let (mut lines, _write) = connect_with(socket, &command).await?;
    if wait.is_zero() {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let next = tokio::time::timeout_at(deadline, lines.next_line()).await;
        let Ok(Ok(Some(line))) = next else {
            anyhow::bail!("no reply within {} s", wait.as_secs_f64());
        };
        match serde_json::from_str::<IpcEvent>(&line) {
            Ok(IpcEvent::Message { message: reply, .. })
                if reply.request_id == message.request_id =>
            {
                println!("{line}");
                return Ok(());
            }
            Ok(IpcEvent::Sent { via, .. }) => eprintln!("sent to {peer} via {}", via.as_str()),
            Ok(IpcEvent::Error { message, .. }) => anyhow::bail!("sidecar: {message}"),
            _ => {}
        }
    }
}
