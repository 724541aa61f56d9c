//! Wall-clock helpers: tasks speak unix seconds (float), agent records RFC 3339.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the unix epoch, with sub-second precision.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Formats unix seconds as RFC 3339 (UTC, millisecond precision).
pub fn rfc3339(unix: f64) -> String {
    let millis = (unix * 1000.0) as i64;
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
