#!/bin/sh
# Peers' Resends to a running node (see cluster_resend.py): an overtaken write is
# repaired, a path gone at the destination is not created, and a path another peer
# announced gone since is not sent again. Root and `ip netns` only (77 otherwise).
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec python3 "$TESTS_DIR/cluster_resend.py" "$@"
