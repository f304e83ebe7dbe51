#!/bin/sh
# Hostile cluster packets against a running node (see cluster_packets.py): nothing may
# crash or be synced because of them. Root and `ip netns` only (77 otherwise).
# Replay a failure with: CLSYNC=... tests/system/cluster_packets.sh --seed N
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec python3 "$TESTS_DIR/cluster_packets.py" "$@"
