#!/usr/bin/env bash
# Builds the wasm peer (wasm-peer/) as its own module next to the hub: dist/peer/peer.js and
# dist/peer/peer_bg.wasm. The hub loads it when the tab joins the mesh (ADR 0020), so the
# dashboard's own download stays small. Trunk runs this after building the hub
# (Trunk.toml, post_build hook: TRUNK_STAGING_DIR and TRUNK_PROFILE come from trunk); run by
# hand it writes into dist/ with the release profile.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
out="${TRUNK_STAGING_DIR:-dist}/peer"
target_dir="${CARGO_TARGET_DIR:-$(pwd)/target}"
if [ "${TRUNK_PROFILE:-release}" = "release" ]; then
  # Size over speed, like the hub (Cargo.toml's wasm-release profile).
  profile=wasm-release
else
  profile=dev
fi
profile_dir="$profile"
[ "$profile" = "dev" ] && profile_dir=debug
cargo build -p meshwork-wasm-peer --lib --target wasm32-unknown-unknown --profile "$profile" --locked
mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name peer \
  "$target_dir/wasm32-unknown-unknown/$profile_dir/meshwork_wasm_peer.wasm"
if [ "$profile" = "wasm-release" ]; then
  wasm-opt -Oz --output "$out/peer_bg.wasm" "$out/peer_bg.wasm"
fi
