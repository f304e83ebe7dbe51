#!/usr/bin/env python3
"""Cluster benchmark (issue 8): a bidirectional burst between two nodes.

Two trees tA and tB start with the same BASE files (1,000 files of 4 KiB in 20 dirs,
copied with `cp -a` before any daemon starts). Once the daemons have settled, two threads
write, at the same moment, FILES new files (5,000 by default, 4 KiB of random data each,
in 50 new directories) into tA/a-* and as many into tB/b-*. Measured, per tool:

  converge s     from the start of the burst until tA and tB hold the same regular files
                 with the same sizes and mtimes (both listed every 0.2 s once both writers
                 are done; the time is the start of the first poll that found them equal);
                 byte-equality is checked at the end;
  runs           rsync invocations started from the start of the burst until convergence
                 (both directions);
  quiet runs     rsync invocations in the QUIET s (10) after convergence: a change bouncing
                 back and forth (must be 0 for ours);
  transfers      file transfers rsync logged (--log-file, `%o %i %n`, items whose data was
                 sent: itemize `>f...`/`<f...`), from the start of the burst until the end
                 of the quiet period; "files sent more than once": names with more than one
                 transfer, either direction;
  bounced        transfers made from the side that did not write the file: a-* sent
                 B -> A, b-* sent A -> B, and any transfer of a BASE file (equal on both
                 sides throughout);
  deleted        files rsync deleted (nothing is deleted in this workload);
  lost / wrong   files of the expected final tree missing / with another size or mtime;
  CPU s          utime+stime of both daemons and of the children they reaped (rsync),
                 start of the burst to the end of the quiet period.

Tools (two instances each, one per direction, or one node each):

  ours      our clsync as a cluster node in its own network namespace (tests/system/netns.py):
            clsync -W tA -D tB -M rsyncdirect -t 0.5 --state-dir=WORK/state-A
                   --status-file=WORK/status-A --status-format=json -S WORK/rsync-A
                   --cluster-key=WORK/key --cluster-node-name=A --cluster-iface=veth-A
            and the same for B (-W tB -D tA ... veth-B), under setpriv --pdeathsig TERM;
  ours-t1   the same with -t 1 (the peers' delay: clsync 0.4.5 takes whole seconds only);
  debian    Debian's clsync 0.4.5, two one-way instances A -> B and B -> A, as in bench/run:
            clsync -M rsyncdirect -S WORK/rsync-A -W tA -D tB -L WORK/lists-A -H /NULL/
                   -u 0 -g 0 -t 1 -w 1 -T 1 -x 23 -x 24
  lsyncd    lsyncd 2.2.3, two one-way instances (default.rsync, delay = 1).

WORK/rsync-X is `sh` that appends "START_TIME PID" to WORK/runs-X and execs
/usr/bin/rsync --log-file=WORK/xfer-X/START_TIME-PID --log-file-format='%o %i %n' "$@"
(`rsync --version`, which our daemon runs at start, is passed through uncounted).

Ready before the burst: ours, both status files say the peer's tree is "in sync" and
each node has heard the other; every tool, the rsync counts unchanged for 2 s.

Tools run interleaved (the first rotates per repetition); medians over the repetitions.
Root only (network namespaces; clsync 0.4.5 runs with -u 0 -g 0). Python 3 standard
library only. Every daemon is stopped and the namespaces removed on the way out.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))
import delta_bench as db  # noqa: E402  (helpers: /proc, medians, formatting)
import netns  # noqa: E402

from delta_bench import f, fr, log, med, now, ratio  # noqa: E402

REAL_RSYNC = db.REAL_RSYNC
BASE_DIRS = 20
FILE_SIZE = 4096
SETTLE = 2.0          # s without a new rsync run: the daemons are idle
READY_DEADLINE = 120.0
POLL = 0.2
XFER_RE = re.compile(r"^\S+ \S+ \[\d+\] (send|recv|del\.) (.{11}) (.*)$")


def wall():
    return time.time()


# ---------------------------------------------------------------- trees

def write_new(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return st.st_size, st.st_mtime_ns


def make_base(root, nfiles):
    """nfiles files of 4 KiB random data in BASE_DIRS dirs c-NN."""
    os.makedirs(root)
    ndirs = min(BASE_DIRS, max(1, nfiles))
    for d in range(ndirs):
        os.mkdir(os.path.join(root, f"c-{d:02d}"))
    for i in range(nfiles):
        write_new(os.path.join(root, f"c-{i % ndirs:02d}", f"f{i:05d}"), os.urandom(FILE_SIZE))


def listing(root):
    """{relative path: (size, mtime_ns)} of the files below root (the bench writes regular files only)."""
    return {rel: (size, mtime) for rel, (is_dir, size, mtime) in db.snapshot(root).items() if not is_dir}


def byte_diffs(a, b, names):
    """Names whose contents differ between trees a and b (or that cannot be read)."""
    bad = []
    for rel in names:
        try:
            with open(os.path.join(a, rel), "rb") as fa, open(os.path.join(b, rel), "rb") as fb:
                if fa.read() != fb.read():
                    bad.append(rel)
        except OSError:
            bad.append(rel)
    return bad


def tree_state(la, lb, expected):
    """Counts describing how two listings differ from each other and from the expected tree."""
    only_a = sum(1 for k in la if k not in lb)
    only_b = sum(1 for k in lb if k not in la)
    differ = sum(1 for k in la if k in lb and la[k] != lb[k])
    lost = sum(1 for k in expected if k not in la and k not in lb)
    missing_a = sum(1 for k in expected if k not in la)
    missing_b = sum(1 for k in expected if k not in lb)
    wrong = sum(1 for k, v in expected.items() if (k in la and la[k] != v) or (k in lb and lb[k] != v))
    extra = sum(1 for k in set(la) | set(lb) if k not in expected)
    state = {"only_in_A": only_a, "only_in_B": only_b, "differ": differ, "missing_in_A": missing_a,
             "missing_in_B": missing_b, "lost": lost, "wrong": wrong, "extra": extra}
    if wrong:  # a few examples: name, (size, mtime ns) as written, in A, in B
        state["wrong_examples"] = [(k, v, la.get(k), lb.get(k)) for k, v in expected.items()
                                   if (k in la and la[k] != v) or (k in lb and lb[k] != v)][:3]
    return state


# ---------------------------------------------------------------- one side: wrapper, daemon

class Side:
    """One direction X -> Y: the wrapper that counts its rsync runs and logs their transfers,
    and the daemon process (a one-way instance, or our cluster node X)."""

    def __init__(self, work, name, tree, other):
        self.work, self.name, self.tree, self.other = work, name, tree, other
        self.runs_path = os.path.join(work, f"runs-{name}")
        self.xfer_dir = os.path.join(work, f"xfer-{name}")
        self.wrapper = os.path.join(work, f"rsync-{name}")
        self.log_path = os.path.join(work, f"daemon-{name}.log")
        os.makedirs(self.xfer_dir)
        open(self.runs_path, "w").close()
        with open(self.wrapper, "w") as fw:
            fw.write("#!/bin/sh\n"
                     "# Counts rsync runs (start time, pid) and has rsync log what it transfers.\n"
                     f'case "$1" in --version) exec {REAL_RSYNC} "$@";; esac\n'
                     "t=$(date +%s.%N)\n"
                     f"echo \"$t $$\" >> '{self.runs_path}'\n"
                     "# rsync keeps one log: a cluster node's own (what it wrote, own_writes.h) gives way.\n"
                     "for a; do shift; case \"$a\" in --log-file=*|--log-file-format=*) ;; "
                     "*) set -- \"$@\" \"$a\" ;; esac; done\n"
                     f"exec {REAL_RSYNC} --log-file='{self.xfer_dir}/'\"$t-$$\" "
                     "--log-file-format='%o %i %n' \"$@\"\n")
        os.chmod(self.wrapper, 0o755)
        self.proc = None
        self.pid = None
        self.strays = 0
        self.cpu0 = None

    def start(self, argv):
        with open(self.log_path, "w") as lf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                         cwd=self.work, start_new_session=True)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def run_starts(self):
        """Wall-clock start times of the rsync runs so far."""
        try:
            with open(self.runs_path) as fr_:
                return [float(line.split()[0]) for line in fr_ if line.strip()]
        except (OSError, ValueError, IndexError):
            return []

    def runs(self):
        return len(self.run_starts())

    def busy(self):
        return bool(self.pid and db.descendants(self.pid))

    def cpu(self):
        return db.proc_cpu_seconds(self.pid) if self.pid else None

    def log_tail(self, n=8):
        try:
            with open(self.log_path, errors="replace") as fl:
                lines = [line.rstrip("\n") for line in fl if " debug: " not in line]
        except OSError:
            return []
        return lines[-n:]

    def transfers(self, since, until):
        """(op, itemize, name, run start) of every item logged by the runs started from `since` to `until`."""
        items = []
        for fn in sorted(os.listdir(self.xfer_dir)):
            try:
                start = float(fn.split("-")[0])
            except ValueError:
                continue
            if not since <= start <= until:
                continue
            with open(os.path.join(self.xfer_dir, fn), errors="replace") as fx:
                for line in fx:
                    m = XFER_RE.match(line.rstrip("\n"))
                    if m:
                        items.append((m.group(1), m.group(2), m.group(3), start))
        return items

    def stop(self):
        """SIGTERM (SIGKILL after 10 s), then whatever is left in its session. Exit code."""
        if self.proc is None:
            return None
        code, strays = db.stop_session(self.proc, self.pid, f"side {self.name}: the daemon")
        self.strays = max(self.strays, strays)
        return code


# ---------------------------------------------------------------- the tools

class Tool:
    key = name = "?"

    def start(self, run):
        raise NotImplementedError

    def ready_problem(self, run):
        """None once the tool says it is ready (besides the settled run counts), else why not."""
        return None

    def command(self, run):
        """The command lines, with WORK for the run's dir."""
        return [" ".join(c).replace(run.work, "WORK") for c in run.argvs]


class Ours(Tool):
    def __init__(self, binary, net, delay, key="ours"):
        self.binary, self.net, self.delay, self.key = binary, net, delay, key
        self.name = f"clsync (ours, cluster, -t {delay:g})"
        self.guard = [shutil.which("setpriv"), "--pdeathsig", "TERM"] if shutil.which("setpriv") else []

    def start(self, run):
        keyfile = os.path.join(run.work, "key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fk:
            fk.write(os.urandom(32).hex())
        for s in run.sides:
            argv = [self.binary, "-W", s.tree, "-D", s.other, "-M", "rsyncdirect", "-t", f"{self.delay:g}",
                    "--state-dir=" + os.path.join(run.work, f"state-{s.name}"),
                    "--status-file=" + os.path.join(run.work, f"status-{s.name}"), "--status-format=json",
                    "-S", s.wrapper, "--cluster-key=" + keyfile, "--cluster-node-name=" + s.name,
                    "--cluster-iface=" + self.net.iface(s.name)]
            run.argvs.append(argv)
            s.start(self.net.exec_argv(s.name, self.guard + argv))

    def status(self, run, side):
        try:
            with open(os.path.join(run.work, f"status-{side.name}"), "rb") as fs:
                return json.loads(fs.read().decode())
        except (OSError, ValueError):
            return None

    def ready_problem(self, run):
        for s in run.sides:
            st = self.status(run, s)
            if st is None:
                return f"node {s.name}: no status file yet"
            dests = {d.get("destination", "").rstrip("/"): d for d in st.get("destinations", [])}
            d = dests.get(s.other.rstrip("/"))
            if d is None or d.get("state") != "in sync":
                return f"node {s.name}: destination state {None if d is None else d.get('state')!r}"
            if not self.peer_up(st, "B" if s.name == "A" else "A"):
                return f"node {s.name}: has not heard its peer yet ({json.dumps(st.get('cluster'))[:200]})"
        return None

    @staticmethod
    def peer_up(st, peer):
        """Whether the status JSON ({"cluster": {"peers": [{"node", "state"}...]}}) shows `peer` up."""
        cl = st.get("cluster") or {}
        return any(p.get("node") == peer and p.get("state") == "up" for p in cl.get("peers", []))

    def counters(self, run):
        """The cluster counters of both nodes' status files (paths not synced back, packets)."""
        out = {}
        for s in run.sides:
            cl = (self.status(run, s) or {}).get("cluster") or {}
            out[s.name] = {k: cl.get(k) for k in ("not_synced_back", "announced_paths", "packets_accepted",
                                                  "packets_dropped")}
        return out


class Debian(Tool):
    key, name = "debian", "clsync 0.4.5 (2 one-way)"

    def __init__(self, binary):
        self.binary = binary

    def start(self, run):
        for s in run.sides:
            lists = os.path.join(run.work, f"lists-{s.name}")
            os.makedirs(lists)
            os.chmod(lists, 0o700)
            argv = [self.binary, "-M", "rsyncdirect", "-S", s.wrapper, "-W", s.tree, "-D", s.other, "-L", lists,
                    "-H", "/NULL/", "-u", "0", "-g", "0", "-t", "1", "-w", "1", "-T", "1", "-x", "23", "-x", "24"]
            run.argvs.append(argv)
            s.start(argv)


class Lsyncd(Tool):
    key, name = "lsyncd", "lsyncd 2.2.3 (2 one-way)"

    def __init__(self, binary):
        self.binary = binary

    def start(self, run):
        for s in run.sides:
            conf = os.path.join(run.work, f"lsyncd-{s.name}.conf.lua")
            with open(conf, "w") as fc:
                fc.write(f'settings {{ nodaemon = true, logfile = "{run.work}/lsyncd-{s.name}.log", '
                         f'statusFile = "{run.work}/lsyncd-{s.name}.status", statusInterval = 1, insist = true }}\n'
                         f'sync {{ default.rsync, source = "{s.tree}", target = "{s.other}", delay = 1,\n'
                         f'       rsync = {{ binary = "{s.wrapper}", archive = true, hard_links = true }} }}\n')
            argv = [self.binary, conf]
            run.argvs.append(argv)
            s.start(argv)

    def command(self, run):
        with open(os.path.join(run.work, "lsyncd-A.conf.lua")) as fc:
            conf = fc.read().replace(run.work, "WORK")
        return [" ".join(c).replace(run.work, "WORK") for c in run.argvs] + ["WORK/lsyncd-A.conf.lua:\n" + conf]


# ---------------------------------------------------------------- one run

class Run:
    def __init__(self, base, tool, rep):
        self.tool = tool
        self.work = tempfile.mkdtemp(prefix=f"{tool.key}-{rep + 1}-", dir=base)
        self.tA, self.tB = os.path.join(self.work, "tA"), os.path.join(self.work, "tB")
        self.argvs = []
        self.sides = []

    def setup_sides(self):
        self.sides = [Side(self.work, "A", self.tA, self.tB), Side(self.work, "B", self.tB, self.tA)]

    def runs(self):
        return [s.runs() for s in self.sides]

    def dead(self):
        return [s for s in self.sides if not s.alive()]


def wait_ready(run, tool):
    """The tool's own signal (ours: status files), then rsync counts unchanged, no rsync
    running, for SETTLE s; and the trees still equal."""
    end = now() + READY_DEADLINE
    token, since, problem = None, now(), "not checked"
    while now() < end:
        dead = run.dead()
        if dead:
            raise RuntimeError(f"side {dead[0].name} exited with {dead[0].proc.returncode} before the burst: "
                               + " | ".join(dead[0].log_tail()))
        problem = tool.ready_problem(run)
        t = (run.runs(), any(s.busy() for s in run.sides), problem)
        if t != token:
            token, since = t, now()
        elif problem is None and not t[1] and now() - since >= SETTLE:
            if listing(run.tA) != listing(run.tB):
                raise RuntimeError("the trees differ after the initial syncs")
            return
        time.sleep(0.1)
    raise RuntimeError(f"not ready after {READY_DEADLINE:.0f} s: {problem}; runs {run.runs()}")


def writer(root, prefix, ndirs, nfiles, payloads, barrier, out):
    """Waits at the barrier, then writes nfiles into ndirs new dirs PREFIX-NN."""
    made = {}
    barrier.wait()
    t0 = now()
    per = [nfiles // ndirs + (1 if d < nfiles % ndirs else 0) for d in range(ndirs)]
    i = 0
    for d, n in enumerate(per):
        rel_dir = f"{prefix}-{d:02d}"
        os.mkdir(os.path.join(root, rel_dir))
        for _ in range(n):
            rel = f"{rel_dir}/f{i:05d}"
            made[rel] = write_new(os.path.join(root, rel), payloads[i])
            i += 1
    out.update(files=made, t_first=t0, t_last=now())


def one_run(cfg, base, tool, rep):
    run = Run(base, tool, rep)
    res = {"rep": rep + 1, "converged": False}
    try:
        make_base(run.tA, cfg["base_files"])
        subprocess.run(["cp", "-a", run.tA + "/.", run.tB], check=True)  # tB does not exist: cp makes it
        run.setup_sides()
        base_files = listing(run.tA)
        if listing(run.tB) != base_files:
            raise RuntimeError("cp -a did not copy the base tree exactly")
        tool.start(run)
        res["cmd"] = tool.command(run)
        t_start = now()
        wait_ready(run, tool)
        res["ready_s"] = round(now() - t_start, 2)
        res["runs_initial"] = sum(run.runs())

        payloads = {k: [os.urandom(FILE_SIZE) for _ in range(cfg["files"])] for k in "ab"}
        barrier = threading.Barrier(3)
        outs = {"a": {}, "b": {}}
        threads = [threading.Thread(target=writer, args=(root, k, cfg["dirs"], cfg["files"], payloads[k], barrier,
                                                          outs[k]), daemon=True)
                   for k, root in (("a", run.tA), ("b", run.tB))]
        for t in threads:
            t.start()
        cpu0 = [s.cpu() for s in run.sides]
        t0_wall = wall()
        barrier.wait()
        t0 = now()
        log(f"  {tool.key} rep {rep + 1}: burst started")

        t_conv = None
        la = lb = None
        polls = 0
        while True:
            tp = now()
            if tp - t0 > cfg["deadline"]:
                break
            if run.dead():
                break
            if not any(t.is_alive() for t in threads):
                la, lb = listing(run.tA), listing(run.tB)
                polls += 1
                if la == lb:
                    t_conv = tp
                    break
            time.sleep(max(0.0, POLL - (now() - tp)))
        for t in threads:
            t.join(timeout=60)
        if any(t.is_alive() for t in threads) or not outs["a"] or not outs["b"]:
            raise RuntimeError("a writer did not finish")
        expected = dict(base_files)
        expected.update(outs["a"]["files"])
        expected.update(outs["b"]["files"])
        t_last = max(outs["a"]["t_last"], outs["b"]["t_last"])
        res["writing_s"] = [round(outs[k]["t_last"] - t0, 3) for k in "ab"]
        res["polls"] = polls
        starts = [s.run_starts() for s in run.sides]
        if t_conv is None:
            la, lb = listing(run.tA), listing(run.tB)
            res["state_at_deadline"] = tree_state(la, lb, expected)
            res["dead"] = [f"{s.name} exited {s.proc.returncode}" for s in run.dead()]
            res["runs_to_deadline"] = sum(1 for st in starts for x in st if x >= t0_wall)
            res["busy_at_deadline"] = [s.name for s in run.sides if s.busy()]
            end_wall = wall()
            res["log_tail"] = {s.name: s.log_tail() for s in run.sides}
            log(f"  {tool.key} rep {rep + 1}: NOT converged within {cfg['deadline']:g} s: "
                f"{res['state_at_deadline']} {res['dead']}")
        else:
            res["converged"] = True
            res["converge_s"] = round(t_conv - t0, 3)
            res["after_last_write_s"] = round(t_conv - t_last, 3)
            conv_wall = t0_wall + (t_conv - t0)
            res["state_at_convergence"] = tree_state(la, lb, expected)
            res["runs_to_conv"] = sum(1 for st in starts for x in st if t0_wall <= x <= conv_wall)
            res["runs_to_conv_by_side"] = [sum(1 for x in st if t0_wall <= x <= conv_wall) for st in starts]
            # The quiet period: nothing changes any more, so any run now is a bounce.
            time.sleep(max(0.0, cfg["quiet"] - (now() - t_conv)))
            end_wall = conv_wall + cfg["quiet"]
            starts = [s.run_starts() for s in run.sides]
            res["runs_quiet"] = sum(1 for st in starts for x in st if conv_wall < x <= end_wall)
            res["runs_quiet_by_side"] = [sum(1 for x in st if conv_wall < x <= end_wall) for st in starts]
            la, lb = listing(run.tA), listing(run.tB)
            res["equal_after_quiet"] = la == lb
            res["state_after_quiet"] = tree_state(la, lb, expected)
            res["byte_diffs"] = len(byte_diffs(run.tA, run.tB, sorted(set(la) & set(lb))))
        res["runs_total"] = sum(1 for st in starts for x in st if t0_wall <= x <= end_wall)
        cpu1 = [s.cpu() for s in run.sides]
        res["cpu_s"] = (round(sum(b - a for a, b in zip(cpu0, cpu1)), 2)
                        if None not in cpu0 and None not in cpu1 else None)
        res.update(count_transfers(run, t0_wall, end_wall, expected))
        if hasattr(tool, "counters"):
            res["cluster"] = tool.counters(run)
    except RuntimeError as e:
        res["error"] = str(e)
        log(f"  {tool.key} rep {rep + 1}: error: {e}")
    finally:
        res["exit_codes"] = [s.stop() for s in run.sides]
        res["strays"] = sum(s.strays for s in run.sides)
        if cfg["logs"]:
            for s in run.sides:
                if os.path.exists(s.log_path):
                    shutil.copyfile(s.log_path, os.path.join(cfg["logs"], f"{os.path.basename(run.work)}-{s.name}.log"))
        if not cfg["keep"]:
            shutil.rmtree(run.work, ignore_errors=True)
    return res


def count_transfers(run, since, until, expected):
    """Transfers, repeated transfers, bounces and deletions from rsync's own logs. A deletion
    counts as "deleted" when it hit a file of the expected tree, else as "deleted_other"
    (a temporary file, say)."""
    per_name = {}
    transfers = bounced = deleted = deleted_other = attr_only = 0
    by_side = {}
    bounced_dirs = {}
    for s in run.sides:
        n = 0
        for op, item, name, start in s.transfers(since, until):
            if op == "del.":
                if name in expected:
                    deleted += 1
                elif not name.endswith("/"):
                    deleted_other += 1
                continue
            if item[0] == ".":  # attributes only (a directory's time, mostly)
                attr_only += 1
                continue
            if item[1] != "f":
                continue
            transfers += 1
            n += 1
            per_name.setdefault(name, []).append((start, f"{s.name} {item} {start - since:.2f}"))
            origin = "A" if name.startswith("a-") else "B" if name.startswith("b-") else None
            if origin != s.name:  # a base file (identical everywhere), or the other side's file
                bounced += 1
                key = f"{s.name}: {name.split('/')[0]}/ (run at +{start - since:.2f} s)"
                bounced_dirs[key] = bounced_dirs.get(key, 0) + 1
        by_side[s.name] = n
    twice = {k: [x for _, x in sorted(v)] for k, v in per_name.items() if len(v) > 1}  # in run order
    # What the repeated transfers were (sender, rsync's itemize, run start after the burst start).
    kinds = {}
    for v in twice.values():
        k = " then ".join(x.split()[0] + " " + x.split()[1] for x in v)
        kinds[k] = kinds.get(k, 0) + 1
    return {"transfers": transfers, "transfers_by_side": by_side, "files_sent_twice": len(twice),
            "sent_twice_kinds": kinds, "sent_twice_examples": dict(list(twice.items())[:3]),
            "bounced_by_dir": bounced_dirs,
            "bounced": bounced, "deleted": deleted, "deleted_other": deleted_other, "attr_only": attr_only}


# ---------------------------------------------------------------- report

def render(results, tools, cfg, meta):
    L, S = [], {}
    L.append(f"### Bidirectional burst: {cfg['files']:,} files on A and {cfg['files']:,} on B at once "
             f"(4 KiB each, {cfg['dirs']} new dirs per side), on {cfg['base_files']:,} common files; "
             f"deadline {cfg['deadline']:g} s, quiet period {cfg['quiet']:g} s\n")
    L.append("Medians over the repetitions (per repetition in brackets). converge s: burst start → both trees "
             "equal; runs to conv.: rsync invocations in that time (both directions); quiet runs: rsync invocations "
             f"in the {cfg['quiet']:g} s after convergence; total runs: the two together; files transferred, sent more "
             "than once, bounced, attribute-only updates (items rsync logged with no data sent: directory times, "
             "mostly), deleted (files of the expected tree): from rsync's log, burst start → end of the quiet period; lost / wrong: files of the "
             "expected tree missing on both sides / with another size or mtime, at the end; CPU: both daemons with "
             "their rsync children, burst start → end of the quiet period.\n")
    L.append("| tool | converged | converge s | after last write s | runs to conv. | quiet runs | total runs | "
             "files transferred | sent more than once | bounced transfers | attribute-only updates | deleted | "
             "lost / wrong | CPU s | exit codes |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def cell(rs, key, nd=0, ok_only=False):
        vals = [r.get(key) if (r.get("converged") or not ok_only) else None for r in rs]
        m = med(vals)
        return f"{f(m, nd)} ({', '.join(f(v, nd) if v is not None else '–' for v in vals)})", m

    for t in tools:
        rs = results.get(t.key, [])
        if not rs:
            continue
        ok = [r for r in rs if r.get("converged")]
        s = {"reps": len(rs), "converged": len(ok)}
        row = [t.name, f"{len(ok)}/{len(rs)}"]
        for key, nd, ok_only in (("converge_s", 2, True), ("after_last_write_s", 2, True), ("runs_to_conv", 0, True),
                                 ("runs_quiet", 0, True), ("runs_total", 0, True), ("transfers", 0, False),
                                 ("files_sent_twice", 0, False), ("bounced", 0, False), ("attr_only", 0, False),
                                 ("deleted", 0, False)):
            c, m = cell(rs, key, nd, ok_only)
            row.append(c)
            s[key] = m
        lw = []
        for r in rs:
            st = r.get("state_after_quiet") or r.get("state_at_deadline") or {}
            lw.append(f"{st.get('lost', '?')}/{st.get('wrong', '?')}")
        row.append(", ".join(lw))
        c, s["cpu_s"] = cell(rs, "cpu_s", 2)
        row.append(c)
        row.append(", ".join("/".join(str(x) for x in r.get("exit_codes", [])) for r in rs))
        L.append("| " + " | ".join(row) + " |")
        S[t.key] = s
    L.append("")

    # Not converged: the state the trees were left in.
    for t in tools:
        for r in results.get(t.key, []):
            if r.get("error"):
                L.append(f"- {t.name}, rep {r['rep']}: error: {r['error']}")
            elif not r.get("converged"):
                L.append(f"- {t.name}, rep {r['rep']}: **not converged** within {cfg['deadline']:g} s: "
                         f"{r.get('state_at_deadline')}; {r.get('runs_to_deadline')} rsync runs by then"
                         + (f"; rsync still running on {', '.join(r['busy_at_deadline'])}" if r.get("busy_at_deadline") else "")
                         + (f"; {', '.join(r['dead'])}" if r.get("dead") else ""))
            else:
                post = r.get("state_after_quiet", {})
                notes = []
                if not r.get("equal_after_quiet"):
                    notes.append(f"trees differ again after the quiet period: {post}")
                if r.get("byte_diffs"):
                    notes.append(f"{r['byte_diffs']} files differ in content")
                if post.get("lost") or post.get("wrong") or post.get("extra"):
                    notes.append(f"end state against the expected tree: {post}")
                if notes:
                    L.append(f"- {t.name}, rep {r['rep']}: " + "; ".join(notes))
    if L[-1].startswith("- "):
        L.append("")

    L.append("Per repetition, by side (A → B / B → A): rsync runs to convergence; quiet runs; files transferred; "
             "writing took s (A / B); ours: paths not synced back (what the peer wrote), per node:\n")
    for t in tools:
        for r in results.get(t.key, []):
            if r.get("error"):
                continue
            tb = r.get("transfers_by_side", {})
            L.append(f"- {t.name}, rep {r['rep']}: runs {'/'.join(map(str, r.get('runs_to_conv_by_side', ['–'])))}; "
                     f"quiet {'/'.join(map(str, r.get('runs_quiet_by_side', ['–'])))}; "
                     f"transfers {tb.get('A', '–')}/{tb.get('B', '–')}; writing "
                     f"{'/'.join(f(x, 2) for x in r.get('writing_s', []))}; ready after {f(r.get('ready_s'), 1)} s "
                     f"({r.get('runs_initial')} initial runs); attribute-only updates {r.get('attr_only')}; "
                     f"other files deleted (not of the expected tree: temporary files) {r.get('deleted_other')}"
                     + (f"; not synced back {r['cluster']['A'].get('not_synced_back')}/"
                        f"{r['cluster']['B'].get('not_synced_back')}" if r.get("cluster") else "")
                     + (f"; bounced (sender: dir): {r['bounced_by_dir']}" if r.get("bounced_by_dir") else "")
                     + (f"; sent more than once (sender itemize, ...): {r['sent_twice_kinds']}"
                        if r.get("sent_twice_kinds") else ""))
    L.append("")

    # Ratios and targets.
    peers = [t for t in tools if t.key in ("debian", "lsyncd") and t.key in S]
    for o in [t for t in tools if t.key.startswith("ours") and t.key in S]:
        so = S[o.key]
        for p in peers:
            sp = S[p.key]
            per = []
            for a, b in zip(results[o.key], results[p.key]):
                per.append(fr(ratio(a.get("runs_total"), b.get("runs_total")))
                           if a.get("converged") and b.get("converged") else "–")
            L.append(f"Ratios {o.name} ÷ {p.name} (medians): converge time {fr(ratio(so['converge_s'], sp['converge_s']))}, "
                     f"rsync runs to convergence {fr(ratio(so['runs_to_conv'], sp['runs_to_conv']))}, "
                     f"total rsync runs {fr(ratio(so['runs_total'], sp['runs_total']))} (per rep: {', '.join(per)}), "
                     f"files transferred {fr(ratio(so['transfers'], sp['transfers']))}, "
                     f"CPU {fr(ratio(so['cpu_s'], sp['cpu_s']))}; bounced transfers {f(so['bounced'], 0)} vs "
                     f"{f(sp['bounced'], 0)}, quiet runs {f(so['runs_quiet'], 0)} vs {f(sp['runs_quiet'], 0)}.\n")
    deb = S.get("debian")
    for o in [t for t in tools if t.key.startswith("ours") and t.key in S]:
        rs = results[o.key]
        so = S[o.key]
        no_bounce = all(r.get("converged") and r.get("runs_quiet") == 0 and r.get("bounced") == 0 for r in rs)
        L.append(f"Target ({o.name}): no bounced transfers at all (every rep: converged, 0 rsync runs in the quiet "
                 f"period, 0 bounced transfers): quiet runs {', '.join(str(r.get('runs_quiet', '–')) for r in rs)}, "
                 f"bounced {', '.join(str(r.get('bounced', '–')) for r in rs)} — "
                 f"{'met' if no_bounce else '**missed**'}.\n")
        if deb and deb.get("runs_total") is not None:
            rt = ratio(so["runs_total"], deb["runs_total"])
            rc = ratio(so["runs_to_conv"], deb["runs_to_conv"])
            L.append(f"Target ({o.name}): fewer than half of clsync 0.4.5's rsync runs: total (burst start → end of "
                     f"the quiet period) {f(so['runs_total'], 0)} vs {f(deb['runs_total'], 0)} ({fr(rt)}) — "
                     f"{'met' if rt is not None and rt < 0.5 else '**missed**'}; until convergence only "
                     f"{f(so['runs_to_conv'], 0)} vs {f(deb['runs_to_conv'], 0)} ({fr(rc)}) — "
                     f"{'met' if rc is not None and rc < 0.5 else '**missed**'}.\n")
        elif deb:
            L.append(f"Target ({o.name}): fewer than half of clsync 0.4.5's rsync runs: clsync 0.4.5 never converged "
                     f"(its runs to the deadline: "
                     f"{', '.join(str(r.get('runs_total')) for r in results['debian'])}).\n")
    return "\n".join(L), S


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="Issue 8: bidirectional burst, our cluster mode against two one-way "
                                             "clsync 0.4.5 (and lsyncd) instances.")
    ap.add_argument("--clsync", default=os.environ.get("CLSYNC") or os.path.join(HERE, "..", "clsync"),
                    help="our binary (default $CLSYNC, else ../clsync); copied into the work dir for the run")
    ap.add_argument("--debian-clsync", default="/usr/bin/clsync")
    ap.add_argument("--lsyncd", default="/usr/bin/lsyncd")
    ap.add_argument("--tools", default="ours,ours-t1,debian,lsyncd",
                    help="comma list of ours (-t 0.5), ours-t1 (-t 1), debian, lsyncd")
    ap.add_argument("--ours-delay", type=float, default=0.5, help="-t of the 'ours' column (default 0.5)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--files", type=int, default=5000, help="new files per side (default 5000)")
    ap.add_argument("--dirs", type=int, default=50, help="new dirs per side (default 50)")
    ap.add_argument("--base-files", type=int, default=1000, help="common files before the burst (default 1000)")
    ap.add_argument("--deadline", type=float, default=120.0, help="s from the burst start (default 120)")
    ap.add_argument("--quiet", type=float, default=10.0, help="s after convergence counted as quiet (default 10)")
    ap.add_argument("--workdir", default=None, help="parent of the temp dir (default $TMPDIR or /tmp)")
    ap.add_argument("--out", help="also write the markdown report to FILE")
    ap.add_argument("--json", help="write raw per-repetition results to FILE")
    ap.add_argument("--keep", action="store_true", help="keep the trees and logs")
    ap.add_argument("--logs", help="copy every daemon's log into this directory")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("cluster_bench: needs root (network namespaces; clsync 0.4.5 runs with -u 0 -g 0)")
    keys = [k for k in a.tools.split(",") if k]
    for k in keys:
        if k not in ("ours", "ours-t1", "debian", "lsyncd"):
            sys.exit(f"cluster_bench: unknown tool {k!r}")
    why = netns.available()
    if why and any(k.startswith("ours") for k in keys):
        sys.exit(f"cluster_bench: network namespaces unavailable: {why}")
    logs = os.path.abspath(a.logs) if a.logs else None
    if logs:
        os.makedirs(logs, exist_ok=True)
    cfg = {"files": a.files, "dirs": a.dirs, "base_files": a.base_files, "deadline": a.deadline, "quiet": a.quiet,
           "reps": a.reps, "keep": a.keep, "logs": logs, "ours_delay": a.ours_delay}

    # SIGTERM (a harness timeout) still stops the daemons and removes the namespaces.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"cluster_bench: killed by signal {signum}"))
    base = tempfile.mkdtemp(prefix="clsync-cluster-bench-", dir=a.workdir)
    meta = db.machine_info(os.path.realpath(base))
    meta["load_start"] = os.getloadavg()
    t_run = now()
    net = None
    results = {}
    try:
        under_test = os.path.join(base, "clsync")
        if any(k.startswith("ours") for k in keys):
            shutil.copy2(os.path.abspath(a.clsync), under_test)
            meta["version"] = subprocess.run([under_test, "-V"], capture_output=True, text=True).stdout.strip()
            net = netns.Network(["A", "B"])
            log("multicast between the namespaces: " + "; ".join(netns.check_multicast(net)))
        all_tools = {"ours": lambda: Ours(under_test, net, a.ours_delay),
                     "ours-t1": lambda: Ours(under_test, net, 1.0, key="ours-t1"),
                     "debian": lambda: Debian(a.debian_clsync), "lsyncd": lambda: Lsyncd(a.lsyncd)}
        tools = [all_tools[k]() for k in keys]
        for t in tools:
            b = getattr(t, "binary", None)
            if b and not os.access(b, os.X_OK):
                sys.exit(f"cluster_bench: {t.name}: {b} is not executable")
        log(f"work dir {base}; {cfg}")
        for rep in range(a.reps):
            k = rep % len(tools)
            for tool in tools[k:] + tools[:k]:
                r = one_run(cfg, base, tool, rep)
                results.setdefault(tool.key, []).append(r)
                log(f"rep {rep + 1} {tool.key}: " + json.dumps({x: v for x, v in r.items() if x not in ("cmd", "log_tail")}))
    finally:
        if net is not None:
            net.close()
        meta["load_end"] = os.getloadavg()
        meta["took"] = now() - t_run
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    tools_run = [t for t in tools if t.key in results]
    report, S = render(results, tools_run, cfg, meta)
    head = (f"Machine: nproc {meta['nproc']}, kernel {meta['kernel']}, {meta['rsync']}; trees on {meta['fs']} "
            f"({meta['dev']}); {meta.get('version', '')}; run took {meta['took']:.0f} s; load average "
            f"{'/'.join(f'{x:.2f}' for x in meta['load_start'])} at the start, "
            f"{'/'.join(f'{x:.2f}' for x in meta['load_end'])} at the end.\n")
    cmds = ["Commands (WORK = a fresh dir per run; WORK/rsync-X counts runs and adds --log-file, then execs "
            f"{REAL_RSYNC}):", ""]
    seen = set()
    for rs in results.values():
        for r in rs:
            for c in r.get("cmd", []):
                c = re.sub(r"\S*/clsync-cluster-bench-\w+/clsync ", "clsync ", c)
                if c not in seen:
                    seen.add(c)
                    cmds.append("    " + c.replace("\n", "\n    "))
    text = head + "\n" + report + "\n" + "\n".join(cmds) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as fo:
            fo.write(text)
    if a.json:
        with open(a.json, "w") as fo:
            json.dump({"machine": meta, "config": cfg, "results": results, "summary": S}, fo, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
