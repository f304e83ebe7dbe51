#!/usr/bin/env python3
"""Cluster test for clsync: two or three nodes sync one tree both ways, with UDP
multicast notices (--cluster-*) so that changes do not bounce back.

Every node is a daemon in its own network namespace (netns.py: veth pairs on a bridge
in a hub namespace; the root namespace is untouched), watching its own tree tX and
syncing it to the other nodes' trees as local paths (the file system is shared, only
the network is separate). Its rsync (-S) is a wrapper that appends a line to
WORK/rsync-runs-X: that is how sync runs are counted. Each node's randomized workload
(torture.py's, without utime, which would break "newest mtime wins", and without hard
links) stays in its own subdirectory tX/nodeX; node A also edits tA/shared. Converged
means: every status file says every destination "in sync", the trees are equal
(treecmp, but for the mtime of the top directories, which every node writes), and
that holds for 2 s with no sync run meanwhile. Scenarios (--scenarios picks some; 1
always runs):

1. start: trees with different files (and common.txt, newest on the last node, which
   must win) converge; multicast between the namespaces is checked first. With three
   nodes, an overtaken write too: every node has common.bin (16 MiB), newest on C; B's
   syncs into tA are slowed (--bwlimit); A starts, B once A's initial syncs are done,
   and C once B's whole-tree sync into tA runs, so C's copy lands in tA first and B's
   older one over it; tA must end with C's (A asks C to sync it again:
   doc/PROTOCOL.md, Resend);
2. concurrent workloads on every node, then convergence; no node's own subtree may
   change after its own workload stopped (a stale copy or a deleted entry written back);
3. quiet: 10 s without a single sync run (no loop) - the key assertion;
4. stale overwrite: A writes a 16 MiB file (v1), and v2 the moment (2 ms polls of the
   wrapper's log) the sync of v1 started, or a little later: renamed over it from
   outside the tree, or rewritten in place; every node must end with v2;
5. restart: B SIGKILLed, changes on A and on B (B: no deletions, which no daemon sees)
   while it is down; B starts again with the same command line once A's changes are
   all in tB (a whole-tree union sync cannot tell a deletion on its way from an entry
   to bring back); convergence, own subtrees untouched as in 2;
6. link cut: B's link down (notices lost both ways), changes on A and B, link back;
   convergence, then 10 s without a sync run;
7. conflict: one new file written on A and on B at once (A's mtime a second older):
   B's version keeps the name on every node, and A's is kept on every node as
   shared/conflict.txt.clsync-conflict-A-TIME (never a silent overwrite);
8. stale entries: a file A deleted while its daemon was down stays at the peers after
   A's restart (a union); A then renames its directory: the peers remove the file
   (A wrote it and no longer has it), and converge;
9. symlink replaced: A points shared/link elsewhere, twice; each peer's rsync writes the
   new link under a numbered temporary name (.link.N) and renames it into place: a
   delivery, on which no peer runs a sync.
Every daemon must exit 0 on SIGTERM at the end. The daemons run under setpriv
--pdeathsig TERM: they stop even if this test is SIGKILLed.

Root only, with `ip netns`, veth, bridges and rsync (exit 77 otherwise). The workloads
come from random.Random(seed) (the threads interleave freely, though): --seed N
replays them. Exit 0 on success (the work dir is removed unless --keep), 1 on failure
(the work dir is kept, the tail of each node's log is printed; WORK/clock converts the
ops-X.log times to the daemon logs' clock).
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import outage  # noqa: E402
import torture  # noqa: E402
import treecmp  # noqa: E402

from torture import Failure  # noqa: E402

START_DEADLINE = 120.0     # s: the first convergence (every node syncs its whole tree)
CONVERGE_DEADLINE = 120.0  # s: convergence after the last change
SETTLE = 2.0               # s: converged must hold this long with no sync run in between
QUIET = 10.0               # s: the measurement window with no sync run at all
RUN_START_DEADLINE = 30.0  # s: the race's sync run starting
STOP_DEADLINE = 60.0       # s: a daemon exiting on SIGTERM
CHILD_DEADLINE = 60.0      # s: a SIGKILLed daemon's rsync ending on its own
RACE_SIZE = 16 << 20       # bytes of the race file (a sync of it takes a moment)
SLOW_RATE = 2048           # KiB/s: a slowed node's rsync (--bwlimit): common.bin takes 8 s
OVERTAKE_GAP = 1.5         # s: after B's run into tA starts, C starts (B's notices no longer sent again to it)
RACE_ROUNDS = ((0.0, "rename"), (0.03, "truncate"), (0.1, "rename"))  # (delay after the run starts, how v2 is written)
NODE_NAMES = "ABC"

# torture.py's operations, less utime (an mtime set into the past loses under "newest
# mtime wins" by design) and hardlink (whole-tree syncs would hide missed changes).
WORKLOAD_OPS = {name for name, _ in torture.Torture.OPS} - {"utime", "hardlink"}
# While a node's daemon is down, what it cannot miss: a deletion made then is not seen
# by anyone, and the next whole-tree sync (a union) brings the entry back.
OFFLINE_OPS = {"create", "append", "overwrite", "replace", "truncate", "mkdir", "deep_makedirs"}
SHARED_OPS = {"append", "overwrite", "replace", "truncate"}


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "backslashreplace").splitlines()
    except FileNotFoundError:
        return []


def log_tail_no_debug(path, lines):
    """The last `lines` lines of a daemon log that are not "debug:" lines."""
    kept = [line for line in torture.log_tail(path, 5000).splitlines() if " clsync debug: " not in line]
    return "\n".join(kept[-lines:])


def fingerprint(root):
    """{relative path: what clsync keeps equal} for every entry below `root`; an entry
    that changes under the scan (something else writes there) is recorded as such."""
    prints = {}
    for rel, st in treecmp.scan(root).items():
        path = os.path.join(root.encode(), rel)
        try:
            if stat.S_ISLNK(st.st_mode):
                prints[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                prints[rel] = ("dir", oct(st.st_mode))
            else:
                with open(path, "rb") as f:
                    digest = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
                prints[rel] = ("file", oct(st.st_mode), st.st_size, st.st_mtime_ns, digest)
        except OSError as e:
            prints[rel] = ("changed during the scan", e.strerror)
    return prints


def fingerprint_diffs(before, after):
    diffs = [f"gone: {rel!r}" for rel in sorted(set(before) - set(after))]
    diffs += [f"appeared: {rel!r} {after[rel]}" for rel in sorted(set(after) - set(before))]
    diffs += [f"changed: {rel!r} {before[rel]} -> {after[rel]}"
              for rel in sorted(set(before) & set(after)) if before[rel] != after[rel]]
    return diffs


def write_file(path, data):
    """In place, one write: a reader in between sees a shorter file, never an equal size."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


class Node:
    """One cluster node: its tree, its daemon (in its namespace) and its workload."""

    def __init__(self, name, index, work, seed):
        self.name = name
        self.work = work
        self.tree = os.path.join(work, "t" + name)
        self.own = os.path.join(self.tree, "node" + name)
        self.log_path = os.path.join(work, f"clsync-{name}.log")
        self.status_path = os.path.join(work, f"status-{name}")
        self.runs_path = os.path.join(work, f"rsync-runs-{name}")
        self.slow_path = os.path.join(work, f"slow-{name}")  # holds a destination its rsync is slow to
        self.wrapper = os.path.join(work, f"rsync-wrapper-{name}")
        self.state_dir = os.path.join(work, f"state-{name}")
        outside = os.path.join(work, f"outside-{name}")
        for d in (self.tree, self.own, outside):
            os.makedirs(d)
        self.rng = random.Random(seed * 10 + index)
        self.oplog = open(os.path.join(work, f"ops-{name}.log"), "w", buffering=1)
        self.t = torture.Torture(self.rng, self.own, outside, self.oplog, WORKLOAD_OPS, hardlinks=False)
        self.shared = None       # node A's Torture over tA/shared
        self.daemon = None
        self.argv = None
        self.snapshot = None     # fingerprint of `own` when its workload stopped
        self.write_wrapper()

    def write_wrapper(self):
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    "# One line per rsync run: time, argument count, last argument (the destination).\n"
                    "for last; do :; done\n"
                    f"printf '%s %s %s\\n' \"$(date +%s.%N)\" \"$#\" \"$last\" >> '{self.runs_path}'\n"
                    f"if [ -f '{self.slow_path}' ]; then\n"
                    f"    case \"$last\" in \"$(cat '{self.slow_path}')\"*) set -- --bwlimit={SLOW_RATE} \"$@\" ;; esac\n"
                    "fi\n"
                    f"exec '{shutil.which('rsync')}' \"$@\"\n")
        os.chmod(self.wrapper, 0o755)

    # ---- the daemon -------------------------------------------------------------------

    def start(self):
        self.daemon = outage.Daemon(self.argv, self.log_path)
        print(f"cluster: node {self.name}: daemon started (pid {self.daemon.proc.pid})", flush=True)

    def alive(self):
        return self.daemon is not None and self.daemon.alive()

    def kill(self):
        """SIGKILL, as a crash would; then its orphaned rsync runs end on their own."""
        pid = self.daemon.proc.pid
        children = [(c, outage.start_time(c)) for c in outage.descendants(pid)]
        self.daemon.proc.kill()
        self.daemon.proc.wait()
        end = time.monotonic() + CHILD_DEADLINE
        while True:
            left = [c for c, t in children if t is not None and outage.start_time(c) == t]
            if not left:
                break
            if time.monotonic() >= end:
                raise Failure(f"node {self.name}: the killed daemon's children {left} still run "
                              f"after {CHILD_DEADLINE:.0f} s")
            time.sleep(0.1)
        self.daemon = None
        if os.path.exists(self.status_path):
            os.unlink(self.status_path)  # what it says next is the new daemon's
        print(f"cluster: node {self.name}: daemon SIGKILLed ({len(children)} child process(es) then)", flush=True)

    def stop(self, deadline=STOP_DEADLINE):
        """SIGTERM; the exit code (None when it had to be SIGKILLed)."""
        proc = self.daemon.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None

    # ---- what it reports -----------------------------------------------------------

    def run_lines(self):
        """The wrapper's lines for sync runs (not the daemon's `rsync --version`)."""
        return [line for line in read_lines(self.runs_path) if not line.endswith(" --version")]

    def runs(self):
        return len(self.run_lines())

    def runs_size(self):
        try:
            return os.path.getsize(self.runs_path)
        except FileNotFoundError:
            return 0

    def status_problem(self, peers):
        """None when the status file shows every peer's tree "in sync", else why not."""
        status = outage.read_status(self.status_path)
        if status is None:
            return f"node {self.name}: no status file yet"
        entries = {d.get("destination", "").rstrip("/"): d for d in status.get("destinations", [])}
        for peer in peers:
            entry = entries.get(peer.tree)
            if entry is None:
                return f"node {self.name}: no status entry for {peer.tree} (has {sorted(entries)})"
            if entry.get("state") != "in sync":
                return (f"node {self.name} -> {peer.name}: state {entry.get('state')!r}, pending "
                        f"{entry.get('pending')}, running {entry.get('running')}, last error "
                        f"{str(entry.get('last_error'))[:120]!r}")
        return None

    def log_count(self, needle):
        return sum(1 for line in read_lines(self.log_path) if needle in line)

    # ---- its workload ----------------------------------------------------------------

    def workload(self, seconds, ops, stop):
        """torture.py's mutations of `own` (and of tA/shared on A), in bursts."""
        self.t.only = set(ops)
        self.t.rescan()  # peers may have written here (they should not have)
        end = time.monotonic() + seconds
        last_rescan = self.t.ops
        while time.monotonic() < end and not stop.is_set():
            for _ in range(self.rng.randrange(1, 20)):
                self.t.step()
            if self.shared is not None and self.rng.random() < 0.2:
                self.shared.step()
            if self.rng.random() < 0.7:
                time.sleep(self.rng.uniform(0, 0.05))
            if self.t.ops - last_rescan >= 200:
                self.t.rescan()
                last_rescan = self.t.ops
        self.t.rescan()
        self.t.log("stopped", f"{self.t.entries()} entries")


class Cluster:
    def __init__(self, args, seed, work, clsync, net):
        self.args = args
        self.work = work
        self.clsync = clsync
        self.net = net
        self.nodes = [Node(name, i, work, seed) for i, name in enumerate(NODE_NAMES[:args.nodes])]
        self.a, self.b = self.nodes[0], self.nodes[1]
        self.key = os.path.join(work, "key")
        self.phase = "setup"
        self.last_problem = None
        self.write_key()
        self.write_clock()
        # setpriv (it execs, as `ip netns exec` does: the pid stays the daemon's) makes
        # a daemon get SIGTERM if this test dies without its cleanup (SIGKILL).
        orphan_guard = [shutil.which("setpriv"), "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        for node in self.nodes:
            node.argv = net.exec_argv(node.name, orphan_guard + self.daemon_argv(node))

    def write_key(self):
        fd = os.open(self.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex())

    def write_clock(self):
        """The ops-X.log lines carry time.monotonic(); the daemons log the wall clock."""
        offset = time.time() - time.monotonic()
        with open(os.path.join(self.work, "clock"), "w") as f:
            f.write(f"wall clock (the daemon logs, local time) = ops-X.log time + {offset:.6f} s\n"
                    f"e.g. ops time {time.monotonic():.3f} = {time.strftime('%H:%M:%S')}\n")

    def peers(self, node):
        return [n for n in self.nodes if n is not node]

    def daemon_argv(self, node):
        argv = [self.clsync, "-W", node.tree]
        for peer in self.peers(node):
            argv += ["-D", peer.tree, f"--cluster-peer={peer.name}={peer.tree}"]
        argv += ["-M", "rsyncdirect", "-t", "0.5", "--state-dir=" + node.state_dir,
                 "--status-file=" + node.status_path, "--status-format=json", "-S", node.wrapper,
                 "--cluster-key=" + self.key, "--cluster-node-name=" + node.name,
                 "--cluster-iface=" + self.net.iface(node.name),
                 "--cluster-ip=" + netns.GROUP, "--cluster-port=" + str(netns.PORT), "-d"]
        if os.environ.get("CLSYNC_MONITOR"):
            argv.append("--monitor=" + os.environ["CLSYNC_MONITOR"])
        return argv

    # ---- waiting -----------------------------------------------------------------------

    def check_alive(self, what):
        for node in self.nodes:
            if node.daemon is not None and not node.alive():
                raise Failure(f"node {node.name}: daemon exited with {node.daemon.proc.returncode} "
                              f"while {what}")

    def wait_for(self, what, predicate, deadline):
        end = time.monotonic() + deadline
        while True:
            if predicate():
                return
            self.check_alive(f"waiting for {what}")
            if time.monotonic() >= end:
                detail = f"\n  last: {self.last_problem}" if self.last_problem else ""
                raise Failure(f"timed out after {deadline:.0f} s waiting for {what}{detail}")
            time.sleep(0.2)

    def statuses_in_sync(self, nodes):
        for node in nodes:
            problem = node.status_problem(self.peers(node))
            if problem:
                self.last_problem = problem
                return False
        return True

    def tree_diffs(self):
        diffs = []
        first = self.nodes[0]
        for other in self.nodes[1:]:
            try:
                found = treecmp.compare(first.tree, other.tree, check_root_mtime=False, check_dir_mtimes=False)
            except OSError as e:  # an entry vanished under the comparison: a sync is busy
                found = [f"comparison raced with a sync: {e}"]
            diffs += [f"t{first.name} vs t{other.name}: {d}" for d in found]
        return diffs

    def converged_now(self):
        """Every status "in sync", the trees equal, and no sync run meanwhile."""
        runs = [n.runs() for n in self.nodes]
        if not self.statuses_in_sync(self.nodes):
            return None
        diffs = self.tree_diffs()
        if diffs:
            self.last_problem = f"{len(diffs)} difference(s):\n    " + "\n    ".join(diffs[:30])
            return None
        if not self.statuses_in_sync(self.nodes) or [n.runs() for n in self.nodes] != runs:
            return None
        return runs

    def wait_converged(self, what, deadline=CONVERGE_DEADLINE):
        """converged_now() twice, SETTLE apart, with the same run counts: a change still
        on its way to a peer's inotify queue would have started a run meanwhile."""
        self.last_problem = None
        start = time.monotonic()
        first = [None, 0.0]

        def settled():
            runs = self.converged_now()
            if runs is None or runs != first[0]:
                first[:] = [runs, time.monotonic()]
                return False
            return time.monotonic() - first[1] >= SETTLE

        self.wait_for(what, settled, deadline)
        print(f"cluster: {what}: {time.monotonic() - start:.1f} s "
              f"(sync runs so far: {self.run_counts()})", flush=True)

    def run_counts(self):
        return ", ".join(f"{n.name} {n.runs()}" for n in self.nodes)

    def quiet(self, what):
        """QUIET seconds (a measurement window) with no sync run at all, trees equal."""
        before = {n.name: n.runs() for n in self.nodes}
        time.sleep(QUIET)
        self.check_alive(f"in the quiet period {what}")
        after = {n.name: n.runs() for n in self.nodes}
        if after != before:
            new = []
            for node in self.nodes:
                new += [f"{node.name}: {line}" for line in node.run_lines()[before[node.name]:][:10]]
            raise Failure(f"{what}: sync runs during {QUIET:.0f} s of quiet (changes bouncing?): " +
                          ", ".join(f"{n} {before[n]} -> {after[n]}" for n in before) +
                          "\n  new runs (time, argument count, destination):\n  " + "\n  ".join(new))
        diffs = self.tree_diffs()
        if diffs:
            raise Failure(f"{what}: trees differ after the quiet period:\n  " + "\n  ".join(diffs[:30]))
        print(f"cluster: {what}: no sync run in {QUIET:.0f} s (runs: {self.run_counts()})", flush=True)

    # ---- workloads -------------------------------------------------------------------

    def run_workloads(self, plan, seconds):
        """{node: ops} at once, one thread each; each node's fingerprint is taken as
        soon as its own workload stops."""
        stop = threading.Event()
        errors = []

        def work(node, ops):
            try:
                node.workload(seconds, ops, stop)
                node.snapshot = fingerprint(node.own)
            except BaseException as e:  # re-raised below, with the node's name
                errors.append((node, e, traceback.format_exc()))
                stop.set()

        threads = [threading.Thread(target=work, args=(node, ops), daemon=True) for node, ops in plan.items()]
        for thread in threads:
            thread.start()
        try:
            running = threads
            while running:
                running[0].join(0.2)
                self.check_alive("the workloads ran")
                running = [thread for thread in threads if thread.is_alive()]
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        if errors:
            node, e, tb = errors[0]
            raise Failure(f"node {node.name}: workload failed: {e}\n{tb}")
        print("cluster: workloads done: " + ", ".join(
            f"{n.name} {n.t.ops} ops ({n.t.errors} raced), {n.t.entries()} entries" for n in plan), flush=True)

    def snapshot_problems(self, nodes):
        """What changed in each node's own subtree since its own workload stopped."""
        problems = []
        for node in nodes:
            try:
                diffs = fingerprint_diffs(node.snapshot, fingerprint(node.own))
            except OSError as e:  # an entry vanished under the scan: something writes there
                diffs = [f"scan raced with a writer: {e}"]
            problems += [f"t{node.name}/node{node.name}: {d}" for d in diffs]
        return problems

    def converge_untouched(self, what, nodes):
        """Convergence, and no node in `nodes` finds its own files changed by others
        after its workload stopped (a stale copy or a deleted entry synced back)."""
        intro = "a node's own files changed after it stopped writing (a stale copy synced back?)"
        try:
            self.wait_converged(what)
        except Failure as e:
            problems = self.snapshot_problems(nodes)
            if problems:
                raise Failure(f"{e}\n  and {intro}:\n  " + "\n  ".join(problems[:20])) from None
            raise
        problems = self.snapshot_problems(nodes)
        if problems:
            raise Failure(f"{what}: converged, but {intro}:\n  " + "\n  ".join(problems[:30]))

    # ---- the scenarios ---------------------------------------------------------------

    def populate(self):
        """Different files per node; tA/shared on A; common.txt everywhere, newest on
        the last node (which must win)."""
        now = time.time()
        for i, node in enumerate(self.nodes):
            node.t.populate(self.args.initial)
            node.t.log("populated", f"{node.t.entries()} entries")
            path = os.path.join(node.tree, "common.txt")
            with open(path, "w") as f:
                f.write(f"common, from {node.name}\n")
            os.utime(path, (now - 1000 + 100 * i, now - 1000 + 100 * i))
            if len(self.nodes) >= 3:
                path = os.path.join(node.tree, "common.bin")
                write_file(path, node.t.data(RACE_SIZE + 4096 * i))
                os.utime(path, (now - 1000 + 100 * i, now - 1000 + 100 * i))
        shared = os.path.join(self.a.tree, "shared")
        os.makedirs(shared)
        for i in range(5):
            with open(os.path.join(shared, f"s{i}"), "wb") as f:
                f.write(self.a.t.data(self.a.rng.randrange(1, 8192)))
        self.a.shared = torture.Torture(self.a.rng, shared, os.path.join(self.work, "outside-A"),
                                        self.a.oplog, SHARED_OPS, hardlinks=False)

    def scenario_start(self):
        self.phase = "1 start"
        self.populate()
        print("cluster: multicast between the namespaces: " +
              "; ".join(netns.check_multicast(self.net)), flush=True)
        if len(self.nodes) >= 3:
            self.start_overtaking()
        else:
            for node in self.nodes:
                node.start()
        self.wait_converged("1 initial convergence", START_DEADLINE)
        if os.path.exists(self.b.slow_path):
            os.unlink(self.b.slow_path)
        newest = self.nodes[-1]
        for node in self.nodes:
            with open(os.path.join(node.tree, "common.txt")) as f:
                got = f.read().strip()
            if got != f"common, from {newest.name}":
                raise Failure(f"t{node.name}/common.txt says {got!r}: the newest copy (node {newest.name}'s) should win")
        if len(self.nodes) >= 3:
            self.check_overtaken(newest)

    def start_overtaking(self):
        """A starts; once its initial syncs are done, B; once B's whole-tree sync into tA
        runs (slowed), C."""
        a, b, c = self.nodes[:3]
        with open(b.slow_path, "w") as f:
            f.write(a.tree)
        a.start()
        # Not while A's own initial sync walks tA: it would copy B's partial temporary
        # file to the others (a known race, BUGS in clsync(1)).
        self.wait_for("A's initial syncs", lambda: self.statuses_in_sync([a]), START_DEADLINE)
        b.start()
        end = time.monotonic() + RUN_START_DEADLINE
        while not any(line.split()[-1].startswith(a.tree) for line in b.run_lines()):
            if time.monotonic() >= end:
                self.check_alive("waiting for B's sync into tA")
                raise Failure(f"node B: no sync run into tA within {RUN_START_DEADLINE:.0f} s of its start")
            time.sleep(0.01)
        # Not a synchronisation: B's notices are sent again for 1 s to whoever is up;
        # C, started after that, knows nothing of B's run, and does not wait for it.
        time.sleep(OVERTAKE_GAP)
        c.start()

    def check_overtaken(self, newest):
        with open(os.path.join(newest.tree, "common.bin"), "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        for node in self.nodes:
            with open(os.path.join(node.tree, "common.bin"), "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != want:
                    raise Failure(f"t{node.name}/common.bin is not node {newest.name}'s (the newest) copy")
        asked = self.a.log_count("sync 1 paths again")
        print(f"cluster: 1 overtaken write: common.bin is {newest.name}'s everywhere; "
              f"A asked for it again {asked} time(s)" +
              ("" if asked else " (B's copy never landed after C's: the race was not exercised)"), flush=True)

    def scenario_concurrent(self):
        self.phase = "2 concurrent edits"
        self.run_workloads({node: WORKLOAD_OPS for node in self.nodes}, self.args.burst)
        self.converge_untouched("2 converged after concurrent edits", self.nodes)

    def scenario_conflict(self):
        self.phase = "7 conflict"
        a, b = self.nodes[0], self.nodes[1]
        name = "conflict.txt"
        versions = {a: b"A's version\n" * 64, b: b"B's version, the newer\n" * 64}
        now = time.time()
        for node, mtime in ((a, now - 1), (b, now)):
            path = os.path.join(node.tree, "shared", name)
            write_file(path, versions[node])
            os.utime(path, (mtime, mtime))
        self.wait_converged("7 converged after a conflict")
        for node in self.nodes:
            shared = os.path.join(node.tree, "shared")
            with open(os.path.join(shared, name), "rb") as f:
                if f.read() != versions[b]:
                    raise Failure(f"t{node.name}/shared/{name} is not B's version, the newest")
            kept = []
            for entry in sorted(os.listdir(shared)):
                if entry.startswith(f"{name}.clsync-conflict-{a.name}-"):
                    with open(os.path.join(shared, entry), "rb") as f:
                        kept.append((entry, f.read() == versions[a]))
            if not any(same for _, same in kept):
                raise Failure(f"t{node.name}/shared: A's version of {name} is lost: no conflict copy holds it "
                              f"(copies: {kept}; entries: {sorted(os.listdir(shared))})")
        print(f"cluster: 7 conflict: B's version kept the name, A's kept as a conflict copy on every node",
              flush=True)

    def scenario_symlink(self):
        self.phase = "9 symlink replaced"
        link = os.path.join(self.a.tree, "shared", "link")
        for target in ("first-target", "second-target", "third-target"):
            peer_runs = {n.name: n.runs() for n in self.nodes[1:]}
            temp = link + ".new"
            os.symlink(target, temp)
            os.rename(temp, link)
            self.wait_converged(f"9 converged after the link to {target}")
            ran = [f"{n.name} {peer_runs[n.name]} -> {n.runs()}" for n in self.nodes[1:]
                   if n.runs() != peer_runs[n.name]]
            if ran and target != "first-target":  # the first link is new: no temporary name
                raise Failure(f"a peer ran a sync on A's replaced symlink (its delivery): {', '.join(ran)}"
                              "\n  new runs (time, argument count, destination):\n  " +
                              "\n  ".join(line for n in self.nodes[1:]
                                           for line in n.run_lines()[peer_runs[n.name]:][:5]))
        print("cluster: 9 symlink replaced: no peer ran a sync on the delivery", flush=True)

    def scenario_stale(self):
        """An entry A deleted while its daemon was down stays at the peers (a whole-tree
        union cannot tell it from one to bring back); once A syncs its directory whole
        (a rename of it), the peers remove it: A wrote it there and has it no more."""
        self.phase = "8 stale entries"
        a = self.a
        top = os.path.join(a.own, "stale")
        os.makedirs(os.path.join(top, "dir"))
        for name in ("kept", "gone"):
            write_file(os.path.join(top, "dir", name), name.encode() * 100)
        self.wait_converged("8 converged with stale/dir")
        rc = a.stop()
        if rc != 0:
            raise Failure(f"node {a.name}: daemon exited with {rc} on SIGTERM, expected 0")
        os.unlink(os.path.join(top, "dir", "gone"))
        whole_tree_runs = a.log_count("synced the whole tree")
        a.start()
        self.wait_for(f"8 {a.name}'s initial sync after its restart",
                      lambda: a.log_count("synced the whole tree") > whole_tree_runs, START_DEADLINE)
        os.rename(os.path.join(top, "dir"), os.path.join(top, "moved"))
        self.wait_converged("8 converged after the rename (stale/moved/gone removed at the peers)")
        for node in self.nodes:
            names = sorted(os.listdir(os.path.join(node.tree, "node" + a.name, "stale", "moved")))
            if names != ["kept"]:
                raise Failure(f"t{node.name}/node{a.name}/stale/moved holds {names}, expected ['kept']")
        print("cluster: 8 stale entries: what A deleted while down is gone from every node", flush=True)

    def scenario_quiet(self):
        self.phase = "3 quiet"
        self.quiet("3 after the concurrent edits")

    def wait_run_start(self, node):
        """Returns as soon as (2 ms polls) the node's rsync wrapper logs one more run."""
        size = node.runs_size()
        end = time.monotonic() + RUN_START_DEADLINE
        while node.runs_size() == size:
            if time.monotonic() >= end:
                self.check_alive(f"waiting for node {node.name}'s sync run")
                raise Failure(f"node {node.name}: no sync run within {RUN_START_DEADLINE:.0f} s of a change")
            time.sleep(0.002)
        return time.monotonic()

    def race_round(self, path, i, delay, how):
        """v1 into `path`; v2 `delay` s after the sync run of v1 started: renamed over
        it from outside the tree (written right after v1), or written in place. Every
        node must end with v2."""
        v1 = self.a.t.data(RACE_SIZE)
        v2 = self.a.t.data(RACE_SIZE + 4096 * (i + 1))
        staged = os.path.join(self.work, "outside-A", "race.v2")
        write_file(path, v1)
        # Staged after v1: a file renamed in with an older mtime loses to the peers'
        # copies under "newest mtime wins" (clsync(1)); rsync 3.5.0's --modify-window=-1
        # hid that within 2 s.
        if how == "rename":
            write_file(staged, v2)
        started = self.wait_run_start(self.a)
        time.sleep(delay)  # where in the run v2 lands, not a synchronisation
        os.rename(staged, path) if how == "rename" else write_file(path, v2)
        written = time.monotonic() - started
        in_run = bool(self.a.daemon and outage.descendants(self.a.daemon.proc.pid))
        self.wait_converged(f"4 converged after race round {i + 1} (v2 {how} {written * 1000:.0f} ms "
                            f"after the run started; A's rsync still running then: {'yes' if in_run else 'no'})")
        want = hashlib.sha256(v2).hexdigest()
        for node in self.nodes:
            with open(os.path.join(node.tree, os.path.relpath(path, self.a.tree)), "rb") as f:
                data = f.read()
            if hashlib.sha256(data).hexdigest() != want:
                which = "v1" if data == v1 else f"neither v1 nor v2 ({len(data)} bytes)"
                raise Failure(f"race round {i + 1}: t{node.name}/{os.path.relpath(path, self.a.tree)} is "
                              f"{which}, not v2: a stale copy overwrote the newer edit")
        return in_run

    def scenario_race(self):
        self.phase = "4 stale overwrite"
        path = os.path.join(self.a.tree, "shared", "race.bin")
        hits = sum(self.race_round(path, i, delay, how) for i, (delay, how) in enumerate(RACE_ROUNDS))
        if not hits:
            print("cluster: warning: v2 never landed while A's rsync ran (a loaded machine?): "
                  "the race was not exercised", flush=True)

    def written_to(self, writers, target):
        """Every writer "in sync" and its own subtree (and tA/shared) equal in `target`'s
        tree: what only the writers write there has all arrived."""
        if not self.statuses_in_sync(writers):
            return False
        pairs = [(w.own, os.path.join(target.tree, os.path.basename(w.own))) for w in writers]
        if self.a in writers:
            pairs.append((os.path.join(self.a.tree, "shared"), os.path.join(target.tree, "shared")))
        for src, dst in pairs:
            try:
                # Directory times of a cluster's syncs may differ below the second (clsync(1)).
                diffs = treecmp.compare(src, dst, check_root_mtime=False, check_dir_mtimes=False)
            except OSError as e:
                diffs = [f"comparison raced with a sync: {e}"]
            if diffs:
                self.last_problem = f"{src} vs {dst}: " + "; ".join(diffs[:5])
                return False
        return True

    def scenario_restart(self):
        self.phase = "5 restart"
        b = self.b
        b.kill()
        others = [n for n in self.nodes if n is not b]
        plan = {self.a: WORKLOAD_OPS, b: OFFLINE_OPS}
        self.run_workloads(plan, self.args.burst / 2)
        # A union of whole trees cannot tell a deletion still on its way from an entry
        # to bring back: B starts once the running nodes have written everything to tB.
        self.wait_for(f"5 the running nodes' changes written to t{b.name} (its daemon down)",
                      lambda: self.written_to(others, b), CONVERGE_DEADLINE)
        b.start()
        self.converge_untouched(f"5 converged after {b.name}'s restart", list(plan))

    def scenario_link_cut(self):
        self.phase = "6 link cut"
        b = self.b
        self.net.cut_link(b.name)
        if self.net.link_is_up(b.name):
            raise Failure(f"node {b.name}'s link is still up after cut_link")
        print(f"cluster: node {b.name}: link cut", flush=True)
        try:
            self.run_workloads({self.a: WORKLOAD_OPS, b: WORKLOAD_OPS}, self.args.burst / 2)
        finally:
            self.net.restore_link(b.name)
        print(f"cluster: node {b.name}: link restored", flush=True)
        self.wait_converged("6 converged after the link cut")
        self.quiet("6 after the link cut")

    def stop_all(self):
        self.phase = "stop"
        for node in self.nodes:
            rc = node.stop()
            if rc != 0:
                raise Failure(f"node {node.name}: daemon exited with {rc} on SIGTERM "
                              f"({'killed after ' + str(STOP_DEADLINE) + ' s' if rc is None else 'expected 0'})")
        print("cluster: every daemon exited 0 on SIGTERM", flush=True)

    def run(self, selected):
        """Scenario 1 always (it starts the nodes), then the `selected` others in order."""
        self.scenario_start()
        for number, scenario in ((2, self.scenario_concurrent), (3, self.scenario_quiet),
                                 (4, self.scenario_race), (5, self.scenario_restart),
                                 (6, self.scenario_link_cut), (7, self.scenario_conflict),
                                 (8, self.scenario_stale), (9, self.scenario_symlink)):
            if number in selected:
                scenario()
        self.stop_all()
        print("cluster: 'not synced back' lines: " + ", ".join(
            f"{n.name} {n.log_count('not synced back')}" for n in self.nodes), flush=True)

    # ---- the end -----------------------------------------------------------------------

    def report(self):
        """What a failure report shows of every node."""
        for node in self.nodes:
            if node.alive():
                print(f"--- node {node.name} processes (pid state wchan command):", file=sys.stderr)
                print(torture.process_tree(node.daemon.proc.pid), file=sys.stderr)
            print(f"--- node {node.name}: {node.runs()} sync runs; status file: "
                  f"{json.dumps(outage.read_status(node.status_path))}", file=sys.stderr)
            print(f"--- node {node.name}: log (its last 40 lines but debug ones; all in {node.log_path}):",
                  file=sys.stderr)
            print(log_tail_no_debug(node.log_path, 40), file=sys.stderr)
        try:
            print(f"--- network:\n{self.net.describe()}", file=sys.stderr)
        except Exception as e:  # the report must not hide the failure
            print(f"--- network: {e}", file=sys.stderr)

    def shutdown(self):
        """SIGTERMs (then SIGKILLs) whatever still runs, every node before printing a
        word (a closed stdout must not leave a daemon behind); closes the op logs."""
        outcomes = []
        for node in self.nodes:
            if node.alive():
                rc = node.stop(deadline=30)
                outcomes.append(f"--- node {node.name}: daemon " +
                                ("killed: no exit within 30 s of SIGTERM" if rc is None else f"exited with {rc} on SIGTERM"))
            node.oplog.close()
        try:
            for line in outcomes:
                print(line, file=sys.stderr)
        except OSError:
            pass


def default_clsync():
    if os.environ.get("CLSYNC"):
        return os.environ["CLSYNC"]
    built = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clsync")
    return built if os.path.exists(built) else None


def skip_reason():
    why = netns.available()
    if why:
        return why
    if not shutil.which("rsync"):
        return "no rsync"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--nodes", type=int, choices=(2, 3), default=2)
    parser.add_argument("--keep", action="store_true", help="keep the work dir even on success")
    parser.add_argument("--clsync", default=default_clsync(), help="the binary (default: $CLSYNC, else the repo's ./clsync)")
    parser.add_argument("--burst", type=float, default=5.0, help="seconds of concurrent workload (scenario 2; half in 5, 6)")
    parser.add_argument("--initial", type=int, default=40, help="entries per node before the daemons start")
    parser.add_argument("--scenarios", default="1,2,3,4,5,6,7,8,9",
                        help="comma-separated scenarios to run (1, the start, always runs)")
    args = parser.parse_args()
    try:
        selected = {int(n) for n in args.scenarios.split(",") if n.strip()}
    except ValueError:
        parser.error("--scenarios takes numbers 1 to 9, comma-separated")

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"cluster seed: {seed}, {args.nodes} nodes", flush=True)
    why = skip_reason()
    if why:
        print(f"SKIP: {why}")
        return 77
    if not args.clsync:
        print("cluster: no clsync binary (--clsync or $CLSYNC)", file=sys.stderr)
        return 2
    clsync = os.path.abspath(args.clsync)
    for name in netns.remove_stale():
        print(f"cluster: removed the stale namespace {name}", flush=True)

    # A harness timeout (SIGTERM) still stops the daemons and removes the namespaces.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"cluster: killed by signal {signum} (seed {seed})"))
    try:
        net = netns.Network(NODE_NAMES[:args.nodes])
    except netns.Unavailable as e:
        print(f"SKIP: {e}")
        return 77
    except netns.NetError as e:
        print(f"cluster: FAIL: the network namespaces: {e}", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="clsync-cluster.", dir=os.environ.get("TMPDIR", "/tmp"))
    print(f"cluster work dir: {work}", flush=True)
    started = time.monotonic()
    test = None
    ok = False
    try:
        test = Cluster(args, seed, work, clsync, net)
        test.run(selected)
        ok = True
        print(f"cluster: OK seed={seed}, {args.nodes} nodes, {time.monotonic() - started:.1f} s")
    except Exception as e:  # a Failure, or a bug of the test (a traceback then)
        if not isinstance(e, (Failure, netns.NetError)):
            traceback.print_exc()
        phase = test.phase if test else "setup"
        print(f"cluster: FAIL seed={seed} in phase '{phase}': {e}", file=sys.stderr)
        if test:
            test.report()
        print(f"--- work dir kept: {work}", file=sys.stderr)
        print(f"--- ops-X.log times to daemon log times: {os.path.join(work, 'clock')}", file=sys.stderr)
        print(f"--- replay: {sys.argv[0]} --seed {seed} --nodes {args.nodes}"
              f"{' --scenarios ' + args.scenarios if args.scenarios != '1,2,3,4,5,6,7,8,9' else ''}", file=sys.stderr)
    finally:
        try:
            if test is not None:
                test.shutdown()
        finally:
            net.close()
    if ok and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    elif ok:
        print(f"cluster: work dir kept: {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
