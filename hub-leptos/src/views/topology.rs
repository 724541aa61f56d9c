//! `section#topology`: nodes and reported links as an SVG, plus the same links as text.

use crate::{
    model::topology_layout::{kind_name, layout, PlacedEdge, PlacedNode, VIEW_H, VIEW_W},
    state::{Hub, Mesh},
    views::empty::Loading,
};
use leptos::prelude::*;
use meshwork_protocol::rest::NodeKind;

/// The topology panel.
#[component]
pub fn TopologyPanel() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let mesh = expect_context::<Mesh>();
    let drawing = Memo::new(move |_| layout(&hub.topology.read()));
    let empty = move || drawing.read().nodes.is_empty();
    view! {
        <section id="topology" class="panel" aria-labelledby="topology-h">
            <h2 id="topology-h">"Topology"</h2>
            <Show
                when=move || !empty()
                fallback=move || {
                    view! {
                        <Show when=move || hub.synced.get() fallback=|| view! { <Loading /> }>
                            <p class="empty">
                                "Nobody is in the mesh yet. Nodes appear as agents register and as sidecars or tabs connect — try "
                                <a href="#join">"joining with this tab"</a> "."
                            </p>
                        </Show>
                    }
                }
            >
                <figure class="topology-figure">
                    <svg
                        id="topology"
                        viewBox=format!("0 0 {VIEW_W} {VIEW_H}")
                        preserveAspectRatio="xMidYMid meet"
                        role="img"
                        aria-labelledby="topology-h topology-summary"
                    >
                        <g class="edges">
                            {move || {
                                drawing.get().edges.into_iter().filter(|e| e.line.is_some()).map(edge).collect_view()
                            }}
                        </g>
                        <g class="nodes">
                            {move || {
                                let me = mesh.me.get();
                                drawing
                                    .get()
                                    .nodes
                                    .into_iter()
                                    .map(|n| {
                                        let mine = me.as_deref() == Some(n.id.as_str());
                                        node(n, mine)
                                    })
                                    .collect_view()
                            }}
                        </g>
                    </svg>
                    <figcaption id="topology-summary" class="muted">
                        {move || {
                            let d = drawing.read();
                            format!(
                                "{}, {}. Hover a link for its round-trip time.",
                                plural(d.nodes.len(), "node"),
                                plural(d.edges.len(), "link"),
                            )
                        }}
                    </figcaption>
                </figure>
                <Legend />
                <details class="links-text">
                    <summary>{move || format!("Links as text ({})", drawing.read().edges.len())}</summary>
                    <Show
                        when=move || !drawing.read().edges.is_empty()
                        fallback=|| view! { <p class="muted">"No open links reported."</p> }
                    >
                        <ul id="topology-links">
                            {move || {
                                drawing.get().edges.into_iter().map(|e| view! { <li>{e.title}</li> }).collect_view()
                            }}
                        </ul>
                    </Show>
                </details>
            </Show>
        </section>
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A coordinate in whole SVG units.
fn px(v: f64) -> i32 {
    v.round() as i32
}

fn edge(e: PlacedEdge) -> impl IntoView {
    // Whole units: an SVG of a few hundred units needs no fractions, and integer attributes
    // keep float formatting out of the wasm.
    let (x1, y1, x2, y2) = e.line.unwrap_or_default();
    let (x1, y1, x2, y2) = (px(x1), px(y1), px(x2), px(y2));
    view! {
        <line class="edge" data-from=e.from data-to=e.to x1=x1 y1=y1 x2=x2 y2=y2>
            <title>{e.title}</title>
        </line>
    }
}

/// The shape of a node kind, centred on the origin.
fn shape(kind: NodeKind) -> AnyView {
    match kind {
        NodeKind::Agent => view! { <circle class="shape" r="18"></circle> }.into_any(),
        NodeKind::Sidecar => {
            view! { <rect class="shape" x="-16" y="-16" width="32" height="32" rx="2"></rect> }
                .into_any()
        }
        NodeKind::Browser => {
            view! { <rect class="shape" x="-22" y="-14" width="44" height="28" rx="10"></rect> }
                .into_any()
        }
    }
}

fn node(n: PlacedNode, mine: bool) -> impl IntoView {
    let kind = kind_name(n.kind);
    let health = n.health.as_str();
    let class = format!(
        "node kind-{kind} health-{health}{}{}",
        if n.online { " online" } else { "" },
        if mine { " me" } else { "" }
    );
    let title = format!(
        "{} — {kind}, {health}, {}{}",
        n.id,
        if n.online { "online" } else { "not connected" },
        if mine { " (this tab)" } else { "" }
    );
    let label = if mine {
        format!("{} (you)", n.label)
    } else {
        n.label
    };
    view! {
        <g class=class data-peer-id=n.id transform=format!("translate({} {})", px(n.x), px(n.y))>
            <title>{title}</title>
            {mine.then(|| view! { <circle class="me-ring" r="27"></circle> })}
            {shape(n.kind)}
            <text class="label" y="36" text-anchor="middle">{label}</text>
        </g>
    }
}

#[component]
fn Legend() -> impl IntoView {
    view! {
        <ul class="legend" aria-label="Legend">
            <li>
                <svg viewBox="-20 -20 40 40" aria-hidden="true" class="legend-icon">
                    <g class="node kind-agent health-active online">{shape(NodeKind::Agent)}</g>
                </svg>
                "agent"
            </li>
            <li>
                <svg viewBox="-20 -20 40 40" aria-hidden="true" class="legend-icon">
                    <g class="node kind-sidecar health-active online">{shape(NodeKind::Sidecar)}</g>
                </svg>
                "sidecar"
            </li>
            <li>
                <svg viewBox="-24 -20 48 40" aria-hidden="true" class="legend-icon">
                    <g class="node kind-browser health-active online">{shape(NodeKind::Browser)}</g>
                </svg>
                "browser tab"
            </li>
            <li><span class="swatch health-active" aria-hidden="true"></span>"active"</li>
            <li><span class="swatch health-stale" aria-hidden="true"></span>"stale"</li>
            <li><span class="swatch health-offline" aria-hidden="true"></span>"offline"</li>
            <li><span class="swatch swatch-me" aria-hidden="true"></span>"this tab"</li>
        </ul>
    }
}
