#!/bin/sh
# Conflict copies against a running node (see cluster_conflict.py): a file changed here
# and at a peer at once is kept, and a peer's file whose notice came after the file is
# not. Root and `ip netns` only (77 otherwise).
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec python3 "$TESTS_DIR/cluster_conflict.py" "$@"
