use super::{author, forget, put, replica, val};
use crate::memory::{EventKind, Links, Version};
use serde_json::Value;

#[test]
fn get_reads_the_latest_value_of_one_writer() {
    let mut r = replica();
    let a = author("alice", 1);
    put(&mut r, &a, "k", val(1), 1);
    let last = put(&mut r, &a, "k", val(2), 2);
    let read = r.get("k", None);
    assert!(read.found);
    assert_eq!(read.value, val(2));
    assert_eq!(read.id, Some(last.id));
    assert!(read.conflicts.is_empty());
    assert_eq!(read.written_at.as_deref(), Some("1970-01-01T00:00:00.002Z"));
}

#[test]
fn concurrent_puts_are_both_kept_with_the_same_winner_everywhere() {
    let (mut ra, mut rb) = (replica(), replica());
    let (a, b) = (author("alice", 1), author("bob", 2));
    let ea = put(&mut ra, &a, "k", val(1), 10);
    let eb = put(&mut rb, &b, "k", val(2), 20);
    ra.receive([eb.clone()]);
    rb.receive([ea.clone()]);
    let (x, y) = (ra.get("k", None), rb.get("k", None));
    assert_eq!(x, y);
    assert_eq!(x.id, Some(eb.id), "highest written_at wins");
    assert_eq!(x.conflicts.len(), 1);
    assert_eq!(x.conflicts[0].id, ea.id);
}

#[test]
fn a_put_that_saw_both_replaces_them() {
    let (mut ra, mut rb) = (replica(), replica());
    let (a, b) = (author("alice", 1), author("bob", 2));
    let ea = put(&mut ra, &a, "k", val(1), 10);
    let eb = put(&mut rb, &b, "k", val(2), 20);
    ra.receive([eb]);
    rb.receive([ea]);
    put(&mut ra, &a, "k", val(3), 5);
    let read = ra.get("k", None);
    assert_eq!((read.value, read.conflicts.len()), (val(3), 0));
}

#[test]
fn a_put_naming_a_conflict_in_supersedes_replaces_it() {
    let (mut ra, mut rb) = (replica(), replica());
    let (a, b) = (author("alice", 1), author("bob", 2));
    let eb = put(&mut rb, &b, "k", val(2), 20);
    let links = Links {
        supersedes: vec![eb.id.clone()],
        derived_from: vec![eb.id.clone()],
    };
    let ea = ra.put(&a, "k".into(), val(1), links, 10).unwrap().events[0].clone();
    rb.receive([ea.clone()]);
    let read = rb.get("k", None);
    assert_eq!((read.id, read.conflicts.len()), (Some(ea.id), 0));
    assert_eq!(read.derived_from, vec![eb.id]);
}

#[test]
fn reads_at_an_earlier_version_do_not_change_after_more_writes() {
    let mut r = replica();
    let a = author("alice", 1);
    put(&mut r, &a, "k", val(1), 1);
    put(&mut r, &a, "l", val(1), 1);
    let then = r.get("k", None);
    let listed = r.list("", None, None);
    put(&mut r, &a, "k", val(2), 2);
    put(&mut r, &a, "m", val(2), 2);
    assert_eq!(r.get("k", Some(&then.version)), then);
    assert_eq!(r.list("", Some(&then.version), None), listed);
    assert_eq!(r.history("k", Some(&then.version)).len(), 1);
    assert_eq!(r.history("k", None).len(), 2);
}

#[test]
fn list_is_in_key_order_filtered_by_prefix_and_limited() {
    let mut r = replica();
    let a = author("alice", 1);
    for key in ["b/2", "a/1", "b/1", "c", "b/3"] {
        put(&mut r, &a, key, val(1), 1);
    }
    let keys = |items: Vec<crate::memory::ListItem>| -> Vec<String> {
        items.into_iter().map(|i| i.key).collect()
    };
    assert_eq!(keys(r.list("b/", None, None).items), ["b/1", "b/2", "b/3"]);
    assert_eq!(keys(r.list("b/", None, Some(2)).items), ["b/1", "b/2"]);
    assert_eq!(r.list("", None, None).items.len(), 5);
}

#[test]
fn forget_hides_the_key_and_keeps_headers_in_history() {
    let mut r = replica();
    let a = author("alice", 1);
    put(&mut r, &a, "k", val(1), 1);
    put(&mut r, &a, "k", val(2), 2);
    forget(&mut r, &a, "k", 3);
    let read = r.get("k", None);
    assert!(!read.found);
    assert_eq!(read.value, Value::Null);
    assert!(r.list("", None, None).items.is_empty());
    let history = r.history("k", None);
    let kinds: Vec<_> = history
        .iter()
        .map(|h| (h.kind, h.forgotten, h.value.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (EventKind::Put, true, Value::Null),
            (EventKind::Put, true, Value::Null),
            (EventKind::Forget, false, Value::Null)
        ]
    );
}

#[test]
fn a_forget_also_erases_reads_at_earlier_versions() {
    let mut r = replica();
    let a = author("alice", 1);
    put(&mut r, &a, "k", val(1), 1);
    let before = r.version().clone();
    forget(&mut r, &a, "k", 2);
    assert!(!r.get("k", Some(&before)).found);
}

#[test]
fn a_put_after_a_forget_is_a_new_live_value() {
    let mut r = replica();
    let a = author("alice", 1);
    put(&mut r, &a, "k", val(1), 1);
    forget(&mut r, &a, "k", 2);
    put(&mut r, &a, "k", val(3), 3);
    let read = r.get("k", None);
    assert_eq!((read.found, read.value), (true, val(3)));
}

#[test]
fn a_put_concurrent_with_a_forget_is_forgotten_too() {
    let (mut ra, mut rb) = (replica(), replica());
    let (a, b) = (author("alice", 1), author("bob", 2));
    let f = forget(&mut ra, &a, "k", 10);
    let p = put(&mut rb, &b, "k", val(1), 20);
    ra.receive([p]);
    rb.receive([f]);
    assert!(!ra.get("k", None).found);
    assert_eq!(ra.get("k", None), rb.get("k", None));
}

#[test]
fn a_read_at_a_future_version_answers_with_what_is_held() {
    let mut r = replica();
    let a = author("alice", 1);
    put(&mut r, &a, "k", val(1), 1);
    let future: Version = [(a.peer.clone(), 9)].into_iter().collect();
    assert_eq!(r.get("k", Some(&future)).version, *r.version());
}
