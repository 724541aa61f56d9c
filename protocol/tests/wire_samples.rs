//! Literal JSON samples of every message of PROTOCOL.md, parsed into the typed messages and
//! serialized back: the exact wire spelling must survive the round trip.

use meshwork_protocol::{
    ipc::{IpcCommand, IpcEvent},
    mesh_message::{MeshMessage, MeshMessageType},
    rest::{
        card::AgentCard,
        pairing::{
            ApproveResponse, ClaimRequest, ClaimResponse, GenerateCodeResponse, PairRequest,
            PairResponse, PairingEntry,
        },
        tasks::TaskUpdate,
        AgentInfo, AgentRecord, CreateTaskRequest, CreateTaskResponse, Health, HeartbeatRequest,
        HeartbeatResponse, IceConfig, Role, Task, TaskState, TokenResponse, Topology,
    },
    signaling::{
        CandidateType, ErrorPayload, IceCandidatePayload, LeaveReason, LinkReportPayload,
        PeerJoinedPayload, PeerKind, PeerLeftPayload, PeerListPayload, RegisterPayload, SdpPayload,
        SignalErrorCode, TaskReceivedPayload,
    },
    SignalMessage, SignalType,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};

/// Parses `sample` as `T`, serializes it back and compares as JSON values.
fn round_trip<T: Serialize + DeserializeOwned>(sample: Value) -> T {
    let typed: T = serde_json::from_value(sample.clone())
        .unwrap_or_else(|e| panic!("sample does not parse: {e}\n{sample}"));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(back, sample, "round trip changed the wire form");
    typed
}

// ---------- §1 signaling ----------

#[test]
fn register_frame_round_trips_with_and_without_payload_fields() {
    let msg: SignalMessage = round_trip(json!({"type": "register", "peer_id": "agent-001",
        "payload": {"kind": "browser", "fingerprint": "sha-256 AB:CD"}}));
    assert_eq!(msg.kind, SignalType::Register);
    assert_eq!(msg.target_id, None);
    let p: RegisterPayload = msg.payload_as().expect("payload");
    assert_eq!(p.kind, Some(PeerKind::Browser));
    let bare: SignalMessage =
        round_trip(json!({"type": "register", "peer_id": "a", "payload": {}}));
    assert_eq!(
        bare.payload_as::<RegisterPayload>().expect("empty"),
        RegisterPayload::default()
    );
}

#[test]
fn missing_payload_defaults_to_empty_object_and_target_is_optional() {
    let msg = SignalMessage::parse(r#"{"type":"heartbeat","peer_id":"a"}"#).expect("parse");
    assert_eq!(msg.payload, json!({}));
    assert!(
        !msg.to_json().contains("target_id"),
        "absent target_id is omitted"
    );
}

#[test]
fn peer_list_frame_round_trips() {
    let msg: SignalMessage = round_trip(
        json!({"type": "peer_list", "peer_id": "registry", "payload": {"peers": ["a", "b"]}}),
    );
    let p: PeerListPayload = msg.payload_as().expect("payload");
    assert_eq!(p.peers.len(), 2);
}

#[test]
fn offer_and_answer_frames_round_trip() {
    for kind in ["offer", "answer"] {
        let msg: SignalMessage = round_trip(json!({"type": kind, "peer_id": "a",
            "target_id": "b", "payload": {"sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}}));
        assert!(msg.kind.is_relayed());
        assert_eq!(msg.target_id.as_ref().map(|t| t.as_str()), Some("b"));
        let p: SdpPayload = msg.payload_as().expect("payload");
        assert!(p.sdp.starts_with("v=0"));
    }
}

#[test]
fn ice_candidate_frame_keeps_camel_case_fields() {
    let msg: SignalMessage = round_trip(json!({"type": "ice_candidate", "peer_id": "a",
        "target_id": "b", "payload": {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
        "sdpMid": "0", "sdpMLineIndex": 0}}));
    let p: IceCandidatePayload = msg.payload_as().expect("payload");
    assert_eq!(p.sdp_mid.as_deref(), Some("0"));
    assert_eq!(p.sdp_m_line_index, Some(0));
    let back = serde_json::to_value(&p).expect("ser");
    assert!(back.get("sdpMLineIndex").is_some() && back.get("sdp_m_line_index").is_none());
}

#[test]
fn heartbeat_frame_round_trips() {
    let msg: SignalMessage =
        round_trip(json!({"type": "heartbeat", "peer_id": "a", "payload": {}}));
    assert_eq!(msg.kind, SignalType::Heartbeat);
}

#[test]
fn peer_joined_and_peer_left_frames_round_trip() {
    let joined: SignalMessage = round_trip(
        json!({"type": "peer_joined", "peer_id": "registry", "payload": {"peer_id": "b"}}),
    );
    assert_eq!(
        joined
            .payload_as::<PeerJoinedPayload>()
            .expect("p")
            .peer_id
            .as_str(),
        "b"
    );
    for (reason, expected) in [
        ("disconnected", LeaveReason::Disconnected),
        ("revoked", LeaveReason::Revoked),
    ] {
        let left: SignalMessage = round_trip(json!({"type": "peer_left", "peer_id": "registry",
            "payload": {"peer_id": "b", "reason": reason}}));
        assert_eq!(
            left.payload_as::<PeerLeftPayload>().expect("p").reason,
            expected
        );
    }
}

#[test]
fn error_frame_round_trips_every_code() {
    for code in [
        "malformed",
        "frame_too_large",
        "sender_mismatch",
        "unknown_target",
        "not_permitted",
        "unsupported_type",
        "rate_limited",
    ] {
        let msg: SignalMessage = round_trip(json!({"type": "error", "peer_id": "registry",
            "payload": {"code": code, "message": "why"}}));
        let p: ErrorPayload = msg.payload_as().expect("payload");
        assert_eq!(serde_json::to_value(p.code).expect("ser"), json!(code));
    }
    assert!(serde_json::from_value::<SignalErrorCode>(json!("nope")).is_err());
}

#[test]
fn link_report_frame_round_trips() {
    let msg: SignalMessage = round_trip(json!({"type": "link_report", "peer_id": "a",
        "payload": {"links": [{"peer_id": "b", "rtt_ms": 0.25, "candidate_type": "relay"},
                              {"peer_id": "c"}]}}));
    let p: LinkReportPayload = msg.payload_as().expect("payload");
    assert_eq!(p.links[0].candidate_type, Some(CandidateType::Relay));
    assert_eq!(p.links[1].rtt_ms, None);
}

#[test]
fn unknown_signal_type_is_rejected() {
    assert!(SignalMessage::parse(r#"{"type":"dance","peer_id":"a","payload":{}}"#).is_err());
    assert!(SignalMessage::parse("[]").is_err());
}

// ---------- §2 DataChannel ----------

#[test]
fn every_mesh_message_type_round_trips() {
    for kind in [
        "ping",
        "pong",
        "task_request",
        "task_response",
        "task_stream_chunk",
        "skill_query",
        "skill_response",
        "agent_status",
        "agent_prompt",
        "agent_response",
        "agent_stream_chunk",
    ] {
        let msg: MeshMessage = round_trip(json!({"type": kind, "request_id": "a1b2c3d4e5f6",
            "source_agent": "alice", "target_agent": "bob", "payload": {}}));
        assert_eq!(msg.kind.as_str(), kind);
        assert!(
            !matches!(msg.kind, MeshMessageType::Other(_)),
            "{kind} is a known type"
        );
    }
}

#[test]
fn chatixia_task_request_and_response_round_trip() {
    let req: MeshMessage = round_trip(json!({"type": "task_request", "request_id": "a1b2c3d4e5f6",
        "source_agent": "alice", "target_agent": "bob",
        "payload": {"skill": "search", "message": "find rust", "limit": 3}}));
    assert_eq!(req.kind, MeshMessageType::TaskRequest);
    assert_eq!(req.payload.to_value()["limit"], 3);
    let resp: MeshMessage = round_trip(
        json!({"type": "task_response", "request_id": "a1b2c3d4e5f6",
        "source_agent": "bob", "target_agent": "alice", "payload": {"result": "ok", "error": ""}}),
    );
    assert!(resp.kind.is_response());
}

#[test]
fn unknown_mesh_type_and_fields_pass_through() {
    let msg: MeshMessage = round_trip(json!({"type": "custom_thing", "request_id": "",
        "source_agent": "", "target_agent": "", "payload": {"x": 1}, "trace": {"hop": 2}}));
    assert_eq!(msg.kind, MeshMessageType::Other("custom_thing".into()));
    assert_eq!(msg.extra["trace"], json!({"hop": 2}));
}

#[test]
fn mesh_message_with_only_a_type_gets_defaults() {
    let msg = MeshMessage::parse(r#"{"type":"ping"}"#).expect("parse");
    assert_eq!(msg.request_id, "");
    assert_eq!(msg.payload, json!({}));
}

// ---------- §3 IPC ----------

#[test]
fn every_ipc_command_round_trips() {
    let m = json!({"type": "ping", "request_id": "r1", "source_agent": "a", "target_agent": "b",
        "payload": {}});
    let send: IpcCommand =
        round_trip(json!({"type": "send", "payload": {"target_peer": "bob", "message": m}}));
    assert!(matches!(send, IpcCommand::Send { .. }));
    let b: IpcCommand = round_trip(json!({"type": "broadcast", "payload": {"message": m}}));
    assert!(matches!(b, IpcCommand::Broadcast { .. }));
    let l: IpcCommand = round_trip(json!({"type": "list_peers", "payload": {}}));
    assert_eq!(l, IpcCommand::ListPeers {});
    let c: IpcCommand =
        round_trip(json!({"type": "connect", "payload": {"target_peer_id": "bob"}}));
    assert!(matches!(c, IpcCommand::Connect { .. }));
}

#[test]
fn ipc_line_without_payload_reads_as_empty_payload() {
    assert_eq!(
        IpcCommand::parse_line(r#"{"type":"list_peers"}"#).expect("parse"),
        IpcCommand::ListPeers {}
    );
    assert!(
        IpcCommand::parse_line(r#"{"type":"send"}"#).is_err(),
        "send needs its fields"
    );
    assert!(IpcCommand::parse_line("not json").is_err());
    assert!(IpcCommand::parse_line(r#"{"type":"fly","payload":{}}"#).is_err());
}

#[test]
fn every_ipc_event_round_trips() {
    let m = json!({"type": "pong", "request_id": "r1", "source_agent": "b", "target_agent": "a",
        "payload": {}});
    let samples = [
        json!({"type": "message", "payload": {"from_peer": "bob", "message": m}}),
        json!({"type": "peer_connected", "payload": {"peer_id": "bob"}}),
        json!({"type": "peer_disconnected", "payload": {"peer_id": "bob"}}),
        json!({"type": "peer_list", "payload": {"peers": ["bob", "carol"]}}),
        json!({"type": "error", "payload": {"message": "unknown peer zed"}}),
    ];
    for sample in samples {
        let event: IpcEvent = round_trip(sample.clone());
        assert_eq!(
            serde_json::from_str::<Value>(&event.to_line()).expect("line"),
            sample
        );
    }
}

// ---------- §6 shared memory over IPC ----------

#[test]
fn every_memory_ipc_message_round_trips() {
    let id = "a".repeat(64);
    let other = "b".repeat(64);
    let commands = [
        json!({"type": "memory_put", "payload": {"request_id": "r1", "key": "notes/a",
            "value": {"x": [1, 2.5, null]}, "supersedes": [id], "derived_from": [other]}}),
        json!({"type": "memory_put", "payload": {"request_id": "r2", "key": "k", "value": null}}),
        json!({"type": "memory_get", "payload": {"request_id": "r3", "key": "k",
            "at": {"alice": 3, "bob": 1}}}),
        json!({"type": "memory_get", "payload": {"request_id": "r4", "key": "k"}}),
        json!({"type": "memory_list", "payload": {"request_id": "r5", "prefix": "notes/",
            "at": {"alice": 3}, "limit": 10}}),
        json!({"type": "memory_history", "payload": {"request_id": "r6", "key": "k"}}),
        json!({"type": "memory_forget", "payload": {"request_id": "r7", "key": "k"}}),
        json!({"type": "memory_subscribe", "payload": {"request_id": "r8", "prefix": ""}}),
    ];
    for sample in commands {
        let command: IpcCommand = round_trip(sample);
        assert!(command.is_memory());
    }
    let at = "2024-05-01T12:00:00.000Z";
    let events = [
        json!({"type": "memory_written", "payload": {"request_id": "r1", "id": id,
            "key": "k", "version": {"alice": 1}}}),
        json!({"type": "memory_value", "payload": {"request_id": "r3", "key": "k",
            "found": true, "value": {"x": 1}, "id": id, "author": "alice", "written_at": at,
            "conflicts": [{"id": other, "author": "bob", "value": 2, "written_at": at}],
            "derived_from": [other], "version": {"alice": 1, "bob": 1}}}),
        json!({"type": "memory_value", "payload": {"request_id": "r4", "key": "k",
            "found": false, "value": null, "id": null, "author": null, "written_at": null,
            "conflicts": [], "derived_from": [], "version": {}}}),
        json!({"type": "memory_values", "payload": {"request_id": "r5", "items": [{"key": "k",
            "value": 1, "id": id, "author": "alice", "written_at": at, "conflicts": 1}],
            "version": {"alice": 3}}}),
        json!({"type": "memory_history", "payload": {"request_id": "r6", "key": "k",
            "events": [{"id": id, "author": "alice", "kind": "put", "value": null,
            "written_at": at, "supersedes": [], "derived_from": [], "forgotten": true},
            {"id": other, "author": "bob", "kind": "forget", "value": null, "written_at": at,
            "supersedes": [], "derived_from": [], "forgotten": false}]}}),
        json!({"type": "memory_subscribed", "payload": {"request_id": "r8"}}),
        json!({"type": "memory_changed", "payload": {"key": "k", "id": id, "author": "alice",
            "kind": "forget", "value": null}}),
        json!({"type": "error", "payload": {"request_id": "r1", "message": "key is empty"}}),
    ];
    for sample in events {
        let _: IpcEvent = round_trip(sample);
    }
}

#[test]
fn a_malformed_memory_command_still_names_its_request_id() {
    let bad = r#"{"type":"memory_get","payload":{"request_id":"r9","key":"k","at":"now"}}"#;
    assert!(IpcCommand::parse_line(bad).is_err());
    assert_eq!(IpcCommand::memory_request_id(bad).as_deref(), Some("r9"));
    let send = r#"{"type":"send","payload":{"request_id":"r9"}}"#;
    assert_eq!(IpcCommand::memory_request_id(send), None);
}

// ---------- §4–5 REST ----------

#[test]
fn agent_info_round_trips_and_defaults_like_upstream() {
    let full = json!({"agent_id": "alice", "hostname": "box", "ip": "10.0.0.2", "port": 9000,
        "sidecar_peer_id": "alice-sidecar", "capabilities": {"skills": ["echo"],
        "mcp_servers": ["fs"], "goals_count": 2, "mode": "interactive"}, "status": "online",
        "mode": "idle"});
    round_trip::<AgentInfo>(full);
    let minimal: AgentInfo = serde_json::from_value(json!({"agent_id": "a"})).expect("minimal");
    assert_eq!((minimal.ip.as_str(), minimal.port), ("", 8080));
}

#[test]
fn agent_record_flattens_info_with_health() {
    let rec: AgentRecord = round_trip(json!({"agent_id": "alice", "hostname": "box", "ip": "",
        "port": 8080, "sidecar_peer_id": "alice-sidecar", "capabilities": {"skills": [],
        "mcp_servers": [], "goals_count": 0, "mode": ""}, "status": "", "mode": "",
        "health": "stale", "registered_at": "2026-11-22T10:00:00.000Z",
        "last_heartbeat": "2026-11-22T10:01:00.000Z"}));
    assert_eq!(rec.health, Health::Stale);
}

#[test]
fn heartbeat_request_accepts_chatixias_two_fields() {
    let hb: HeartbeatRequest =
        serde_json::from_value(json!({"agent_id": "alice", "skill_names": ["echo"]})).expect("hb");
    assert_eq!(hb.skill_names, ["echo"]);
    assert_eq!(hb.port, 0, "absent port means unchanged");
}

#[test]
fn task_and_its_requests_round_trip() {
    let task: Task = round_trip(json!({"id": "0123456789ab", "skill": "echo",
        "target_agent_id": "bob", "source_agent_id": "alice", "assigned_agent_id": "",
        "payload": {"message": "hi"}, "state": "pending", "result": "", "error": "",
        "created_at": 1795345588.25, "updated_at": 1795345588.25, "ttl": 300}));
    assert_eq!(task.state, TaskState::Pending);
    round_trip::<CreateTaskRequest>(json!({"skill": "echo", "target_agent_id": "bob",
        "source_agent_id": "alice", "payload": {"message": "hi"}, "ttl": 60}));
    round_trip::<CreateTaskResponse>(json!({"task_id": "0123456789ab"}));
    let upd: TaskUpdate = round_trip(json!({"state": "completed", "result": "done", "error": ""}));
    assert_eq!(upd.state, TaskState::Completed);
    round_trip::<HeartbeatResponse>(json!({"status": "ok", "pending_tasks": []}));
}

#[test]
fn task_states_follow_the_lifecycle() {
    use TaskState::*;
    assert!(Pending.can_become(Assigned) && Assigned.can_become(Completed));
    assert!(Assigned.can_become(Failed) && Pending.can_become(Failed));
    assert!(!Completed.can_become(Failed) && !Failed.can_become(Pending));
    assert!(!Pending.can_become(Completed));
}

#[test]
fn token_and_ice_config_round_trip() {
    let t: TokenResponse =
        round_trip(json!({"token": "a.b.c", "peer_id": "agent-001", "role": "agent"}));
    assert_eq!(t.role, Role::Agent);
    let cfg: IceConfig = round_trip(json!({"iceServers": [{"urls": ["stun:127.0.0.1:3478"]},
        {"urls": ["turn:127.0.0.1:3478"], "username": "1795345888:agent-001",
         "credential": "c2VjcmV0c2VjcmV0c2VjcmV0c2U="}]}));
    assert_eq!(cfg.ice_servers.len(), 2);
}

#[test]
fn topology_round_trips() {
    let topo: Topology = round_trip(json!({"nodes": [{"kind": "agent", "agent_id": "alice",
        "sidecar_peer_id": "alice-sidecar", "hostname": "box", "ip": "", "port": 8080,
        "mode": "interactive", "skills_count": 1, "health": "active", "online": true,
        "mesh_peers": ["tab-1"]}, {"kind": "browser", "agent_id": "", "sidecar_peer_id": "tab-1",
        "hostname": "", "ip": "", "port": 0, "mode": "", "skills_count": 0, "health": "active",
        "online": true, "mesh_peers": []}],
        "mesh_edges": [{"from_peer": "alice-sidecar", "to_peer": "tab-1", "rtt_ms": 1.5,
        "candidate_type": "host", "verified": false}]}));
    assert_eq!(topo.mesh_edges.len(), 1);
}

#[test]
fn pairing_bodies_round_trip() {
    round_trip::<GenerateCodeResponse>(json!({"code": "482901", "expires_in": 300}));
    round_trip::<PairRequest>(json!({"code": "482901", "agent_name": "laptop"}));
    round_trip::<PairResponse>(
        json!({"id": "p1", "status": "pending_approval", "peer_id": "laptop"}),
    );
    round_trip::<PairingEntry>(
        json!({"id": "p1", "agent_name": "laptop", "peer_id": "laptop",
        "status": "approved", "created_at": 1795345588.0, "updated_at": 1795345590.5}),
    );
    // Upstream entries have no updated_at; it defaults.
    let entry: PairingEntry = serde_json::from_value(json!({"id": "p1", "agent_name": "laptop",
        "peer_id": "laptop", "status": "rejected", "created_at": 1.0}))
    .expect("upstream entry");
    assert_eq!(entry.updated_at, 0.0);
    // Ours: a claim secret; the claim exchange.
    round_trip::<PairRequest>(
        json!({"code": "482901", "agent_name": "laptop", "claim_secret": "0123456789abcdef"}),
    );
    round_trip::<ClaimRequest>(json!({"claim_secret": "0123456789abcdef", "wait_secs": 25}));
    round_trip::<ClaimResponse>(
        json!({"id": "p1", "status": "approved", "peer_id": "laptop-sidecar",
        "device_token": "dt_0123456789abcdef0123456789abcdef"}),
    );
    round_trip::<ApproveResponse>(json!({"id": "p1", "status": "approved",
        "device_token": "dt_0123456789abcdef0123456789abcdef"}));
}

#[test]
fn agent_card_uses_a2a_camel_case() {
    round_trip::<AgentCard>(
        json!({"name": "alice", "description": "d", "url": "http://x",
        "version": "0.1.0", "capabilities": {"streaming": true}, "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"], "skills": [{"id": "echo", "name": "echo", "description": ""}]}),
    );
}

// ---------- the registry tier (ours, docs/adr/0010) ----------

#[test]
fn mesh_message_frames_are_relayed_with_the_message_as_payload() {
    let msg: SignalMessage = round_trip(json!({"type": "mesh_message", "peer_id": "alice",
        "target_id": "bob", "payload": {"type": "task_request", "request_id": "r1",
        "source_agent": "alice", "target_agent": "bob", "payload": {"skill": "echo"}}}));
    assert_eq!(msg.kind, SignalType::MeshMessage);
    assert!(msg.kind.is_relayed());
    let inner: MeshMessage = msg.payload_as().expect("a MeshMessage");
    assert_eq!(inner.kind, MeshMessageType::TaskRequest);
}

#[test]
fn refusals_name_the_refused_frame_and_its_target() {
    let e: ErrorPayload = round_trip(json!({"code": "unknown_target",
        "message": "unknown target \"bob\"", "refused": "mesh_message", "target_id": "bob"}));
    assert_eq!(e.refused, Some(SignalType::MeshMessage));
    let old: ErrorPayload = round_trip(json!({"code": "malformed", "message": "bad"}));
    assert_eq!(old.refused, None);
}

#[test]
fn ipc_tier_fields_round_trip_and_are_optional() {
    let m = json!({"type": "ping", "request_id": "r1", "source_agent": "a", "target_agent": "b",
        "payload": {}});
    let send: IpcCommand = round_trip(
        json!({"type": "send", "payload": {"target_peer": "bob", "message": m, "ack": true}}),
    );
    assert!(matches!(send, IpcCommand::Send { ack: true, .. }));
    let tracked: IpcCommand = round_trip(json!({"type": "send", "payload": {"target_peer": "bob",
        "message": m, "timeout_ms": 500}}));
    assert!(matches!(
        tracked,
        IpcCommand::Send {
            timeout_ms: Some(500),
            ..
        }
    ));
    let timed_out: IpcEvent = round_trip(json!({"type": "request_timed_out", "payload": {
        "request_id": "r1", "peer_id": "bob"}}));
    assert!(matches!(timed_out, IpcEvent::RequestTimedOut { .. }));
    let sent: IpcEvent = round_trip(json!({"type": "sent", "payload": {"target_peer": "bob",
        "request_id": "r1", "via": "registry"}}));
    assert!(matches!(sent, IpcEvent::Sent { .. }));
    let with_via: IpcEvent = round_trip(json!({"type": "message", "payload": {"from_peer": "bob",
        "message": m, "via": "relay"}}));
    assert!(matches!(with_via, IpcEvent::Message { via: Some(_), .. }));
    let upstream: IpcEvent =
        round_trip(json!({"type": "message", "payload": {"from_peer": "bob", "message": m}}));
    assert!(matches!(upstream, IpcEvent::Message { via: None, .. }));
}

// ---------- queued tasks over the mesh (ADR 0018) ----------

#[test]
fn registry_task_frames_round_trip() {
    let register: SignalMessage =
        round_trip(json!({"type": "register", "peer_id": "alice-sidecar",
        "payload": {"kind": "native", "registry_tier": true, "tasks": true}}));
    let payload: RegisterPayload = register.payload_as().expect("register payload");
    assert_eq!(payload.tasks, Some(true));

    let task: SignalMessage = round_trip(json!({"type": "mesh_message", "peer_id": "registry",
        "target_id": "alice-sidecar", "payload": {"type": "task_request",
        "request_id": "0a1b2c3d4e5f", "source_agent": "hub", "target_agent": "alice",
        "payload": {"skill": "list_agents", "message": "who is there?"}}}));
    let request: MeshMessage = task.payload_as().expect("a mesh message");
    assert_eq!(request.kind, MeshMessageType::TaskRequest);

    let ack: SignalMessage =
        round_trip(json!({"type": "task_received", "peer_id": "alice-sidecar",
        "payload": {"request_id": "0a1b2c3d4e5f", "delivered": false,
                    "reason": "no agent is connected to alice-sidecar"}}));
    assert_eq!(ack.kind, SignalType::TaskReceived);
    let received: TaskReceivedPayload = ack.payload_as().expect("task_received payload");
    assert!(!received.delivered);

    round_trip::<SignalMessage>(json!({"type": "mesh_message", "peer_id": "alice-sidecar",
        "target_id": "registry", "payload": {"type": "task_response",
        "request_id": "0a1b2c3d4e5f", "source_agent": "alice", "target_agent": "hub",
        "payload": {"result": "## Mesh Agents", "error": ""}}}));
}

#[test]
fn a_task_says_how_it_was_delivered_and_what_it_went_through() {
    let task: Task = round_trip(json!({"id": "0a1b2c3d4e5f", "skill": "list_agents",
    "target_agent_id": "alice", "source_agent_id": "hub", "assigned_agent_id": "alice",
    "payload": {}, "state": "completed", "result": "## Mesh Agents", "error": "",
    "created_at": 1.5, "updated_at": 1.6, "ttl": 300, "delivery": "mesh",
    "timeline": [
        {"at": 1.5, "state": "pending", "note": "queued"},
        {"at": 1.501, "state": "assigned", "via": "mesh", "note": "sent to alice-sidecar"},
        {"at": 1.6, "state": "completed", "note": "answered over the mesh"}
    ]}));
    assert_eq!(
        task.delivery,
        Some(meshwork_protocol::rest::TaskDelivery::Mesh)
    );
    // Upstream's shape (no delivery, no timeline) still reads and writes unchanged.
    round_trip::<Task>(json!({"id": "t", "skill": "", "target_agent_id": "",
        "source_agent_id": "", "assigned_agent_id": "", "payload": {}, "state": "pending",
        "result": "", "error": "", "created_at": 1.0, "updated_at": 1.0, "ttl": 300}));
}
