//! `Hub`: what the registry's stream delivered, the connection state and the session.

use crate::browser::{self, session};
use leptos::prelude::*;
use meshwork_protocol::rest::{AgentRecord, HubUpdate, PairingEntry, Task, Topology};

/// The stream's connection state, as the header shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conn {
    /// Opening the WebSocket, or open and waiting for the snapshot.
    Connecting,
    /// In sync: the snapshot arrived and updates follow.
    Live,
    /// Closed; the next attempt starts at this time (ms since the epoch).
    Retrying {
        /// When the next attempt starts.
        at_ms: f64,
    },
    /// Not connecting at all (logged out).
    Stopped,
}

/// Whether this tab is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// No token yet.
    LoggedOut,
    /// The registry refused the last token (it is forgotten).
    Refused,
    /// A token the registry has not refused.
    Token(String),
}

/// Everything the dashboard renders from. Signals are `Copy` handles, so is this.
#[derive(Debug, Clone, Copy)]
pub struct Hub {
    /// Agent records, as last sent.
    pub agents: RwSignal<Vec<AgentRecord>>,
    /// Tasks, as last sent.
    pub tasks: RwSignal<Vec<Task>>,
    /// Pairing entries, as last sent.
    pub pairings: RwSignal<Vec<PairingEntry>>,
    /// Nodes and links, as last sent.
    pub topology: RwSignal<Topology>,
    /// Whether a snapshot arrived since the page loaded (before that, panels say "loading").
    pub synced: RwSignal<bool>,
    /// The stream's state.
    pub conn: RwSignal<Conn>,
    /// Logged in or not.
    pub session: RwSignal<Session>,
    /// The page clock (ms since the epoch), ticking once a second for ages and countdowns;
    /// nothing is fetched on a tick.
    pub clock: RwSignal<f64>,
}

impl Hub {
    /// State for a page that just loaded, logged in when the tab holds a token.
    pub fn new() -> Self {
        let session = match session::stored() {
            Some(t) => Session::Token(t),
            None => Session::LoggedOut,
        };
        Self {
            agents: RwSignal::new(Vec::new()),
            tasks: RwSignal::new(Vec::new()),
            pairings: RwSignal::new(Vec::new()),
            topology: RwSignal::new(Topology::default()),
            synced: RwSignal::new(false),
            conn: RwSignal::new(Conn::Stopped),
            session: RwSignal::new(session),
            clock: RwSignal::new(browser::now_ms()),
        }
    }

    /// Applies one stream message: a section replaces what the tab had; changed tasks replace
    /// their old versions.
    pub fn apply(&self, update: HubUpdate) {
        match update {
            HubUpdate::Snapshot {
                agents,
                tasks,
                pairings,
                topology,
            } => {
                self.agents.set(agents);
                self.tasks.set(tasks);
                self.pairings.set(pairings);
                self.topology.set(topology);
                self.synced.set(true);
            }
            HubUpdate::Agents { agents } => self.agents.set(agents),
            HubUpdate::Tasks { tasks } => self.tasks.set(tasks),
            HubUpdate::TasksChanged { tasks } => self.tasks.update(|all| {
                for task in tasks {
                    match all.iter_mut().find(|t| t.id == task.id) {
                        Some(old) => *old = task,
                        None => all.push(task),
                    }
                }
            }),
            HubUpdate::Pairings { pairings } => self.pairings.set(pairings),
            HubUpdate::Topology { topology } => self.topology.set(topology),
        }
    }

    /// The admin token, if logged in (not tracked).
    pub fn token(&self) -> Option<String> {
        match self.session.get_untracked() {
            Session::Token(t) => Some(t),
            _ => None,
        }
    }

    /// Logs in with `token` (the stream starts from the session effect).
    pub fn log_in(&self, token: &str) {
        session::store(token);
        self.session.set(Session::Token(token.trim().to_owned()));
    }

    /// The registry refused the token: forget it and show the login screen.
    pub fn refuse(&self) {
        session::forget();
        self.session.set(Session::Refused);
    }

    /// Logs out of this tab.
    pub fn log_out(&self) {
        session::forget();
        self.session.set(Session::LoggedOut);
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}
