//! The shell: header, then the login screen or every panel.

use crate::{
    browser::{now_ms, stream::Stream},
    state::{Hub, Mesh, Session},
    views::{
        agents::Agents, devices::Devices, header::Header, join::Join, login::Login,
        overview::Overview, tasks::Tasks, topology::TopologyPanel,
    },
};
use leptos::prelude::*;
use std::time::Duration;

/// The whole hub.
#[component]
pub fn App() -> impl IntoView {
    let hub = Hub::new();
    let mesh = Mesh::new();
    provide_context(hub);
    provide_context(mesh);

    // The stream runs exactly while the tab holds a token the registry has not refused.
    let stream = Stream::new(hub);
    Effect::new(move || match hub.session.get() {
        Session::Token(token) => stream.start(token),
        Session::LoggedOut | Session::Refused => stream.stop(),
    });
    // The page clock for ages and countdowns (nothing is fetched on a tick).
    set_interval(move || hub.clock.set(now_ms()), Duration::from_secs(1));

    let logged_in = move || matches!(hub.session.get(), Session::Token(_));
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <Header />
        <main id="main" tabindex="-1">
            <Show when=logged_in fallback=|| view! { <Login /> }>
                <Overview />
                <Agents />
                <Tasks />
                <Devices />
                <TopologyPanel />
                <Join />
            </Show>
        </main>
        <footer class="page-footer">
            <p>"meshwork hub — live from the registry's event stream; nothing here polls."</p>
        </footer>
    }
}
