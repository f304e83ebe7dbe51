#!/bin/bash
# Names with every byte value but '/' and NUL, and paths as long as the kernel takes
# (PATH_MAX - 1 bytes, in components of NAME_MAX bytes): created, changed, renamed and
# deleted, they are synced like any other, and nothing is synced under another name.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

# hostile_tree ACTION: creates (create), changes, renames and deletes (change) the
# hostile names in $SRC. Python, to handle names as bytes.
hostile_tree() {
    python3 - "$SRC" "$1" <<'EOF'
import os, sys
src, action = os.fsencode(sys.argv[1]), sys.argv[2]
PATH_MAX, NAME_MAX = 4096, 255
every = bytes(b for b in range(1, 256) if b != ord('/'))  # 254 bytes: one name
bytes_dir = os.path.join(src, b'bytes')

def write(path, text):
    with open(path, 'wb') as f:
        f.write(text)

# The long path: components of NAME_MAX bytes (each byte value in turn, so that long
# names carry hostile bytes too) down to a file whose absolute path is PATH_MAX - 1
# bytes, the most a system call takes.
def long_components():
    remaining = PATH_MAX - 1 - len(src)  # "/" + component, ..., "/" + leaf
    count = max(0, -(-(remaining - 1 - NAME_MAX) // (1 + NAME_MAX)))
    parts = []
    for i in range(count):
        byte = every[i % len(every):i % len(every) + 1]
        parts.append(byte * NAME_MAX if byte != b'.' else b'd' * NAME_MAX)
    leaf = b'f' * (remaining - count * (1 + NAME_MAX) - 1)
    assert 1 <= len(leaf) <= NAME_MAX
    return parts, leaf

parts, leaf = long_components()
long_dir = os.path.join(src, *parts)
long_file = os.path.join(long_dir, leaf)

if action == 'create':
    os.mkdir(bytes_dir)
    for b in every:
        name = b'b' + bytes([b])          # a name made of the byte alone may be '.'
        write(os.path.join(bytes_dir, name), name)
        os.mkdir(os.path.join(bytes_dir, b'd' + bytes([b])))
        write(os.path.join(bytes_dir, b'd' + bytes([b]), bytes([b]) + b'x'), b'inner')
    os.mkdir(os.path.join(bytes_dir, every))
    write(os.path.join(bytes_dir, every, every), b'all the bytes')
    os.makedirs(long_dir)
    write(long_file, b'at PATH_MAX - 1')
    assert len(long_file) == PATH_MAX - 1, len(long_file)
else:
    for b in every:
        name = os.path.join(bytes_dir, b'b' + bytes([b]))
        if b % 3 == 0:
            os.unlink(name)
        elif b % 3 == 1:
            os.rename(name, os.path.join(bytes_dir, b'r' + bytes([b]) + b'\n' + bytes([b])))
        else:
            write(name, b'changed ' + bytes([b]))
    os.rename(os.path.join(bytes_dir, every), os.path.join(bytes_dir, every[::-1]))
    write(os.path.join(bytes_dir, every[::-1], every), b'all the bytes, changed')
    write(long_file, b'changed at PATH_MAX - 1')
    # A rename in the middle of the long path, then the file's deletion below it.
    middle = os.path.join(src, *parts[:len(parts) // 2])
    renamed = middle[:-1] + b'R'
    os.rename(middle, renamed)
    os.unlink(os.path.join(renamed, *parts[len(parts) // 2:], leaf))
EOF
}

hostile_tree create
start_daemon
wait_converged "hostile names and the PATH_MAX path, initial sync"
hostile_tree change
wait_converged "hostile names and the PATH_MAX path changed, renamed and deleted"
grep -q "failed" "$LOG" && fail "a sync failed"
stop_daemon
echo "hostile_names: ok"
