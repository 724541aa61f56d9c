//! Both sides offering at once still ends in exactly one connection.

use super::harness::*;
use crate::core::Action;
use std::time::Duration;

fn count(net: &Net, who: &str, pred: impl Fn(&Action) -> bool) -> usize {
    net.node(&id(who)).count(pred)
}

#[test]
fn glare_resolves_to_one_connection() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice"), net.add("bob"));
    net.run_until(at(1_000), |n| n.node(&a).count(offer_to(&b)) == 1);
    net.force_offer(&b, &a); // Bob offers too, as a peer following another rule would.
    net.run_until_meshed(Duration::from_secs(2));

    let accepts = |x: &Action| matches!(x, Action::AcceptOffer { .. });
    assert_eq!(count(&net, "alice", accepts), 0, "alice's offer stands");
    assert_eq!(count(&net, "bob", accepts), 1, "bob yields and answers");
    assert_eq!(
        count(&net, "bob", close_of(&a)),
        1,
        "bob closed its own half-made connection"
    );
    assert_eq!(count(&net, "alice", connected_to(&b)), 1);
    assert_eq!(count(&net, "bob", connected_to(&a)), 1);
    assert_eq!(count(&net, "alice", disconnected_from(&b)), 0);
}

#[test]
fn glare_never_deadlocks() {
    for delay in [1, 5, 13, 40] {
        for offset in 0..=delay {
            let mut net = Net::new();
            net.signal_delay = delay;
            let (a, b) = (net.add("alice"), net.add("bob"));
            net.run_until(at(1_000), |n| n.node(&a).count(offer_to(&b)) == 1);
            let t = net.now + Duration::from_millis(offset);
            net.run_until(t, |_| false);
            if net.node(&b).mesh.core.link_state(&a).is_none() {
                net.force_offer(&b, &a);
            }
            net.run_until_meshed(Duration::from_secs(1));
            assert_eq!(
                count(&net, "alice", connected_to(&b)),
                1,
                "delay {delay} offset {offset}"
            );
            assert_eq!(
                count(&net, "bob", connected_to(&a)),
                1,
                "delay {delay} offset {offset}"
            );
        }
    }

    // Everyone offers everyone at the same instant.
    let mut net = Net::new();
    let names = ["a", "b", "c", "d"];
    let ids = names.map(|n| net.add(n));
    net.run_until(at(1_000), |n| {
        n.nodes
            .values()
            .any(|x| x.count(|a| matches!(a, Action::CreateOffer { .. })) > 0)
    });
    for x in &ids {
        for y in ids.iter().filter(|y| *y != x) {
            if net.node(x).mesh.core.link_state(y).is_none() {
                net.force_offer(x, y);
            }
        }
    }
    net.run_until_meshed(Duration::from_secs(30));
}
