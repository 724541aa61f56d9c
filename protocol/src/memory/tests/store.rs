use super::{author, forget, put, replica, val};
use crate::memory::{
    store::{persist, EventStore, MemStore},
    Links, Replica,
};

#[test]
fn a_replica_is_rebuilt_from_its_store() {
    let mut r = replica();
    let mut store = MemStore::default();
    let (a, b) = (author("alice", 1), author("bob", 2));
    persist(
        &mut store,
        &r.put(&a, "k".into(), val(1), Links::default(), 1).unwrap(),
    )
    .unwrap();
    persist(
        &mut store,
        &r.put(&b, "j".into(), val(2), Links::default(), 2).unwrap(),
    )
    .unwrap();
    persist(&mut store, &r.forget(&a, "k".into(), 3).unwrap()).unwrap();
    let mut events = store.load_all().unwrap();
    events.reverse();
    let (back, applied) = Replica::restore(Default::default(), events);
    assert!(applied.erased.is_empty(), "erasures were already durable");
    assert_eq!(back.version(), r.version());
    assert_eq!(back.get("j", None), r.get("j", None));
    assert_eq!(back.history("k", None), r.history("k", None));
}

#[test]
fn erased_bodies_are_gone_from_the_store() {
    let mut r = replica();
    let mut store = MemStore::default();
    let a = author("alice", 1);
    let p = put(&mut r, &a, "k", val(1), 1);
    store.append(&p).unwrap();
    persist(&mut store, &r.forget(&a, "k".into(), 2).unwrap()).unwrap();
    let stored = store.load_all().unwrap();
    assert!(stored.iter().all(|e| e.body.is_none()));
}

#[test]
fn a_restore_re_erases_bodies_whose_erasure_was_lost() {
    let mut r = replica();
    let a = author("alice", 1);
    let p = put(&mut r, &a, "k", val(1), 1);
    let f = forget(&mut r, &a, "k", 2);
    let (back, applied) = Replica::restore(Default::default(), vec![f, p.clone()]);
    assert_eq!(applied.erased, vec![p.id]);
    assert!(!back.get("k", None).found);
}
