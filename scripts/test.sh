#!/usr/bin/env bash
# The whole test suite: formatting, lints on native and wasm32, unit tests, and the
# end-to-end suites against real processes (registry, sidecars, headless Chromium, unmodified
# chatixia agents from PyPI). Installs what it needs first. The tests run inside a network
# namespace that has only loopback, so nothing they start can reach (or be reached from) any
# other address.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
# shellcheck source=scripts/env.sh
source scripts/env.sh

# Everything the suite writes to temp (data dirs, sockets, Chromium's profiles and scoped dirs,
# throwaway PostgreSQL clusters) goes under one directory, removed when the run ends however it
# ends. Short name: Unix socket paths inside it must stay under 108 bytes. World-traversable,
# as /tmp is, so the `postgres` user reaches its cluster inside it.
run_tmp="$(mktemp -d "${TMPDIR:-/tmp}/mw.XXXXXX")"
chmod 0755 "$run_tmp"
export TMPDIR="$run_tmp"
pg_dir=""
cleanup() {
  if [ -n "$pg_dir" ]; then scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true; fi
  rm -rf "$run_tmp"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)

step "clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "clippy (wasm32: the crates the browser compiles)"
cargo clippy -p meshwork-protocol -p meshwork-wasm-peer -p meshwork-hub --target wasm32-unknown-unknown --locked -- -D warnings

step "build binaries (the end-to-end suites run them)"
cargo build --workspace --bins --locked

step "build the browser page (trunk, offline tools)"
trunk build --release

step "build the tests"
cargo test --workspace --locked --no-run

step "cargo test (in a network namespace with only loopback)"
scripts/in-netns.sh cargo test --workspace --locked --offline

step "end-to-end suites again, every registry on PostgreSQL (a throwaway cluster; ADR 0023)"
pg_dir="$(mktemp -d "$TMPDIR/pg.XXXXXX")"
MESHWORK_TEST_POSTGRES="$(scripts/postgres.sh start "$pg_dir")" \
  scripts/in-netns.sh cargo test -p meshwork-tests --locked --offline
scripts/postgres.sh stop "$pg_dir"
pg_dir=""

step "wasm-bindgen-test (the wasm shell in headless Chromium, same namespace rules)"
scripts/in-netns.sh cargo test -p meshwork-wasm-peer --target wasm32-unknown-unknown --locked --offline

step "fuzz smoke run (20 s per target: signaling frames, IPC lines, REST bodies, DataChannel chunks, the registry's HTTP surface)"
scripts/fuzz.sh smoke
