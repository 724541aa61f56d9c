//! `section#devices`: pairing codes and the approve / reject / revoke decisions.

use crate::{
    browser::{
        api::{self, ApiError},
        now_ms,
    },
    model::format,
    state::Hub,
    views::{
        confirm::{ConfirmDialog, Question},
        empty::{sidecar_env, Loading},
    },
};
use leptos::prelude::*;
use meshwork_protocol::rest::{ApproveResponse, GenerateCodeResponse, PairingEntry, PairingStatus};
use serde_json::Value;

/// A decision on one pairing entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Approve,
    Reject,
    Revoke,
}

impl Action {
    fn path(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Revoke => "revoke",
        }
    }

    fn question(self, entry: &PairingEntry) -> Question {
        let who = format!("“{}” ({})", entry.agent_name, entry.peer_id);
        let (title, body, yes, danger) = match self {
            Self::Approve => (
                "Approve this device?",
                format!("{who} gets a device token and can join the mesh."),
                "Approve",
                false,
            ),
            Self::Reject => (
                "Reject this device?",
                format!("{who} will not be able to use this pairing request."),
                "Reject",
                true,
            ),
            Self::Revoke => (
                "Revoke this device?",
                format!("{who} loses its device token at once and is disconnected from the mesh."),
                "Revoke",
                true,
            ),
        };
        Question {
            title: title.into(),
            body,
            yes: yes.into(),
            danger,
        }
    }
}

/// What `#device-outcome` says.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    None,
    Working(String),
    Done(String),
    Approved { name: String, token: String },
    Error(String),
}

/// A generated code and when it stops working.
#[derive(Debug, Clone, PartialEq)]
struct Code {
    code: String,
    expires_at_ms: f64,
}

/// Pending first, then newest first.
fn sorted(pairings: &[PairingEntry]) -> Vec<PairingEntry> {
    let mut v = pairings.to_vec();
    v.sort_by(|a, b| {
        let pending = |p: &PairingEntry| p.status != PairingStatus::PendingApproval;
        pending(a)
            .cmp(&pending(b))
            .then(b.created_at.total_cmp(&a.created_at))
            .then(a.id.cmp(&b.id))
    });
    v
}

/// The devices panel.
#[component]
pub fn Devices() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let code = RwSignal::new(None::<Code>);
    let code_error = RwSignal::new(None::<String>);
    let name = RwSignal::new(String::new());
    let outcome = RwSignal::new(Outcome::None);
    let question = RwSignal::new(None::<Question>);
    let asked = StoredValue::new(None::<(Action, PairingEntry)>);
    let rows = Memo::new(move |_| sorted(&hub.pairings.read()));

    let generate = move |_| {
        let Some(token) = hub.token() else {
            return;
        };
        code_error.set(None);
        leptos::task::spawn_local(async move {
            let answer: Result<GenerateCodeResponse, ApiError> =
                api::post::<(), _>("/api/pairing/generate-code", &token, None).await;
            match answer {
                Ok(r) => code.set(Some(Code {
                    code: r.code,
                    expires_at_ms: now_ms() + r.expires_in as f64 * 1000.0,
                })),
                Err(ApiError::Refused) => hub.refuse(),
                Err(e) => code_error.set(Some(format!("No code: {e}"))),
            }
        });
    };

    let ask = move |action: Action, entry: PairingEntry| {
        question.set(Some(action.question(&entry)));
        asked.set_value(Some((action, entry)));
    };
    let answer = Callback::new(move |yes: bool| {
        let Some((action, entry)) = asked.get_value() else {
            return;
        };
        asked.set_value(None);
        if !yes {
            return;
        }
        let Some(token) = hub.token() else {
            return;
        };
        outcome.set(Outcome::Working(format!(
            "{}ing {}…",
            action.path().trim_end_matches('e'),
            entry.agent_name
        )));
        leptos::task::spawn_local(async move {
            let path = format!("/api/pairing/{}/{}", entry.id, action.path());
            let name = entry.agent_name.clone();
            let result = match action {
                Action::Approve => api::post::<(), ApproveResponse>(&path, &token, None)
                    .await
                    .map(|r| Outcome::Approved {
                        name,
                        token: r.device_token,
                    }),
                Action::Reject => api::post::<(), Value>(&path, &token, None)
                    .await
                    .map(|_| Outcome::Done(format!("Rejected {name}."))),
                Action::Revoke => api::post::<(), Value>(&path, &token, None).await.map(|_| {
                    Outcome::Done(format!("Revoked {name}: its device token no longer works."))
                }),
            };
            match result {
                Ok(o) => outcome.set(o),
                Err(ApiError::Refused) => hub.refuse(),
                Err(e) => outcome.set(Outcome::Error(format!("{} failed: {e}", action.path()))),
            }
        });
    });

    let command = move || {
        let c = code.get().map(|c| c.code).unwrap_or_default();
        let n = name.get();
        let n = if n.trim().is_empty() {
            "<name>".to_owned()
        } else {
            n.trim().to_owned()
        };
        format!("meshwork-sidecar pair {c} --name {n}")
    };
    let expiry = move || {
        hub.clock.track();
        code.get()
            .map(|c| {
                let left = c.expires_at_ms - now_ms();
                if left > 0.0 {
                    format!("expires in {}", format::countdown(left))
                } else {
                    "expired — generate a new one".to_owned()
                }
            })
            .unwrap_or_default()
    };

    view! {
        <section id="devices" class="panel" aria-labelledby="devices-h">
            <h2 id="devices-h">"Devices"</h2>
            <div class="split split-start">
                <div class="split-side card-form stack">
                    <h3>"Pair a new device"</h3>
                    <p class="muted">
                        "A device without an API key pairs with a one-time code: generate it here, run the command on the device, then approve the request below."
                    </p>
                    <button id="gen-code" type="button" class="btn" on:click=generate>
                        "Generate a pairing code"
                    </button>
                    <p class="outcome outcome-error" role="alert">{move || code_error.get()}</p>
                    <Show when=move || code.read().is_some()>
                        <div class="pair-result stack">
                            <p class="pair-code-line">
                                "Code "
                                <strong id="pair-code" class="pair-code">
                                    {move || code.get().map(|c| c.code).unwrap_or_default()}
                                </strong>
                                " "
                                <span id="pair-expiry" class="muted">{expiry}</span>
                            </p>
                            <div class="field">
                                <label for="pair-name">"Device name (for the command)"</label>
                                <input
                                    id="pair-name"
                                    type="text"
                                    autocomplete="off"
                                    spellcheck="false"
                                    placeholder="laptop"
                                    bind:value=name
                                />
                            </div>
                            <p>"On the device, run:"</p>
                            <pre><code id="pair-command">{command}</code></pre>
                            <p class="hint">
                                "Not on this machine? Prefix it with "
                                <code>{sidecar_env}</code>
                                ". The device waits for your approval, then receives its token itself."
                            </p>
                        </div>
                    </Show>
                </div>
                <div class="split-main">
                    <DeviceOutcome outcome=outcome />
                    <Show
                        when=move || !rows.read().is_empty()
                        fallback=move || {
                            view! {
                                <Show when=move || hub.synced.get() fallback=|| view! { <Loading /> }>
                                    <p class="empty">
                                        "No pairing requests yet. Generate a code, run the command on the device, and its request shows up here for approval."
                                    </p>
                                </Show>
                            }
                        }
                    >
                        <div class="table-wrap" tabindex="0" role="region" aria-labelledby="devices-h">
                            <table class="table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Device"</th>
                                        <th scope="col">"Peer id"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">"Requested"</th>
                                        <th scope="col">
                                            <span class="sr-only">"Actions"</span>
                                        </th>
                                    </tr>
                                </thead>
                                <tbody>
                                    <For
                                        each=move || rows.get()
                                        key=|p| serde_json::to_string(p).unwrap_or_default()
                                        children=move |p| view! { <PairingRow entry=p ask=ask /> }
                                    />
                                </tbody>
                            </table>
                        </div>
                    </Show>
                </div>
            </div>
            <ConfirmDialog question=question answer=answer focus_fallback="device-outcome" />
        </section>
    }
}

#[component]
fn DeviceOutcome(outcome: RwSignal<Outcome>) -> impl IntoView {
    let class = move || match outcome.get() {
        Outcome::Error(_) => "outcome outcome-error",
        Outcome::Done(_) | Outcome::Approved { .. } => "outcome outcome-ok",
        _ => "outcome",
    };
    let body = move || match outcome.get() {
        Outcome::None => ().into_any(),
        Outcome::Working(t) | Outcome::Done(t) | Outcome::Error(t) => t.into_any(),
        Outcome::Approved { name, token } => view! {
            "Approved " {name} ". Device token (shown once, never again): "
            <code class="token">{token}</code>
            ". If the device used " <code>"meshwork-sidecar pair"</code>
            ", it received this token itself — there is nothing to copy."
        }
        .into_any(),
    };
    view! {
        <p id="device-outcome" class=class role="status" aria-live="polite" tabindex="-1">
            {body}
        </p>
    }
}

#[component]
fn PairingRow(
    entry: PairingEntry,
    ask: impl Fn(Action, PairingEntry) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let hub = expect_context::<Hub>();
    let status = entry.status.as_str();
    let created_ms = entry.created_at * 1000.0;
    let age = move || {
        hub.clock.track();
        format::age(now_ms() - created_ms)
    };
    let label = |verb: &str| format!("{verb} {}", entry.agent_name);
    let buttons = match entry.status {
        PairingStatus::PendingApproval => {
            let (a, r) = (entry.clone(), entry.clone());
            view! {
                <button type="button" class="btn btn-small approve" aria-label=label("Approve")
                    on:click=move |_| ask(Action::Approve, a.clone())>"Approve"</button>
                <button type="button" class="btn btn-small btn-quiet reject" aria-label=label("Reject")
                    on:click=move |_| ask(Action::Reject, r.clone())>"Reject"</button>
            }
            .into_any()
        }
        PairingStatus::Approved => {
            let v = entry.clone();
            view! {
                <button type="button" class="btn btn-small btn-danger revoke" aria-label=label("Revoke")
                    on:click=move |_| ask(Action::Revoke, v.clone())>"Revoke"</button>
            }
            .into_any()
        }
        PairingStatus::Rejected | PairingStatus::Revoked => ().into_any(),
    };
    view! {
        <tr data-pairing-id=entry.id.clone()>
            <th scope="row">{entry.agent_name.clone()}</th>
            <td class="peer"><code>{entry.peer_id.to_string()}</code></td>
            <td class="status">
                <span class=format!("badge status-{status}")>{status}</span>
            </td>
            <td class="created">{age}</td>
            <td class="actions">{buttons}</td>
        </tr>
    }
}
