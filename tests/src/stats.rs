//! Small helpers the benchmark binaries share.

/// The `p`-th percentile (nearest rank) of `v`; sorts `v`.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let idx = ((p / 100.0) * (v.len() as f64 - 1.0)).round() as usize;
    v.get(idx.min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

/// Resident set size of a process, KiB (0 when unknown).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The part of a process's resident set that is anonymous memory (heap, stacks), KiB: what
/// it allocated, without the pages of its binary and libraries that every process running
/// the same file shares.
pub fn rss_anon_kib(pid: u32) -> u64 {
    status_kib(pid, "RssAnon:")
}

/// Proportional set size, KiB (0 when the kernel does not report it): the resident pages
/// with each shared page divided among the processes that map it. Summed over processes,
/// what they cost the machine together, where RSS counts a shared binary once per process.
pub fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| field_kib(&s, "Pss:"))
        .unwrap_or(0)
}

/// The most a process has had resident since it started, KiB (0 when unknown).
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| field_kib(&s, field))
        .unwrap_or(0)
}

/// The value of a `Name:   123 kB` line.
fn field_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
