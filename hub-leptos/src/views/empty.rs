//! Empty states: what a newcomer does next, with commands for this registry.

use crate::browser::origin;
use leptos::prelude::*;

/// The registry's signaling and token URLs as a sidecar's environment.
pub fn sidecar_env() -> String {
    let http = origin();
    let ws = match http.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", http.trim_start_matches("http://")),
    };
    format!("SIGNALING_URL={ws}/ws TOKEN_URL={http}/api/token")
}

/// How to start a sidecar (agents table, topology and join panels).
#[component]
pub fn StartSidecar() -> impl IntoView {
    view! {
        <div class="empty-how">
            <p>"Start a sidecar (the agent's mesh peer) on any machine that can reach this registry:"</p>
            <pre><code>{move || format!("API_KEY=ak_… {} meshwork-sidecar", sidecar_env())}</code></pre>
            <p class="muted">
                "With " <code>"--dev"</code>
                ", the registry printed a dev API key (" <code>"ak_dev_…"</code>
                ") when it started; otherwise use a key from its API keys file. A chatixia agent started next to a sidecar registers itself and appears here. A device without a key can pair instead (see Devices)."
            </p>
        </div>
    }
}

/// Shown before the first snapshot arrived.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="empty loading">"Waiting for the registry's first update…"</p> }
}
