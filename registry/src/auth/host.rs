//! Which `Host` names the registry answers to: against DNS rebinding, where an attacker's name
//! (`evil.example`) is made to resolve to the registry's address so that the attacker's page is
//! "same origin" with it. Allowed: any IP literal (the bound address on any port, `127.0.0.1`,
//! `[::1]`; a page cannot be served under an IP literal it does not control), `localhost`,
//! and the hosts of `PUBLIC_ORIGIN`. Ports are not compared: the name is what rebinding abuses.

use axum::http::{header, HeaderMap};
use std::net::IpAddr;

/// The host name of `host[:port]` (IPv6 literals in brackets), without a trailing dot.
pub fn host_name(host: &str) -> &str {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name.strip_suffix('.').unwrap_or(name)
}

/// The host names of configured origins (`https://mesh.example.com:8443` → `mesh.example.com`).
pub fn origin_hosts(origins: &[String]) -> Vec<String> {
    origins
        .iter()
        .map(|o| {
            let rest = o.split_once("://").map_or(o.as_str(), |(_, rest)| rest);
            let authority = rest.split('/').next().unwrap_or(rest);
            host_name(authority).to_ascii_lowercase()
        })
        .filter(|h| !h.is_empty())
        .collect()
}

/// Whether a request's `Host` (if any: clients without one are not browsers) is allowed.
pub fn host_allowed(headers: &HeaderMap, public_hosts: &[String]) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = host_name(host.trim());
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || public_hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn allowed(host: &'static str, public: &[String]) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static(host));
        host_allowed(&h, public)
    }

    #[test]
    fn ip_literals_localhost_and_the_public_origin_only() {
        let public = origin_hosts(&["https://Mesh.Example.com:8443/".to_owned()]);
        for ok in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "10.0.0.5",
            "localhost:41234",
            "localhost.",
            "mesh.example.com",
            "mesh.example.com:8443",
        ] {
            assert!(allowed(ok, &public), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1.nip.io",
            "localhost.evil.example",
        ] {
            assert!(!allowed(bad, &public), "{bad}");
        }
        assert!(
            host_allowed(&HeaderMap::new(), &public),
            "no Host: not a browser"
        );
    }
}
