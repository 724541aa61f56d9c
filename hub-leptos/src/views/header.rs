//! The header: name, section links, the stream's real state, log out.

use crate::{
    browser::now_ms,
    model::format,
    state::{Conn, Hub, Session},
};
use leptos::prelude::*;

/// Section anchors, in page order.
const SECTIONS: [(&str, &str); 6] = [
    ("overview", "Overview"),
    ("agents", "Agents"),
    ("tasks", "Tasks"),
    ("devices", "Devices"),
    ("topology", "Topology"),
    ("join", "Join"),
];

/// The connection state's words (`#conn-state`) and its CSS modifier.
fn conn_text(conn: Conn) -> (String, &'static str) {
    match conn {
        Conn::Live => ("live".into(), "live"),
        Conn::Connecting => ("connecting…".into(), "connecting"),
        Conn::Retrying { at_ms } => (
            format!(
                "offline — retrying in {}s",
                format::seconds_until(at_ms - now_ms()).max(1)
            ),
            "offline",
        ),
        Conn::Stopped => ("offline".into(), "offline"),
    }
}

/// `<header>` of the page.
#[component]
pub fn Header() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let logged_in = move || matches!(hub.session.get(), Session::Token(_));
    let text = move || {
        hub.clock.track();
        conn_text(hub.conn.get()).0
    };
    let class = move || format!("conn conn-{}", conn_text(hub.conn.get()).1);
    // Announced once per change of kind, not every second of a countdown.
    let announce = move || match hub.conn.get() {
        Conn::Live => "Hub stream live",
        Conn::Connecting => "Hub stream connecting",
        Conn::Retrying { .. } => "Hub stream offline, retrying",
        Conn::Stopped => "Hub stream offline",
    };
    view! {
        <header class="topbar">
            <div class="topbar-row">
                <a class="brand" href="#main">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "meshwork"
                    <span class="brand-sub">"hub"</span>
                </a>
                <div class="topbar-status">
                    <span id="conn-state" class=class title="State of the registry's event stream">
                        <span class="conn-dot" aria-hidden="true"></span>
                        {text}
                    </span>
                    <Show when=logged_in>
                        <button
                            id="logout"
                            type="button"
                            class="btn btn-quiet"
                            on:click=move |_| hub.log_out()
                        >
                            "Log out"
                        </button>
                    </Show>
                </div>
            </div>
            <Show when=logged_in>
                <nav aria-label="Sections">
                    <ul class="nav">
                        {SECTIONS
                            .iter()
                            .map(|(id, label)| {
                                view! {
                                    <li>
                                        <a href=format!("#{id}")>{*label}</a>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
            </Show>
            <p class="sr-only" role="status" aria-live="polite">
                {announce}
            </p>
        </header>
    }
}
