//! The tasks the registry sent over the mesh and has no answer for yet.

use meshwork_protocol::PeerId;
use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, MutexGuard},
    time::Instant,
};

/// One task sent to a sidecar.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The agent it is assigned to.
    pub agent_id: String,
    /// The agent's sidecar.
    pub sidecar: PeerId,
    /// The sidecar's connection it went out on.
    pub conn_id: u64,
    /// When it was sent (the acknowledgement deadline counts from here).
    pub sent_at: Instant,
    /// The sidecar said its agent got it.
    pub received: bool,
}

#[derive(Default)]
struct Table {
    /// By task id (the `task_request`'s `request_id`).
    sent: HashMap<String, Sent>,
    /// (task id, connection) pairs that declined or never acknowledged: the task is not sent
    /// there again (a new connection of the same sidecar may take it).
    declined: HashSet<(String, u64)>,
}

/// Tasks in flight over the mesh.
#[derive(Default)]
pub struct Inflight {
    table: Mutex<Table>,
}

impl Inflight {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a task about to be sent.
    pub fn insert(&self, task_id: &str, sent: Sent) {
        self.lock().sent.insert(task_id.to_owned(), sent);
    }

    /// Takes the entry of `task_id` if `sidecar` is where it went.
    pub fn take_from(&self, task_id: &str, sidecar: &PeerId) -> Option<Sent> {
        let mut t = self.lock();
        if t.sent.get(task_id).is_some_and(|s| &s.sidecar == sidecar) {
            return t.sent.remove(task_id);
        }
        None
    }

    /// Marks `task_id` received by its agent; `false` if it is not in flight to `sidecar`.
    pub fn mark_received(&self, task_id: &str, sidecar: &PeerId) -> bool {
        match self.lock().sent.get_mut(task_id) {
            Some(s) if &s.sidecar == sidecar => {
                s.received = true;
                true
            }
            _ => false,
        }
    }

    /// Whether `task_id` is in flight.
    pub fn contains(&self, task_id: &str) -> bool {
        self.lock().sent.contains_key(task_id)
    }

    /// Remembers that `conn_id` did not take `task_id`.
    pub fn decline(&self, task_id: &str, conn_id: u64) {
        self.lock().declined.insert((task_id.to_owned(), conn_id));
    }

    /// Whether `conn_id` did not take `task_id` before.
    pub fn declined(&self, task_id: &str, conn_id: u64) -> bool {
        self.lock()
            .declined
            .contains(&(task_id.to_owned(), conn_id))
    }

    /// Forgets the refusals of tasks no longer waiting (`keep` says which still are).
    pub fn retain_declined(&self, keep: &HashSet<&str>) {
        self.lock()
            .declined
            .retain(|(id, _)| keep.contains(id.as_str()));
    }

    /// Takes every unacknowledged entry sent before `deadline`.
    pub fn take_unacknowledged(&self, sent_before: Instant) -> Vec<(String, Sent)> {
        let mut t = self.lock();
        let due: Vec<String> = t
            .sent
            .iter()
            .filter(|(_, s)| !s.received && s.sent_at <= sent_before)
            .map(|(id, _)| id.clone())
            .collect();
        due.into_iter()
            .filter_map(|id| t.sent.remove(&id).map(|s| (id, s)))
            .collect()
    }

    /// Takes every entry that went out on `sidecar`'s connection `conn_id`.
    pub fn take_connection(&self, sidecar: &PeerId, conn_id: u64) -> Vec<(String, Sent)> {
        let mut t = self.lock();
        let gone: Vec<String> = t
            .sent
            .iter()
            .filter(|(_, s)| &s.sidecar == sidecar && s.conn_id == conn_id)
            .map(|(id, _)| id.clone())
            .collect();
        gone.into_iter()
            .filter_map(|id| t.sent.remove(&id).map(|s| (id, s)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(sidecar: &str, conn_id: u64) -> Sent {
        Sent {
            agent_id: "a".into(),
            sidecar: PeerId::new(sidecar),
            conn_id,
            sent_at: Instant::now(),
            received: false,
        }
    }

    #[test]
    fn only_the_sidecar_it_went_to_may_answer() {
        let inflight = Inflight::default();
        inflight.insert("t1", sent("a-sidecar", 1));
        assert!(!inflight.mark_received("t1", &PeerId::new("b-sidecar")));
        assert!(inflight
            .take_from("t1", &PeerId::new("b-sidecar"))
            .is_none());
        assert!(inflight.mark_received("t1", &PeerId::new("a-sidecar")));
        let taken = inflight.take_from("t1", &PeerId::new("a-sidecar"));
        assert!(taken.is_some_and(|s| s.received));
        assert!(!inflight.contains("t1"));
    }

    #[test]
    fn acknowledged_tasks_never_time_out() {
        let inflight = Inflight::default();
        inflight.insert("t1", sent("a-sidecar", 1));
        inflight.insert("t2", sent("a-sidecar", 1));
        inflight.mark_received("t2", &PeerId::new("a-sidecar"));
        let due = inflight.take_unacknowledged(Instant::now());
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, "t1");
        assert!(inflight.contains("t2"));
    }

    #[test]
    fn a_connection_that_left_takes_its_tasks_along() {
        let inflight = Inflight::default();
        inflight.insert("t1", sent("a-sidecar", 1));
        inflight.insert("t2", sent("a-sidecar", 2));
        let gone = inflight.take_connection(&PeerId::new("a-sidecar"), 1);
        assert_eq!(gone.len(), 1);
        assert!(inflight.contains("t2"));
        inflight.decline("t1", 1);
        assert!(inflight.declined("t1", 1) && !inflight.declined("t1", 3));
        inflight.retain_declined(&HashSet::new());
        assert!(!inflight.declined("t1", 1));
    }
}
