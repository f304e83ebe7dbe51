#!/usr/bin/env python3
"""Hostile cluster packets against a running clsync node: nothing crashes, nothing is
synced because of them.

One node (A) runs in a network namespace of its own (loopback only, multicast routed
on lo), syncing WORK/a to WORK/b with --cluster-*; its rsync (-S) is a wrapper that
appends a line to WORK/runs-a. Once the initial sync is done, this test multicasts to
the node's group and port, from inside the namespace, packets built by an encoder of
its own (doc/PROTOCOL.md, struct + hmac):

1. random datagrams of 0 to 9,000 bytes (longer than 8,192: too long), random bytes
   after "CLSY\\x02" (bad MAC) and after "CLSY" (mostly an unknown version);
2. well-formed notices, acks and announces signed with a wrong key: paths of WORK/a
   with made-up signatures, existing paths announced as deleted;
3. every truncation and every single-bit flip of a correctly signed notice;
4. replays: a correctly signed notice of a fake node Z (for a path that exists
   nowhere) and the same bytes 50 times more; then an older epoch, a seq more than 64
   behind the highest (refused) and one within the window (accepted);
5. correctly signed notices of 8,192 bytes (accepted: the limit), 8,193 and ~12,000
   (too long);
6. correctly signed packets that are malformed field by field (type, flags, name,
   seq, lengths, notice entries, ack body), packets of this node's own name from
   another epoch, peers announcing odd paths ("..", absolute, NUL, 4,096 bytes), and
   random bodies behind a valid signed header.

Every packet's fate (accepted, or dropped and why) is predicted by a Python model of
the decoder's checks; after each attack the node's counters (SIGUSR1: the "status:
cluster node A, ..." log line) must have grown by exactly that, less what the kernel
dropped for a full socket buffer (the "drops" of /proc/PID/net/udp; sends are paced
on the socket's receive queue, so normally none). Then: the daemon is alive, it ran
no rsync meanwhile (the wrapper's count, the status file's iterations) and WORK/b
still equals WORK/a; the log has one "dropped a packet" warning per reason (the rest
are debug lines) and as many such lines in all as the counters say; a genuine change
in WORK/a still reaches WORK/b; SIGTERM makes the daemon exit 0.

Root only, with `ip netns` and rsync (exit 77 otherwise). The random parts come from
random.Random(seed): replay a failure with --seed N. Exit 0 on success (the work dir
is removed unless --keep), 1 on failure (the work dir is kept, the log tail printed).
"""
import argparse
import atexit
import collections
import ctypes
import hashlib
import hmac
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import treecmp  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CLSYNC = os.path.normpath(os.path.join(TESTS_DIR, "..", "..", "clsync"))

GROUP = "227.108.115.121"
NODE = "A"
START_DEADLINE = 60.0     # s: the initial sync
DRAIN_DEADLINE = 20.0     # s: the node reading what was sent
STATUS_DEADLINE = 10.0    # s: the answer to SIGUSR1
SYNC_DEADLINE = 30.0      # s: a genuine change reaching WORK/b
STOP_DEADLINE = 30.0      # s: exit after SIGTERM
QUIET_SECONDS = 2.0       # s: watched for a sync run after the attacks (several -t windows)
PACE_BYTES = 48 * 1024    # sent before waiting for the node to empty its socket
PACE_PACKETS = 32

# ---- the protocol (doc/PROTOCOL.md) --------------------------------------------------

MAGIC = b"CLSY"
VERSION = 2
ANNOUNCE, NOTICE, ACK, DONE, RESEND = 1, 2, 3, 4, 5
MAX_PACKET = 8192
MAX_NODE = 64
MAX_PATH = 4096
MAC_SIZE = 32
MIN_PACKET = 9 + 1 + 8 + 8 + 4 + MAC_SIZE  # a one-byte name and an empty body

TOO_SHORT = "too short"
TOO_LONG = "too long"
BAD_MAGIC = "not a clsync packet"
BAD_VERSION = "unknown protocol version"
BAD_MAC = "bad authentication code (another key?)"
BAD_TYPE = "unknown packet type"
MALFORMED = "malformed"
REPLAYED = "replayed or duplicate"
NAME_CLASH = "another node with this node's name"
ACCEPTED = "accepted"  # not a reason: the packet passed every check
DECODER_REASONS = (TOO_SHORT, TOO_LONG, BAD_MAGIC, BAD_VERSION, BAD_MAC, BAD_TYPE, MALFORMED)


def sign(signed, key):
    return signed + hmac.new(key, signed, hashlib.sha256).digest()


def packet(ptype, node, epoch, seq, body, key, *, flags=0, version=VERSION, magic=MAGIC, name_len=None,
           body_len=None):
    """A packet; the keyword arguments forge fields (lengths that lie, say)."""
    header = magic + struct.pack(">BBHB", version, ptype, flags, len(node) if name_len is None else name_len)
    tail = struct.pack(">QQI", epoch, seq, len(body) if body_len is None else body_len)
    return sign(header + node + tail + body, key)


def entries_body(entries, count=None):
    """entries: (path bytes, state byte: 0 written, 1 deleted, 2 a directory written whole, signature)."""
    body = struct.pack(">I", len(entries) if count is None else count)
    for path, deleted, signature in entries:
        body += struct.pack(">H", len(path)) + path + struct.pack(">BQ", deleted, signature)
    return body


def notice_body(entries, count=None, renames=(), rename_count=None):
    """entries as entries_body's; renames: (old name, new name) bytes."""
    body = entries_body(entries, count) + struct.pack(">I", len(renames) if rename_count is None else rename_count)
    for names in renames:
        for name in names:
            body += struct.pack(">H", len(name)) + name
    return body


def resend_body(node, entries):
    """A Resend asking `node` for `entries` (as entries_body's)."""
    return struct.pack(">B", len(node)) + node + entries_body(entries)


def ack_body(node, epoch, seq):
    return struct.pack(">B", len(node)) + node + struct.pack(">QQ", epoch, seq)


def notice(node, epoch, seq, entries, key):
    return packet(NOTICE, node, epoch, seq, notice_body(entries), key)


def notice_of_size(node, epoch, seq, size, key, prefix):
    """A well-formed notice of exactly `size` bytes, of paths `prefix`NNNNN... (size >= 400)."""
    room = size - (9 + len(node) + 8 + 8 + 4 + 4 + 4 + MAC_SIZE)  # for the entries
    entries = []
    while room >= 2 * 111:  # entries of 111 bytes (100-byte paths); the last one takes the rest
        entries.append(111)
        room -= 111
    entries[-1] += room
    paths = [(prefix + b"%05d-" % i).ljust(n - 11, b"p") for i, n in enumerate(entries)]
    data = notice(node, epoch, seq, [(p, 0, 0x1234 + i) for i, p in enumerate(paths)], key)
    assert len(data) == size, (len(data), size)
    return data, paths



def same_trees(src, dst, diffs=False):
    """treecmp, but for directory times below the second, which a cluster node's rsync
    (--update, without --modify-window=-1) leaves as they are (clsync(1))."""
    found = treecmp.compare(src, dst, check_root_mtime=False, check_dir_mtimes=False)
    return found if diffs else not found

class Short(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if n > len(self.data) - self.at:
            raise Short()
        self.at += n
        return self.data[self.at - n:self.at]

    def number(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def done(self):
        return self.at == len(self.data)


def is_wire_path(path):
    """"." or relative, without empty, "." or ".." components, no NUL (is_wire_path)."""
    return path == b"." or (path != b"" and b"\0" not in path and
                            all(part not in (b"", b".", b"..") for part in path.split(b"/")))


def entries_ok(r, max_state):
    count = r.number(">I")
    if count > MAX_PACKET // 12:
        return None
    for _ in range(count):
        length = r.number(">H")
        if length > MAX_PATH or length == 0 or not is_wire_path(r.take(length)):
            return None
        state, signature = r.number(">B"), r.number(">Q")  # 0 written, 1 deleted, 2 complete
        if state > max_state or (state == 1 and signature != 0):
            return None
    return count


def renames_ok(r):
    count = r.number(">I")
    if count > MAX_PACKET // 6:
        return False
    for _ in range(2 * count):
        length = r.number(">H")
        path = r.take(length)
        if length > MAX_PATH or not is_wire_path(path) or path == b".":
            return False
    return True


def node_ok(r):
    length = r.number(">B")
    if length == 0 or length > MAX_NODE:
        return False
    r.take(length)
    return True


def body_ok(ptype, body):
    r = Reader(body)
    try:
        if ptype == ANNOUNCE:
            return r.done()
        if ptype == NOTICE:
            return entries_ok(r, 2) is not None and renames_ok(r) and r.done()
        if ptype == RESEND:
            return node_ok(r) and bool(entries_ok(r, 0)) and r.done()
        if ptype == DONE:
            count = r.number(">I")
            if count == 0 or count > MAX_PACKET // 8:
                return False
            for _ in range(count):
                if r.number(">Q") == 0:
                    return False
            return r.done()
        if not node_ok(r):  # ACK
            return False
        r.take(16)
        return r.done()
    except Short:
        return False


def predict(data, key):
    """What the node's decoder makes of `data`: a reason, or ACCEPTED (src/cluster_packet.cpp)."""
    if len(data) > MAX_PACKET:
        return TOO_LONG
    if len(data) < MIN_PACKET:
        return TOO_SHORT
    if data[:4] != MAGIC:
        return BAD_MAGIC
    if data[4] != VERSION:
        return BAD_VERSION
    signed = data[:-MAC_SIZE]
    if not hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).digest(), data[-MAC_SIZE:]):
        return BAD_MAC
    r = Reader(signed[5:])
    ptype, flags, name_len = r.number(">B"), r.number(">H"), r.number(">B")
    if ptype not in (ANNOUNCE, NOTICE, ACK, DONE, RESEND):
        return BAD_TYPE
    try:
        if flags != 0 or name_len == 0 or name_len > MAX_NODE:
            return MALFORMED
        r.take(name_len)
        r.number(">Q")
        seq, body_len = r.number(">Q"), r.number(">I")
        body = r.take(body_len)
        if seq == 0 or not r.done():
            return MALFORMED
    except Short:
        return MALFORMED
    return ACCEPTED if body_ok(ptype, body) else MALFORMED


# ---- the namespace -------------------------------------------------------------------

def listener(ns, port):
    """A socket of the namespace that receives the group's datagrams (A's own notices)."""
    sock = ns.new_udp_socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((GROUP, port))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"))
    sock.setblocking(False)
    return sock


def notice_of(data, node):
    """A notice of `node` in `data`: (epoch, seq, {path: (state, signature)}); None for
    anything else."""
    header = struct.calcsize(">BBHB")
    if len(data) < 4 + header or data[:4] != MAGIC:
        return None
    version, ptype, _, name_len = struct.unpack(">BBHB", data[4:4 + header])
    at = 4 + header
    if version != VERSION or ptype != NOTICE or data[at:at + name_len] != node:
        return None
    at += name_len
    epoch, seq, body_len = struct.unpack(">QQI", data[at:at + 20])
    r = Reader(data[at + 20:at + 20 + body_len])
    entries = {}
    for _ in range(r.number(">I")):
        path = r.take(r.number(">H"))
        entries[path] = (r.number(">B"), r.number(">Q"))
    return epoch, seq, entries


class Failure(Exception):
    pass


class Unavailable(Exception):
    pass


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)
    elif _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Namespace:
    """A network namespace with only lo, multicast routed on it."""

    def __init__(self, name):
        self.name = name
        self.created = False

    def ip(self, *args):
        r = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise Unavailable(f"ip {' '.join(args)}: {r.stdout.strip()} (exit {r.returncode})")

    def create(self):
        self.ip("netns", "add", self.name)
        self.created = True
        self.ip("-n", self.name, "link", "set", "lo", "up")
        self.ip("-n", self.name, "link", "set", "lo", "multicast", "on")
        self.ip("-n", self.name, "route", "add", "224.0.0.0/4", "dev", "lo")

    def delete(self):
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.created = False

    def exec_prefix(self):
        return ["ip", "netns", "exec", self.name]

    def new_udp_socket(self):
        """A UDP socket of the namespace (made there: it stays there)."""
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            setns(target)
            try:
                return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            finally:
                setns(own)
        finally:
            os.close(own)
            os.close(target)

    def udp_socket(self):
        """A UDP socket of the namespace, sending to multicast groups on lo (TTL 1)."""
        sock = self.new_udp_socket()
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        return sock


# ---- the node ------------------------------------------------------------------------

STATUS_LINE = re.compile(r"status: cluster node (?P<node>.*?), peers:.* (?P<accepted>\d+) packets accepted, "
                         r"(?P<dropped>\d+) dropped(?: \((?P<reasons>.*)\))?, (?P<announced>\d+) paths announced "
                         r"by peers, (?P<not_synced_back>\d+) not synced back$")
DROP_LINE = re.compile(rb" clsync (?P<level>warning|debug): cluster: dropped a packet from [0-9.?]+: (?P<reason>.*?)"
                       rb"(?: \(further ones are counted, see SIGUSR1\))?$")


def parse_status_line(line):
    """{reason: count, ACCEPTED: n}, and the paths announced, from a "status: cluster" line."""
    m = STATUS_LINE.search(line)
    if not m:
        raise Failure(f"cannot parse the status line {line!r}")
    counts = collections.Counter({ACCEPTED: int(m["accepted"])})
    for reason, n in re.findall(r"(.+?): (\d+)(?:, |$)", m["reasons"] or ""):
        counts[reason] += int(n)
    if sum(n for r, n in counts.items() if r != ACCEPTED) != int(m["dropped"]):
        raise Failure(f"the dropped counts do not add up to the total in {line!r}")
    return counts, int(m["announced"])


class Node:
    def __init__(self, work, ns, clsync, port):
        self.work = work
        self.src, self.dst = os.path.join(work, "a"), os.path.join(work, "b")
        self.log_path = os.path.join(work, "clsync-a.log")
        self.status_path = os.path.join(work, "status-a")
        self.runs_path = os.path.join(work, "runs-a")
        self.wrapper = os.path.join(work, "wrap-a")
        self.key_path = os.path.join(work, "key")
        self.port = port
        self.proc = None
        with open(self.wrapper, "w") as f:
            f.write(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {shlex.quote(self.runs_path)}\nexec rsync \"$@\"\n")
        os.chmod(self.wrapper, 0o755)
        pdeathsig = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        self.argv = ns.exec_prefix() + pdeathsig + [
            clsync, "-W", self.src, "-D", self.dst, "-t", "0.3", "--state-dir=" + os.path.join(work, "state-a"),
            "--status-file=" + self.status_path, "--status-format=json", "-S", self.wrapper,
            "--cluster-key=" + self.key_path, "--cluster-node-name=" + NODE, "--cluster-iface=lo",
            "--cluster-port=" + str(port), "-d"]

    def write_key(self, key):
        fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)

    def start(self):
        with open(self.log_path, "ab") as log:
            # ip netns exec and setpriv exec: the pid is the daemon's.
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self, when):
        if not self.alive():
            raise Failure(f"the daemon exited with {self.proc.returncode} {when}")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    def status(self):
        """The status file, parsed; None while missing or being rewritten."""
        try:
            with open(self.status_path, "rb") as f:
                return json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError):
            return None

    def runs(self):
        """The wrapper's lines: (all runs, sync runs, i.e. not `rsync --version`)."""
        try:
            with open(self.runs_path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        return len(lines), sum(1 for line in lines if "--version" not in line.split())

    def socket_stats(self):
        """(receive queue bytes, datagrams the kernel dropped) of the node's socket."""
        with open(f"/proc/{self.proc.pid}/net/udp") as f:
            rows = f.read().splitlines()[1:]
        queue = drops = 0
        found = False
        for row in rows:
            fields = row.split()
            if int(fields[1].split(":")[1], 16) == self.port:
                found = True
                queue += int(fields[4].split(":")[1], 16)
                drops += int(fields[-1])
        if not found:
            raise Failure(f"no socket on port {self.port} in /proc/{self.proc.pid}/net/udp")
        return queue, drops

    def wait_drained(self):
        end = time.monotonic() + DRAIN_DEADLINE
        while True:
            self.check_alive("while reading the packets")
            queue, _ = self.socket_stats()
            if queue == 0:
                return
            if time.monotonic() >= end:
                raise Failure(f"the node's socket still holds {queue} bytes after {DRAIN_DEADLINE:.0f} s")
            time.sleep(0.001)

    def counters(self):
        """SIGUSR1, then the node's "status: cluster" line: ({reason: n, ACCEPTED: n}, announced paths)."""
        self.wait_drained()
        start = os.path.getsize(self.log_path)
        needle = f" clsync info: status: cluster node {NODE}, ".encode()
        self.proc.send_signal(signal.SIGUSR1)
        end = time.monotonic() + STATUS_DEADLINE
        while True:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                for line in f.read().splitlines():
                    if needle in line:
                        return parse_status_line(line.decode("utf-8", "backslashreplace"))
            self.check_alive("after SIGUSR1")
            if time.monotonic() >= end:
                raise Failure(f"no 'status: cluster' log line within {STATUS_DEADLINE:.0f} s of SIGUSR1")
            time.sleep(0.02)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            raise Failure(f"the daemon did not exit within {STOP_DEADLINE:.0f} s of SIGTERM")

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- the attacks ---------------------------------------------------------------------

class FakePeerTest:
    """A node (A) in a namespace of its own and peers this test plays, with correctly
    signed packets (this file's Test, cluster_resend.py, cluster_conflict.py, cluster_moved.py): what
    they share."""

    DEADLINE = 30.0  # s: a sync, an announcement, a judgement

    def __init__(self, work, clsync, ns_prefix, key=None):
        self.work = work
        self.ns = Namespace(f"{ns_prefix}-{os.getpid()}")
        self.port = 40000 + os.getpid() % 20000
        self.node = Node(work, self.ns, clsync, self.port)
        # 48 bytes, no newline (clsync strips one)
        self.key = key or random.SystemRandom().randbytes(24).hex().encode()
        self.epoch = int(time.time() * 1000)
        self.seqs = {}
        self.sock = self.listen = None
        self.signatures = {}  # what A announced last (present), by path
        self.deleted = set()  # the paths A's notices announced gone
        self.notices_seen = {}  # A's notices: how many times each (epoch, seq) came
        self.phase = "setup"

    def wait_for(self, what, predicate, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while not predicate():
            self.node.check_alive(f"while waiting for {what}")
            if time.monotonic() >= end:
                raise Failure(f"timed out after {deadline:.0f} s waiting for {what}")
            time.sleep(0.05)

    def in_sync(self, destinations=1):
        listed = (self.node.status() or {}).get("destinations") or []
        return len(listed) == destinations and all(
            d.get("state") == "in sync" and not d.get("pending") and not d.get("running") for d in listed)

    def read_announcements(self, paths):
        """Takes in A's notices that arrived; whether every path of `paths` has a signature."""
        while True:
            try:
                data = self.listen.recv(65536)
            except BlockingIOError:
                break
            notice = notice_of(data, NODE.encode())
            if notice is None:
                continue
            epoch, seq, entries = notice
            self.notices_seen[(epoch, seq)] = self.notices_seen.get((epoch, seq), 0) + 1
            for path, (state, signature) in entries.items():
                if state == 0:
                    self.signatures[path.decode()] = signature
                if state == 1:
                    self.deleted.add(path.decode())
        return all(p in self.signatures for p in paths)

    def send_as(self, node, ptype, body):
        """A packet of peer `node`, signed with the right key and its next seq; the seq."""
        seq = self.seqs.get(node, 0) + 1
        self.seqs[node] = seq
        self.sock.sendto(packet(ptype, node, self.epoch, seq, body, self.key), (GROUP, self.port))
        return seq

    def log_has(self, text, times=1):
        return self.node.log().count(text.encode()) >= times

    def run(self):
        """start(), then steps() one by one, then SIGTERM, which the daemon must exit 0 on."""
        self.phase = "start"
        self.start()
        for step in self.steps():
            step()
        self.phase = "stop"
        rc = self.node.stop()
        if rc != 0:
            raise Failure(f"the daemon exited with {rc} on SIGTERM")

    def start_node(self):
        """The namespace, the sockets and the daemon (its trees made by the caller)."""
        self.node.write_key(self.key)
        self.ns.create()
        self.sock = self.ns.udp_socket()
        self.listen = listener(self.ns, self.port)
        self.node.start()

    def cleanup(self):
        for s in (self.sock, self.listen):
            if s is not None:
                s.close()
        self.sock = self.listen = None
        self.node.kill()
        self.ns.delete()


class Attacks:
    """Each attack returns [(description, bytes, expected outcome)]."""

    def __init__(self, rng, key, wrong_key, src_paths, random_count):
        self.rng = rng
        self.key = key
        self.wrong_key = wrong_key
        self.paths = src_paths  # relative paths (bytes) that exist in WORK/a
        self.random_count = random_count
        self.epoch = int(time.time() * 1000)

    def outcome(self, data):
        return predict(data, self.key)

    def predicted(self, what, packets):
        return [(what, data, self.outcome(data)) for data in packets]

    def random_datagrams(self):
        rng = self.rng
        out = self.predicted("random", (rng.randbytes(rng.randint(0, 9000)) for _ in range(self.random_count)))
        out += self.predicted("CLSY\\x02 + random", (MAGIC + bytes([VERSION]) + rng.randbytes(rng.randint(0, 8995))
                                                     for _ in range(self.random_count // 4)))
        out += self.predicted("CLSY + random", (b"CLSY" + rng.randbytes(rng.randint(1, 8996))
                                                for _ in range(self.random_count // 20)))
        for length in (0, 1, MIN_PACKET - 1, MIN_PACKET, MAX_PACKET, MAX_PACKET + 1, 9000):
            out += self.predicted(f"random, {length} bytes", [MAGIC + bytes([VERSION]) + rng.randbytes(length - 5)
                                                              if length > 5 else rng.randbytes(length)])
        return out

    def wrong_key_packets(self):
        rng, k = self.rng, self.wrong_key
        out = []
        for seq, node in enumerate((b"W", b"A", b"node-with-a-longer-name"), start=1):
            written = [(p, 0, rng.getrandbits(64)) for p in self.paths]
            deleted = [(p, 1, 0) for p in self.paths]
            out.append(("wrong key: written", notice(node, self.epoch, seq, written, k), BAD_MAC))
            out.append(("wrong key: deleted", notice(node, self.epoch, seq + 100, deleted, k), BAD_MAC))
            out.append(("wrong key: root deleted", notice(node, self.epoch, seq + 200, [(b".", 1, 0)], k), BAD_MAC))
            out.append(("wrong key: announce", packet(ANNOUNCE, node, self.epoch, seq + 300, b"", k), BAD_MAC))
            out.append(("wrong key: ack", packet(ACK, node, self.epoch, seq + 400, ack_body(b"A", 1, 1), k), BAD_MAC))
        for p in out:
            assert self.outcome(p[1]) == BAD_MAC
        return out

    def victim_notice(self):
        """A correctly signed notice (never sent whole) announcing WORK/a's paths as deleted."""
        return notice(b"T", self.epoch, 1, [(p, 1, 0) for p in self.paths[:6]], self.key)

    def truncations_and_flips(self):
        whole = self.victim_notice()
        out = self.predicted("truncated", (whole[:n] for n in range(len(whole))))
        flips = []
        for bit in range(len(whole) * 8):
            flipped = bytearray(whole)
            flipped[bit // 8] ^= 1 << (bit % 8)
            flips.append(bytes(flipped))
        out += self.predicted("bit flip", flips)
        assert ACCEPTED not in (o for _, _, o in out)
        return out

    def replays(self):
        path = [(b"nonexistent/zzz", 0, 0x5eed)]
        first = notice(b"Z", self.epoch, 1, path, self.key)
        out = [("Z notice", first, ACCEPTED)] + [("Z notice replayed", first, REPLAYED)] * 50
        out.append(("Z notice, older epoch", notice(b"Z", self.epoch - 1, 7, path, self.key), REPLAYED))
        out.append(("Z notice, seq 200", notice(b"Z", self.epoch, 200, path, self.key), ACCEPTED))
        out.append(("Z notice, seq 100 (> 64 behind)", notice(b"Z", self.epoch, 100, path, self.key), REPLAYED))
        out.append(("Z notice, seq 150 (in the window)", notice(b"Z", self.epoch, 150, path, self.key), ACCEPTED))
        out.append(("Z notice, seq 150 again", notice(b"Z", self.epoch, 150, path, self.key), REPLAYED))
        return out, {b"nonexistent/zzz"}

    def oversized(self):
        limit, limit_paths = notice_of_size(b"Y", self.epoch, 1, MAX_PACKET, self.key, b"nonexistent/limit-")
        over, _ = notice_of_size(b"Y", self.epoch, 2, MAX_PACKET + 1, self.key, b"nonexistent/over-")
        big, _ = notice_of_size(b"Y", self.epoch, 3, 12000, self.key, b"nonexistent/big-")
        out = [("signed notice of 8192 bytes", limit, ACCEPTED), ("signed notice of 8193 bytes", over, TOO_LONG),
               ("signed notice of 12000 bytes", big, TOO_LONG)]
        for _, data, expected in out:
            assert self.outcome(data) == expected
        return out, set(limit_paths)

    def signed_malformed(self):
        k, e = self.key, self.epoch
        entry = [(b"nonexistent/m", 0, 1)]
        good = notice_body(entry)
        ack = ack_body(b"A", 1, 1)
        cases = [
            ("type 0", packet(0, b"M", e, 1, b"", k), BAD_TYPE),
            ("type 6", packet(6, b"M", e, 1, b"", k), BAD_TYPE),
            ("type 255", packet(255, b"M", e, 1, good, k), BAD_TYPE),
            ("version 1", packet(NOTICE, b"M", e, 1, good, k, version=1), BAD_VERSION),
            ("version 3", packet(NOTICE, b"M", e, 1, good, k, version=3), BAD_VERSION),
            ("version 0", packet(NOTICE, b"M", e, 1, good, k, version=0), BAD_VERSION),
            ("magic CLSX", packet(NOTICE, b"M", e, 1, good, k, magic=b"CLSX"), BAD_MAGIC),
            ("flags 1", packet(NOTICE, b"M", e, 1, good, k, flags=1), MALFORMED),
            ("flags 0x8000", packet(ANNOUNCE, b"M", e, 1, b"", k, flags=0x8000), MALFORMED),
            ("empty node name", packet(ANNOUNCE, b"", e, 1, b"\0" * 4, k), MALFORMED),
            ("65-byte node name", packet(ANNOUNCE, b"n" * 65, e, 1, b"", k), MALFORMED),
            ("name length past the end", packet(ANNOUNCE, b"M", e, 1, b"", k, name_len=60), MALFORMED),
            ("seq 0", packet(ANNOUNCE, b"M", e, 0, b"", k), MALFORMED),
            ("body length past the end", packet(NOTICE, b"M", e, 1, good, k, body_len=len(good) + 1), MALFORMED),
            ("body length short of the end", packet(NOTICE, b"M", e, 1, good, k, body_len=len(good) - 1), MALFORMED),
            ("body length 2^32-1", packet(NOTICE, b"M", e, 1, good, k, body_len=0xFFFFFFFF), MALFORMED),
            ("announce with a body", packet(ANNOUNCE, b"M", e, 1, b"x", k), MALFORMED),
            ("notice without a body", packet(NOTICE, b"M", e, 1, b"", k), MALFORMED),
            ("notice, count past the entries", packet(NOTICE, b"M", e, 1, notice_body(entry, count=2), k), MALFORMED),
            ("notice, count 0 with an entry", packet(NOTICE, b"M", e, 1, notice_body(entry, count=0), k), MALFORMED),
            ("notice, count 2^32-1", packet(NOTICE, b"M", e, 1, notice_body(entry, count=0xFFFFFFFF), k), MALFORMED),
            ("notice, count 683", packet(NOTICE, b"M", e, 1, notice_body(entry, count=683), k), MALFORMED),
            ("notice, empty path", notice(b"M", e, 1, [(b"", 0, 1)], k), MALFORMED),
            ("notice, 4097-byte path", notice(b"M", e, 1, [(b"p" * 4097, 1, 0)], k), MALFORMED),
            ("notice, state 3", notice(b"M", e, 1, [(b"nonexistent/m", 3, 0)], k), MALFORMED),
            ("notice, deleted with a signature", notice(b"M", e, 1, [(b"nonexistent/m", 1, 5)], k), MALFORMED),
            ("notice, entry cut short", packet(NOTICE, b"M", e, 1, good[:-3], k), MALFORMED),
            ("notice, a byte after the renames", packet(NOTICE, b"M", e, 1, good + b"\0", k), MALFORMED),
            ("notice, no rename count", packet(NOTICE, b"M", e, 1, entries_body(entry), k), MALFORMED),
            ("notice, rename count past the renames",
             packet(NOTICE, b"M", e, 1, notice_body(entry, renames=[(b"a", b"b")], rename_count=2), k), MALFORMED),
            ("notice, rename of the top", packet(NOTICE, b"M", e, 1, notice_body(entry, renames=[(b".", b"b")]), k),
             MALFORMED),
            ("notice, rename to ../x", packet(NOTICE, b"M", e, 1, notice_body(entry, renames=[(b"a", b"../x")]), k),
             MALFORMED),
            ("notice, rename to an empty name",
             packet(NOTICE, b"M", e, 1, notice_body(entry, renames=[(b"a", b"")]), k), MALFORMED),
            ("notice, path ../escape", notice(b"M", e, 1, [(b"../escape", 0, 123)], k), MALFORMED),
            ("notice, path /etc/passwd", notice(b"M", e, 1, [(b"/etc/passwd", 1, 0)], k), MALFORMED),
            ("notice, path with a NUL", notice(b"M", e, 1, [(b"nonexistent/a\0b", 0, 1)], k), MALFORMED),
            ("notice, path a/../../b", notice(b"M", e, 1, [(b"nonexistent/../../escape2", 1, 0)], k), MALFORMED),
            ("notice, path a//b", notice(b"M", e, 1, [(b"nonexistent//b", 0, 1)], k), MALFORMED),
            ("resend, no entries", packet(RESEND, b"M", e, 1, resend_body(NODE.encode(), []), k), MALFORMED),
            ("resend, a deleted entry", packet(RESEND, b"M", e, 1, resend_body(NODE.encode(), [(b"m", 1, 0)]), k),
             MALFORMED),
            ("resend, empty node", packet(RESEND, b"M", e, 1, resend_body(b"", entry), k), MALFORMED),
            ("resend, path ../x", packet(RESEND, b"M", e, 1, resend_body(NODE.encode(), [(b"../x", 0, 1)]), k),
             MALFORMED),
            ("ack, empty name", packet(ACK, b"M", e, 1, ack_body(b"", 1, 1), k), MALFORMED),
            ("ack, 65-byte name", packet(ACK, b"M", e, 1, ack_body(b"a" * 65, 1, 1), k), MALFORMED),
            ("ack, cut short", packet(ACK, b"M", e, 1, ack[:-1], k), MALFORMED),
            ("ack, a byte after", packet(ACK, b"M", e, 1, ack + b"\0", k), MALFORMED),
            ("this node's name, another epoch", notice(NODE.encode(), 1, 1, entry, k), NAME_CLASH),
            ("this node's name, another epoch again", packet(ANNOUNCE, NODE.encode(), 2, 9, b"", k), NAME_CLASH),
        ]
        for what, data, expected in cases:
            want = expected if expected in DECODER_REASONS else ACCEPTED
            assert self.outcome(data) == want, (what, self.outcome(data), want)
        return cases

    def odd_but_valid(self):
        """A key holder announcing strange paths: accepted, and harmless (nothing is synced)."""
        k, e = self.key, self.epoch
        odd = [(b"nonexistent/\xff\xfe\n", 0, 2), (b"nonexistent/" + b"x" * (MAX_PATH - 12), 1, 0),
               (b"nonexistent/...", 0, 3)]
        # This node asked to sync again what it does not hold as announced (a made-up
        # signature; a directory; a path it does not have): it does nothing.
        asked = [(p, 0, 0x5eed + i) for i, p in enumerate(self.paths[:20])] + [(b".", 0, 1), (b"nonexistent/r", 0, 1)]
        out = [("odd paths", notice(b"V", e, 1, odd, k), ACCEPTED),
               ("resend of made-up versions", packet(RESEND, b"V", e, 5, resend_body(NODE.encode(), asked), k),
                ACCEPTED),
               ("resend asking another node", packet(RESEND, b"V", e, 6, resend_body(b"W", asked), k), ACCEPTED),
               ("notice without entries", notice(b"V", e, 2, [], k), ACCEPTED),
               ("ack of a notice never sent", packet(ACK, b"V", e, 3, ack_body(b"A", 1, 1), k), ACCEPTED),
               ("ack for another node", packet(ACK, b"V", e, 4, ack_body(b"Q" * 64, 2**64 - 1, 2**64 - 1), k),
                ACCEPTED),
               ("64-byte node name", packet(ANNOUNCE, b"N" * 64, e, 2**64 - 1, b"", k), ACCEPTED),
               ("epoch 0", packet(ANNOUNCE, b"U", 0, 1, b"", k), ACCEPTED)]
        for _, data, expected in out:
            assert self.outcome(data) == expected
        return out, {p for p, _, _ in odd}

    def signed_random_bodies(self):
        """A valid signed header (of node R, seq 1, 2, 3, ...: the replay guard lets each
        in), a random type and a random body: mostly malformed, now and then valid."""
        rng, out = self.rng, []
        announced = set()
        for i in range(self.random_count // 4):
            ptype = rng.choice((ANNOUNCE, NOTICE, ACK, DONE, RESEND))
            if ptype == ANNOUNCE:
                body = rng.randbytes(rng.choice((0, rng.randint(0, 20))))
            elif ptype == ACK:
                body = rng.randbytes(rng.randint(0, 40))
            else:
                n = rng.randint(0, 3)
                body = struct.pack(">I", n if rng.random() < 0.5 else rng.getrandbits(32)) + rng.randbytes(
                    rng.randint(0, 30 * n))
            data = packet(ptype, b"R", self.epoch, i + 1, body, self.key)
            expected = self.outcome(data)
            if expected == ACCEPTED and ptype == NOTICE:
                announced |= notice_paths(body)
            out.append(("signed random body", data, expected))
        return out, announced


def notice_paths(body):
    r = Reader(body)
    paths = set()
    for _ in range(r.number(">I")):
        paths.add(r.take(r.number(">H")))
        r.take(9)
    return paths


# ---- the test ------------------------------------------------------------------------

def tally(sent):
    return collections.Counter(expected for _, _, expected in sent)


def describe(counter):
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(counter.items()) if n) or "nothing"


class Test(FakePeerTest):
    def __init__(self, args, seed, work, clsync):
        self.rng = random.Random(seed)
        super().__init__(work, clsync, "clsync-p", key=self.rng.randbytes(24).hex().encode())
        self.args = args
        self.wrong_key = self.rng.randbytes(24).hex().encode()
        self.counts = collections.Counter()
        self.announced = set()
        self.kernel_drops = 0
        self.sent = 0
        self.phase = "setup"

    # ---- setup ----

    def populate(self):
        src = self.node.src
        os.makedirs(os.path.join(src, "docs"))
        os.makedirs(os.path.join(src, "data", "sub"))
        os.makedirs(self.node.dst)
        files = ["top.txt", "docs/readme.txt", "data/values.csv", "data/sub/deep.bin"]
        files += [f"data/sub/f{i:02d}" for i in range(8)]
        for rel in files:
            with open(os.path.join(src, rel), "wb") as f:
                f.write(self.rng.randbytes(self.rng.randint(0, 5000)))
        return sorted(p.encode() for p in files + ["docs", "data", "data/sub"])

    def in_sync(self):
        status = self.node.status()
        dests = (status or {}).get("destinations") or [{}]
        d = dests[0]
        return (d.get("state") == "in sync" and not d.get("pending") and not d.get("running")
                and same_trees(self.node.src, self.node.dst))

    def start(self):
        paths = self.populate()
        self.node.write_key(self.key)
        self.ns.create()
        self.sock = self.ns.udp_socket()
        self.node.start()
        self.wait_for("the initial sync", self.in_sync, START_DEADLINE)
        self.wait_for("the cluster object in the status file",
                      lambda: ((self.node.status() or {}).get("cluster") or {}).get("node") == NODE, STATUS_DEADLINE)
        return paths

    # ---- sending and checking ----

    def send(self, packets):
        pending = 0
        for i, (_, data, _) in enumerate(packets, start=1):
            self.sock.sendto(data, (GROUP, self.port))
            pending += len(data) + 512
            if pending >= PACE_BYTES or i % PACE_PACKETS == 0:
                self.node.wait_drained()
                pending = 0
        self.sent += len(packets)

    def attack(self, name, build):
        """Sends the packets of build() ([(what, bytes, expected outcome)], or that and the
        paths they announce), then checks the node counted exactly that."""
        self.phase = name
        packets = build()
        packets, announced = packets if isinstance(packets, tuple) else (packets, ())
        _, drops_before = self.node.socket_stats()
        before, _ = self.node.counters()
        self.send(packets)
        after, announced_now = self.node.counters()
        _, drops_after = self.node.socket_stats()
        lost = drops_after - drops_before
        self.kernel_drops += lost
        seen = after - before  # Counter subtraction keeps positive counts only
        for reason in set(after) | set(before):
            if after[reason] < before[reason]:
                raise Failure(f"{name}: the counter '{reason}' went down: {before[reason]} -> {after[reason]}")
        print(f"cluster_packets: {name}: sent {len(packets)}; counted {describe(seen)}"
              f"{f'; the kernel dropped {lost}' if lost else ''}", flush=True)
        self.compare(name, packets, seen, lost)
        self.counts.update(seen)
        self.announced |= set(announced)
        if not lost and announced_now != len(self.announced):
            raise Failure(f"{name}: {announced_now} paths announced by peers, expected {len(self.announced)}")
        self.node.check_alive(f"after {name}")

    @staticmethod
    def compare(name, packets, seen, lost):
        expected, sent = tally(packets), len(packets)
        unexpected = {r: n for r, n in seen.items() if r not in expected}
        if unexpected:
            raise Failure(f"{name}: counted for reasons not expected: {unexpected} (expected {describe(expected)})")
        if lost > sent // 10:
            raise Failure(f"{name}: the kernel dropped {lost} of {sent} datagrams (more than 10 %)")
        for reason, n in expected.items():
            if not n - lost <= seen[reason] <= n:
                which = collections.Counter(what for what, _, outcome in packets if outcome == reason)
                raise Failure(f"{name}: '{reason}': counted {seen[reason]}, expected {n}"
                              f"{f' (less at most {lost} lost)' if lost else ''}; "
                              f"all counted: {describe(seen)}; expected: {describe(expected)}; "
                              f"the packets expected '{reason}': {describe(which)}")

    # ---- checks after the attacks ----

    def check_quiet(self, runs_before, iterations_before):
        """No sync run during the attacks, nor for QUIET_SECONDS after them."""
        end = time.monotonic() + QUIET_SECONDS
        while time.monotonic() < end:
            if self.node.runs() != runs_before:
                raise Failure(f"rsync ran during or after the attacks: wrapper lines {runs_before} -> "
                              f"{self.node.runs()} (all, sync runs)")
            self.node.check_alive("after the attacks")
            time.sleep(0.1)
        status, counts = self.status_after_sigusr1()
        d = status["destinations"][0]
        if d.get("iterations") != iterations_before or d.get("pending") or d.get("running"):
            raise Failure(f"the status file shows sync activity after the attacks: {d} "
                          f"(iterations were {iterations_before})")
        diffs = same_trees(self.node.src, self.node.dst, diffs=True)
        if diffs:
            raise Failure("WORK/b differs from WORK/a after the attacks:\n  " + "\n  ".join(diffs[:20]))
        return status, counts

    def status_after_sigusr1(self):
        """The node's counters (log line) and its status file, rewritten by the same SIGUSR1."""
        counts, _ = self.node.counters()
        last = [None]

        def fresh():
            last[0] = self.node.status()
            cluster = (last[0] or {}).get("cluster") or {}
            dropped = collections.Counter(cluster.get("packets_dropped") or {})
            dropped[ACCEPTED] = cluster.get("packets_accepted", -1)
            return +dropped == +counts
        try:
            self.wait_for("the status file to show the counters of the log", fresh, STATUS_DEADLINE)
        except Failure as e:
            raise Failure(f"{e}: log says {describe(counts)}; status file says {last[0] and last[0].get('cluster')}")
        return last[0], counts

    def check_log(self, counts):
        """One "dropped a packet" warning per reason, the rest debug lines, as many as `counts` says."""
        lines = collections.defaultdict(collections.Counter)
        errors, clash_warnings = [], 0
        for line in self.node.log().splitlines():
            m = DROP_LINE.search(line)
            if m:
                lines[m["reason"].decode("utf-8", "backslashreplace")][m["level"].decode()] += 1
            elif b" clsync error: " in line:
                errors.append(line)
            elif b" clsync warning: cluster: another node at " in line:
                clash_warnings += 1
        if errors:
            raise Failure("error lines in the daemon's log:\n  " +
                          "\n  ".join(e.decode("utf-8", "backslashreplace") for e in errors[:10]))
        for reason in DECODER_REASONS:
            warned, debug = lines[reason]["warning"], lines[reason]["debug"]
            if warned > 1:
                raise Failure(f"{warned} warnings 'dropped a packet ... {reason}' (one at most; the rest are debug)")
            if warned + debug != counts[reason] or (counts[reason] and not warned):
                raise Failure(f"'{reason}': {warned} warning and {debug} debug lines in the log, "
                              f"{counts[reason]} counted")
        unknown = set(lines) - set(DECODER_REASONS)
        if unknown:
            raise Failure(f"'dropped a packet' lines for unknown reasons: {unknown}")
        if clash_warnings != (1 if counts[NAME_CLASH] else 0):
            raise Failure(f"{clash_warnings} warnings about another node named {NODE} "
                          f"({counts[NAME_CLASH]} packets): one expected")
        return {r: dict(c) for r, c in lines.items()}

    def genuine_change(self, runs_before):
        rel = f"genuine-{self.rng.randrange(10**6)}.txt"
        content = self.rng.randbytes(3000)
        with open(os.path.join(self.node.src, rel), "wb") as f:
            f.write(content)

        def arrived():
            try:
                with open(os.path.join(self.node.dst, rel), "rb") as f:
                    return f.read() == content and self.in_sync()
            except OSError:
                return False
        start = time.monotonic()
        self.wait_for(f"{rel} to reach WORK/b", arrived, SYNC_DEADLINE)
        runs = self.node.runs()
        if runs[1] <= runs_before[1]:
            raise Failure(f"{rel} reached WORK/b without a run of the rsync wrapper ({runs_before} -> {runs})")
        print(f"cluster_packets: a genuine change reached WORK/b in {time.monotonic() - start:.1f} s "
              f"({runs[1] - runs_before[1]} sync run(s))", flush=True)

    # ---- the scenario ----

    def run(self):
        self.phase = "start"
        paths = self.start()
        runs_before = self.node.runs()
        iterations_before = self.node.status()["destinations"][0].get("iterations")
        print(f"cluster_packets: node A in namespace {self.ns.name}, port {self.port}: initial sync done "
              f"(wrapper lines: {runs_before[0]}, sync runs: {runs_before[1]}, iterations: {iterations_before})",
              flush=True)
        a = Attacks(self.rng, self.key, self.wrong_key, paths, self.args.random_count)
        self.attack("1. random datagrams", a.random_datagrams)
        self.attack("2. wrong key", a.wrong_key_packets)
        self.attack("3. truncations and bit flips", a.truncations_and_flips)
        self.attack("4. replays", a.replays)
        self.attack("5. oversized", a.oversized)
        self.attack("6a. signed, malformed", a.signed_malformed)
        self.attack("6b. signed, odd but valid", a.odd_but_valid)
        self.attack("6c. signed, random bodies", a.signed_random_bodies)

        self.phase = "checks"
        status, counts = self.check_quiet(runs_before, iterations_before)
        if +counts != +self.counts:
            raise Failure(f"the counters ({describe(counts)}) are not the sum of the attacks' "
                          f"({describe(self.counts)})")
        log_lines = self.check_log(counts)
        peers = sorted(p["node"] for p in status["cluster"]["peers"])
        print(f"cluster_packets: {self.sent} packets sent; counted in all: {describe(self.counts)}; "
              f"kernel drops: {self.kernel_drops}", flush=True)
        print(f"cluster_packets: 'dropped a packet' log lines: {log_lines}", flush=True)
        print(f"cluster_packets: {len(peers)} peers in the status file; "
              f"announced paths: {status['cluster']['announced_paths']}; no sync run, WORK/b == WORK/a", flush=True)

        self.phase = "genuine change"
        self.genuine_change(runs_before)
        self.phase = "stop"
        rc = self.node.stop()
        if rc != 0:
            raise Failure(f"the daemon exited with {rc} on SIGTERM")

def log_tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * 1024))
            return "\n".join(f.read().decode("utf-8", "backslashreplace").splitlines()[-lines:])
    except OSError as e:
        return f"(cannot read the log: {e})"


def netns_available():
    return bool(shutil.which("ip")) and subprocess.run(
        ["ip", "netns", "list"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0


def missing_prerequisite(test, clsync):
    """The exit code for what this machine lacks (77: skipped; 2: no binary), printed;
    None if nothing."""
    if os.geteuid() != 0:
        print(f"SKIP: {test} needs root (network namespaces)")
        return 77
    if not netns_available():
        print("SKIP: no working `ip netns`")
        return 77
    if not shutil.which("rsync"):
        print("SKIP: no rsync")
        return 77
    if not os.access(clsync, os.X_OK):
        print(f"{test}: no clsync binary at {clsync} (--clsync or $CLSYNC)", file=sys.stderr)
        return 2
    return None


def fake_peer_main(name, doc, make_test):
    """main() of a FakePeerTest with no options of its own (--clsync, --keep):
    make_test(work, clsync) runs in a new work dir; the exit code."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--clsync", default=os.environ.get("CLSYNC") or DEFAULT_CLSYNC)
    parser.add_argument("--keep", action="store_true", help="keep the work dir after a success")
    args = parser.parse_args()
    clsync = os.path.abspath(args.clsync)
    missing = missing_prerequisite(name, clsync)
    if missing is not None:
        return missing
    work = tempfile.mkdtemp(prefix=f"{name}.", dir="/tmp")
    print(f"{name} work dir: {work}", flush=True)
    # A harness timeout (SIGTERM) still stops the daemon and deletes the namespace.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"{name}: killed by signal {signum}"))
    return run_and_report(name, make_test(work, clsync), work, args.keep)


def run_and_report(name, test, work, keep, about="", replay=None):
    """Runs test.run(): prints OK, SKIP, or FAIL with the daemon log's tail and the kept
    work dir; removes the work dir unless it failed or `keep`; the exit code (0, 77, 1).
    `about`: said after the name (" seed=N")."""
    started = time.monotonic()
    ok = skipped = False
    try:
        test.run()
        ok = True
        print(f"{name}: OK{about}, {time.monotonic() - started:.1f} s")
    except Unavailable as e:
        skipped = True
        print(f"SKIP: network namespace setup failed: {e}")
    except Exception as e:  # a Failure, or a bug of the test (a traceback then)
        if not isinstance(e, Failure):
            traceback.print_exc()
        print(f"{name}: FAIL{about} in phase '{test.phase}': {e}", file=sys.stderr)
        print(f"--- daemon log (last 60 lines of {test.node.log_path}):", file=sys.stderr)
        print(log_tail(test.node.log_path), file=sys.stderr)
        print(f"--- work dir kept: {work}", file=sys.stderr)
        if replay:
            print(f"--- replay: {replay}", file=sys.stderr)
    finally:
        test.cleanup()
    if ok and not keep or skipped:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 77 if skipped else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--clsync", default=os.environ.get("CLSYNC") or DEFAULT_CLSYNC)
    parser.add_argument("--random-count", type=int, default=2000, help="random datagrams of attack 1")
    parser.add_argument("--keep", action="store_true", help="keep the work dir after a success")
    args = parser.parse_args()

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"cluster_packets seed: {seed}", flush=True)
    clsync = os.path.abspath(args.clsync)
    missing = missing_prerequisite("cluster_packets", clsync)
    if missing is not None:
        return missing

    work = tempfile.mkdtemp(prefix="clsync-packets.", dir="/tmp")
    print(f"cluster_packets work dir: {work}", flush=True)
    # A harness timeout (SIGTERM) still stops the daemon and deletes the namespace.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"cluster_packets: killed by signal {signum}"))
    test = Test(args, seed, work, clsync)
    atexit.register(test.cleanup)
    return run_and_report("cluster_packets", test, work, args.keep, f" seed={seed}",
                          f"{sys.argv[0]} --seed {seed}")


if __name__ == "__main__":
    sys.exit(main())
