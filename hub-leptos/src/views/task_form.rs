//! `form#task-form`: submit a task or an intervention to one agent.

use crate::{
    browser::api::{self, ApiError},
    model::{
        skills,
        task_form::{build_request, TaskKind},
    },
    state::Hub,
};
use leptos::{ev::SubmitEvent, prelude::*};
use meshwork_protocol::rest::CreateTaskResponse;

/// The outcome line under the form.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    None,
    Sending,
    Ok(String),
    /// The form itself needs fixing (nothing was sent).
    Invalid(String),
    Error(String),
}

/// The submit form.
#[component]
pub fn TaskForm() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let agent = RwSignal::new(String::new());
    let kind = RwSignal::new(TaskKind::Task);
    let skill = RwSignal::new(String::new());
    let payload = RwSignal::new(r#"{"message": "hello from the hub"}"#.to_owned());
    let outcome = RwSignal::new(Outcome::None);

    let agent_ids = Memo::new(move |_| {
        let mut ids: Vec<String> = hub
            .agents
            .read()
            .iter()
            .map(|a| a.info.agent_id.clone())
            .collect();
        ids.sort();
        ids
    });
    // The select shows the first agent until one is chosen (or the chosen one disappears).
    let chosen = Memo::new(move |_| {
        let ids = agent_ids.read();
        let a = agent.get();
        if ids.contains(&a) {
            a
        } else {
            ids.first().cloned().unwrap_or_default()
        }
    });
    let is_task = move || kind.get() == TaskKind::Task;
    // What the chosen agent advertises: offered in the skill field, never imposed.
    let advertised = Memo::new(move |_| skills::of_agent(&hub.agents.read(), &chosen.get()));
    Effect::new(move |_| {
        if let Some(first) = skills::keep_or_first(&skill.get_untracked(), &advertised.get()) {
            skill.set(first);
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = match build_request(
            kind.get_untracked(),
            &chosen.get_untracked(),
            &skill.get_untracked(),
            &payload.get_untracked(),
        ) {
            Ok(r) => r,
            Err(e) => {
                outcome.set(Outcome::Invalid(e));
                return;
            }
        };
        let Some(token) = hub.token() else {
            return;
        };
        outcome.set(Outcome::Sending);
        leptos::task::spawn_local(async move {
            let answer: Result<CreateTaskResponse, ApiError> =
                api::post("/api/hub/tasks", &token, Some(&request)).await;
            match answer {
                Ok(r) => outcome.set(Outcome::Ok(format!("submitted {}", r.task_id))),
                Err(ApiError::Refused) => hub.refuse(),
                Err(e) => outcome.set(Outcome::Error(format!("Not submitted: {e}"))),
            }
        });
    };

    let outcome_class = move || match outcome.get() {
        Outcome::Error(_) | Outcome::Invalid(_) => "outcome outcome-error",
        Outcome::Ok(_) => "outcome outcome-ok",
        _ => "outcome",
    };
    let outcome_text = move || match outcome.get() {
        Outcome::None => String::new(),
        Outcome::Sending => "submitting…".into(),
        Outcome::Ok(t) | Outcome::Invalid(t) | Outcome::Error(t) => t,
    };
    let payload_invalid = move || matches!(outcome.get(), Outcome::Invalid(_)).to_string();

    view! {
        <form id="task-form" class="split-side stack card-form" on:submit=on_submit aria-labelledby="task-form-h">
            <h3 id="task-form-h">"Submit a task"</h3>
            <div class="field">
                <label for="task-agent">"Agent"</label>
                <select id="task-agent" on:change=move |ev| agent.set(event_target_value(&ev))>
                    <Show when=move || agent_ids.read().is_empty()>
                        <option value="" disabled=true selected=true>
                            "no agent registered yet"
                        </option>
                    </Show>
                    <For
                        each=move || agent_ids.get()
                        key=|id| id.clone()
                        children=move |id| {
                            let value = id.clone();
                            let attr = id.clone();
                            view! {
                                <option value=attr prop:selected=move || chosen.get() == value>
                                    {id}
                                </option>
                            }
                        }
                    />
                </select>
            </div>
            <div class="field">
                <label for="task-kind">"Kind"</label>
                <select
                    id="task-kind"
                    on:change=move |ev| kind.set(TaskKind::parse(&event_target_value(&ev)))
                >
                    <option value="task" prop:selected=is_task>"task — run a skill"</option>
                    <option value="intervention" prop:selected=move || !is_task()>
                        "intervention — a message for the agent"
                    </option>
                </select>
            </div>
            <div class="field" class:hidden=move || !is_task()>
                <label for="task-skill">"Skill"</label>
                <input
                    id="task-skill"
                    type="text"
                    list="task-skill-options"
                    autocomplete="off"
                    spellcheck="false"
                    aria-describedby="task-skill-hint"
                    prop:disabled=move || !is_task()
                    bind:value=skill
                />
                <datalist id="task-skill-options">
                    <For
                        each=move || advertised.get()
                        key=|s| s.clone()
                        children=|s| view! { <option value=s></option> }
                    />
                </datalist>
                <p id="task-skill-hint" class="hint">
                    {move || skills::hint(&chosen.get(), &advertised.read())}
                </p>
            </div>
            <div class="field">
                <label for="task-payload">
                    {move || if is_task() { "Payload (a JSON object)" } else { "Message" }}
                </label>
                <textarea
                    id="task-payload"
                    rows="4"
                    spellcheck="false"
                    aria-describedby="task-payload-hint task-outcome"
                    aria-invalid=payload_invalid
                    bind:value=payload
                ></textarea>
                <p id="task-payload-hint" class="hint">
                    {move || {
                        if is_task() {
                            r#"Arguments for the skill, e.g. {"message": "hi"}. Empty means {}."#
                        } else {
                            "Free text; the agent receives it as {\"message\": …}."
                        }
                    }}
                </p>
            </div>
            <button id="task-submit" type="submit" class="btn">"Submit"</button>
            <p id="task-outcome" class=outcome_class role="status" aria-live="polite">
                {outcome_text}
            </p>
        </form>
    }
}
