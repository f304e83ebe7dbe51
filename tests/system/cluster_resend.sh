#!/bin/sh
# A peer's Resend for a path another peer announced gone since is not sent again (see
# cluster_resend.py). Root and `ip netns` only (77 otherwise).
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec python3 "$TESTS_DIR/cluster_resend.py" "$@"
