#!/usr/bin/env bash
# Installs what building and testing meshwork needs, idempotently: every step is skipped when
# its tool is already there at the right version, so a warm machine pays nothing.
#
# Usage: scripts/install.sh [build|test]
#   build  what the registry (and, once it exists, the hub) needs
#   test   the above plus what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-build}"

log() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }

need_rust_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx "$1"; then
    log "rustup target add $1"
    rustup target add "$1"
  fi
}

need_rust_component() {
  if ! rustup component list --installed 2>/dev/null | grep -q "^$1"; then
    log "rustup component add $1"
    rustup component add "$1"
  fi
}

need_rust_target wasm32-unknown-unknown

if [ "$mode" = "test" ]; then
  need_rust_component clippy
  need_rust_component rustfmt
  # openssl cross-checks the TURN REST credential in the tests.
  if ! command -v openssl >/dev/null 2>&1; then
    log "apt-get install openssl"
    apt-get update -qq && apt-get install -y -qq openssl >/dev/null
  fi
fi
log "toolchain ready ($mode)"
