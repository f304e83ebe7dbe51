#!/bin/bash
# A file made with O_TMPFILE and named with linkat(2) (editors' safe writes, clsync's
# own conflict copies in a cluster): inotify reports its writes under "#INODE", a name
# the kernel made up and no directory holds. Only its real name may be synced: no
# event, and no sync, for the made-up one.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

start_daemon
wait_converged "initial"
python3 - "$SRC" <<'EOF'
import ctypes, os, sys
d = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
fd = os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o644)
os.write(fd, b"x" * 100000)
os.fchmod(fd, 0o640)
# os.link calls link(2), which does not follow /proc's link to the unnamed file.
if libc.linkat(AT_FDCWD, f"/proc/self/fd/{fd}".encode(), AT_FDCWD, os.path.join(d, "named").encode(),
               AT_SYMLINK_FOLLOW) != 0:
    raise OSError(ctypes.get_errno(), "linkat")
os.close(fd)
EOF
wait_converged "the named file"
# The made-up name's events came before the link's, which the sync above answered.
if grep "event: '#" "$LOG" >&2; then fail "an event on an O_TMPFILE file's made-up name"; fi
grep -q "event: 'named'" "$LOG" || fail "no event on the linked name"
stop_daemon
echo "tmpfile_names: ok"
