use super::{author, put, replica, val};
use crate::memory::{
    event::{MAX_KEY_BYTES, MAX_VALUE_BYTES},
    Event, Links, MemoryError,
};
use serde_json::json;

fn signed() -> Event {
    put(&mut replica(), &author("alice", 1), "k", val(1), 1000)
}

#[test]
fn a_signed_event_validates_and_survives_its_wire_form() {
    let event = signed();
    assert_eq!(event.validate(), Ok(()));
    assert_eq!(event.id.as_str().len(), 64);
    let json = serde_json::to_string(&event).unwrap();
    let back: Event = serde_json::from_str(&json).unwrap();
    assert_eq!(back, event);
    assert_eq!(back.validate(), Ok(()));
}

#[test]
fn a_forgotten_event_still_verifies_and_keeps_its_id() {
    let mut event = signed();
    event.body = None;
    assert_eq!(event.validate(), Ok(()));
}

#[test]
fn a_tampered_body_is_refused() {
    let mut event = signed();
    event.body = Some(r#"{"n":2}"#.into());
    assert_eq!(event.validate(), Err(MemoryError::BodyMismatch));
}

#[test]
fn a_tampered_header_changes_the_id() {
    let mut event = signed();
    event.key = "other".into();
    assert_eq!(event.validate(), Err(MemoryError::WrongId));
    let mut event = signed();
    event.written_at += 1;
    assert_eq!(event.validate(), Err(MemoryError::WrongId));
}

#[test]
fn a_header_re_signed_by_another_key_is_forged() {
    let mut event = signed();
    let mallory = author("alice", 9);
    event.signature = mallory.identity.sign(b"anything");
    assert_eq!(event.validate(), Err(MemoryError::Forged));
    let mut event = signed();
    event.author_key = mallory.identity.public();
    assert!(event.validate().is_err());
}

#[test]
fn ids_are_lowercase_hex_on_the_wire() {
    let json = serde_json::to_value(signed()).unwrap();
    let mut bad = json.clone();
    bad["id"] = json!("ABC");
    assert!(serde_json::from_value::<Event>(bad).is_err());
}

#[test]
fn keys_and_values_are_bounded() {
    let mut r = replica();
    let a = author("alice", 1);
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    let at_limit = "k".repeat(MAX_KEY_BYTES);
    let big = json!("x".repeat(MAX_VALUE_BYTES));
    let links = Links::default;
    assert_eq!(
        r.put(&a, String::new(), val(1), links(), 0),
        Err(MemoryError::EmptyKey)
    );
    assert_eq!(
        r.put(&a, long, val(1), links(), 0),
        Err(MemoryError::KeyTooLong(513))
    );
    assert!(matches!(
        r.put(&a, "k".into(), big, links(), 0),
        Err(MemoryError::ValueTooLarge(_))
    ));
    assert!(r.put(&a, at_limit, val(1), links(), 0).is_ok());
    assert_eq!(r.version().get(&a.peer), 1, "refused writes took no seq");
}

#[test]
fn chain_fields_must_be_consistent() {
    let mut event = signed();
    event.seq = 0;
    assert_eq!(event.validate(), Err(MemoryError::BadChain));
    let mut event = signed();
    event.seq = 2;
    assert_eq!(
        event.validate(),
        Err(MemoryError::BadChain),
        "seq 2 without prev"
    );
}

#[test]
fn a_forget_carries_no_body_hash() {
    let mut event = signed();
    event.kind = crate::memory::EventKind::Forget;
    assert_eq!(event.validate(), Err(MemoryError::KindMismatch));
}
