#!/bin/sh
# Writers that do not close: a long-lived appender's lines reach the destination while
# the file is still open (IN_MODIFY / FAN_MODIFY), and writes through mmap, which raise
# no modify event, are synced when the file is closed (IN_CLOSE_WRITE / FAN_CLOSE_WRITE).
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

mkdir -p "$SRC/logs"
start_daemon

# a) The appender opens the file once, then writes and flushes one line per command
# read from a fifo; it closes the file only when told to quit (or at EOF).
FIFO=$WORK/appender.fifo
mkfifo "$FIFO"
python3 -c '
import os, sys
path = sys.argv[1]
out = open(path, "w")
for command in iter(sys.stdin.readline, ""):
    command = command.strip()
    if command == "quit":
        break
    out.write("line %s\n" % command)
    out.flush()            # into the kernel, without closing
out.close()
' "$SRC/logs/app.log" <"$FIFO" &
APPENDER=$!
exec 3>"$FIFO"             # opens once the appender has opened its end
: >"$WORK/expected"
for i in 1 2 3 4 5; do
    echo "$i" >&3
    echo "line $i" >>"$WORK/expected"
    # The destination holds exactly the lines written so far (expected is built
    # independently, so an old, matching copy cannot pass for the new line).
    wait_for "line $i while the file is open" cmp -s "$WORK/expected" "$DST/logs/app.log"
    kill -0 "$APPENDER" 2>/dev/null || fail "the appender exited early"
    # Still open: the appender's descriptor for the file is there.
    ls -l "/proc/$APPENDER/fd" | grep -q "$SRC/logs/app.log" || fail "the appender closed the file"
done
echo quit >&3
exec 3>&-
wait "$APPENDER" || fail "the appender failed"
wait_for "final content after close" cmp -s "$SRC/logs/app.log" "$DST/logs/app.log"
cmp -s "$WORK/expected" "$SRC/logs/app.log" || fail "the appender wrote something unexpected"

# b) A new file filled through mmap: ftruncate (a modify event), writes into the
# mapping, msync, munmap, close.
python3 -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 4096)
m = mmap.mmap(fd, 4096)
data = bytes((i * 7 + 3) % 256 for i in range(4096))
m[0:4096] = data
m.flush()                  # msync
m.close()                  # munmap
os.close(fd)
' "$SRC/mapped.bin"
wait_for "file written through mmap" cmp -s "$SRC/mapped.bin" "$DST/mapped.bin"

# c) The same file rewritten through mmap alone: same size, no ftruncate, no write():
# the close is the only event, so only IN_CLOSE_WRITE / FAN_CLOSE_WRITE can sync it.
python3 -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 4096)
m[100:112] = b"via mmap    "
m[4000:4096] = bytes(range(96))
m.flush()
m.close()
os.close(fd)
' "$SRC/mapped.bin"
wait_for "file rewritten through mmap (close only)" cmp -s "$SRC/mapped.bin" "$DST/mapped.bin"
[ "$(dd if="$DST/mapped.bin" bs=1 skip=100 count=8 2>/dev/null)" = "via mmap" ] || fail "mmap rewrite not at the destination"

wait_converged "at the end"
stop_daemon
echo "appenders: ok"
