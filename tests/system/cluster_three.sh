#!/bin/sh
# cluster.sh with three nodes, each syncing to the two others.
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec sh "$TESTS_DIR/cluster.sh" --nodes 3 "$@"
