#!/bin/sh
# A peer's deletion that did not land here is applied (see cluster_peer_deletion.py):
# what still holds the peer's write goes, what changed here stays. Root, `ip netns`
# and python3-xxhash only (77 otherwise).
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec python3 "$TESTS_DIR/cluster_peer_deletion.py" "$@"
