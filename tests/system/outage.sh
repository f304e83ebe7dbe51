#!/bin/sh
# Outage test (see outage.py): a remote destination down, the daemon SIGKILLed and
# restarted meanwhile; nothing may be lost. Root and sshd only (77 otherwise).
# Replay a failure with: CLSYNC=... tests/system/outage.sh --seed N
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec python3 "$TESTS_DIR/outage.py" "$@"
