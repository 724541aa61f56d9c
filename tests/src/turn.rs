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

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
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
    /// (10 s at most) until it answers STUN.
    pub fn start(secret: &str) -> Self {
        let port = free_udp_port();
        let child =
            Command::new(std::env::var("TURNSERVER").unwrap_or_else(|_| "turnserver".into()))
                .args([
                    "-n", // no config file
                    "--listening-ip=127.0.0.1",
                    "--relay-ip=127.0.0.1",
                    &format!("--listening-port={port}"),
                    "--min-port=49152",
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
        let mut server = Self {
            child,
            port,
            secret: secret.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers_stun(port, Duration::from_millis(200)) {
            if Instant::now() > deadline {
                let _ = server.child.kill();
                panic!("coturn did not answer STUN on 127.0.0.1:{port} within 10 s");
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("coturn exited at start: {status}");
            }
        }
        server.port = port;
        server
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
