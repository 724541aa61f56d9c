#!/usr/bin/env bash
# The main job: the registry with its hub, on http://127.0.0.1:8080 (PORT to change), with
# durable state in ./meshwork-data. Installs and builds what it needs first. Extra arguments
# go to meshwork-registry (see `--help`); without an api_keys.json it runs in --dev mode and
# prints a generated agent key.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh build
# shellcheck source=scripts/env.sh
source scripts/env.sh
trunk build --release
cargo build --release --locked -p meshwork-registry
args=()
if [ ! -f "${API_KEYS_FILE:-api_keys.json}" ]; then
  args+=(--dev)
fi
exec target/release/meshwork-registry "${args[@]}" "$@"
