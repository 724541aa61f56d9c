//! webrtc-rs settings for a mesh link: explicit bind addresses, no mDNS, short ICE timers.

use crate::config::IcePolicy;
use meshwork_protocol::rest::IceServer;
use rtc::{
    ice::{mdns::MulticastDnsMode, network_type::NetworkType},
    peer_connection::transport::RTCDtlsRole,
};
use std::{net::IpAddr, time::Duration};
use webrtc::peer_connection::{
    RTCConfiguration, RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy, SettingEngine,
    SettingEngineBuilder,
};

/// ICE connectivity-check interval: webrtc-rs's default 200 ms is a fixed timer that
/// dominated setup time on fast paths (see docs/BENCHMARKS.md); the controlling side also
/// nominates on this tick, so it is a floor under every link's setup. Issue 18 measured
/// 10 → 5 → 2 ms: native setup p50 18.4 → 15.2 → 10.7 ms, tab 84.5 → 42.8 → 27.7 ms; a
/// 50-sidecar mesh formed in 4.79 s at 5 ms and 4.66 s at 2 ms. The cost: every pair still
/// checking is pinged each tick (500 binding requests/s per pair, only until it connects).
const CHECK_INTERVAL: Duration = Duration::from_millis(2);

/// SCTP receive window (see [`setting_engine`]).
const SCTP_RECEIVE_WINDOW: u32 = 128 * 1024;

/// Who is DTLS client decides whether a ClientHello can be lost: webrtc-rs drops DTLS that
/// arrives before its own ICE has picked a pair, and the other side then waits for its
/// retransmit timer (Chromium: 50 ms). Chromium keeps an early ClientHello, and webrtc-rs
/// sends its own only once its pair is picked, so on every link the sidecar is the DTLS
/// client when it can be:
/// - as offerer to a meshwork peer it signals `a=setup:active` ([`offer_to_signal`]); the
///   answer is passive (an upstream peer, on older webrtc-rs, would answer `active` too and
///   both would wait as DTLS server, so it gets the `actpass` webrtc-rs wrote);
/// - as answerer of an `actpass` offer (a browser's) it answers `active`;
/// - as answerer of an `active` offer (another sidecar's) it must answer `passive`.
pub fn answering_role(offer_sdp: &str) -> RTCDtlsRole {
    if offer_sdp.contains("a=setup:active") {
        RTCDtlsRole::Server
    } else {
        RTCDtlsRole::Client
    }
}

/// The offer as signaled: to a meshwork peer, `a=setup:active` where webrtc-rs wrote
/// `actpass` (see [`answering_role`]). The local description keeps `actpass`; the answer's
/// `passive` then makes this side the client. The identity proof signs this text.
pub fn offer_to_signal(sdp: String, meshwork_peer: bool) -> String {
    if meshwork_peer {
        sdp.replace("a=setup:actpass", "a=setup:active")
    } else {
        sdp
    }
}

/// The setting engine for a link (`answering` only matters when it answers).
pub fn setting_engine(answering: RTCDtlsRole) -> SettingEngine {
    SettingEngineBuilder::new()
        // mDNS off: no 5353 socket and no .local candidates; building fails in a namespace
        // with only `lo` otherwise.
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_network_types(vec![NetworkType::Udp4, NetworkType::Udp6])
        // Keep interval × checks near webrtc-rs's default 1.4 s of connectivity checking.
        .with_ice_connection_attempts(Some(CHECK_INTERVAL), Some(700))
        // ICE transport timeouts: disconnected after 2 s of silence, failed after 5 s; the
        // mesh core's own keepalive decides a link's fate, these only make ICE agree sooner.
        .with_ice_timeouts(
            Some(Duration::from_secs(2)),
            Some(Duration::from_secs(5)),
            Some(Duration::from_millis(500)),
        )
        // Accept a peer-reflexive pair at once (its trickled candidate may come later).
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
        // A relay-only link would otherwise wait 2 s before accepting its relay pair.
        .with_relay_acceptance_min_wait(Some(Duration::ZERO))
        // See `answering_role`.
        .with_answering_dtls_role(answering)
        // SCTP receive window: the 1 MiB default exceeds the kernel's default UDP receive
        // buffer (208 KiB), so bursts overflow it and stall on 1 s retransmits; 128 KiB
        // doubled large-message throughput on loopback.
        .with_sctp_max_receive_buffer_size(SCTP_RECEIVE_WINDOW)
        .build()
}

/// The RTCConfiguration for the given ICE servers and policy.
pub fn configuration(servers: &[IceServer], policy: IcePolicy) -> RTCConfiguration {
    let ice_servers = servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect();
    RTCConfigurationBuilder::new()
        .with_ice_servers(ice_servers)
        .with_ice_transport_policy(match policy {
            IcePolicy::All => RTCIceTransportPolicy::All,
            IcePolicy::Relay => RTCIceTransportPolicy::Relay,
        })
        .build()
}

/// The UDP addresses to bind: the configured ones; else the wildcard (webrtc-rs expands it to
/// every up, non-loopback interface address) when such an interface exists; else 127.0.0.1,
/// so a host or network namespace with only `lo` still works.
pub fn bind_addrs(configured: &[IpAddr]) -> Vec<String> {
    if !configured.is_empty() {
        return configured.iter().map(|ip| socket_addr(*ip)).collect();
    }
    if has_non_loopback_interface() {
        vec!["0.0.0.0:0".to_owned()]
    } else {
        vec!["127.0.0.1:0".to_owned()]
    }
}

fn socket_addr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:0"),
        IpAddr::V6(v6) => format!("[{v6}]:0"),
    }
}

fn has_non_loopback_interface() -> bool {
    use nix::net::if_::InterfaceFlags;
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return false;
    };
    addrs.into_iter().any(|ifa| {
        ifa.flags.contains(InterfaceFlags::IFF_UP)
            && !ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK)
            && ifa
                .address
                .as_ref()
                .is_some_and(|a| a.as_sockaddr_in().is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sidecar_is_dtls_client_wherever_the_offer_lets_it() {
        let offer = "v=0\r\na=setup:actpass\r\n";
        assert_eq!(
            offer_to_signal(offer.into(), false),
            offer,
            "an upstream peer gets webrtc-rs's actpass"
        );
        let ours = offer_to_signal(offer.into(), true);
        assert_eq!(
            ours, "v=0\r\na=setup:active\r\n",
            "offers to meshwork peers say active"
        );
        assert_eq!(
            answering_role(&ours),
            RTCDtlsRole::Server,
            "another sidecar's active offer must be answered passive"
        );
        assert_eq!(
            answering_role("v=0\r\na=setup:actpass\r\n"),
            RTCDtlsRole::Client,
            "a browser's actpass offer is answered active"
        );
    }
}
