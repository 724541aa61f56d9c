//! The local agent's side: JSON lines over a Unix socket (or stdin/stdout with `--stdio`).
//!
//! Any number of clients may connect (the agent, plus `meshwork-sidecar listen`/`send`); events
//! go to every client, errors only to the client whose line caused them. The socket file is
//! created owner-only, replaces a stale file left by a crash, refuses to steal the socket of a
//! live sidecar, and is removed on exit.

use futures_util::{SinkExt, StreamExt};
use std::{
    os::unix::fs::{FileTypeExt, PermissionsExt},
    path::{Path, PathBuf},
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{UnixListener, UnixStream},
    sync::mpsc,
};
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec, LinesCodecError};

use crate::ipc_queue::{client_queue, ClientQueue, MAX_QUEUED_BYTES};

/// Longest accepted line: a 16 MiB message, JSON-escaped, fits.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// Identifies one IPC client.
pub type ClientId = u64;

/// What the IPC side reports to the driver.
#[derive(Debug)]
pub enum IpcInput {
    /// A client connected; send its lines here.
    Connected {
        /// The client.
        id: ClientId,
        /// Its outbound queue.
        tx: ClientQueue,
    },
    /// One line from a client.
    Line {
        /// The client.
        id: ClientId,
        /// The line, without its newline.
        line: String,
    },
    /// A line was longer than [`MAX_LINE`] and was skipped.
    Oversize {
        /// The client.
        id: ClientId,
    },
    /// A client went away.
    Disconnected {
        /// The client.
        id: ClientId,
    },
}

/// Errors setting up the socket.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// Another process answers on the socket.
    #[error("{0} is in use by a running sidecar")]
    InUse(PathBuf),
    /// The path exists and is not a socket.
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    /// I/O.
    #[error("IPC socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Removes the socket file when dropped.
pub struct SocketGuard(PathBuf);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds the socket: replaces a stale file, refuses a live one, sets mode 0600.
pub async fn bind(path: &Path) -> Result<(UnixListener, SocketGuard), IpcError> {
    let io = |source| IpcError::Io {
        path: path.to_owned(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(IpcError::NotASocket(path.to_owned()));
        }
        if UnixStream::connect(path).await.is_ok() {
            return Err(IpcError::InUse(path.to_owned()));
        }
        tracing::info!(path = %path.display(), "replacing stale IPC socket");
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    let guard = SocketGuard(path.to_owned());
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok((listener, guard))
}

/// Accepts clients until the listener fails or the driver goes away.
pub async fn accept_loop(listener: UnixListener, inputs: mpsc::Sender<IpcInput>) {
    let mut next_id: ClientId = 1;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let (read, write) = stream.into_split();
                spawn_client(next_id, read, write, inputs.clone());
                next_id += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, "IPC accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        if inputs.is_closed() {
            return;
        }
    }
}

/// Serves one client over any byte streams (a socket connection, or stdin/stdout).
pub fn spawn_client<R, W>(id: ClientId, read: R, write: W, inputs: mpsc::Sender<IpcInput>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = client_queue(MAX_QUEUED_BYTES);
    tokio::spawn(async move {
        if inputs.send(IpcInput::Connected { id, tx }).await.is_err() {
            return;
        }
        let mut lines = FramedRead::new(read, LinesCodec::new_with_max_length(MAX_LINE));
        let mut out = FramedWrite::new(write, LinesCodec::new());
        let writer = async {
            while let Some(line) = rx.recv().await {
                if out.send(line).await.is_err() {
                    break;
                }
            }
        };
        let reader = async {
            loop {
                let input = match lines.next().await {
                    Some(Ok(line)) if line.trim().is_empty() => continue,
                    Some(Ok(line)) => IpcInput::Line { id, line },
                    Some(Err(LinesCodecError::MaxLineLengthExceeded)) => IpcInput::Oversize { id },
                    Some(Err(LinesCodecError::Io(_))) | None => break,
                };
                if inputs.send(input).await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            _ = writer => {}
            _ = reader => {}
        }
        let _ = inputs.send(IpcInput::Disconnected { id }).await;
    });
}
