#!/usr/bin/env bash
# Runs a command in a fresh network namespace that has only loopback plus a veth pair whose
# two ends (10.213.0.1, 10.213.0.2) both live inside it. Nothing in it can reach any other
# address. The veth pair exists because Chromium gathers no host candidates on loopback: two
# tabs need a non-loopback interface to find each other, and this one leads nowhere.
#
# Usage: scripts/in-netns.sh <command> [args…]
set -euo pipefail
if [ "${MESHWORK_IN_NETNS:-}" != "1" ]; then
  exec unshare -n -- env MESHWORK_IN_NETNS=1 "$0" "$@"
fi
ip link set lo up
ip link add mw-a type veth peer name mw-b
ip addr add 10.213.0.1/24 dev mw-a
ip addr add 10.213.0.2/24 dev mw-b
ip link set mw-a up
ip link set mw-b up
# A default route into the pair: Chromium enumerates networks only when one exists. Packets
# sent along it arrive at mw-b, inside this namespace, and go no further.
ip route add default via 10.213.0.2 dev mw-a
exec "$@"
