//! `NatsCluster`: real `nats-server` processes (Debian's package) routed into one NATS cluster
//! on loopback, for the clustered-registry suites (ADR 0024). Dropping it kills them all.

use crate::bins::temp_dir;
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// One NATS server of the cluster.
struct Node {
    child: Option<Child>,
    port: u16,
    monitor: u16,
}

/// A NATS cluster of real `nats-server` processes on 127.0.0.1.
pub struct NatsCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
}

/// A port free on 127.0.0.1 right now (the OS picks it; the server binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `GET /routez` on a node's monitoring port (plain HTTP/1.0 over a socket), as JSON.
fn routez(port: u16) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    tcp.write_all(b"GET /routez HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    tcp.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}

impl NatsCluster {
    /// Starts `n` servers routed to each other and waits until every one has a route to
    /// every other. The ports are picked free just before the servers bind them, so another
    /// process may take one meanwhile: a cluster whose routes do not form within 10 s is
    /// started again on new ports (three tries).
    pub fn start(n: usize) -> Self {
        let mut tries = 0;
        loop {
            tries += 1;
            let cluster = Self::spawn(n);
            match cluster.wait_routed(n - 1, Duration::from_secs(10)) {
                Ok(()) => return cluster,
                Err(why) if tries < 3 => eprintln!("NATS cluster not routed ({why}); again"),
                Err(why) => panic!("NATS cluster not routed after {tries} tries: {why}"),
            }
        }
    }

    fn spawn(n: usize) -> Self {
        let dir = temp_dir("nats");
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        // Its own name: test clusters running side by side never join each other.
        let cluster_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "meshwork-test".into());
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, route, _)| format!("nats://127.0.0.1:{route}"))
            .collect();
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(i, &(port, route, monitor))| {
                let child = Command::new("nats-server")
                    .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                    .args(["-m", &monitor.to_string()])
                    .args(["-n", &format!("node-{i}")])
                    .args(["--cluster_name", &cluster_name])
                    .args(["--cluster", &format!("nats://127.0.0.1:{route}")])
                    .args(["--routes", &routes.join(",")])
                    .args([
                        "-l",
                        &dir.join(format!("node-{i}.log")).display().to_string(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawning nats-server (Debian's nats-server package)");
                Node {
                    child: Some(child),
                    port,
                    monitor,
                }
            })
            .collect();
        Self { nodes, dir }
    }

    /// Waits until every live node has `routes` routes; says which did not, with its log.
    fn wait_routed(&self, routes: usize, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            loop {
                let count = routez(node.monitor).and_then(|v| v["num_routes"].as_u64());
                if count.is_some_and(|c| c as usize >= routes) {
                    break;
                }
                if Instant::now() >= deadline {
                    let logs: Vec<String> = (0..self.nodes.len())
                        .map(|i| {
                            let path = self.dir.join(format!("node-{i}.log"));
                            std::fs::read_to_string(path).unwrap_or_default()
                        })
                        .collect();
                    return Err(format!(
                        "node on {} has {count:?} of {routes} routes; logs:\n{}",
                        node.port,
                        logs.join("\n")
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// `nats://127.0.0.1:PORT` of every node, comma-separated (what `NATS_URL` takes).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `i` with SIGKILL and reaps it.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
