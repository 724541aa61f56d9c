//! Reading a link's selected candidate pair: its type (relayed when either end is a TURN
//! allocation, `signaling::path_type`) and ICE's RTT. When to read is the core's decision
//! (`Action::ProbePath`).

use super::link::LinkOp;
use meshwork_protocol::signaling::{path_type, relay_address, CandidateType};
use std::{collections::HashSet, sync::Arc, time::Instant};
use webrtc::peer_connection::{PeerConnection, RTCStatsReportEntry, StatsSelector};

/// The addresses of the relay candidates the remote peer signaled (in its description or
/// trickled), shared with the path probe.
#[derive(Debug, Clone, Default)]
pub struct RemoteRelays(Arc<std::sync::Mutex<HashSet<(String, u16)>>>);

impl RemoteRelays {
    pub fn learn(&self, op: &LinkOp) {
        let found: Vec<(String, u16)> = match op {
            LinkOp::AcceptOffer(sdp) | LinkOp::ApplyAnswer(sdp) => {
                sdp.lines().filter_map(relay_address).collect()
            }
            LinkOp::AddCandidate(c) => c.relay_address().into_iter().collect(),
            _ => return,
        };
        if let Ok(mut set) = self.0.lock() {
            set.extend(found);
        }
    }

    fn contains(&self, address: &str, port: u16) -> bool {
        self.0
            .lock()
            .is_ok_and(|set| set.contains(&(address.to_owned(), port)))
    }
}

/// The selected path of `pc`: its type and ICE's current RTT in milliseconds.
pub async fn selected(
    pc: &Arc<dyn PeerConnection>,
    relays: &RemoteRelays,
) -> (Option<CandidateType>, Option<f64>) {
    selected_path(pc, relays).await
}

async fn selected_path(
    pc: &Arc<dyn PeerConnection>,
    relays: &RemoteRelays,
) -> (Option<CandidateType>, Option<f64>) {
    // RTT from the selected pair's stats; the path type from the ICE transport itself (the
    // stats report does not index local candidates by the pair's id in 0.21.1).
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let rtt = report
        .transport()
        .map(|t| t.selected_candidate_pair_id.clone())
        .and_then(|id| match report.get(&id) {
            Some(RTCStatsReportEntry::IceCandidatePair(pair)) => Some(pair.current_round_trip_time),
            _ => None,
        })
        .filter(|rtt| *rtt > 0.0)
        .map(|rtt| rtt * 1000.0);
    let Some(sctp) = pc.sctp().await else {
        return (None, rtt);
    };
    let kind = match sctp
        .transport()
        .ice_transport()
        .get_selected_candidate_pair()
        .await
    {
        // The shared rule (`signaling::path_type`): relayed when either end is a TURN
        // allocation, signaled relay addresses included.
        Ok(Some(pair)) => {
            let (local, remote) = (pair.local(), pair.remote());
            let kind = path_type(
                CandidateType::from_name(&format!("{:?}", local.typ)),
                CandidateType::from_name(&format!("{:?}", remote.typ)),
                relays.contains(&remote.address, remote.port),
            );
            tracing::debug!(
                local = ?local.typ,
                local_addr = %format!("{}:{}", local.address, local.port),
                remote = ?remote.typ,
                remote_addr = %format!("{}:{}", remote.address, remote.port),
                ?kind,
                "selected candidate pair"
            );
            kind
        }
        _ => None,
    };
    (kind, rtt)
}
