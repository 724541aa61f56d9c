#!/usr/bin/env bash
# Installs what building and testing meshwork needs, idempotently: every step is skipped when
# its tool is already there at the right version, so a warm machine pays nothing.
#
# Usage: scripts/install.sh [build|test]
#   build  the registry and the browser side (wasm32 target, trunk, wasm-bindgen, wasm-opt)
#   test   the above plus clippy/rustfmt, Chromium + ChromeDriver, openssl
#
# Tools never come from anywhere but the package registries: trunk and wasm-bindgen-cli from
# crates.io, wasm-opt from npm's binaryen (Debian's is too old: its output crashes in the
# browser), Chromium from Debian. Source scripts/env.sh afterwards for PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-build}"
root="$(pwd)"
# shellcheck source=scripts/env.sh
source scripts/env.sh

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

apt_updated=0
need_apt() { # need_apt <command> <package...>
  local cmd="$1"; shift
  if ! command -v "$cmd" >/dev/null 2>&1; then
    if [ "$apt_updated" = 0 ]; then
      log "apt-get update"
      apt-get update -qq
      apt_updated=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

# The wasm-bindgen crate version in Cargo.lock: the CLI must match it exactly.
lock_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

need_rust_target wasm32-unknown-unknown

TRUNK_VERSION=0.21.14
if ! trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION"; then
  log "cargo install trunk $TRUNK_VERSION (several minutes, once)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

wb_version="$(lock_version wasm-bindgen)"
if [ -n "$wb_version" ] && ! wasm-bindgen --version 2>/dev/null | grep -q " $wb_version"; then
  log "cargo install wasm-bindgen-cli $wb_version (must equal the wasm-bindgen crate)"
  # Not --locked: one of its pinned dependencies is missing from the registry.
  cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

BINARYEN_VERSION=132
if ! "$root/.tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
  log "npm install binaryen@$BINARYEN_VERSION (wasm-opt)"
  mkdir -p "$root/.tools"
  npm install --prefix "$root/.tools" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION" >/dev/null
fi

if [ "$mode" = "test" ]; then
  need_rust_component clippy
  need_rust_component rustfmt
  need_apt openssl openssl
  need_apt chromium chromium
  need_apt chromedriver chromium-driver
  need_apt ip iproute2
  # The relay tier's tests run a real TURN server (not started as a service here: the tests
  # start their own on loopback).
  need_apt turnserver coturn
  # The fallback-tier tests take direct UDP paths away with nftables rules, inside the test
  # network namespace only.
  need_apt nft nftables
  # The suite's second pass runs every registry on PostgreSQL (ADR 0023): a throwaway cluster
  # of the server preinstalled here (scripts/postgres.sh), installed where it is missing.
  if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    need_apt postgres postgresql
  fi
  need_apt psql postgresql-client
  need_apt runuser util-linux
  # The clustered-registry suite runs real NATS servers (ADR 0024).
  need_apt nats-server nats-server
  # Real, unmodified chatixia agents (PyPI) for the task suites and bench (ADR 0018). It
  # declares Python >= 3.12 but runs on 3.11. The tests find it in this venv
  # (CHATIXIA_VENV overrides).
  CHATIXIA_VERSION=0.4.3
  chatixia_venv="${CHATIXIA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/meshwork/chatixia-venv}"
  installed="$("$chatixia_venv/bin/pip" show chatixia 2>/dev/null || true)"
  if ! grep -qx "Version: $CHATIXIA_VERSION" <<<"$installed"; then
    python=python3.11
    command -v "$python" >/dev/null 2>&1 || python=python3
    if ! "$python" -m venv --help >/dev/null 2>&1; then
      need_apt python3 python3-venv
      python=python3
    fi
    log "pip install chatixia==$CHATIXIA_VERSION into $chatixia_venv"
    mkdir -p "$(dirname "$chatixia_venv")"
    "$python" -m venv "$chatixia_venv"
    "$chatixia_venv/bin/pip" install -q --ignore-requires-python "chatixia==$CHATIXIA_VERSION"
  fi
fi
log "toolchain ready ($mode)"
