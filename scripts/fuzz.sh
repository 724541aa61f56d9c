#!/usr/bin/env bash
# Fuzzes meshwork's untrusted-input parsers with cargo-fuzz (libFuzzer); see docs/FUZZING.md.
#
# Usage: scripts/fuzz.sh [smoke|long] [target...]
#   smoke  20 s per target (CI)          long  300 s per target
#   target one or more of `cargo fuzz list` (default: all of them)
# FUZZ_SECONDS overrides the per-target time.
#
# Runs on the stable toolchain: `-s none` (no sanitizer; the fuzzed crate forbids unsafe code)
# needs no nightly flag, and `-a` keeps debug assertions and overflow checks on. Each target
# starts from its seeds in fuzz/corpus/<target> (read only) and writes what it finds to
# fuzz/target/corpus/<target>, which persists between runs on one machine. A crash leaves its
# input in fuzz/artifacts/<target>/ and makes the script exit non-zero after the other
# targets ran.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f scripts/env.sh ]; then
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
fi

mode="${1:-smoke}"
case "$mode" in
  smoke) seconds="${FUZZ_SECONDS:-20}" ;;
  long) seconds="${FUZZ_SECONDS:-300}" ;;
  -h | --help)
    sed -n '2,14p' "$0"
    exit 0
    ;;
  *)
    echo "usage: scripts/fuzz.sh [smoke|long] [target...]" >&2
    exit 2
    ;;
esac
shift || true

log() { printf '\033[1m[fuzz]\033[0m %s\n' "$*" >&2; }

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes, once)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# The one flag set every run and build uses (changing it rebuilds everything).
flags=(-s none -a)

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

start=$(date +%s)
log "building ${#targets[@]} target(s)"
for t in "${targets[@]}"; do
  cargo fuzz build "${flags[@]}" "$t"
done
built=$(date +%s)
log "build took $((built - start)) s; fuzzing each target for $seconds s"

logs="fuzz/target/logs"
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  work="fuzz/target/corpus/$t"
  mkdir -p "$work" "fuzz/corpus/$t"
  log "$t: $seconds s"
  rc=0
  cargo fuzz run "${flags[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$logs/$t.log" 2>&1 || rc=$?
  execs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$logs/$t.log" | tail -n1)
  rate=$(awk '/stat::average_exec_per_sec:/ { print $2 }' "$logs/$t.log" | tail -n1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$logs/$t.log" | tail -n1 || true)
  line="$(printf '%-16s execs %-10s exec/s %-7s %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-}")"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    line="$line  FAILED (exit $rc)"
    tail -n 40 "$logs/$t.log" >&2
    log "$t failed: input in fuzz/artifacts/$t/, full log in $logs/$t.log"
  fi
  summary+=("$line")
done
done_at=$(date +%s)

printf '\n%s\n' "fuzz $mode: build $((built - start)) s, fuzzing $((done_at - built)) s" >&2
printf '  %s\n' "${summary[@]}" >&2
if [ "${#failed[@]}" -gt 0 ]; then
  log "crashes in: ${failed[*]} (reproduce: cargo fuzz run ${flags[*]} <target> fuzz/artifacts/<target>/<file>)"
  exit 1
fi
