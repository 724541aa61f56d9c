//! A device's name and the peer id it gets: `<name>-sidecar`, the id a chatixia agent of that
//! name expects its sidecar to have (PROTOCOL.md §4).

use meshwork_protocol::PeerId;

/// Longest accepted device name.
pub const MAX_NAME: usize = 48;

/// Checks a requested device name; the error says what is allowed.
pub fn validate(name: &str) -> Result<(), String> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "agent_name must be 1-{MAX_NAME} letters, digits, '-', '_' or '.', starting with a \
             letter or digit"
        ))
    }
}

/// The peer id of a device named `name`.
pub fn peer_id_for(name: &str) -> PeerId {
    PeerId::new(format!("{name}-sidecar"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_sidecar_ids() {
        assert!(validate("laptop-2").is_ok());
        assert_eq!(peer_id_for("laptop-2").as_str(), "laptop-2-sidecar");
        for bad in ["", "-x", "a b", "tab/1", &"x".repeat(49)] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
        }
    }
}
