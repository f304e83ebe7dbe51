#!/usr/bin/env python3
"""Catch-up and durability benchmarks (see bench/README, "catchup_bench.py").

catchup     Our clsync, Debian's clsync 0.4.5 and lsyncd 2.2.3 mirror a tree of 20,000 files
            (1-4 KiB, 200 dirs) to 127.0.0.1:DST over ssh, through a real OpenSSH server on
            a free 127.0.0.1 port. Once DST == SRC, sshd is stopped (the destination is down),
            10,000 files are rewritten, and after a fixed 20 s outage sshd starts again at T0.
            Measured: time from T0 until DST == SRC (deadline 300 s), rsync runs from the start
            of the outage (a wrapper logs each run with its exit code), the tool's CPU.
durability  Our daemon alone, local destination: 5,000 files of 4 KiB created at once in a new
            directory, with --state-dir on disk against --state-dir on a tmpfs mounted for the
            run. Daemon CPU (incl. reaped rsync) and time to converge.

Python 3 standard library only (helpers from delta_bench.py); root (sshd, mount, -u 0 -g 0).
"""
import argparse
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import delta_bench as db  # noqa: E402  (helpers: /proc readers, snapshot, wait_tree, tool classes)

now, log, med, f, ratio, fr = db.now, db.log, db.med, db.f, db.ratio, db.fr
REAL_RSYNC = db.REAL_RSYNC
SSHD = shutil.which("sshd", path="/usr/sbin:/usr/bin:/sbin") or "/usr/sbin/sshd"


def wall():
    return time.time()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---------------------------------------------------------------- sshd

class Sshd:
    """A private OpenSSH server on 127.0.0.1 (same idea as tests/system/lib_sshd.sh)."""

    def __init__(self, base):
        self.dir = os.path.join(base, "sshd")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o700)
        for k in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(self.dir, k)], check=True)
        shutil.copyfile(os.path.join(self.dir, "client_key.pub"), os.path.join(self.dir, "authorized_keys"))
        self.port = free_port()
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as fc:
            fc.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir}/host_key\n"
                     f"AuthorizedKeysFile {self.dir}/authorized_keys\nPidFile {self.dir}/sshd.pid\n"
                     "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                     "KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\nMaxStartups 100\nLogLevel ERROR\n")
        self.ssh = (f"ssh -p {self.port} -i {self.dir}/client_key -o BatchMode=yes -o StrictHostKeyChecking=no "
                    f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
        self.proc = None
        os.makedirs("/run/sshd", exist_ok=True)

    def start(self, wait=True):
        errlog = open(os.path.join(self.dir, "sshd.log"), "a")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", self.config], stdin=subprocess.DEVNULL,
                                     stdout=errlog, stderr=errlog, start_new_session=True)
        errlog.close()
        if wait:
            deadline = now() + 20
            while now() < deadline:
                if subprocess.run(shlex.split(self.ssh) + ["127.0.0.1", "true"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode == 0:
                    return
                time.sleep(0.1)
            raise RuntimeError("sshd did not come up")

    def cpu(self):
        """utime+stime+cutime+cstime of the listener: its reaped sessions, so the remote rsyncs."""
        return db.proc_cpu_seconds(self.proc.pid) if self.proc else None

    def sessions(self):
        return db.descendants(self.proc.pid) if self.proc else []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None


# ---------------------------------------------------------------- tools

class Ours(db.Tool):
    key, name = "ours", "clsync (ours)"
    delay = 1.0

    def __init__(self, binary, ssh):
        self.binary, self.ssh = binary, ssh

    def argv(self, src, dst, work, rsync):
        return [self.binary, "-W", src, "-D", "127.0.0.1:" + dst, "--ssh-command", self.ssh, "-t", "1",
                f"--state-dir={work}/state", "-S", rsync]

    def ready(self, d):
        return "synced the whole tree" in d.read_log()


class Debian(db.DebianClsync):
    def __init__(self, binary, ssh):
        super().__init__(binary)
        self.env = {"RSYNC_RSH": ssh}

    def argv(self, src, dst, work, rsync):
        # clsync 0.4.5 realpath()s -D unless it has a protocol: "user@host:path" (rsync+ssh) or
        # "proto://"; "127.0.0.1:DST" is refused (exit 2, "Got error while realpath()").
        return super().argv(src, "root@127.0.0.1:" + dst, work, rsync)


class DebianRetry(Debian):
    """clsync 0.4.5 told to retry for ever (-r 0; the default -r 1 exits after one failed run).
    It waits --delay-sync (-w 1) between tries."""
    key, name = "debian-r0", "clsync 0.4.5 -r 0"

    def argv(self, src, dst, work, rsync):
        return super().argv(src, dst, work, rsync) + ["-r", "0"]


class Lsyncd(db.Lsyncd):
    def __init__(self, binary, ssh):
        super().__init__(binary)
        self.ssh = ssh

    def argv(self, src, dst, work, rsync):
        conf = os.path.join(work, "lsyncd.conf.lua")
        with open(conf, "w") as fc:
            fc.write(f'settings {{ nodaemon = true, logfile = "{work}/lsyncd.log", '
                     f'statusFile = "{work}/lsyncd.status", statusInterval = 1, insist = true }}\n'
                     f'sync {{ default.rsync, source = "{src}", target = "127.0.0.1:{dst}", delay = 1,\n'
                     f'       rsync = {{ binary = "{rsync}", archive = true, hard_links = true,\n'
                     f'                 rsh = "{self.ssh}" }} }}\n')
        return [self.binary, conf]

    def extra_log(self, work):
        try:
            with open(os.path.join(work, "lsyncd.log"), errors="replace") as fl:
                return fl.read()
        except OSError:
            return ""


class Daemon(db.Daemon):
    """delta_bench's Daemon with a wrapper that logs start, end and exit code of every rsync run,
    and an optional environment."""

    def __init__(self, tool, src, dst, work):
        super().__init__(tool, src, dst, work)
        with open(self.rsync, "w") as fw:
            fw.write(f'#!/bin/sh\necho "start $$ $(date +%s.%N)" >> "{self.counter}"\n'
                     f'{REAL_RSYNC} "$@"\nrc=$?\necho "end $$ $(date +%s.%N) $rc" >> "{self.counter}"\nexit $rc\n')

    def start(self):
        env = dict(os.environ)
        env.update(getattr(self.tool, "env", {}))
        with open(self.logfile, "w") as lf:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                         cwd=self.work, start_new_session=True, env=env)
        self.pid = self.proc.pid

    def runs(self):
        """[(pid, start, end or None, rc or None)] from the wrapper log, in start order."""
        starts, ends = [], {}
        with open(self.counter) as fc:
            for line in fc:
                p = line.split()
                if len(p) >= 3 and p[0] == "start":
                    starts.append((p[1], float(p[2])))
                elif len(p) >= 4 and p[0] == "end":
                    ends[p[1]] = (float(p[2]), int(p[3]))
        return [(pid, t, *ends.get(pid, (None, None))) for pid, t in starts]

    def rsync_runs(self):
        return len(self.runs())

    def full_log(self):
        extra = getattr(self.tool, "extra_log", None)
        return self.read_log() + (extra(self.work) if extra else "")


# ---------------------------------------------------------------- tree

def make_tree(src, nfiles, ndirs, rng):
    names = []
    per = nfiles // ndirs
    for k in range(ndirs):
        dp = os.path.join(src, f"d{k:03d}")
        os.mkdir(dp)
        for i in range(per):
            p = os.path.join(dp, f"f{i:04d}")
            with open(p, "wb") as fo:
                fo.write(rng.randbytes(rng.randint(1024, 4096)))
            names.append(p)
    return names


def change_files(names, nchanges, rng):
    """Rewrite nchanges files, spread evenly over the list (hence over the dirs), with new content."""
    step = len(names) / nchanges
    for j in range(nchanges):
        p = names[int(j * step)]
        with open(p, "wb") as fo:
            fo.write(rng.randbytes(rng.randint(1024, 4096)))


def tail(text, n=12):
    return "\n".join(text.splitlines()[-n:])


# ---------------------------------------------------------------- catch-up

def run_catchup(cfg, base, tool, sshd, rep):
    work = tempfile.mkdtemp(prefix=f"catchup-{tool.key}-{rep}-", dir=cfg["tree_dir"])
    state_parent = tempfile.mkdtemp(prefix=f"catchup-{tool.key}-{rep}-", dir=base)
    src, dst = os.path.join(work, "src"), os.path.join(work, "dst")
    os.mkdir(src)
    os.mkdir(dst)
    rng = random.Random(rep * 1000 + sum(map(ord, tool.key)))
    res = {"tool": tool.key, "rep": rep, "load": db.loadavg()}
    names = make_tree(src, cfg["files"], cfg["dirs"], rng)
    d = Daemon(tool, src, dst, work)
    if tool.key == "ours":  # the state dir on the work dir's disk, not on the tmpfs of the trees
        d.cmd = [c.replace(f"--state-dir={work}/state", f"--state-dir={state_parent}/state") for c in d.cmd]
    res["cmd"] = " ".join(shlex.quote(c) for c in d.cmd)
    try:
        sshd.start()
        d.start()
        t_start = now()
        want = db.snapshot(src)
        deadline = t_start + cfg["deadline"]
        while not (tool.ready(d) and db.snapshot(dst) == want):
            if not d.alive():
                raise RuntimeError(f"exited ({d.proc.returncode}) before the initial sync: {tail(d.full_log())}")
            if now() > deadline:
                raise RuntimeError(f"initial sync not done after {cfg['deadline']} s")
            time.sleep(0.1)
        res["initial_s"] = round(now() - t_start, 3)
        d.wait_idle(quiet=1.5)
        if sshd.sessions():
            log(f"warning: sshd still has sessions before the outage: {sshd.sessions()}")
        c0, n0 = d.cpu(), d.rsync_runs()
        # ---- outage
        sshd.stop()
        w_stop, t_stop = wall(), now()
        change_files(names, cfg["changes"], rng)
        t_last = now()
        res["writing_s"] = round(t_last - t_stop, 3)
        expected = db.snapshot(src)
        time.sleep(max(0.0, t_last + cfg["outage"] - now()))
        res["alive_at_t0"] = d.alive()
        # ---- back up
        w0, t0 = wall(), now()
        sshd.start(wait=False)
        res["outage_s"] = round(t0 - t_stop, 3)
        tc = db.wait_tree(dst, expected, t0 + cfg["deadline"], d.alive)
        w_conv = wall() if tc is None else w0 + (tc - t0)
        res["converged"] = tc is not None
        res["time_s"] = round(tc - t0, 3) if tc is not None else None
        if tc is None:
            res["exit_code_early"] = d.proc.poll()
            have = db.snapshot(dst)
            res["wrong_at_dst"] = sum(1 for r, v in expected.items() if not v[0] and have.get(r) != v)
        c_conv = d.cpu()
        res["cpu_to_conv_s"] = round(c_conv - c0, 3) if c_conv is not None and c0 is not None else None
        if d.alive():
            res["idle"] = d.wait_idle(quiet=1.5)
        c1 = d.cpu()
        res["cpu_s"] = round(c1 - c0, 3) if c1 is not None and c0 is not None else None
        res["remote_cpu_s"] = sshd.cpu()
        runs = d.runs()[n0:]
        res["runs_outage"] = sum(1 for r in runs if r[1] < w0)
        res["runs_outage_failed"] = sum(1 for r in runs if r[1] < w0 and r[3] not in (0, None))
        res["runs_to_conv"] = sum(1 for r in runs if r[1] <= w_conv)
        res["runs_after_t0_to_conv"] = sum(1 for r in runs if w0 <= r[1] <= w_conv)
        res["runs_to_idle"] = len(runs)
        after = [r for r in runs if r[1] >= w0]
        before = [r for r in runs if r[1] < w0]
        res["first_run_after_t0_s"] = round(after[0][1] - w0, 3) if after else None
        res["last_run_before_t0_s"] = round(before[-1][1] - w0, 3) if before else None
        if tool.key == "ours" and before:
            # Our back-off: 0.5 s after the first failure in a row, doubling, at most 60 s
            # (src/sync_coordinator.cpp failure_backoff); counted from the end of the failed run.
            nfail = 0
            for r in reversed(before):
                if r[3] in (0, None):
                    break
                nfail += 1
            backoff = min(0.5 * 2 ** (nfail - 1), 60.0) if nfail else 0.0
            res["backoff_at_t0_s"] = backoff
            if before[-1][2]:
                res["retry_due_after_t0_s"] = round(before[-1][2] + backoff - w0, 3)
        res["run_exit_codes"] = [r[3] for r in runs]
        res["run_starts_rel_t0"] = [round(r[1] - w0, 2) for r in runs]
        res["run_durations"] = [round(r[2] - r[1], 2) if r[2] else None for r in runs]
        lg = d.full_log()
        res["log_tail"] = [l for l in lg.splitlines() if re.search(r"fail|error|works again|back-off|synced|syncing", l,
                                                                     re.I)][-12:]
        m = re.findall(r"works again after (\d+) s and (\d+) failed runs", lg)
        if m:
            res["ours_failed_runs"] = int(m[-1][1])
        res["identical"] = res["converged"] and subprocess.run(["diff", "-rq", src, dst], stdout=subprocess.DEVNULL,
                                                               stderr=subprocess.DEVNULL).returncode == 0
    except RuntimeError as e:
        res["converged"] = False
        res["error"] = str(e)
    finally:
        res["exit_code"] = d.stop() if d.proc else None
        res["strays"] = d.strays
        sshd.stop()
        if cfg["logs"]:
            with open(os.path.join(cfg["logs"], os.path.basename(work) + ".log"), "w") as fo:
                fo.write(d.full_log())
            shutil.copyfile(d.counter, os.path.join(cfg["logs"], os.path.basename(work) + ".runs"))
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(state_parent, ignore_errors=True)
    return res


# ---------------------------------------------------------------- durability (burst, state dir)

class OursState(db.Tool):
    def __init__(self, binary, key, name, state_parent):
        self.binary, self.key, self.name, self.state_parent = binary, key, name, state_parent
        self.delay = 1.0

    def argv(self, src, dst, work, rsync):
        state = tempfile.mkdtemp(prefix="state-", dir=self.state_parent)
        return [self.binary, "-W", src, "-D", dst, "-t", "1", f"--state-dir={state}", "-S", rsync]

    def ready(self, d):
        return "synced the whole tree" in d.read_log()


def run_durability(cfg, base, tool, trash, rep):
    """delta_bench's burst, but the trees are moved aside (deleted at the end): deleting on this
    ext4 (discard) costs ~2 ms per file and slows the next run's file creation."""
    work = tempfile.mkdtemp(prefix=f"dur-{tool.key}-{rep}-", dir=cfg["burst_dir"])
    src, dst = os.path.join(work, "src"), os.path.join(work, "dst")
    os.mkdir(src)
    os.mkdir(dst)
    with open(os.path.join(src, "seed"), "w") as fo:
        fo.write("seed\n")
    res = {"tool": tool.key, "rep": rep, "load": db.loadavg()}
    d = Daemon(tool, src, dst, work)
    res["cmd"] = " ".join(d.cmd)
    payload = bytearray(os.urandom(4096))
    try:
        os.sync()
        d.start()
        deadline = now() + 120
        want = db.snapshot(src)
        while not (tool.ready(d) and db.snapshot(dst) == want):
            if not d.alive():
                raise RuntimeError(f"exited ({d.proc.returncode}): {tail(d.read_log())}")
            if now() > deadline:
                raise RuntimeError("not ready after 120 s")
            time.sleep(0.05)
        d.wait_idle(quiet=1.5)
        c0, r0, w0 = d.cpu(), d.rsync_runs(), d.written()
        st0 = db.proc_stat_fields(d.pid)
        t_first, t_last = db.write_burst(os.path.join(src, "burst"), cfg["burst_files"], payload)
        res["writing_s"] = round(t_last - t_first, 3)
        expected = db.snapshot(src)
        t = db.wait_tree(dst, expected, t_last + 120, d.alive)
        res["converged"] = t is not None
        res["time_s"] = round(t - t_last, 3) if t else None
        res["time_from_first_s"] = round(t - t_first, 3) if t else None
        res["idle"] = d.wait_idle(quiet=1.5)
        res["cpu_s"] = round(d.cpu() - c0, 3)
        st = db.proc_stat_fields(d.pid)
        res["cpu_self_s"] = None
        if st and st0:  # the daemon's own utime+stime (all threads), without its rsync children
            res["cpu_self_s"] = round((int(st[11]) + int(st[12]) - int(st0[11]) - int(st0[12])) / db.CLK_TCK, 3)
        if st:
            res["cpu_total_s"] = round(d.cpu(), 3)
            res["cpu_self_total_s"] = round((int(st[11]) + int(st[12])) / db.CLK_TCK, 3)
        res["rsync_runs"] = d.rsync_runs() - r0
        w1 = d.written()
        res["written"] = w1 - w0 if w1 is not None and w0 is not None else None
        res["batches"] = len(re.findall(r"info: synced ", d.read_log())) - 1
        res["identical"] = subprocess.run(["diff", "-rq", src, dst], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL).returncode == 0
    except RuntimeError as e:
        res["converged"] = False
        res["error"] = str(e)
    finally:
        res["exit_code"] = d.stop() if d.proc else None
        res["strays"] = d.strays
        if cfg["logs"]:
            shutil.copyfile(d.logfile, os.path.join(cfg["logs"], os.path.basename(work) + ".log"))
        os.rename(work, os.path.join(trash, os.path.basename(work)))
    return res


# ---------------------------------------------------------------- report

def per_rep(rs, key, nd=3):
    return ", ".join(f(r.get(key), nd) if r.get("converged") or key not in ("time_s",) else
                     ("exited " + str(r.get("exit_code")) if r.get("exit_code_early") is not None
                      else "no") for r in rs)


def render_catchup(results, cfg, tools):
    L, S = [], {}
    L.append(f"### Catch-up after an outage: {cfg['files']:,} files in {cfg['dirs']} dirs, "
             f"{cfg['changes']:,} rewritten while sshd is down, outage {cfg['outage']:g} s after the last "
             f"write; time from sshd's restart (T0) until DST == SRC, deadline {cfg['deadline']:g} s\n")
    L.append("| tool | converged | catch-up s, median (per rep) | first rsync after T0, s | runs during outage "
             "(failed) | runs outage start → converged | of them after T0 | runs until idle | CPU s to converged "
             "| CPU s until idle | remote CPU s (sshd + rsync server) | exit code |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in tools:
        rs = results.get(t.key, [])
        ok = [r for r in rs if r.get("converged")]
        tm = med([r.get("time_s") for r in ok])
        runs = med([r.get("runs_to_conv") for r in ok])
        S[t.key] = {"time_s": tm, "runs": runs, "cpu_s": med([r.get("cpu_s") for r in ok]), "all": len(ok) == len(rs)}
        per = []
        for r in rs:
            if r.get("converged"):
                per.append(f(r["time_s"], 2))
            elif r.get("error"):
                per.append("error")
            elif r.get("exit_code_early") is not None:
                per.append(f"exited {r['exit_code_early']}")
            else:
                per.append(f"did not converge ({r.get('wrong_at_dst')} wrong)")
        fails = [f"{r.get('runs_outage')} ({r.get('runs_outage_failed')})" for r in rs]
        L.append(f"| {t.name} | {len(ok)}/{len(rs)} | {f(tm, 2)} ({', '.join(per)}) | "
                 f"{', '.join(f(r.get('first_run_after_t0_s'), 2) for r in rs)} | {', '.join(fails)} | "
                 f"{', '.join(str(r.get('runs_to_conv')) if r.get('converged') else '-' for r in rs)} | "
                 f"{', '.join(str(r.get('runs_after_t0_to_conv')) if r.get('converged') else '-' for r in rs)} | "
                 f"{', '.join(str(r.get('runs_to_idle')) for r in rs)} | "
                 f"{', '.join(f(r.get('cpu_to_conv_s'), 2) for r in rs)} | "
                 f"{', '.join(f(r.get('cpu_s'), 2) for r in rs)} | "
                 f"{', '.join(f(r.get('remote_cpu_s'), 2) for r in rs)} | "
                 f"{', '.join(str(r.get('exit_code')) for r in rs)} |")
    L.append("")
    ours = results.get("ours", [])
    if ours:
        L.append("Our daemon's back-off at T0 (failed runs in a row before T0 → the back-off then in force; "
                 "its next retry was due at T0 + x s; the first rsync after T0 started at T0 + y s):\n")
        for r in ours:
            L.append(f"- rep {r['rep'] + 1}: {r.get('runs_outage_failed')} failed runs → back-off "
                     f"{f(r.get('backoff_at_t0_s'), 1)} s; due at T0 + {f(r.get('retry_due_after_t0_s'), 2)} s; "
                     f"first run at T0 + {f(r.get('first_run_after_t0_s'), 2)} s; run starts rel. T0: "
                     f"{r.get('run_starts_rel_t0')}, exit codes {r.get('run_exit_codes')}, durations s "
                     f"{r.get('run_durations')}")
        L.append("")
    o = S.get("ours")
    if o:
        parts = []
        for t in tools:
            if t.key == "ours" or t.key not in S:
                continue
            p = S[t.key]
            parts.append(f"vs {t.name}: time {fr(ratio(o['time_s'], p['time_s']))}, rsync runs "
                         f"{fr(ratio(o['runs'], p['runs']))}, CPU {fr(ratio(o['cpu_s'], p['cpu_s']))}")
        L.append("Ratios ours / peer (medians of converged reps): " + "; ".join(parts) + ".\n")
        peers = [S[k]["time_s"] for k in S if k != "ours" and S[k]["time_s"] is not None]
        if peers:
            best = min(peers)
            r = ratio(o["time_s"], best)
            L.append(f"Target: catch-up ≤ ½ of the faster peer: {f(o['time_s'], 2)} s vs {f(best, 2)} s = {fr(r)} — "
                     f"{'met' if r is not None and r <= 0.5 else '**missed**'}.\n")
    return "\n".join(L), S


def render_durability(results, cfg, tools):
    L, S = [], {}
    L.append(f"### Durability overhead: burst of {cfg['burst_files']:,} files of 4 KiB in a new dir, local "
             f"destination, --state-dir on disk vs on tmpfs (trees in {cfg['burst_dir']})\n")
    L.append("| state dir | converged | converge s after last write, median (per rep) | writing took s | "
             "CPU s, median (per rep) | daemon-only CPU s, median (per rep) | bytes written MiB (daemon + rsync) | "
             "rsync runs | identical |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for t in tools:
        rs = results.get(t.key, [])
        ok = [r for r in rs if r.get("converged")]
        S[t.key] = {"time_s": med([r.get("time_s") for r in ok]), "cpu_s": med([r.get("cpu_s") for r in ok])}
        L.append(f"| {t.name} | {len(ok)}/{len(rs)} | {f(S[t.key]['time_s'])} ({per_rep(rs, 'time_s')}) | "
                 f"{f(med([r.get('writing_s') for r in rs]))} | {f(S[t.key]['cpu_s'], 2)} ({per_rep(rs, 'cpu_s', 2)}) | "
                 f"{f(med([r.get('cpu_self_s') for r in rs]), 2)} ({per_rep(rs, 'cpu_self_s', 2)}) | "
                 f"{f(med([db.mib(r.get('written')) for r in rs]), 1)} | "
                 f"{f(med([r.get('rsync_runs') for r in rs]), 0)} | "
                 f"{sum(1 for r in rs if r.get('identical'))}/{len(rs)} |")
    L.append("")
    dk, tm = S.get("disk"), S.get("tmpfs")
    if dk and tm:
        rc, rt = ratio(dk["cpu_s"], tm["cpu_s"]), ratio(dk["time_s"], tm["time_s"])
        pr = [ratio(a.get("cpu_s"), b.get("cpu_s")) for a, b in zip(results.get("disk", []), results.get("tmpfs", []))]
        L.append(f"Ratio disk / tmpfs (medians): CPU {fr(rc)}, converge time {fr(rt)}; per rep (CPU): "
                 f"{', '.join(fr(x) for x in pr)}.\n")
        L.append(f"Target: CPU disk / tmpfs ≤ 1.10: {fr(rc)} — {'met' if rc is not None and rc <= 1.10 else '**missed**'}.\n")
    return "\n".join(L), S


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="catch-up after an outage, and durability overhead (bench/README).")
    ap.add_argument("--clsync", default=os.path.join(HERE, "..", "clsync"))
    ap.add_argument("--debian-clsync", default="/usr/bin/clsync")
    ap.add_argument("--lsyncd", default="/usr/bin/lsyncd")
    ap.add_argument("--workloads", default="catchup,durability")
    ap.add_argument("--tools", default="ours,debian,debian-r0,lsyncd", help="catch-up tools")
    ap.add_argument("--reps", type=int, default=3, help="catch-up repetitions (default 3)")
    ap.add_argument("--durability-reps", type=int, default=5)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--dirs", type=int, default=200)
    ap.add_argument("--changes", type=int, default=10000)
    ap.add_argument("--outage", type=float, default=20.0, help="s from the last write until sshd restarts")
    ap.add_argument("--deadline", type=float, default=300.0)
    ap.add_argument("--burst-files", type=int, default=5000)
    ap.add_argument("--workdir", default="/var/tmp", help="parent of the temp dir (state dirs; default /var/tmp)")
    ap.add_argument("--tree-dir", default="/dev/shm", help="catch-up SRC/DST parent (default /dev/shm, tmpfs)")
    ap.add_argument("--burst-dir", default=None, help="durability SRC/DST parent (default: the temp dir, on disk)")
    ap.add_argument("--out")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--logs")
    a = ap.parse_args()
    workloads = [w for w in a.workloads.split(",") if w]
    logs = os.path.abspath(a.logs) if a.logs else None
    if logs:
        os.makedirs(logs, exist_ok=True)
    base = tempfile.mkdtemp(prefix="clsync-catchup-", dir=a.workdir)
    under_test = os.path.join(base, "clsync")
    shutil.copy2(os.path.abspath(a.clsync), under_test)
    version = subprocess.run([under_test, "-V"], capture_output=True, text=True).stdout.strip()
    cfg = {"files": a.files, "dirs": a.dirs, "changes": a.changes, "outage": a.outage, "deadline": a.deadline,
           "burst_files": a.burst_files, "logs": logs, "tree_dir": a.tree_dir,
           "burst_dir": a.burst_dir or base}
    meta = db.machine_info(os.path.realpath(base))
    meta["version"] = version
    meta["load_start"] = os.getloadavg()
    log(f"work dir {base}; {cfg}")
    results, reports, summary = {}, [], {}
    tmpfs = os.path.join(base, "tmpfs-state")
    mounted = False
    t_run = now()
    try:
        if "catchup" in workloads:
            sshd = Sshd(base)
            all_tools = {"ours": Ours(under_test, sshd.ssh), "debian": Debian(a.debian_clsync, sshd.ssh),
                         "debian-r0": DebianRetry(a.debian_clsync, sshd.ssh),
                         "lsyncd": Lsyncd(a.lsyncd, sshd.ssh)}
            tools = [all_tools[k] for k in a.tools.split(",") if k]
            results["catchup"] = {}
            for rep in range(a.reps):
                k = rep % len(tools)
                for tool in tools[k:] + tools[:k]:
                    r = run_catchup(cfg, base, tool, sshd, rep)
                    results["catchup"].setdefault(tool.key, []).append(r)
                    log(f"rep {rep + 1} catchup {tool.key}: " + json.dumps({x: r.get(x) for x in r if x != "log_tail"}))
                    for l in r.get("log_tail", []):
                        log(f"    {l}")
            text, S = render_catchup(results["catchup"], cfg, tools)
            reports.append(text)
            summary["catchup"] = S
        if "durability" in workloads:
            os.makedirs(tmpfs)
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", tmpfs], check=True)
            mounted = True
            disk_state = os.path.join(base, "disk-state")
            os.makedirs(disk_state)
            trash = tempfile.mkdtemp(prefix="clsync-catchup-trash-", dir=cfg["burst_dir"])
            cfg["trash"] = trash
            tools = [OursState(under_test, "disk", f"disk ({db.machine_info(disk_state)['fs']}, {disk_state})", disk_state),
                     OursState(under_test, "tmpfs", f"tmpfs ({tmpfs})", tmpfs)]
            results["durability"] = {}
            for rep in range(a.durability_reps):
                k = rep % len(tools)
                for tool in tools[k:] + tools[:k]:
                    r = run_durability(cfg, base, tool, trash, rep)
                    results["durability"].setdefault(tool.key, []).append(r)
                    log(f"rep {rep + 1} durability {tool.key}: {r}")
            text, S = render_durability(results["durability"], cfg, tools)
            reports.append(text)
            summary["durability"] = S
    finally:
        if mounted:
            subprocess.run(["umount", tmpfs])
        meta["load_end"] = os.getloadavg()
        meta["took"] = now() - t_run
        try:
            write_report(a, meta, version, results, reports, summary, cfg)
        finally:
            if not a.keep:
                if cfg.get("trash"):
                    shutil.rmtree(cfg["trash"], ignore_errors=True)
                shutil.rmtree(base, ignore_errors=True)


def write_report(a, meta, version, results, reports, summary, cfg):
    head = (f"Machine: nproc {meta['nproc']}, kernel {meta['kernel']}, {meta['rsync']}; {version}; run took "
            f"{meta['took']:.0f} s; load average {'/'.join(f'{x:.2f}' for x in meta['load_start'])} at the start, "
            f"{'/'.join(f'{x:.2f}' for x in meta['load_end'])} at the end.\n")
    cmds = ["Commands (WORK = a fresh dir per run; WORK/rsync = a wrapper that logs start, end and exit code, "
            f"then runs {REAL_RSYNC}):", ""]
    seen = set()
    for wl in results.values():
        for rs in wl.values():
            for r in rs:
                c = r.get("cmd")
                if c:  # one line per distinct command, with the per-run dirs abbreviated
                    c = re.sub(r"/\S*?/(catchup|dur)-[\w-]+?-\d+-\w+", "WORK", c)
                    c = re.sub(r"/\S*?/clsync-catchup-\w+/(catchup-ours-\d+-\w+/state|disk-state/state-\w+)",
                               "DISK/state", c)
                    c = re.sub(r"/\S*?/clsync-catchup-\w+/tmpfs-state/state-\w+", "TMPFS/state", c)
                    c = re.sub(r"/\S*?/clsync-catchup-\w+/sshd/", "SSHD/", c)
                    c = re.sub(r"/\S*?/clsync-catchup-\w+/clsync ", "clsync ", c)
                if c and c not in seen:
                    seen.add(c)
                    cmds.append(f"    {c}")
    text = head + "\n" + "\n".join(reports) + "\n" + "\n".join(cmds) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as fo:
            fo.write(text)
    if a.json:
        with open(a.json, "w") as fo:
            json.dump({"machine": meta, "config": cfg, "results": results, "summary": summary}, fo, indent=1)


if __name__ == "__main__":
    main()
