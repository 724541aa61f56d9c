//! `section#agents`: every agent record with its health and whether its sidecar is in the mesh.

use crate::{
    browser::{
        api::{self, ApiError},
        now_ms, parse_time,
    },
    model::{format, overview::in_mesh},
    state::Hub,
    views::{
        confirm::{ConfirmDialog, Question},
        empty::{Loading, StartSidecar},
    },
};
use leptos::prelude::*;
use meshwork_protocol::rest::AgentRecord;

/// One row: the record plus what the topology says about its sidecar.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    agent: AgentRecord,
    in_mesh: bool,
    /// Short fingerprint of the identity key bound to its sidecar's peer id (ADR 0015).
    key: Option<String>,
}

/// The agents table.
#[component]
pub fn Agents() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let rows = Memo::new(move |_| {
        let topology = hub.topology.read();
        let mut rows: Vec<Row> = hub
            .agents
            .read()
            .iter()
            .map(|a| Row {
                in_mesh: in_mesh(a, &topology),
                key: topology
                    .nodes
                    .iter()
                    .find(|n| n.sidecar_peer_id == a.info.sidecar_peer_id)
                    .and_then(|n| n.key_fingerprint.clone()),
                agent: a.clone(),
            })
            .collect();
        rows.sort_by(|a, b| a.agent.info.agent_id.cmp(&b.agent.info.agent_id));
        rows
    });
    let empty = move || rows.read().is_empty();
    // Resetting a peer id's identity key (ADR 0015): its next registration binds a new one.
    let question = RwSignal::new(None::<Question>);
    let asked = StoredValue::new(None::<String>);
    let outcome = RwSignal::new(String::new());
    let ask_reset = Callback::new(move |peer: String| {
        question.set(Some(Question {
            title: "Reset this identity key?".into(),
            body: format!(
                "{peer}'s next registration binds whatever key it brings. Do this only when \
                 {peer} really has a new key (a new machine, a lost data directory)."
            ),
            yes: "Reset key".into(),
            danger: true,
        }));
        asked.set_value(Some(peer));
    });
    let answer = Callback::new(move |yes: bool| {
        let Some(peer) = asked.get_value() else {
            return;
        };
        asked.set_value(None);
        let Some(token) = hub.token().filter(|_| yes) else {
            return;
        };
        leptos::task::spawn_local(async move {
            match api::delete(&format!("/api/identity/{peer}"), &token).await {
                Ok(()) => outcome.set(format!(
                    "Reset {peer}'s key: its next registration binds a new one."
                )),
                Err(ApiError::Refused) => hub.refuse(),
                Err(e) => outcome.set(format!("Reset failed: {e}")),
            }
        });
    });
    view! {
        <section id="agents" class="panel" aria-labelledby="agents-h">
            <h2 id="agents-h">"Agents"</h2>
            <ConfirmDialog question=question answer=answer focus_fallback="agent-outcome" name="reset-confirm" />
            <p id="agent-outcome" class="outcome" role="status" aria-live="polite" tabindex="-1">
                {move || outcome.get()}
            </p>
            <Show
                when=move || !empty()
                fallback=move || {
                    view! {
                        <Show when=move || hub.synced.get() fallback=|| view! { <Loading /> }>
                            <div class="empty">
                                <p><strong>"No agents have registered yet."</strong></p>
                                <StartSidecar />
                            </div>
                        </Show>
                    }
                }
            >
                <div class="table-wrap" tabindex="0" role="region" aria-labelledby="agents-h">
                    <table class="table">
                        <thead>
                            <tr>
                                <th scope="col">"Agent"</th>
                                <th scope="col">"Health"</th>
                                <th scope="col">"Host"</th>
                                <th scope="col">"Sidecar peer"</th>
                                <th scope="col">"Skills"</th>
                                <th scope="col">"Last heartbeat"</th>
                                <th scope="col">"In mesh"</th>
                                <th scope="col">"Key"</th>
                            </tr>
                        </thead>
                        <tbody>
                            <For
                                each=move || rows.get()
                                key=|r| serde_json::to_string(&r.agent).unwrap_or_default() + if r.in_mesh { "+" } else { "-" } + r.key.as_deref().unwrap_or_default()
                                children=move |r| view! { <AgentRow row=r ask_reset=ask_reset /> }
                            />
                        </tbody>
                    </table>
                </div>
            </Show>
        </section>
    }
}

#[component]
fn AgentRow(row: Row, ask_reset: Callback<String>) -> impl IntoView {
    let hub = expect_context::<Hub>();
    let a = row.agent;
    let health = a.health.as_str();
    let host = if a.info.hostname.is_empty() {
        a.info.ip.clone()
    } else {
        a.info.hostname.clone()
    };
    let skills = if a.info.capabilities.skills.is_empty() {
        "—".to_owned()
    } else {
        a.info.capabilities.skills.join(", ")
    };
    let beat = a.last_heartbeat.clone();
    let beat_ms = parse_time(&beat);
    let age = move || {
        hub.clock.track();
        format::age(now_ms() - beat_ms)
    };
    let peer = a.info.sidecar_peer_id.to_string();
    view! {
        <tr data-agent-id=a.info.agent_id.clone()>
            <th scope="row">{a.info.agent_id.clone()}</th>
            <td class="health">
                <span class=format!("badge health-{health}")>{health}</span>
            </td>
            <td class="host">{if host.is_empty() { "—".to_owned() } else { host }}</td>
            <td class="peer">
                <code>{if peer.is_empty() { "—".to_owned() } else { peer }}</code>
            </td>
            <td class="skills">{skills}</td>
            <td class="heartbeat">
                <time datetime=beat.clone() title=beat>{age}</time>
            </td>
            <td class=if row.in_mesh { "in-mesh yes" } else { "in-mesh no" }>
                {if row.in_mesh { "yes" } else { "no" }}
            </td>
            <td class="key" title="fingerprint of the peer's identity key">
                <code>{row.key.clone().unwrap_or_else(|| "—".to_owned())}</code>
                {row.key.is_some().then(|| {
                    let label = format!("Reset the identity key of {}", a.info.agent_id);
                    let peer = a.info.sidecar_peer_id.to_string();
                    view! {
                        " "
                        <button type="button" class="btn btn-small btn-quiet reset-key"
                            aria-label=label
                            on:click=move |_| ask_reset.run(peer.clone())>"Reset"</button>
                    }
                })}
            </td>
        </tr>
    }
}
