//! Queued tasks the registry delivers over signaling (ADR 0018): delivered to the
//! application and acknowledged, refused at once without one, answered over signaling.

use super::harness::*;
use crate::{
    core::{Action, Config, Event, MeshCore, Route, RouteError},
    mesh_message::{MeshMessage, MeshMessageType},
    signaling::{
        PeerListPayload, RegisterPayload, SignalType, TaskReceivedPayload, REGISTRY_PEER_ID,
    },
};
use serde_json::json;

fn task_request(id: &str) -> MeshMessage {
    let mut m = MeshMessage::new(
        MeshMessageType::TaskRequest,
        id,
        json!({"skill": "list_agents"}),
    );
    m.target_agent = "alice".into();
    m
}

/// A sidecar-like core (takes registry tasks) with signaling up and an empty mesh.
fn sidecar() -> MeshCore {
    let config = Config {
        registry_tasks: true,
        ..config_for("alice-sidecar")
    };
    let mut core = MeshCore::new(id("alice-sidecar"), config);
    core.handle(Event::SignalingConnected, at(0));
    core.handle(
        from_registry(SignalType::PeerList, &PeerListPayload::default()),
        at(1),
    );
    drain(&mut core);
    core
}

fn registry_task(core: &mut MeshCore, request_id: &str) -> Vec<Action> {
    let mut frame = crate::signaling::SignalMessage::from_registry(
        SignalType::MeshMessage,
        &task_request(request_id),
    );
    frame.target_id = Some(id("alice-sidecar"));
    core.handle(Event::SignalReceived(frame), at(10));
    drain(core)
}

fn acks(actions: &[Action]) -> Vec<TaskReceivedPayload> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendSignal(f) if f.kind == SignalType::TaskReceived => f.payload_as().ok(),
            _ => None,
        })
        .collect()
}

#[test]
fn only_peers_that_take_registry_tasks_announce_them() {
    let register = |config: Config| {
        let mut core = MeshCore::new(id("alice-sidecar"), config);
        core.handle(Event::SignalingConnected, at(0));
        drain(&mut core).into_iter().find_map(|a| match a {
            Action::SendSignal(f) if f.kind == SignalType::Register => {
                f.payload_as::<RegisterPayload>().ok()
            }
            _ => None,
        })
    };
    let tasks = Config {
        registry_tasks: true,
        ..Config::default()
    };
    assert_eq!(register(tasks.clone()).and_then(|r| r.tasks), Some(true));
    assert_eq!(register(Config::default()).and_then(|r| r.tasks), None);
    let tier_off = Config {
        registry_tier: false,
        ..tasks
    };
    assert_eq!(
        register(tier_off).and_then(|r| r.tasks),
        None,
        "tasks ride the tier"
    );
}

#[test]
fn a_registry_task_reaches_the_application_and_is_acknowledged() {
    let mut core = sidecar();
    let actions = registry_task(&mut core, "t1");
    let delivered = actions.iter().position(|a| {
        matches!(a, Action::Deliver { peer, message, via: Route::Registry, .. }
            if peer.as_str() == REGISTRY_PEER_ID && message.request_id == "t1")
    });
    let acked = actions
        .iter()
        .position(|a| matches!(a, Action::SendSignal(f) if f.kind == SignalType::TaskReceived));
    assert!(
        delivered.is_some() && acked > delivered,
        "delivered, then acknowledged: {actions:?}"
    );
    assert_eq!(
        acks(&actions),
        [TaskReceivedPayload {
            request_id: "t1".into(),
            delivered: true,
            reason: None
        }]
    );
}

#[test]
fn a_registry_task_without_an_application_is_refused_at_once() {
    let mut core = sidecar();
    core.set_application_present(false);
    let actions = registry_task(&mut core, "t2");
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Deliver { .. })),
        "{actions:?}"
    );
    let ack = acks(&actions);
    assert_eq!(ack.len(), 1);
    assert!(!ack[0].delivered);
    assert!(ack[0]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("no agent")));
}

#[test]
fn a_peer_that_never_took_tasks_ignores_them() {
    let mut core = MeshCore::new(id("tab"), config_for("tab"));
    core.handle(Event::SignalingConnected, at(0));
    drain(&mut core);
    let actions = registry_task(&mut core, "t3");
    assert!(
        acks(&actions).is_empty() && actions.is_empty(),
        "{actions:?}"
    );
}

#[test]
fn answers_to_the_registry_go_over_signaling_unsealed() {
    let mut core = sidecar();
    let registry = id(REGISTRY_PEER_ID);
    assert_eq!(core.route(&registry), Ok(Route::Registry));
    let answer = MeshMessage::new(
        MeshMessageType::TaskResponse,
        "t1",
        json!({"result": "ok", "error": ""}),
    );
    core.plan_send(&registry, &answer).expect("routed");
    let frames: Vec<_> = drain(&mut core)
        .into_iter()
        .filter_map(|a| match a {
            Action::SendSignal(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].kind, SignalType::MeshMessage);
    assert_eq!(frames[0].target_id, Some(registry.clone()));
    assert_eq!(frames[0].payload_as::<MeshMessage>().ok(), Some(answer));

    core.handle(Event::SignalingDisconnected, at(20));
    assert_eq!(
        core.route(&registry),
        Err(RouteError::Unreachable(registry))
    );
}
