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
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt},
    net::{UnixListener, UnixStream},
    sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore},
};
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};

use crate::{
    ipc_lines::{Line, LineSplitter},
    ipc_queue::{client_queue, ClientQueue, MAX_QUEUED_BYTES},
};

/// Most IPC clients served at once: each may hold a queue, so their number is bounded too.
pub const MAX_CLIENTS: usize = 64;

/// Longest accepted line: the largest message a peer reassembles (`framing::MAX_MESSAGE`)
/// plus room for the command around it.
pub const MAX_LINE: usize = meshwork_protocol::framing::MAX_MESSAGE + 1024 * 1024;

/// Bytes of lines read from all clients and not yet handled by the driver. A reader waits for
/// room before it hands a line over, so a paused driver pauses the agents' sockets.
pub const INPUT_BUDGET: usize = 32 * 1024 * 1024;

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
        /// Its share of [`INPUT_BUDGET`], given back when the driver drops it.
        _budget: OwnedSemaphorePermit,
    },
    /// A line was refused before parsing (longer than [`MAX_LINE`], or not UTF-8); the
    /// client stays connected.
    Refused {
        /// The client.
        id: ClientId,
        /// Why, as the client is told.
        message: String,
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

/// Accepts clients until the listener fails or the driver goes away; past [`MAX_CLIENTS`]
/// a client is told why and closed.
pub async fn accept_loop(
    listener: UnixListener,
    inputs: mpsc::Sender<IpcInput>,
    room: Arc<Notify>,
    budget: Arc<Semaphore>,
) {
    let mut next_id: ClientId = 1;
    let live = Arc::new(AtomicUsize::new(0));
    loop {
        match listener.accept().await {
            Ok((mut stream, _)) if live.load(Ordering::Acquire) >= MAX_CLIENTS => {
                let line = meshwork_protocol::ipc::IpcEvent::error(format!(
                    "too many IPC clients (at most {MAX_CLIENTS})"
                ))
                .to_line();
                tokio::spawn(async move {
                    let _ = stream.write_all(format!("{line}\n").as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
            Ok((stream, _)) => {
                let (read, write) = stream.into_split();
                live.fetch_add(1, Ordering::AcqRel);
                let live = live.clone();
                let done = move || {
                    live.fetch_sub(1, Ordering::AcqRel);
                };
                let shared = Shared {
                    inputs: inputs.clone(),
                    room: room.clone(),
                    budget: budget.clone(),
                };
                spawn_client(next_id, read, write, shared, done);
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

/// What every client's task shares with the driver.
#[derive(Clone)]
pub struct Shared {
    /// To the driver.
    pub inputs: mpsc::Sender<IpcInput>,
    /// Woken when a client's queue drains.
    pub room: Arc<Notify>,
    /// [`INPUT_BUDGET`].
    pub budget: Arc<Semaphore>,
}

/// Serves one client over any byte streams (a socket connection, or stdin/stdout); calls
/// `done` when it ends.
pub fn spawn_client<R, W>(
    id: ClientId,
    read: R,
    write: W,
    shared: Shared,
    done: impl FnOnce() + Send + 'static,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = client_queue(MAX_QUEUED_BYTES, shared.room.clone());
    tokio::spawn(async move {
        let hang_up = tx.hang_up.clone();
        tokio::select! {
            _ = serve(id, read, write, tx, &mut rx, &shared) => {}
            _ = hang_up.cancelled() => {}
        }
        let _ = shared.inputs.send(IpcInput::Disconnected { id }).await;
        done();
    });
}

async fn serve<R, W>(
    id: ClientId,
    read: R,
    write: W,
    tx: ClientQueue,
    rx: &mut crate::ipc_queue::ClientLines,
    shared: &Shared,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    {
        let inputs = &shared.inputs;
        if inputs.send(IpcInput::Connected { id, tx }).await.is_err() {
            return;
        }
        // Lines as bytes: a line that is not UTF-8, or too long, is refused on its own; the
        // client stays.
        let mut lines = FramedRead::new(read, LineSplitter::new(MAX_LINE));
        let mut out = FramedWrite::new(write, LinesCodec::new());
        // Every line already queued goes out with the one being written: a burst of messages
        // to the agent is one write, not one per line.
        let writer = async {
            while let Some(line) = rx.recv().await {
                if out.feed(line).await.is_err() {
                    return;
                }
                while let Some(line) = rx.try_recv() {
                    if out.feed(line).await.is_err() {
                        return;
                    }
                }
                if SinkExt::<String>::flush(&mut out).await.is_err() {
                    return;
                }
            }
        };
        let reader = async {
            loop {
                let input = match lines.next().await {
                    Some(Ok(Line::Text(bytes))) => match String::from_utf8(bytes.into()) {
                        Ok(line) if line.trim().is_empty() => continue,
                        Ok(mut line) => {
                            let want = u32::try_from(line.len().clamp(1, INPUT_BUDGET))
                                .unwrap_or(u32::MAX);
                            let Ok(budget) = shared.budget.clone().acquire_many_owned(want).await
                            else {
                                break;
                            };
                            while line.ends_with('\r') {
                                line.pop();
                            }
                            IpcInput::Line {
                                id,
                                line,
                                _budget: budget,
                            }
                        }
                        Err(e) => IpcInput::Refused {
                            id,
                            message: format!("line skipped: not UTF-8 ({e})"),
                        },
                    },
                    Some(Ok(Line::TooLong)) => IpcInput::Refused {
                        id,
                        message: format!("line longer than {MAX_LINE} bytes skipped"),
                    },
                    Some(Err(_)) | None => break,
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
    }
}
