//! Shared-memory benchmark of the sans-IO replica and its sync protocol (issue 14, ADR 0016),
//! in one process: signed events verified and applied per core, bytes on the wire per synced
//! event, replica memory per event, the cost of an in-sync check, and convergence after a
//! partition between in-process replicas (frames passed by value, no network). Release mode:
//!
//! ```text
//! cargo build --release --bins && target/release/bench_memory [--events N] [--runs R]
//! ```

use meshwork_protocol::{
    identity::Identity,
    memory::{sync, Author, Event, Limits, Links, Replica, SyncMessage},
    PeerId,
};
use meshwork_tests::{cli::Flag, stats::rss_kib};
use serde_json::json;
use std::{collections::VecDeque, time::Instant};

const VALUE_BYTES: usize = 200;

fn author(i: usize) -> Author {
    Author {
        peer: PeerId::new(format!("peer-{i:02}")),
        identity: Identity::from_seed([i as u8 + 1; 32]),
    }
}

fn value(i: usize) -> serde_json::Value {
    let text = format!("{i:08}");
    json!(text.repeat(VALUE_BYTES / 8 - 1))
}

/// `n` events written by `authors` writers in turn, on one replica.
fn write(replica: &mut Replica, authors: &[Author], n: usize, key_prefix: &str) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        let a = &authors[i % authors.len()];
        let key = format!("{key_prefix}/{}", i % 1000);
        let applied = replica
            .put(a, key, value(i), Links::default(), i as u64)
            .expect("put");
        events.extend(applied.events);
    }
    events
}

fn frame_bytes(frame: &SyncMessage) -> usize {
    serde_json::to_string(frame).map(|s| s.len()).unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Replicas exchanging frames until quiet: every replica opens to every other; returns the
/// number of frames and bytes moved.
fn converge(replicas: &mut [Replica]) -> (usize, usize) {
    let mut queue: VecDeque<(usize, usize, SyncMessage)> = VecDeque::new();
    for from in 0..replicas.len() {
        for to in 0..replicas.len() {
            if from != to {
                queue.push_back((from, to, sync::open(&replicas[from])));
            }
        }
    }
    let (mut frames, mut bytes) = (0, 0);
    while let Some((from, to, frame)) = queue.pop_front() {
        frames += 1;
        bytes += frame_bytes(&frame);
        let step = sync::handle(&mut replicas[to], frame);
        for reply in step.replies {
            queue.push_back((to, from, reply));
        }
    }
    (frames, bytes)
}

fn main() {
    let args = meshwork_tests::cli::parse(
        "Shared-memory benchmark: apply rate, wire bytes, memory per event, in-sync check, convergence.",
        &[
            Flag {
                name: "--events",
                value: "N",
                help: "events for the in-sync check and the memory figure (100000)",
            },
            Flag {
                name: "--runs",
                value: "R",
                help: "partition/heal runs for convergence percentiles (5)",
            },
        ],
    );
    let total: usize = args.get("--events", 100_000);
    let runs: usize = args.get("--runs", 5);
    let authors: Vec<Author> = (0..10).map(author).collect();
    println!("# meshwork memory benchmark (in-process, release, {VALUE_BYTES}-byte values)");

    // 1. Verify + apply rate on one core.
    let mut source = Replica::new(Limits::default());
    let events = write(&mut source, &authors, 20_000, "k");
    let mut sink = Replica::new(Limits::default());
    let start = Instant::now();
    let applied = sink.receive(events.clone());
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(applied.events.len(), events.len());
    println!(
        "verified and applied: {:.0} events/s on one core ({} events in {:.2} s)",
        events.len() as f64 / secs,
        events.len(),
        secs
    );

    // 2. Wire bytes per event.
    let frames = sync::push(&events, &Limits::default());
    let wire: usize = frames.iter().map(frame_bytes).sum();
    let payload: usize = events
        .iter()
        .map(|e| e.body.as_ref().map_or(0, String::len))
        .sum();
    println!(
        "wire: {:.0} B per synced event for {:.0} B of value ({:.2}×; the registry tier seals, ×4/3 more); {} frames",
        wire as f64 / events.len() as f64,
        payload as f64 / events.len() as f64,
        wire as f64 / payload as f64,
        frames.len()
    );

    // 3. Memory per event, and 4. the in-sync check, at `total` events.
    let before = rss_kib(std::process::id());
    let mut big = Replica::new(Limits::default());
    let big_events = write(&mut big, &authors, total, "m");
    let after = rss_kib(std::process::id());
    let big_payload: usize = big_events
        .iter()
        .map(|e| e.body.as_ref().map_or(0, String::len))
        .sum();
    let per_event =
        ((after.saturating_sub(before)) as f64 * 1024.0 - big_payload as f64) / total as f64;
    println!(
        "replica memory: {per_event:.0} B per event beyond its value ({total} events, RSS +{} MiB)",
        after.saturating_sub(before) / 1024
    );
    let mut twin = Replica::new(Limits::default());
    twin.receive(big_events);
    let have = sync::open(&twin);
    let have_bytes = frame_bytes(&have);
    let start = Instant::now();
    let step = sync::handle(&mut big, have);
    let check_us = start.elapsed().as_secs_f64() * 1e6;
    let reply_bytes: usize = step.replies.iter().map(frame_bytes).sum();
    println!(
        "in-sync check at {total} events ({} authors): 1 round trip, {have_bytes} B out, {reply_bytes} B back ({} frames), {check_us:.0} µs to answer",
        authors.len(),
        step.replies.len()
    );

    // 5. Convergence after a partition: 10 replicas, 5 per side, 1,000 writes on each side.
    let mut times = Vec::new();
    let mut moved = (0, 0);
    for run in 0..runs {
        let mut replicas: Vec<Replica> = (0..10).map(|_| Replica::new(Limits::default())).collect();
        for side in 0..2 {
            let writers = &authors[side * 5..side * 5 + 5];
            for i in 0..1000 {
                let w = i % 5;
                let key = format!("side{side}/{}", (i + run) % 300);
                replicas[side * 5 + w]
                    .put(&writers[w], key, value(i), Links::default(), i as u64)
                    .expect("put");
            }
            // Each side is in sync with itself before the partition heals.
            let (lo, hi) = (side * 5, side * 5 + 5);
            converge(&mut replicas[lo..hi]);
        }
        let start = Instant::now();
        moved = converge(&mut replicas);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let v = replicas[0].version().clone();
        assert!(
            replicas.iter().all(|r| *r.version() == v),
            "did not converge"
        );
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "convergence after a partition (10 replicas, 1,000 writes per side, CPU only): p50 {:.0} ms, p95 {:.0} ms; {} frames, {} KiB moved",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        moved.0,
        moved.1 / 1024
    );
}
