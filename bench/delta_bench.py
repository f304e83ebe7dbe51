#!/usr/bin/env python3
"""Delta benchmark: clsync -M librsync (in-process, in-place block updates) against our
-M rsyncdirect, a direct `rsync --inplace --no-whole-file`, and, for a burst of small files,
Debian's clsync 0.4.5 and lsyncd 2.2.3.

Workloads (see bench/README, "delta_bench.py"):
  change  one big file (1 GiB; 256 MiB with --quick), 1 MiB rewritten in the middle after
          the initial sync: bytes written at the destination and time to convergence;
  append  the same file grown by 1 MiB at a time (50 times; 10 with --quick), waiting for
          convergence after each: total bytes written against the bytes appended;
  burst   5,000 files of 4 KiB (1,000 with --quick) created at once in a new directory:
          convergence time and daemon CPU.

Bytes written = write_bytes - cancelled_write_bytes from /proc/PID/io of the writer: the
daemon (all its threads, plus every child it has reaped: rsync and rsync's own children),
or for the direct rsync a `sh` that runs rsync, waits for it and then prints its own
/proc/$$/io. The kernel charges a page to the process that dirties it, so this is what
each tool writes through the page cache (file data, temp files, its SQLite state), without
other processes on this shared machine (on an ext4 without a journal, metadata blocks the
process dirties are charged to it too). The block device's
sectors-written counter (after `sync`) is reported alongside as a cross-check; it also
counts the journal and whatever else the machine wrote meanwhile.

Python 3 standard library only; run as root (clsync 0.4.5 runs with -u 0 -g 0).
"""
import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
REAL_RSYNC = shutil.which("rsync", path="/usr/bin:/bin") or "/usr/bin/rsync"
MIB = 1 << 20


def now():
    return time.monotonic()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc and /sys

def proc_stat_fields(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def proc_cpu_seconds(pid):
    """utime+stime+cutime+cstime: the process (all threads) and its reaped children."""
    f = proc_stat_fields(pid)
    return sum(int(x) for x in f[11:15]) / CLK_TCK if f else None


def parse_io(text):
    vals = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if v.strip().isdigit():
            vals[k.strip()] = int(v)
    return vals


def proc_io(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            return parse_io(f.read())
    except OSError:
        return None


def io_written(io):
    """Bytes dirtied by the process, less those truncated away before writeback."""
    return io["write_bytes"] - io.get("cancelled_write_bytes", 0)


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def session_members(sid):
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            f = proc_stat_fields(int(name))
            if f and int(f[3]) == sid:
                pids.append(int(name))
    return pids


def block_dev_stat_path(path):
    """/sys/.../stat of the block device holding `path` (the whole disk if it is a partition)."""
    st = os.stat(path)
    sysdir = f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    if not os.path.exists(os.path.join(sysdir, "stat")):
        return None
    return os.path.join(sysdir, "stat")


def dev_bytes_written(stat_path):
    if not stat_path:
        return None
    with open(stat_path) as f:
        return int(f.read().split()[6]) * 512  # field 7: sectors written (512 B units)


def loadavg():
    return round(os.getloadavg()[0], 2)


# ---------------------------------------------------------------- tools

class Tool:
    key = name = "?"
    daemon = True
    delay = 0.0      # configured batching delay, s
    rsync_based = True

    def argv(self, src, dst, work, rsync):
        raise NotImplementedError

    def ready(self, d):
        return True


class OursLibrsync(Tool):
    key, name = "librsync", "ours -M librsync"
    rsync_based = False

    def __init__(self, binary, delay, debug):
        self.binary, self.delay, self.debug = binary, delay, debug

    def argv(self, src, dst, work, rsync):
        return ([self.binary, "-M", "librsync", "-W", src, "-D", dst, "--state-dir", os.path.join(work, "state"),
                 "-t", str(self.delay), "-T", str(self.delay)] + (["-d"] if self.debug else []))

    def ready(self, d):
        return "synced the whole tree" in d.read_log()


class OursRsyncdirect(OursLibrsync):
    key, name = "rsyncdirect", "ours -M rsyncdirect"
    rsync_based = True

    def argv(self, src, dst, work, rsync):
        return ([self.binary, "-W", src, "-D", dst, "-t", str(self.delay), "-T", str(self.delay), "-S", rsync]
                + (["-d"] if self.debug else []))


class DebianClsync(Tool):
    key, name = "debian", "clsync 0.4.5"
    delay = 1.0

    def __init__(self, binary):
        self.binary = binary

    def argv(self, src, dst, work, rsync):
        lists = os.path.join(work, "lists")
        os.makedirs(lists, exist_ok=True)
        os.chmod(lists, 0o700)
        return [self.binary, "-M", "rsyncdirect", "-S", rsync, "-W", src, "-D", dst, "-L", lists,
                "-H", "/NULL/", "-u", "0", "-g", "0", "-t", "1", "-w", "1", "-T", "1", "-x", "23", "-x", "24"]


class Lsyncd(Tool):
    key, name = "lsyncd", "lsyncd 2.2.3"
    delay = 1.0

    def __init__(self, binary):
        self.binary = binary

    def argv(self, src, dst, work, rsync):
        conf = os.path.join(work, "lsyncd.conf.lua")
        with open(conf, "w") as f:
            f.write(f'settings {{ nodaemon = true, logfile = "{work}/lsyncd.log", '
                    f'statusFile = "{work}/lsyncd.status", statusInterval = 1, insist = true }}\n'
                    f'sync {{ default.rsync, source = "{src}", target = "{dst}", delay = 1,\n'
                    f'       rsync = {{ binary = "{rsync}", archive = true, hard_links = true }} }}\n')
        return [self.binary, conf]


class Daemon:
    def __init__(self, tool, src, dst, work):
        self.tool, self.src, self.dst, self.work = tool, src, dst, work
        self.counter = os.path.join(work, "rsync-count")
        self.rsync = os.path.join(work, "rsync")
        with open(self.rsync, "w") as f:
            f.write(f'#!/bin/sh\necho "$$" >> "{self.counter}"\nexec {REAL_RSYNC} "$@"\n')
        os.chmod(self.rsync, 0o755)
        open(self.counter, "w").close()
        self.logfile = os.path.join(work, "daemon.log")
        self.cmd = tool.argv(src, dst, work, self.rsync)
        self.proc = None
        self.strays = 0

    def start(self):
        with open(self.logfile, "w") as lf:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                         cwd=self.work, start_new_session=True)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def read_log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def rsync_runs(self):
        with open(self.counter) as f:
            return sum(1 for _ in f)

    def cpu(self):
        return proc_cpu_seconds(self.pid)

    def written(self):
        io = proc_io(self.pid)
        return io_written(io) if io else None

    def wait_idle(self, quiet=1.0, timeout=60.0):
        """No child, and no CPU tick, no byte written, no new rsync for `quiet` s."""
        deadline = now() + timeout
        token, since = None, now()
        while now() < deadline:
            if not self.alive():
                return False
            t = ("busy", now()) if descendants(self.pid) else (self.cpu(), self.written(), self.rsync_runs())
            if t != token:
                token, since = t, now()
            elif now() - since >= quiet:
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        code, strays = stop_session(self.proc, self.pid, self.tool.name)
        self.strays = max(self.strays, strays)
        return code


def stop_session(proc, pid, name):
    """SIGTERM a daemon (SIGKILL after 10 s), then kill what is left in its session (an
    orphaned rsync). (exit code, the most leftovers seen at once)."""
    if proc.poll() is None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log(f"{name} ignored SIGTERM for 10 s: SIGKILL")
            os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=10)
    most = 0
    for _ in range(50):
        strays = session_members(pid)
        if not strays:
            break
        most = max(most, len(strays))
        for p in strays:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    return proc.returncode, most


# ---------------------------------------------------------------- tree helpers

def snapshot(root):
    out, stack = {}, [""]
    while stack:
        rel = stack.pop()
        try:
            it = os.scandir(os.path.join(root, rel) if rel else root)
        except OSError:
            continue
        with it:
            for e in it:
                r = f"{rel}/{e.name}" if rel else e.name
                try:
                    if e.is_dir(follow_symlinks=False):
                        out[r] = (True, 0, 0)
                        stack.append(r)
                    else:
                        st = e.stat(follow_symlinks=False)
                        out[r] = (False, st.st_size, st.st_mtime_ns)
                except OSError:
                    pass
    return out


def wait_tree(dst, expected, deadline, alive, interval=0.01):
    """Poll until DST holds the expected files (size + mtime), confirmed by a full compare.
    Returns the monotonic time of the poll that first saw every file in place, or None."""
    remaining = [(os.path.join(dst, rel), v[1], v[2]) for rel, v in expected.items() if not v[0]]
    seen_all_at = None
    while now() < deadline:
        t = now()
        if remaining:
            left, misses = [], 0
            for i, (p, size, mtime) in enumerate(remaining):
                try:
                    st = os.lstat(p)
                    ok = st.st_size == size and st.st_mtime_ns == mtime
                except OSError:
                    ok = False
                if not ok:
                    left.append((p, size, mtime))
                    misses += 1
                    if misses >= 64:
                        left.extend(remaining[i + 1:])
                        break
            remaining = left
            if not remaining:
                seen_all_at = t
        if not remaining:
            if snapshot(dst) == expected:
                return seen_all_at if seen_all_at is not None else t
            seen_all_at = None
            interval = max(interval, 0.05)
        if alive is not None and not alive():
            return None
        time.sleep(interval)
    return None


def read_range(path, offset, length):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def file_matches(want, dst, offset, data):
    """DST has the size and mtime (ns) of the stat `want` and the bytes `data` at `offset`."""
    try:
        st = os.stat(dst)
    except OSError:
        return False
    return (st.st_size == want.st_size and st.st_mtime_ns == want.st_mtime_ns
            and read_range(dst, offset, len(data)) == data)


def wait_file(src, dst, offset, data, deadline, alive, interval=0.01):
    """Poll until DST has SRC's size and mtime (ns) and the bytes `data` at `offset`.
    Returns the monotonic time of that poll, or None."""
    want = os.stat(src)
    while now() < deadline:
        t = now()
        if file_matches(want, dst, offset, data):
            return t
        if alive is not None and not alive():
            return None
        time.sleep(interval)
    return None


def files_identical(a, b):
    return subprocess.run(["cmp", "-s", a, b]).returncode == 0


def make_big(path, size):
    """`size` bytes of random data, written in 64 MiB chunks."""
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 * MIB)
            f.write(os.urandom(n))
            left -= n


def random_chunk(n):
    return os.urandom(n)


# ---------------------------------------------------------------- big file: change + appends

def run_big(cfg, base, tool, big_src_dir, rep):
    """Initial sync of the big file; then 1 MiB rewritten in the middle; then (daemons) appends."""
    src_file = os.path.join(big_src_dir, "big.bin")
    size = cfg["size"]
    with open(src_file, "r+b") as f:  # undo earlier appends: every tool starts from `size` bytes
        f.truncate(size)
    # An mtime an hour back: the change below then moves the mtime by whole seconds. rsync's
    # quick check (size + mtime in seconds, --modify-window 0) would otherwise skip a same-size
    # change made within the second of the initial copy.
    old = int(time.time()) - 3600
    os.utime(src_file, (old, old))
    work = tempfile.mkdtemp(prefix=f"big-{tool.key}-{rep}-", dir=base)
    dst = os.path.join(work, "dst")
    os.mkdir(dst)
    dst_file = os.path.join(dst, "big.bin")
    devstat = cfg["devstat"]
    res = {"tool": tool.key, "rep": rep, "load": loadavg()}
    d = None
    try:
        os.sync()
        t0 = now()
        if tool.daemon:
            d = Daemon(tool, big_src_dir, dst, work)
            res["cmd"] = " ".join(d.cmd)
            d.start()
            deadline = now() + cfg["deadline"]
            while not (tool.ready(d) and file_matches(os.stat(src_file), dst_file, 0, b"")):
                if not d.alive():
                    raise RuntimeError(f"{tool.name} exited ({d.proc.returncode}): {d.read_log()[-400:]}")
                if now() > deadline:
                    raise RuntimeError(f"{tool.name}: initial sync not done after {cfg['deadline']} s")
                time.sleep(0.05)
            res["initial_s"] = round(now() - t0, 3)
            d.wait_idle(quiet=1.0)
        else:
            subprocess.run([REAL_RSYNC, "-aH", big_src_dir + "/", dst + "/"], check=True)
            res["initial_s"] = round(now() - t0, 3)
        os.sync()

        # ---- change: 1 MiB rewritten in the middle
        offset = size // 2
        data = random_chunk(cfg["change"])
        w0 = d.written() if d else None
        c0 = d.cpu() if d else None
        r0 = d.rsync_runs() if d else None
        dev0 = dev_bytes_written(devstat)
        fd = os.open(src_file, os.O_WRONLY)
        try:
            os.pwrite(fd, data, offset)
            t_change = now()
            # The change to SRC goes to the device too: flush it now and count it apart (a daemon
            # waits for its batching window first; this takes a few ms).
            os.fdatasync(fd)
        finally:
            os.close(fd)
        dev_mid = dev_bytes_written(devstat)
        res["src_flush_s"] = round(now() - t_change, 3)
        if d:
            t = wait_file(src_file, dst_file, offset, data, t_change + cfg["deadline"], d.alive)
            res["converged"] = t is not None
            res["time_s"] = round(t - t_change, 3) if t else None
            d.wait_idle(quiet=1.0)
            res["written"] = d.written() - w0
            res["cpu_s"] = round(d.cpu() - c0, 3)
            res["rsync_runs"] = d.rsync_runs() - r0 if tool.rsync_based else 0
        else:
            cmd = [REAL_RSYNC, "-aH", "--inplace", "--no-whole-file", big_src_dir + "/", dst + "/"]
            res["cmd"] = " ".join(cmd)
            t_change = now()  # from the spawn: the SRC flush above is not rsync's time
            p = subprocess.Popen(["sh", "-c", '"$@"; rc=$?; cat /proc/$$/io; exit $rc', "sh"] + cmd,
                                 stdout=subprocess.PIPE)
            out = p.stdout.read()
            _, status, ru = os.wait4(p.pid, 0)
            t_end = now()
            p.returncode = os.waitstatus_to_exitcode(status)
            ok = p.returncode == 0 and file_matches(os.stat(src_file), dst_file, offset, data)
            res["converged"] = ok
            res["time_s"] = round(t_end - t_change, 3) if ok else None
            res["written"] = io_written(parse_io(out.decode()))
            res["cpu_s"] = round(ru.ru_utime + ru.ru_stime, 3)
            res["rsync_runs"] = 1
        os.sync()
        dev1 = dev_bytes_written(devstat)
        res["dev_written"] = dev1 - dev_mid if dev0 is not None else None
        res["dev_src"] = dev_mid - dev0 if dev0 is not None else None
        res["identical"] = files_identical(src_file, dst_file)

        # ---- appends (daemons only)
        n_app = cfg["appends"].get(tool.key, 0) if d else 0
        if n_app:
            os.sync()
            w0, c0, r0 = d.written(), d.cpu(), d.rsync_runs()
            dev0 = dev_bytes_written(devstat)
            times = []
            t_start = now()
            for i in range(n_app):
                chunk = random_chunk(cfg["append"])
                fd = os.open(src_file, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, chunk)
                finally:
                    os.close(fd)
                t_a = now()
                end_off = os.stat(src_file).st_size - len(chunk)
                t = wait_file(src_file, dst_file, end_off, chunk, t_a + cfg["deadline"], d.alive)
                if t is None:
                    res["append_failed_at"] = i + 1
                    break
                times.append(t - t_a)
            res["append_total_s"] = round(now() - t_start, 3)
            d.wait_idle(quiet=1.0)
            res["appends"] = len(times)
            res["appended"] = len(times) * cfg["append"]
            res["append_written"] = d.written() - w0
            res["append_cpu_s"] = round(d.cpu() - c0, 3)
            res["append_rsync_runs"] = d.rsync_runs() - r0 if tool.rsync_based else 0
            res["append_time_med_s"] = round(statistics.median(times), 3) if times else None
            res["append_time_max_s"] = round(max(times), 3) if times else None
            os.sync()
            dev1 = dev_bytes_written(devstat)
            res["append_dev_written"] = dev1 - dev0 - res["appended"] if dev0 is not None else None
            res["append_identical"] = files_identical(src_file, dst_file)
        if d:
            lg = d.read_log()
            inplace = [int(x) for x in re.findall(r"'big\.bin': (\d+) of \d+ bytes written in place", lg)]
            res["inplace_updates"] = len(inplace)
            res["inplace_bytes_logged"] = sum(inplace)
            res["log_errors"] = [l for l in lg.splitlines() if " error" in l or " warning" in l][:5]
    finally:
        if d:
            res["exit_code"] = d.stop()
            res["strays"] = d.strays
            if cfg["logs"]:
                shutil.copyfile(d.logfile, os.path.join(cfg["logs"], os.path.basename(work) + ".log"))
        shutil.rmtree(work, ignore_errors=True)
    return res


# ---------------------------------------------------------------- burst of small files

LAST_DELETE = [0.0]  # when run_burst last deleted a tree


def settle_after_delete():
    """Flush, then wait until the last tree deletion is 6 s old. On an ext4 without a journal (as
    here) the inode allocator skips inodes freed in the last 5 s (300 s while their inode table
    block is dirty: hence the sync) and pays a lookup for each, which slows every file creation."""
    os.sync()
    time.sleep(max(0.0, 6.0 - (now() - LAST_DELETE[0])))


def write_burst(bdir, count, payload):
    """Makes `bdir` and `count` files in it, each `payload` with its first 8 bytes made
    unique, as fast as Python can; returns the times of the first and the last write."""
    t_first = now()
    os.mkdir(bdir)
    for i in range(count):
        payload[:8] = i.to_bytes(8, "little")
        fd = os.open(os.path.join(bdir, f"f{i:05d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, payload)
        finally:
            os.close(fd)
    return t_first, now()


def run_burst(cfg, base, tool, rep):
    work = tempfile.mkdtemp(prefix=f"burst-{tool.key}-{rep}-", dir=base)
    src, dst = os.path.join(work, "src"), os.path.join(work, "dst")
    os.mkdir(src)
    os.mkdir(dst)
    with open(os.path.join(src, "seed"), "w") as f:
        f.write("seed\n")
    res = {"tool": tool.key, "rep": rep, "load": loadavg()}
    d = Daemon(tool, src, dst, work)
    res["cmd"] = " ".join(d.cmd)
    payload = bytearray(os.urandom(cfg["file_size"]))
    try:
        settle_after_delete()
        d.start()
        deadline = now() + cfg["deadline"]
        want = snapshot(src)
        while not (tool.ready(d) and snapshot(dst) == want):
            if not d.alive():
                raise RuntimeError(f"{tool.name} exited ({d.proc.returncode}): {d.read_log()[-400:]}")
            if now() > deadline:
                raise RuntimeError(f"{tool.name}: not ready after {cfg['deadline']} s")
            time.sleep(0.05)
        d.wait_idle(quiet=1.5)
        c0, r0 = d.cpu(), d.rsync_runs()
        res["cpu_before_s"] = round(c0, 3)
        t_first, t_last = write_burst(os.path.join(src, "burst"), cfg["files"], payload)
        res["writing_s"] = round(t_last - t_first, 3)
        expected = snapshot(src)
        t = wait_tree(dst, expected, t_last + cfg["deadline"], d.alive)
        res["converged"] = t is not None
        res["time_s"] = round(t - t_last, 3) if t else None
        res["time_from_first_s"] = round(t - t_first, 3) if t else None
        if not t:
            res["missing"] = sum(1 for r, v in expected.items() if not v[0] and not os.path.exists(os.path.join(dst, r)))
        res["idle"] = d.wait_idle(quiet=1.5)
        res["cpu_total_s"] = round(d.cpu(), 3)       # sampled just before stopping
        res["cpu_burst_s"] = round(d.cpu() - c0, 3)  # from the start of the burst
        res["rsync_runs"] = d.rsync_runs() - r0 if tool.rsync_based else 0
        res["identical"] = subprocess.run(["diff", "-rq", src, dst], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL).returncode == 0
        if tool.key in ("librsync", "rsyncdirect"):
            res["batches"] = len(re.findall(r"info: synced ", d.read_log())) - 1  # minus the initial sync
    finally:
        res["exit_code"] = d.stop()
        res["strays"] = d.strays
        if cfg["logs"]:
            shutil.copyfile(d.logfile, os.path.join(cfg["logs"], os.path.basename(work) + ".log"))
        shutil.rmtree(work, ignore_errors=True)
        LAST_DELETE[0] = now()
    return res


# ---------------------------------------------------------------- report

def med(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def mib(b):
    return None if b is None else b / MIB


def f(x, nd=3, unit=""):
    if x is None:
        return "n/a"
    return f"{x:.{nd}f}{unit}"


def ratio(a, b):
    return a / b if a is not None and b else None


def fr(r):
    return "n/a" if r is None else f"{r:.2f}x"


def per_rep(rs, key, nd=3, scale=None):
    vals = [r.get(key) for r in rs]
    if scale:
        vals = [None if v is None else v / scale for v in vals]
    return ", ".join(f(v, nd) for v in vals)


def render(results, cfg, tools_big, tools_burst, meta):
    L = []
    L.append(f"Machine: nproc {meta['nproc']}, kernel {meta['kernel']}, {meta['rsync']}; work dir on "
             f"{meta['fs']} ({meta['dev']}); run took {meta['took']:.0f} s; load average "
             f"{'/'.join(f'{x:.2f}' for x in meta['load_start'])} at the start, "
             f"{'/'.join(f'{x:.2f}' for x in meta['load_end'])} at the end. "
             f"{cfg['reps']} repetition(s), tools interleaved (the first tool rotates), medians.\n")
    b = meta.get("binary")
    if b:
        L.append(f"Our binary: {b['path']} ({b['version']}, built {b['mtime']}, sha256 {b['sha256'][:16]}), "
                 "run from a private copy.\n")
    L.append("Bytes written = write_bytes - cancelled_write_bytes of /proc/PID/io of the writer (the daemon with "
             "all its threads and its reaped children, i.e. the rsync processes; for the direct rsync a sh that "
             "waited for it), read once the daemon was idle. The kernel counts a whole page-cache folio when a "
             "write dirties it, so a write into a large folio can be charged more than its size (never less); on "
             "an ext4 without a journal (as here) the metadata blocks the process dirties count too. "
             "\"device\" = sectors written to the block device from `sync` + fdatasync of the change at SRC "
             "until `sync` after convergence (for the appends: less the bytes appended to SRC, whose flush is "
             "inside the interval); it includes file-system metadata and every other process on this shared "
             "machine (~20-35 KiB/s when idle); a lone 1 MiB overwrite shows as ~1.15 MiB.\n")
    S = {}
    big = results.get("big", {})
    if big:
        size_mib = cfg["size"] // MIB
        L.append(f"### Big file: {size_mib} MiB, {cfg['change'] // MIB} MiB rewritten at offset "
                 f"{cfg['size'] // 2 // MIB} MiB\n")
        L.append("| tool | bytes written MiB | device MiB | time s (change -> converged) | time - delay s | CPU s | "
                 "identical | per rep: written MiB / time s |")
        L.append("|---|---:|---:|---:|---:|---:|---|---|")
        for t in tools_big:
            rs = big.get(t.key, [])
            ok = [r for r in rs if r.get("converged")]
            w = med([mib(r.get("written")) for r in ok])
            dv = med([mib(r.get("dev_written")) for r in ok])
            tm = med([r.get("time_s") for r in ok])
            S[("change", t.key)] = {"written_mib": w, "time_s": tm, "dev_mib": dv,
                                    "time_minus_delay": None if tm is None else tm - t.delay}
            ident = f"{sum(1 for r in rs if r.get('identical'))}/{len(rs)}"
            L.append(f"| {t.name} | {f(w, 2)} | {f(dv, 1)} | {f(tm)} | "
                     f"{f(None if tm is None else tm - t.delay) if t.daemon else '-'} | "
                     f"{f(med([r.get('cpu_s') for r in ok]), 2)} | {ident} | "
                     f"{per_rep(rs, 'written', 2, MIB)} / {per_rep(rs, 'time_s')} |")
        lib, rsd, inp = (S.get(("change", k), {}) for k in ("librsync", "rsyncdirect", "inplace"))
        L.append("")
        L.append(f"Ratios (librsync / other, medians): bytes written {fr(ratio(lib.get('written_mib'), rsd.get('written_mib')))} "
                 f"of rsyncdirect, {fr(ratio(lib.get('written_mib'), inp.get('written_mib')))} of rsync --inplace; "
                 f"time {fr(ratio(lib.get('time_s'), rsd.get('time_s')))} of rsyncdirect, "
                 f"{fr(ratio(lib.get('time_s'), inp.get('time_s')))} of rsync --inplace "
                 f"({fr(ratio(lib.get('time_minus_delay'), inp.get('time_s')))} without the "
                 f"{cfg['delay']} s window).\n")
        L.append(f"### Appends: the same file grown by {cfg['append'] // MIB} MiB at a time, convergence awaited "
                 f"after each\n")
        L.append("| tool | appends | appended MiB | bytes written MiB | written / appended | device MiB | "
                 "per append: median / max s | CPU s | identical | per rep: written / appended |")
        L.append("|---|---:|---:|---:|---:|---:|---|---:|---|---|")
        for t in tools_big:
            rs = [r for r in big.get(t.key, []) if r.get("appends")]
            if not rs:
                continue
            n = med([r["appends"] for r in rs])
            ap = med([mib(r["appended"]) for r in rs])
            w = med([mib(r["append_written"]) for r in rs])
            ratios = [r["append_written"] / r["appended"] for r in rs]
            dv = med([mib(r.get("append_dev_written")) for r in rs])
            S[("append", t.key)] = {"ratio": med(ratios), "written_mib": w, "appended_mib": ap}
            ident = f"{sum(1 for r in rs if r.get('append_identical'))}/{len(rs)}"
            fails = [r.get("append_failed_at") for r in rs if r.get("append_failed_at")]
            L.append(f"| {t.name} | {n:g}{' (FAILED at ' + str(fails) + ')' if fails else ''} | {f(ap, 0)} | "
                     f"{f(w, 1)} | {f(med(ratios), 3)}x | {f(dv, 1)} | "
                     f"{f(med([r['append_time_med_s'] for r in rs]))} / {f(max(r['append_time_max_s'] for r in rs))} | "
                     f"{f(med([r['append_cpu_s'] for r in rs]), 2)} | {ident} | "
                     f"{', '.join(f(x, 3) + 'x' for x in ratios)} |")
        L.append("")
    burst = results.get("burst", {})
    if burst:
        L.append(f"### Burst: {cfg['files']:,} files of {cfg['file_size'] // 1024} KiB created at once in a new directory\n")
        L.append("| tool | delay s | converged | converge s after last write (per rep) | same - delay s | "
                 "from first write s | writing took s | daemon CPU s, total at stop (per rep) | CPU s from burst start | "
                 "rsync runs | identical |")
        L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for t in tools_burst:
            rs = burst.get(t.key, [])
            ok = [r for r in rs if r.get("converged")]
            tm = med([r.get("time_s") for r in ok])
            cpu = med([r.get("cpu_total_s") for r in ok])
            S[("burst", t.key)] = {"time_s": tm, "cpu_s": cpu, "time_minus_delay": None if tm is None else tm - t.delay}
            L.append(f"| {t.name} | {t.delay:g} | {len(ok)}/{len(rs)} | {f(tm)} ({per_rep(rs, 'time_s')}) | "
                     f"{f(None if tm is None else tm - t.delay)} | {f(med([r.get('time_from_first_s') for r in ok]))} | "
                     f"{f(med([r.get('writing_s') for r in rs]))} | "
                     f"{f(cpu, 2)} ({per_rep(rs, 'cpu_total_s', 2)}) | {f(med([r.get('cpu_burst_s') for r in ok]), 2)} | "
                     f"{f(med([r.get('rsync_runs') for r in ok]), 0)} | "
                     f"{sum(1 for r in rs if r.get('identical'))}/{len(rs)} |")
        L.append("")
        lib = S.get(("burst", "librsync"), {})
        parts = []
        for k in ("rsyncdirect", "debian", "lsyncd"):
            o = S.get(("burst", k))
            if o:
                parts.append(f"{k}: time {fr(ratio(lib.get('time_s'), o['time_s']))}, time - delay "
                             f"{fr(ratio(lib.get('time_minus_delay'), o['time_minus_delay']))}, "
                             f"CPU {fr(ratio(lib.get('cpu_s'), o['cpu_s']))}")
        L.append("Ratios librsync / other (medians): " + "; ".join(parts) + ".\n")
        L.append("\"same - delay\" subtracts the configured batching delay from the time after the last write. "
                 "The window opens at the first event of a batch, so with a burst that lasts longer than the "
                 "delay it may have opened before the last write and the difference can be below the real "
                 "work time, even negative.\n")
    # targets
    L.append("### Targets\n")
    L.append("| target | measured | verdict |")
    L.append("|---|---|---|")
    c = S.get(("change", "librsync"))
    if c:
        w = c["written_mib"]
        L.append(f"| change: librsync writes <= 2 MiB | {f(w, 2)} MiB | {'met' if w is not None and w <= 2 else '**missed**'} |")
        inp = S.get(("change", "inplace"))
        if inp:
            r = ratio(c["time_s"], inp["time_s"])
            L.append(f"| change: librsync time <= 0.5x rsync --inplace --no-whole-file | {f(c['time_s'])} s vs "
                     f"{f(inp['time_s'])} s = {fr(r)} | {'met' if r is not None and r <= 0.5 else '**missed**'} |")
    a = S.get(("append", "librsync"))
    if a:
        L.append(f"| append: librsync written <= 1.2x appended | {f(a['written_mib'], 1)} MiB for {f(a['appended_mib'], 0)} MiB "
                 f"= {f(a['ratio'], 3)}x | {'met' if a['ratio'] is not None and a['ratio'] <= 1.2 else '**missed**'} |")
    b = S.get(("burst", "librsync"))
    if b:
        for k in ("rsyncdirect", "debian"):
            o = S.get(("burst", k))
            if not o:
                continue
            rt, rc = ratio(b["time_s"], o["time_s"]), ratio(b["cpu_s"], o["cpu_s"])
            rtd = ratio(b["time_minus_delay"], o["time_minus_delay"])
            L.append(f"| burst: librsync <= 0.5x {k} (time; CPU) | time {fr(rt)} (minus delays {fr(rtd)}); CPU {fr(rc)} | "
                     f"time {'met' if rt is not None and rt <= 0.5 else '**missed**'}; "
                     f"CPU {'met' if rc is not None and rc <= 0.5 else '**missed**'} |")
    L.append("")
    return "\n".join(L), S


def machine_info(path):
    rs = subprocess.run([REAL_RSYNC, "--version"], capture_output=True, text=True).stdout.splitlines()
    fs, dev = "?", "?"
    try:
        st = os.stat(path)
        best = ""
        with open("/proc/mounts") as m:
            for line in m:
                p = line.split()
                if path.startswith(p[1]) and len(p[1]) >= len(best):
                    best, fs, dev = p[1], p[2], p[0]
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "rsync": rs[0].strip() if rs else "?",
            "fs": fs, "dev": dev}


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="clsync -M librsync delta benchmark (see bench/README).")
    ap.add_argument("--clsync", default=os.path.join(HERE, "..", "clsync"), help="our clsync binary (default ../clsync)")
    ap.add_argument("--debian-clsync", default="/usr/bin/clsync")
    ap.add_argument("--lsyncd", default="/usr/bin/lsyncd", help="'' to leave lsyncd out")
    ap.add_argument("--quick", action="store_true", help="256 MiB file, 10 appends, 1,000 files, 1 rep")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3; 1 with --quick)")
    ap.add_argument("--workloads", default="big,burst", help="big (change + appends), burst")
    ap.add_argument("--size-mib", type=int, default=None, help="big file size (default 1024; 256 with --quick)")
    ap.add_argument("--appends", type=int, default=None, help="librsync appends (default 50; 10 with --quick)")
    ap.add_argument("--rsyncdirect-appends", type=int, default=None,
                    help="rsyncdirect appends (default 10; 3 with --quick): each rewrites the whole file")
    ap.add_argument("--files", type=int, default=None, help="burst files (default 5000; 1000 with --quick)")
    ap.add_argument("--delay", type=float, default=0.2, help="our -t and -T (default 0.2)")
    ap.add_argument("--no-debug", action="store_true", help="run our daemon without -d in the big-file workloads")
    ap.add_argument("--workdir", default="/var/tmp", help="parent of the temp dir (default /var/tmp)")
    ap.add_argument("--out", help="also write the markdown report to FILE")
    ap.add_argument("--json", help="write raw per-repetition results to FILE")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--logs", default=None, help="copy every daemon's log into this directory")
    a = ap.parse_args()

    q = a.quick
    cfg = {"reps": a.reps or (1 if q else 3), "size": (a.size_mib or (256 if q else 1024)) * MIB,
           "change": MIB, "append": MIB, "files": a.files or (1000 if q else 5000), "file_size": 4096,
           "delay": a.delay, "deadline": 120.0,
           "appends": {"librsync": a.appends if a.appends is not None else (10 if q else 50),
                       "rsyncdirect": a.rsyncdirect_appends if a.rsyncdirect_appends is not None else (3 if q else 10)},
           "logs": os.path.abspath(a.logs) if a.logs else None}
    if cfg["logs"]:
        os.makedirs(cfg["logs"], exist_ok=True)
    binary = os.path.abspath(a.clsync)
    if not os.access(binary, os.X_OK):
        sys.exit(f"delta_bench: {binary} is not executable")
    workloads = [w for w in a.workloads.split(",") if w]
    for w in workloads:
        if w not in ("big", "burst"):
            sys.exit(f"delta_bench: unknown workload {w!r} (known: big, burst)")

    class Inplace(Tool):
        key, name, daemon = "inplace", "rsync --inplace --no-whole-file (direct)", False

    tools_big = [OursLibrsync(binary, a.delay, not a.no_debug), OursRsyncdirect(binary, a.delay, not a.no_debug),
                 Inplace()]
    tools_burst = [OursLibrsync(binary, a.delay, False), OursRsyncdirect(binary, a.delay, False)]
    if os.access(a.debian_clsync, os.X_OK):
        tools_burst.append(DebianClsync(a.debian_clsync))
    if a.lsyncd and os.access(a.lsyncd, os.X_OK):
        tools_burst.append(Lsyncd(a.lsyncd))

    base = tempfile.mkdtemp(prefix="clsync-delta-", dir=a.workdir)
    # Run a private copy: the binary may be rebuilt while the run goes on.
    under_test = os.path.join(base, "clsync")
    shutil.copy2(binary, under_test)
    for t in tools_big + tools_burst:
        if isinstance(t, OursLibrsync):
            t.binary = under_test
    with open(under_test, "rb") as fb:
        sha = hashlib.sha256(fb.read()).hexdigest()
    version = subprocess.run([under_test, "-V"], capture_output=True, text=True).stdout.strip()
    cfg["devstat"] = block_dev_stat_path(base)
    meta = machine_info(os.path.realpath(base))
    meta["binary"] = {"path": binary, "sha256": sha, "version": version,
                      "mtime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(binary).st_mtime))}
    meta["load_start"] = os.getloadavg()
    log(f"work dir {base}; config { {k: v for k, v in cfg.items()} }")
    results = {w: {} for w in workloads}
    t_run = now()
    try:
        if "big" in workloads:
            big_src = os.path.join(base, "big-src")
            os.mkdir(big_src)
            t0 = now()
            make_big(os.path.join(big_src, "big.bin"), cfg["size"])
            log(f"created the {cfg['size'] // MIB} MiB source in {now() - t0:.1f} s")
        for rep in range(cfg["reps"]):
            for wl in workloads:
                tools = tools_big if wl == "big" else tools_burst
                k = rep % len(tools)
                for tool in tools[k:] + tools[:k]:
                    try:
                        r = run_big(cfg, base, tool, big_src, rep) if wl == "big" else run_burst(cfg, base, tool, rep)
                    except RuntimeError as e:
                        r = {"tool": tool.key, "rep": rep, "converged": False, "error": str(e)}
                    results[wl].setdefault(tool.key, []).append(r)
                    log(f"rep {rep + 1} {wl} {tool.key}: {r}")
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    meta["load_end"] = os.getloadavg()
    meta["took"] = now() - t_run
    report, S = render(results, cfg, tools_big, tools_burst, meta)
    cmds = ["", "Commands (WORK = a fresh temp dir per run; WORK/rsync = a wrapper counting runs, then exec "
            f"{REAL_RSYNC}):", ""]
    seen = set()
    for wl in results.values():
        for rs in wl.values():
            for r in rs:
                c = r.get("cmd")
                if c:
                    c = re.sub(r"/\S*?/(big|burst)-[\w-]+?-\d+-\w+", "WORK", c)
                    c = re.sub(r"/\S*?/clsync-delta-\w+/big-src", "SRC", c)
                    c = re.sub(r"/\S*?/clsync-delta-\w+/clsync ", "clsync ", c)
                    if c not in seen:
                        seen.add(c)
                        cmds.append(f"    {c}")
    text = report + "\n".join(cmds) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as fo:
            fo.write(text)
    if a.json:
        cfg.pop("devstat", None)
        with open(a.json, "w") as fo:
            json.dump({"machine": meta, "config": cfg, "results": results,
                       "summary": {f"{k[0]}:{k[1]}": v for k, v in S.items()}}, fo, indent=1)


if __name__ == "__main__":
    main()
