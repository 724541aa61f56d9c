//! `Firewall`: nftables rules that drop UDP between two loopback addresses, so a pair of
//! peers bound to them has no direct ICE path while each still reaches the registry (TCP) and
//! the TURN server (another address). Rules live in a table of their own, removed on drop.
//!
//! Refuses to run outside the test network namespace (`scripts/in-netns.sh`): rules there
//! touch nothing but the namespace's own loopback.

use std::{
    net::Ipv4Addr,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

/// One nftables table of drop rules.
pub struct Firewall {
    table: String,
}

fn nft(args: &[&str]) {
    let out = Command::new("nft")
        .args(args)
        .output()
        .expect("running nft (apt-get install nftables)");
    assert!(
        out.status.success(),
        "nft {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Firewall {
    /// An empty table (nothing dropped yet).
    pub fn new() -> Self {
        assert_eq!(
            std::env::var("MESHWORK_IN_NETNS").as_deref(),
            Ok("1"),
            "firewall tests run only inside scripts/in-netns.sh"
        );
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let table = format!(
            "mw{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        nft(&["add", "table", "ip", &table]);
        nft(&[
            "add",
            "chain",
            "ip",
            &table,
            "out",
            "{ type filter hook output priority 0 ; }",
        ]);
        Self { table }
    }

    /// Drops every UDP packet between `a` and `b`, both ways: their direct paths vanish.
    pub fn block_udp_between(&self, a: Ipv4Addr, b: Ipv4Addr) {
        for (from, to) in [(a, b), (b, a)] {
            let rule = format!("ip saddr {from} ip daddr {to} meta l4proto udp drop");
            let mut args = vec!["add", "rule", "ip", &self.table, "out"];
            args.extend(rule.split(' '));
            nft(&args);
        }
    }
}

impl Default for Firewall {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.table])
            .output();
    }
}
