#!/usr/bin/env python3
"""A peer's deletion that did not land is applied by the receiver (stale_entries.h).

One node (A, as in cluster_packets.py: its own network namespace, syncing WORK/a to
WORK/b) and a fake peer Z whose correctly signed packets this test sends:

1. Z announces d/x and d/y with the signatures (doc/PROTOCOL.md) of two files staged
   outside the tree, which are then moved into WORK/a/d as Z's rsync would, and Z's
   Done follows: A takes them for Z's writes (not synced to WORK/b).
2. d/y is changed here (appended to): A's own change, synced to WORK/b.
3. Z announces both deleted, and its Done follows, but nothing removes them here (as
   when Z's rename replay found no old name). A must remove d/x, which still holds
   exactly what Z wrote (its log says so), and keep d/y, changed here since, which
   stays synced at WORK/b; d/x never reaches WORK/b. The daemon exits 0 on SIGTERM.

Root only, with `ip netns`, rsync and python3-xxhash (exit 77 otherwise). Exit 0 on
success, 1 on failure (the work dir kept, the log tail printed).
"""
import os
import shutil
import signal
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_packets as cp  # noqa: E402

try:
    import xxhash
except ImportError:  # a python3 of its own (pyenv, say) next to Debian's python3-xxhash
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import xxhash
    except ImportError:
        xxhash = None

PEER = b"Z"
DEADLINE = 30.0  # s: each awaited condition


def signature(path):
    """The notice signature of a regular file (doc/PROTOCOL.md, Signature)."""
    st = os.lstat(path)
    with open(path, "rb") as f:
        content = f.read()
    header = struct.pack("<4Q", st.st_mode & (0o170000 | 0o7777), st.st_size, st.st_mtime_ns // 10**9, 0)
    return xxhash.xxh3_64_intdigest(header + content) or 1


def wait_for(node, what, predicate):
    end = time.monotonic() + DEADLINE
    while not predicate():
        node.check_alive(f"while waiting for {what}")
        if time.monotonic() >= end:
            raise cp.Failure(f"timed out after {DEADLINE:.0f} s waiting for {what}")
        time.sleep(0.05)


def not_synced_back(node):
    return ((node.status() or {}).get("cluster") or {}).get("not_synced_back") or 0


def idle(node):
    dests = (node.status() or {}).get("destinations") or [{}]
    return not dests[0].get("pending") and not dests[0].get("running")


def same_file(a, b):
    try:
        with open(a, "rb") as f, open(b, "rb") as g:
            return f.read() == g.read()
    except FileNotFoundError:
        return False


def run(work, clsync):
    ns = cp.Namespace(f"clsync-d-{os.getpid()}")
    port = 40000 + (os.getpid() + 7) % 20000
    node = cp.Node(work, ns, clsync, port)
    key = os.urandom(24).hex().encode()
    src = node.src
    os.makedirs(os.path.join(src, "d"))
    os.makedirs(node.dst)
    with open(os.path.join(src, "d", "kept"), "w") as f:
        f.write("this node's\n")
    node.write_key(key)
    try:
        ns.create()
        sock = ns.udp_socket()
        node.start()
        wait_for(node, "the initial sync", lambda: cp.same_trees(src, node.dst))
        epoch = int(time.time() * 1000)

        def send(ptype, seq, body):
            sock.sendto(cp.packet(ptype, PEER, epoch, seq, body, key), (cp.GROUP, port))

        def done(seq):  # sent as the packet after the notice `seq`
            send(cp.DONE, seq + 1, struct.pack(">IQ", 1, seq))

        # 1. Z's writes.
        stage = os.path.join(work, "stage")
        os.makedirs(stage)
        entries = []
        for name in ("x", "y"):
            path = os.path.join(stage, name)
            with open(path, "wb") as f:
                f.write(f"written by Z: {name}\n".encode() * 50)
            os.utime(path, (time.time() - 100, time.time() - 100))
            entries.append((f"d/{name}".encode(), 0, signature(path)))
        echoes = not_synced_back(node)
        send(cp.NOTICE, 1, cp.notice_body(entries))
        node.wait_drained()
        for name in ("x", "y"):
            os.rename(os.path.join(stage, name), os.path.join(src, "d", name))
        done(1)
        wait_for(node, "A to take d/x and d/y for Z's writes", lambda: not_synced_back(node) >= echoes + 2)
        if os.path.exists(os.path.join(node.dst, "d", "x")):
            raise cp.Failure("d/x, Z's write, was synced to WORK/b")

        # 2. A change here.
        with open(os.path.join(src, "d", "y"), "a") as f:
            f.write("changed here\n")
        wait_for(node, "d/y, changed here, synced to WORK/b",
                 lambda: same_file(os.path.join(src, "d", "y"), os.path.join(node.dst, "d", "y")))

        # 3. Z's deletions, not landed.
        send(cp.NOTICE, 3, cp.notice_body([(b"d/x", 1, 0), (b"d/y", 1, 0)]))
        node.wait_drained()
        done(3)
        wait_for(node, "A to remove d/x (Z deleted it, and it still holds Z's write)",
                 lambda: not os.path.lexists(os.path.join(src, "d", "x")))
        if b"cluster: removed 'd/x': node Z wrote it here and no longer has it" not in node.log():
            raise cp.Failure("no log line for the removal of d/x")
        if not os.path.exists(os.path.join(src, "d", "y")):
            raise cp.Failure("d/y, changed here after Z wrote it, was removed with Z's deletion")
        # d/y stays at WORK/b too: A's own file, which Z's deletion did not reach.
        wait_for(node, "A's queue to empty", lambda: idle(node))
        if not same_file(os.path.join(src, "d", "y"), os.path.join(node.dst, "d", "y")):
            raise cp.Failure("WORK/b lost d/y, or holds another version of it")
        if os.path.lexists(os.path.join(node.dst, "d", "x")):
            raise cp.Failure("d/x reached WORK/b")
        node.proc.send_signal(signal.SIGTERM)
        rc = node.proc.wait(timeout=cp.STOP_DEADLINE)
        if rc != 0:
            raise cp.Failure(f"the daemon exited with {rc} on SIGTERM")
    finally:
        node.kill()
        ns.delete()
    return node


def main():
    if os.geteuid() != 0:
        print("SKIP: the cluster test needs root (network namespaces)")
        return 77
    if not cp.netns_available() or not shutil.which("rsync"):
        print("SKIP: no working `ip netns`, or no rsync")
        return 77
    if xxhash is None:
        print("SKIP: no python3-xxhash (the notice signatures)")
        return 77
    clsync = os.path.abspath(os.environ.get("CLSYNC") or cp.DEFAULT_CLSYNC)
    work = tempfile.mkdtemp(prefix="clsync-peerdel.", dir="/tmp")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"killed by signal {signum}"))
    log_path = os.path.join(work, "clsync-a.log")
    try:
        run(work, clsync)
    except cp.Unavailable as e:
        print(f"SKIP: network namespace setup failed: {e}")
        shutil.rmtree(work, ignore_errors=True)
        return 77
    except Exception as e:  # a Failure, or a bug of the test
        print(f"cluster_peer_deletion: FAIL: {e}", file=sys.stderr)
        print(f"--- daemon log (last 60 lines of {log_path}):", file=sys.stderr)
        print(cp.log_tail(log_path), file=sys.stderr)
        print(f"--- work dir kept: {work}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("cluster_peer_deletion: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
