//! `TurnServer`: Debian's coturn (`turnserver`) on loopback with `use-auth-secret`, the TURN REST
//! scheme the registry mints credentials for. Dropping it kills the process.

use std::{
    net::UdpSocket,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A running coturn.
pub struct TurnServer {
    child: Child,
    /// UDP port on 127.0.0.1.
    pub port: u16,
    /// The shared secret (`static-auth-secret`).
    pub secret: String,
}

/// Lowest relay port every coturn here allocates from (`--min-port`).
const RELAY_PORTS_FROM: u16 = 49152;

/// A free UDP port below the relay range, so no coturn running alongside can hand it out as
/// a relay address before this one binds it.
fn free_udp_port() -> u16 {
    (0..1000)
        .filter_map(|_| {
            UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .ok()
        })
        .map(|a| a.port())
        .find(|port| *port < RELAY_PORTS_FROM)
        .expect("a free UDP port below the relay range")
}

/// Whether a STUN binding request to `port` gets any answer within `timeout`.
fn answers_stun(port: u16, timeout: Duration) -> bool {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(timeout));
    // Binding request: type 0x0001, length 0, magic cookie, 12-byte transaction id.
    let mut req = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    req.extend_from_slice(b"meshworkstun");
    if sock.send_to(&req, ("127.0.0.1", port)).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    sock.recv_from(&mut buf).is_ok()
}

impl TurnServer {
    /// Starts coturn on a free loopback port with `secret`, relaying on loopback only, and waits
    /// until it answers STUN. The port is free when picked but coturn binds it later, and
    /// coturns of tests running alongside take relay ports from the same range, so a start
    /// that gets no answer in 5 s is retried on another port (three tries).
    pub fn start(secret: &str) -> Self {
        const TRIES: usize = 3;
        const READY: Duration = Duration::from_secs(5);
        for _ in 0..TRIES {
            let mut server = Self::spawn(secret, free_udp_port());
            let deadline = Instant::now() + READY;
            loop {
                if answers_stun(server.port, Duration::from_millis(200)) {
                    return server;
                }
                if let Ok(Some(status)) = server.child.try_wait() {
                    eprintln!("coturn exited at start on port {}: {status}", server.port);
                    break;
                }
                if Instant::now() > deadline {
                    eprintln!(
                        "coturn did not answer STUN on port {} within {READY:?}",
                        server.port
                    );
                    break;
                }
            }
            server.stop();
        }
        panic!("coturn did not answer STUN on loopback after {TRIES} starts");
    }

    fn spawn(secret: &str, port: u16) -> Self {
        let child =
            Command::new(std::env::var("TURNSERVER").unwrap_or_else(|_| "turnserver".into()))
                .args([
                    "-n", // no config file
                    "--listening-ip=127.0.0.1",
                    "--relay-ip=127.0.0.1",
                    &format!("--listening-port={port}"),
                    &format!("--min-port={RELAY_PORTS_FROM}"),
                    "--max-port=65535",
                    "--use-auth-secret",
                    &format!("--static-auth-secret={secret}"),
                    "--realm=meshwork",
                    "--no-tls",
                    "--no-dtls",
                    "--no-tcp-relay",
                    "--allow-loopback-peers",
                    "--no-cli",
                    "--no-software-attribute",
                    "--log-file=stdout",
                    "--simple-log",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawning turnserver (apt-get install coturn)");
        Self {
            child,
            port,
            secret: secret.to_owned(),
        }
    }

    /// `turn:127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}", self.port)
    }

    /// Stops it (SIGKILL): the relay tier disappears at once.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TurnServer {
    fn drop(&mut self) {
        self.stop();
    }
}
