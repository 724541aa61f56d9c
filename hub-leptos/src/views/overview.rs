//! `section#overview`: the numbers at a glance.

use crate::{model::overview::Overview as Counts, state::Hub};
use leptos::prelude::*;

/// One card: `li#<id>` with the number in a `<strong>`.
#[component]
fn Card(
    id: &'static str,
    label: &'static str,
    value: Signal<usize>,
    href: &'static str,
) -> impl IntoView {
    view! {
        <li class="card" id=id>
            <a href=href>
                <strong>{move || value.get()}</strong>
                <span>{label}</span>
            </a>
        </li>
    }
}

/// The overview cards.
#[component]
pub fn Overview() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let counts = Memo::new(move |_| {
        let agents = hub.agents.read();
        let tasks = hub.tasks.read();
        let pairings = hub.pairings.read();
        let topology = hub.topology.read();
        Counts::new(&agents, &tasks, &pairings, &topology)
    });
    let pick = move |f: fn(&Counts) -> usize| Signal::derive(move || f(&counts.get()));
    view! {
        <section id="overview" class="panel" aria-labelledby="overview-h">
            <h2 id="overview-h">"Overview"</h2>
            <ul class="cards">
                <Card id="card-agents-online" label="agents online" href="#agents" value=pick(|c| c.agents_online) />
                <Card id="card-agents-total" label="agents in total" href="#agents" value=pick(|c| c.agents_total) />
                <Card id="card-tasks-pending" label="tasks pending" href="#tasks" value=pick(|c| c.tasks_pending) />
                <Card id="card-tasks-assigned" label="tasks assigned" href="#tasks" value=pick(|c| c.tasks_assigned) />
                <Card id="card-tasks-failed" label="tasks failed" href="#tasks" value=pick(|c| c.tasks_failed) />
                <Card id="card-devices-pending" label="devices awaiting approval" href="#devices" value=pick(|c| c.devices_pending) />
                <Card id="card-links" label="open links" href="#topology" value=pick(|c| c.links) />
            </ul>
        </section>
    }
}
