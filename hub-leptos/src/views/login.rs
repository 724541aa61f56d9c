//! `section#login`: shown without a token, or after the registry refused one.

use crate::state::{Hub, Session};
use leptos::{ev::SubmitEvent, prelude::*};

/// The login screen.
#[component]
pub fn Login() -> impl IntoView {
    let hub = expect_context::<Hub>();
    let token = RwSignal::new(String::new());
    let refused = move || hub.session.get() == Session::Refused;
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let t = token.get_untracked();
        if !t.trim().is_empty() {
            hub.log_in(&t);
        }
    };
    view! {
        <section id="login" class="panel panel-narrow" aria-labelledby="login-h">
            <h1 id="login-h">"Log in to the hub"</h1>
            <Show when=refused>
                <p class="notice notice-error" role="alert">
                    "Login failed: that token was refused. Check that it is the current admin token of this registry."
                </p>
            </Show>
            <p>
                "When the registry starts, it prints an admin URL with a token, like "
                <code>"http://127.0.0.1:8080/?token=adm_…"</code>
                ". Open that URL in this browser to log in — or paste the token (it starts with "
                <code>"adm_"</code> ") below. It is set by the registry's "
                <code>"ADMIN_TOKEN"</code> " setting, or generated and printed at start."
            </p>
            <form id="login-form" class="stack" on:submit=on_submit>
                <div class="field">
                <label for="token-input">"Admin token"</label>
                <div class="row">
                    <input
                        id="token-input"
                        type="password"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="adm_…"
                        required
                        bind:value=token
                    />
                    <button id="login-submit" type="submit" class="btn">
                        "Log in"
                    </button>
                </div>
                </div>
            </form>
            <p class="muted">
                "The token stays in this tab only (session storage) and is removed from the address bar."
            </p>
        </section>
    }
}
