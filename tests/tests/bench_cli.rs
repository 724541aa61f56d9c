//! The benchmark binaries behave like command-line tools: `--help` prints usage and exits 0;
//! a bad argument is one line on stderr and exit code 2 (no backtrace, nothing started).

use meshwork_tests::bins::bin_path;
use std::process::Command;

const BENCHES: [(&str, &str); 8] = [
    ("bench_tasks", "--tasks"),
    ("bench_sidecar", "--runs"),
    ("bench_memory", "--events"),
    ("bench_memory_mesh", "--sidecars"),
    ("bench_browser", "--runs"),
    ("bench_tiers", "--rounds"),
    ("bench_fallback", "--tasks"),
    ("bench_signaling", "--peers"),
];

fn run(bench: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin_path(bench))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {bench}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn help_prints_usage_and_exits_zero() {
    for (bench, flag) in BENCHES {
        let (code, stdout, stderr) = run(bench, &["--help"]);
        assert_eq!(code, 0, "{bench} --help: {stderr}");
        assert!(
            stdout.contains("Usage: ") && stdout.contains(flag),
            "{bench}: {stdout}"
        );
        assert!(stderr.is_empty(), "{bench}: {stderr}");
    }
}

#[test]
fn bad_arguments_are_one_line_and_exit_two() {
    for (bench, flag) in BENCHES {
        for args in [vec!["--bogus"], vec![flag, "not-a-number"], vec![flag]] {
            let (code, _, stderr) = run(bench, &args);
            assert_eq!(code, 2, "{bench} {args:?}: {stderr}");
            assert_eq!(
                stderr.trim().lines().count(),
                1,
                "{bench} {args:?}: {stderr}"
            );
            assert!(!stderr.contains("backtrace"), "{bench} {args:?}: {stderr}");
        }
    }
}
