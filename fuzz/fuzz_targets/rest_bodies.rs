//! REST bodies (PROTOCOL.md §4–5): the registry parses request bodies from any caller
//! (`axum::Json` is `serde_json::from_slice`), and agents, sidecars and the hub parse the
//! registry's answers.
//!
//! Asserts: no body type's `Deserialize` panics on any bytes; every body that parses
//! survives the JSON text and `Value` round trips unchanged with stable serialization
//! (all these types derive `PartialEq`), plus a few invariants of the parsed values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshwork_fuzz::parse_and_check;
use meshwork_protocol::rest::{
    agents::{AgentInfo, AgentRecord, HeartbeatRequest},
    auth::{IceConfig, TokenResponse},
    card::AgentCard,
    pairing::{
        ApproveResponse, ClaimRequest, ClaimResponse, GenerateCodeResponse, PairRequest,
        PairResponse, PairingEntry,
    },
    stream::HubUpdate,
    tasks::{
        CreateTaskRequest, CreateTaskResponse, HeartbeatResponse, Task, TaskState, TaskUpdate,
    },
    topology::Topology,
    ErrorBody, StatusOk,
};

fuzz_target!(|data: &[u8]| {
    // Request bodies: parsed by the registry from any caller.
    if let Some(info) = parse_and_check::<AgentInfo>(data) {
        // A record built from it (what the registry stores and lists) round-trips too.
        let record = AgentRecord {
            info,
            health: meshwork_protocol::rest::Health::Active,
            registered_at: "2025-01-01T00:00:00Z".into(),
            last_heartbeat: "2025-01-01T00:00:00Z".into(),
        };
        meshwork_fuzz::assert_round_trip(&record);
    }
    parse_and_check::<HeartbeatRequest>(data);
    parse_and_check::<CreateTaskRequest>(data);
    if let Some(update) = parse_and_check::<TaskUpdate>(data) {
        assert_eq!(TaskState::parse(update.state.as_str()), Some(update.state));
    }
    parse_and_check::<PairRequest>(data);
    parse_and_check::<ClaimRequest>(data);

    // Answers: parsed by agents, sidecars and the hub.
    parse_and_check::<AgentRecord>(data);
    parse_and_check::<TokenResponse>(data);
    parse_and_check::<IceConfig>(data);
    parse_and_check::<CreateTaskResponse>(data);
    if let Some(task) = parse_and_check::<Task>(data) {
        let _ = task.state.is_terminal();
    }
    parse_and_check::<HeartbeatResponse>(data);
    parse_and_check::<Topology>(data);
    parse_and_check::<GenerateCodeResponse>(data);
    parse_and_check::<PairResponse>(data);
    parse_and_check::<PairingEntry>(data);
    parse_and_check::<ApproveResponse>(data);
    parse_and_check::<ClaimResponse>(data);
    parse_and_check::<AgentCard>(data);
    // The hub's live stream (internally tagged, carrying flattened agent records).
    parse_and_check::<HubUpdate>(data);
    parse_and_check::<ErrorBody>(data);
    parse_and_check::<StatusOk>(data);
});
