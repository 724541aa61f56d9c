//! `section#tasks`: the task queue, filtered, and the form that submits a task.

use crate::{
    browser::now_ms,
    model::{
        format, markdown,
        task_filter::{agent_choices, TaskFilter, ALL},
    },
    state::Hub,
    views::{empty::Loading, task_detail::TaskDetail, task_form::TaskForm},
};
use leptos::prelude::*;
use meshwork_protocol::rest::{Task, TaskState};

/// The task table and its form.
#[component]
pub fn Tasks() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let state = RwSignal::new(ALL.to_owned());
    let agent = RwSignal::new(ALL.to_owned());
    // The task whose detail is open (`aside#task-detail`).
    let selected = RwSignal::new(None::<String>);
    let agents = Memo::new(move |_| agent_choices(&hub.agents.read(), &hub.tasks.read()));
    let shown = Memo::new(move |_| {
        TaskFilter::from_values(&state.read(), &agent.read()).apply(&hub.tasks.read())
    });
    let total = move || hub.tasks.read().len();
    view! {
        <section id="tasks" class="panel" aria-labelledby="tasks-h">
            <h2 id="tasks-h">"Tasks"</h2>
            <div class="split">
                <div class="split-main">
                    <div class="filters" role="group" aria-label="Filter tasks">
                        <div class="field">
                            <label for="task-filter-state">"State"</label>
                            <select
                                id="task-filter-state"
                                on:change=move |ev| state.set(event_target_value(&ev))
                            >
                                <option value=ALL prop:selected=move || state.get() == ALL>
                                    "all"
                                </option>
                                {TaskState::ALL
                                    .into_iter()
                                    .map(|s| {
                                        view! {
                                            <option
                                                value=s.as_str()
                                                prop:selected=move || state.get() == s.as_str()
                                            >
                                                {s.as_str()}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="task-filter-agent">"Agent"</label>
                            <select
                                id="task-filter-agent"
                                on:change=move |ev| agent.set(event_target_value(&ev))
                            >
                                <option value=ALL prop:selected=move || agent.get() == ALL>
                                    "all"
                                </option>
                                <For
                                    each=move || agents.get()
                                    key=|id| id.clone()
                                    children=move |id| {
                                        let value = id.clone();
                            let attr = id.clone();
                                        view! {
                                            <option
                                                value=attr
                                                prop:selected=move || agent.get() == value
                                            >
                                                {id}
                                            </option>
                                        }
                                    }
                                />
                            </select>
                        </div>
                        <p class="muted filters-count" aria-live="polite">
                            {move || format!("{} of {} tasks", shown.read().len(), total())}
                        </p>
                    </div>
                    <Show
                        when=move || !shown.read().is_empty()
                        fallback=move || {
                            view! {
                                <Show when=move || hub.synced.get() fallback=|| view! { <Loading /> }>
                                    <p class="empty">
                                        {move || {
                                            if total() == 0 {
                                                "No tasks yet. Submit one with the form: an agent whose sidecar is connected gets it at once; others pick it up at their next heartbeat."
                                            } else {
                                                "No task matches these filters."
                                            }
                                        }}
                                    </p>
                                </Show>
                            }
                        }
                    >
                        <div class="table-wrap" tabindex="0" role="region" aria-labelledby="tasks-h">
                            <table class="table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Task"</th>
                                        <th scope="col">"Skill"</th>
                                        <th scope="col">"Agent"</th>
                                        <th scope="col">"State"</th>
                                        <th scope="col">"Result"</th>
                                        <th scope="col">"Created"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    <For
                                        each=move || shown.get()
                                        key=|t| serde_json::to_string(t).unwrap_or_default()
                                        children=move |t| view! { <TaskRow task=t selected /> }
                                    />
                                </tbody>
                            </table>
                        </div>
                    </Show>
                    <TaskDetail selected />
                </div>
                <TaskForm />
            </div>
        </section>
    }
}

#[component]
fn TaskRow(task: Task, selected: RwSignal<Option<String>>) -> impl IntoView {
    let hub = expect_context::<Hub>();
    let state = task.state.as_str();
    let (result, failed) = if task.state == TaskState::Failed || !task.error.is_empty() {
        (task.error.clone(), true)
    } else {
        (task.result.clone(), false)
    };
    // Results are Markdown from the agent: rendered, with raw HTML kept inert.
    let result = markdown::to_safe_html(&result);
    let open_id = task.id.clone();
    let agent = if task.assigned_agent_id.is_empty() {
        task.target_agent_id.clone()
    } else {
        task.assigned_agent_id.clone()
    };
    let payload = task.payload.to_string();
    let created_ms = task.created_at * 1000.0;
    let age = move || {
        hub.clock.track();
        format::age(now_ms() - created_ms)
    };
    view! {
        <tr data-task-id=task.id.clone()>
            <th scope="row">
                <button type="button" class="btn-link task-open" aria-label=format!("Open task {}", task.id)
                    on:click=move |_| selected.set(Some(open_id.clone()))>
                    <code>{task.id.clone()}</code>
                </button>
            </th>
            <td class="skill" title=format!("payload: {payload}")>
                {if task.skill.is_empty() { "—".to_owned() } else { task.skill.clone() }}
            </td>
            <td class="agent">{if agent.is_empty() { "any".to_owned() } else { agent }}</td>
            <td class="state">
                <span class=format!("badge state-{state}")>{state}</span>
            </td>
            <td class=if failed { "result markdown result-error" } else { "result markdown" } inner_html=result></td>
            <td class="created">{age}</td>
        </tr>
    }
}
