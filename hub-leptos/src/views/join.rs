//! `section#join`: this tab as a full mesh peer — ping peers, send them messages.

use crate::{
    model::skills,
    state::{Hub, JoinState, Mesh},
    views::empty::StartSidecar,
};
use leptos::{ev::SubmitEvent, prelude::*};
use meshwork_protocol::MeshMessageType;

/// The join panel: `button#join`, then `section#join` with the peers and the message form.
#[component]
pub fn Join() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let mesh = expect_context::<Mesh>();
    let joined = move || mesh.state.get() == JoinState::Joined;
    let state_text = move || match mesh.state.get() {
        JoinState::Idle => "not joined".to_owned(),
        JoinState::Joining => "joining…".to_owned(),
        JoinState::Joined if mesh.signaling.get() => "in the mesh".to_owned(),
        JoinState::Joined => "joined — connecting to the registry…".to_owned(),
        JoinState::Failed(e) => format!("could not join: {e}"),
    };
    let join = move |_| {
        if let Some(token) = hub.token() {
            mesh.join(token);
        }
    };
    let busy = move || matches!(mesh.state.get(), JoinState::Joining | JoinState::Joined);
    let no_peers = move || mesh.peers.read().is_empty();

    view! {
        // Two elements carry the id `join`: `button#join` (the browser tests call
        // `getElementById('join').click()`, so it must come first in document order) and
        // `section#join` after it, inside the same card.
        <div class="panel join-panel" role="region" aria-labelledby="join-h">
            <h2 id="join-h">"Join the mesh"</h2>
            <p class="muted">
                "Make this tab a full mesh peer: it opens a WebRTC DataChannel to every sidecar and tab, straight from the browser (the registry only relays the handshake)."
            </p>
            <div class="join-bar">
                <button id="join" type="button" class="btn" on:click=join prop:disabled=busy>
                    "Join the mesh"
                </button>
                <p class="join-status">
                    "Status: "
                    <strong id="join-state" role="status" aria-live="polite">{state_text}</strong>
                    " · Peer id: "
                    <code id="me">{move || mesh.me.get().unwrap_or_else(|| "—".into())}</code>
                </p>
            </div>
            <p class="outcome outcome-error">{move || mesh.last_error.get().map(|e| format!("Last error: {e}"))}</p>
            <section id="join" class="split" aria-label="This tab's peers">
                <div class="split-main">
                    <h3>"Connected peers"</h3>
                    <ul id="mesh-peers" class="peer-list">
                        <For
                            each=move || mesh.peers.get()
                            key=|p| p.clone()
                            children=move |p| view! { <PeerItem peer=p /> }
                        />
                    </ul>
                    <Show when=move || no_peers()>
                        <div class="empty">
                            {move || {
                                if joined() {
                                    view! {
                                        <p><strong>"Joined, but no peer is connected yet."</strong></p>
                                        <StartSidecar />
                                    }
                                        .into_any()
                                } else {
                                    view! {
                                        <p>"Join to see the peers this tab connects to. Other tabs that join appear here too."</p>
                                    }
                                        .into_any()
                                }
                            }}
                        </div>
                    </Show>
                </div>
                <DirectForm />
            </section>
        </div>
    }
}

#[component]
fn PeerItem(peer: String) -> impl IntoView {
    let mesh = expect_context::<Mesh>();
    let p = peer.clone();
    let rtt_peer = peer.clone();
    let rtt = move || mesh.rtts.read().get(&rtt_peer).cloned().unwrap_or_default();
    view! {
        <li data-peer-id=peer.clone()>
            <code class="peer-id">{peer.clone()}</code>
            <button type="button" class="btn btn-small btn-quiet ping" aria-label=format!("Ping {peer}")
                on:click=move |_| mesh.ping(&p)>
                "Ping"
            </button>
            <span class="rtt" aria-live="polite">{rtt}</span>
        </li>
    }
}

#[component]
fn DirectForm() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let mesh = expect_context::<Mesh>();
    let to = RwSignal::new(String::new());
    let kind = RwSignal::new("task_request".to_owned());
    let skill = RwSignal::new(String::new());
    let text = RwSignal::new("hello from the hub".to_owned());
    let chosen = Memo::new(move |_| {
        let peers = mesh.peers.read();
        let t = to.get();
        if peers.contains(&t) {
            t
        } else {
            peers.first().cloned().unwrap_or_default()
        }
    });
    // The skills of the agent behind the chosen peer (its sidecar), offered for a request.
    let advertised = Memo::new(move |_| skills::of_peer(&hub.agents.read(), &chosen.get()));
    Effect::new(move |_| {
        if let Some(first) = skills::keep_or_first(&skill.get_untracked(), &advertised.get()) {
            skill.set(first);
        }
    });
    let is_request = move || kind.get() == "task_request";
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let peer = chosen.get_untracked();
        if peer.is_empty() {
            return;
        }
        mesh.send_direct(
            &peer,
            MeshMessageType::parse(&kind.get_untracked()),
            skill.get_untracked().trim(),
            &text.get_untracked(),
        );
    };
    view! {
        <form id="dc-form" class="split-side stack card-form" on:submit=on_submit aria-labelledby="dc-form-h">
            <h3 id="dc-form-h">"Message a peer"</h3>
            <div class="field">
                <label for="dc-peer">"Peer"</label>
                <select id="dc-peer" on:change=move |ev| to.set(event_target_value(&ev))>
                    <Show when=move || mesh.peers.read().is_empty()>
                        <option value="" disabled=true selected=true>"no peer connected"</option>
                    </Show>
                    <For
                        each=move || mesh.peers.get()
                        key=|p| p.clone()
                        children=move |p| {
                            let value = p.clone();
                            let attr = p.clone();
                            view! {
                                <option value=attr prop:selected=move || chosen.get() == value>{p}</option>
                            }
                        }
                    />
                </select>
            </div>
            <div class="field">
                <label for="dc-kind">"Kind"</label>
                <select id="dc-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="task_request" prop:selected=move || kind.get() == "task_request">
                        "task_request — run a skill"
                    </option>
                    <option value="agent_prompt" prop:selected=move || kind.get() == "agent_prompt">
                        "agent_prompt"
                    </option>
                </select>
            </div>
            <div class="field" class:hidden=move || !is_request()>
                <label for="dc-skill">"Skill"</label>
                <input
                    id="dc-skill"
                    type="text"
                    list="dc-skill-options"
                    autocomplete="off"
                    spellcheck="false"
                    aria-describedby="dc-skill-hint"
                    prop:disabled=move || !is_request()
                    bind:value=skill
                />
                <datalist id="dc-skill-options">
                    <For
                        each=move || advertised.get()
                        key=|s| s.clone()
                        children=|s| view! { <option value=s></option> }
                    />
                </datalist>
                <p id="dc-skill-hint" class="hint">
                    {move || skills::hint(&chosen.get(), &advertised.read())}
                </p>
            </div>
            <div class="field">
                <label for="dc-text">"Message"</label>
                <input id="dc-text" type="text" autocomplete="off" bind:value=text />
            </div>
            <button id="dc-send" type="submit" class="btn" prop:disabled=move || mesh.peers.read().is_empty()>
                "Send"
            </button>
            <h4>"Replies"</h4>
            <Show when=move || mesh.replies.read().is_empty()>
                <p class="hint">"Answers (and timeouts) appear here, newest first."</p>
            </Show>
            <ul id="dc-replies" class="replies" aria-live="polite">
                <For
                    each=move || mesh.replies.get()
                    key=|r| r.key
                    children=|r| view! { <li class=if r.failed { "reply-failed" } else { "" }>{r.text}</li> }
                />
            </ul>
        </form>
    }
}
