//! Small text formats: ages, countdowns, round-trip times.

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago" for an age in milliseconds.
pub fn age(ms: f64) -> String {
    if !ms.is_finite() {
        return "unknown".into();
    }
    let s = (ms / 1000.0).floor().max(0.0) as u64;
    match s {
        0..=4 => "just now".into(),
        5..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// "4:05" for a remaining time in milliseconds; "expired" once it is over.
pub fn countdown(ms: f64) -> String {
    if !ms.is_finite() || ms <= 0.0 {
        return "expired".into();
    }
    let s = (ms / 1000.0).ceil() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A round-trip time in ms without noise: at most two decimals, none when whole ("12", "0.35").
pub fn rtt(ms: f64) -> String {
    // Integer digits: formatting an f64 would link core's float printer (~6 KB of wasm
    // gzipped) for this one label.
    let hundredths = (ms.abs() * 100.0).round() as u64;
    let sign = if ms < 0.0 && hundredths > 0 { "-" } else { "" };
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => format!("{sign}{whole}"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}", f / 10),
        f => format!("{sign}{whole}.{f:02}"),
    }
}

/// Whole seconds, rounded up, until a deadline (for "retrying in Ns").
pub fn seconds_until(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms / 1000.0).ceil() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(1200.0), "just now");
        assert_eq!(age(42_000.0), "42 s ago");
        assert_eq!(age(301_000.0), "5 min ago");
        assert_eq!(age(3.0 * 3_600_000.0), "3 h ago");
        assert_eq!(age(f64::NAN), "unknown");
    }

    #[test]
    fn countdowns_and_rtts() {
        assert_eq!(countdown(245_000.0), "4:05");
        assert_eq!(countdown(-1.0), "expired");
        assert_eq!(rtt(12.0), "12");
        assert_eq!(rtt(0.3456), "0.35");
        assert_eq!(rtt(1.5), "1.5");
        assert_eq!(rtt(2.05), "2.05");
        assert_eq!(rtt(-0.25), "-0.25");
        assert_eq!(seconds_until(1_200.0), 2);
    }
}
