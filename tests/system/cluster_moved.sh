#!/bin/sh
# What a peer's renames moved here under a name no notice named is the peer's (see
# cluster_moved.py): not synced back, and removed as its stale entry. Root and
# `ip netns` only (77 otherwise).
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec python3 "$TESTS_DIR/cluster_moved.py" "$@"
