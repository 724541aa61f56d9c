//! `aside#task-detail`: one task opened from its row — payload, result (safe Markdown),
//! error, how it was delivered, and the timeline of its states.

use crate::{
    model::{markdown, task_detail},
    state::Hub,
};
use leptos::prelude::*;

/// The detail of the task whose id `selected` holds (nothing while it holds none).
#[component]
pub fn TaskDetail(selected: RwSignal<Option<String>>) -> impl IntoView {
    let hub = expect_context::<Hub>();
    let task = Memo::new(move |_| {
        let id = selected.get()?;
        hub.tasks.read().iter().find(|t| t.id == id).cloned()
    });
    move || {
        task.get().map(|t| {
            let timeline = task_detail::timeline(&t);
            let result = markdown::to_safe_html(&t.result);
            let agent = if t.assigned_agent_id.is_empty() {
                t.target_agent_id.clone()
            } else {
                t.assigned_agent_id.clone()
            };
            view! {
                <aside id="task-detail" class="card-form task-detail" aria-labelledby="task-detail-h" data-task-id=t.id.clone()>
                    <div class="task-detail-head">
                        <h3 id="task-detail-h">"Task " <code>{t.id.clone()}</code></h3>
                        <button id="task-detail-close" type="button" class="btn btn-small btn-quiet"
                            on:click=move |_| selected.set(None)>
                            "Close"
                        </button>
                    </div>
                    <dl class="task-detail-facts">
                        <dt>"Skill"</dt>
                        <dd>{if t.skill.is_empty() { "—".to_owned() } else { t.skill.clone() }}</dd>
                        <dt>"Agent"</dt>
                        <dd>{if agent.is_empty() { "any".to_owned() } else { agent }}</dd>
                        <dt>"State"</dt>
                        <dd><span class=format!("badge state-{}", t.state.as_str())>{t.state.as_str()}</span></dd>
                        <dt>"Delivered"</dt>
                        <dd id="task-detail-delivery">{task_detail::delivery(&t)}</dd>
                    </dl>
                    <h4>"Payload"</h4>
                    <pre id="task-detail-payload" class="code">{task_detail::payload(&t)}</pre>
                    <h4>"Result"</h4>
                    <div id="task-detail-result" class="markdown" inner_html=result></div>
                    <Show when={
                        let failed = !t.error.is_empty();
                        move || failed
                    }>
                        <h4>"Error"</h4>
                        <p id="task-detail-error" class="result-error">{t.error.clone()}</p>
                    </Show>
                    <h4>"Timeline"</h4>
                    <ol id="task-detail-timeline" class="timeline">
                        {timeline
                            .into_iter()
                            .map(|s| {
                                let via = s.via.map(|v| format!(" via {v}")).unwrap_or_default();
                                view! {
                                    <li data-state=s.state>
                                        <span class="muted">{s.offset}</span>" "
                                        <strong>{s.state}</strong>{via}
                                        {(!s.note.is_empty()).then(|| format!(" — {}", s.note))}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ol>
                </aside>
            }
        })
    }
}
