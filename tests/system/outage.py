#!/usr/bin/env python3
"""Outage test for clsync: nothing is lost while a remote destination is down and the
daemon is SIGKILLed and restarted meanwhile.

One daemon syncs SRC to two destinations: LOCAL (a directory) and 127.0.0.1:REMOTE
(rsync over ssh, through a real sshd on loopback started here, with its own keys and
port). The randomized workload of torture.py runs while both are up; then sshd stops,
and LOCAL must keep converging while the remote is reported "down" (status file) with
one warning per change of state, not one per retry. The daemon is SIGKILLed while the
remote is down, the source changes with no daemon running, the daemon starts again
with the same command line, and LOCAL must converge again. Then sshd starts again on
the same port with the same keys, and both destinations must equal SRC; the daemon
exits 0 on SIGTERM.

Root only (sshd logs in as root), and /usr/sbin/sshd is needed: exit 77 otherwise.
The run is driven by random.Random(seed): replay a failure with --seed N. Exit 0 on
success (the work dir is removed), 1 on failure (the work dir is kept).
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torture  # noqa: E402
import treecmp  # noqa: E402

from torture import Failure  # noqa: E402

SSHD_BIN = "/usr/sbin/sshd"
START_DEADLINE = 90.0      # s: initial sync of both destinations
CONVERGE_DEADLINE = 60.0   # s: a destination converging after the last mutation
RECOVER_DEADLINE = 120.0   # s: the remote catching up after sshd is back (back-off is 60 s at most)
STATUS_DEADLINE = 60.0     # s: the status file showing the remote as down
SSHD_DEADLINE = 30.0       # s: sshd accepting logins
CHILD_DEADLINE = 60.0      # s: the killed daemon's children ending on their own
MAX_WARNINGS = 2           # "warning: sync to 127.0.0.1:" lines per daemon lifetime


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """A real OpenSSH server on 127.0.0.1 (port and keys kept across restarts)."""

    def __init__(self, work, ssh="ssh"):
        self.dir = os.path.join(work, "sshd")
        self.proc = None
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o700)
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(self.dir, key)],
                           check=True, stdin=subprocess.DEVNULL)
        shutil.copyfile(os.path.join(self.dir, "client_key.pub"), os.path.join(self.dir, "authorized_keys"))
        self.port = free_port()
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            f.write(f"Port {self.port}\n"
                    "ListenAddress 127.0.0.1\n"
                    f"HostKey {self.dir}/host_key\n"
                    f"AuthorizedKeysFile {self.dir}/authorized_keys\n"
                    f"PidFile {self.dir}/sshd.pid\n"
                    "PermitRootLogin prohibit-password\n"
                    "PasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    "StrictModes no\n"
                    "UsePAM no\n"
                    "MaxStartups 100\n"
                    "LogLevel ERROR\n")
        self.ssh_command = (f"{ssh} -p {self.port} -i {self.dir}/client_key -o BatchMode=yes "
                            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                            "-o LogLevel=ERROR -o ConnectTimeout=5")
        self.log_path = os.path.join(self.dir, "sshd.log")

    def start(self):
        os.makedirs("/run/sshd", exist_ok=True)  # its privilege separation directory
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([SSHD_BIN, "-D", "-e", "-f", self.config],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + SSHD_DEADLINE
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"sshd exited with {self.proc.returncode} at start "
                              f"(log: {torture.log_tail(self.log_path, 10)})")
            rc = subprocess.run(self.ssh_command.split() + ["127.0.0.1", "true"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            if rc == 0:
                return
            if time.monotonic() >= end:
                raise Failure(f"sshd on port {self.port} did not accept a login within {SSHD_DEADLINE:.0f} s")
            time.sleep(0.1)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def descendants(pid):
    """The pids below `pid` (from /proc)."""
    children = torture.children_by_parent()
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def start_time(pid):
    """The start time of a process (to tell it from a later one with the same pid)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Daemon:
    """One clsync process; its log is appended to the shared log file."""

    def __init__(self, argv, log_path):
        self.log_path = log_path
        self.log_start = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def lines(self):
        """This daemon's log lines (bytes)."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_start)
            return f.read().splitlines()

    def batches_in_flight(self):
        """Batches started but not finished (any destination), over this daemon's
        lifetime only. A batch ends with "synced ...", "... deletions were skipped" or a
        failure: "warning: sync to DEST failed (" or "debug: sync to DEST failed again (";
        not with "sync to DEST works again after N s and M failed runs"."""
        started = finished = 0
        for line in self.lines():
            if b" clsync info: syncing " in line:
                started += 1
            elif (b" clsync info: synced " in line or b"deletions were skipped" in line
                  or (b" clsync warning: sync to " in line and b" failed (" in line)
                  or (b" clsync debug: sync to " in line and b" failed again (" in line)):
                finished += 1
        return started - finished

    def warnings_for(self, prefix):
        needle = b"warning: sync to " + prefix.encode()
        return [line for line in self.lines() if needle in line]

    def alive(self):
        return self.proc.poll() is None


def read_status(path):
    """The status file, parsed; None while it is missing or being rewritten."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def status_entry(status, is_remote):
    if not status:
        return None
    for d in status.get("destinations", []):
        if d.get("destination", "").startswith("127.0.0.1:") == is_remote:
            return d
    return None


class Outage:
    def __init__(self, args, seed, work, clsync):
        self.args = args
        self.seed = seed
        self.work = work
        self.src, self.local, self.remote, self.outside = (
            os.path.join(work, d) for d in ("src", "local", "remote", "outside"))
        for d in (self.src, self.local, self.remote, self.outside):
            os.makedirs(d)
        self.log_path = os.path.join(work, "clsync.log")
        self.status_path = os.path.join(work, "status")
        self.rng = random.Random(seed)
        self.oplog = open(os.path.join(work, "ops.log"), "w", buffering=1)
        self.t = torture.Torture(self.rng, self.src, self.outside, self.oplog, (), hardlinks=False)
        self.clsync = clsync
        self.sshd = Sshd(work, args.ssh)
        self.daemon = None
        self.last_diffs = []
        self.phase = "setup"

    # ---- pieces --------------------------------------------------------------------

    def argv(self):
        return [self.clsync, "-W", self.src, "-D", self.local, "-D", "127.0.0.1:" + self.remote,
                "--ssh-command", self.sshd.ssh_command,
                "--monitor=" + os.environ.get("CLSYNC_MONITOR", "inotify"),
                "-t", "0.2", "-d", "--status-file", self.status_path, "--status-format=json"]

    def start_daemon(self):
        self.daemon = Daemon(self.argv(), self.log_path)
        print(f"outage: daemon started (pid {self.daemon.proc.pid})", flush=True)

    def wait_for(self, what, predicate, deadline, need_daemon=True):
        end = time.monotonic() + deadline
        while True:
            if predicate():
                return
            if need_daemon and not self.daemon.alive():
                raise Failure(f"daemon exited with {self.daemon.proc.returncode} while waiting for {what}")
            if time.monotonic() >= end:
                raise Failure(f"timed out after {deadline:.0f} s waiting for {what}")
            time.sleep(0.1)

    def workload(self, seconds, daemon_running=True):
        """torture.py's mutations, in bursts, for about `seconds`."""
        end = time.monotonic() + seconds
        last_rescan = self.t.ops
        while time.monotonic() < end:
            for _ in range(self.rng.randrange(1, 20)):  # a burst
                self.t.step()
            if daemon_running and not self.daemon.alive():
                raise Failure(f"daemon exited with {self.daemon.proc.returncode} during the mutations")
            if self.rng.random() < 0.7:
                time.sleep(self.rng.uniform(0, 0.05))
            if self.t.ops - last_rescan >= 200:
                self.t.rescan()  # keeps the model honest
                last_rescan = self.t.ops
        self.t.rescan()

    def converged(self, dests):
        """True when, with no batch running (log and status file agree), every destination
        in `dests` ({name: path}) equals SRC and has nothing pending."""
        if self.daemon.batches_in_flight() != 0:
            return False
        status = read_status(self.status_path)
        for name in dests:
            entry = status_entry(status, name == "remote")
            if entry is None or entry.get("running") or entry.get("pending"):
                self.last_diffs = [f"{name}: status file says {entry!r}"]
                return False
        diffs = []
        for name, path in dests.items():
            try:
                diffs += [f"{name}: {d}" for d in treecmp.compare(self.src, path)]
            except OSError as e:  # a file vanished under the comparison: rsync is busy
                diffs.append(f"{name}: comparison raced with the daemon: {e}")
        self.last_diffs = diffs
        return not diffs and self.daemon.batches_in_flight() == 0

    def wait_converged(self, what, dests, deadline):
        self.last_diffs = []
        start = time.monotonic()
        try:
            self.wait_for(what, lambda: self.converged(dests), deadline)
        except Failure as e:
            running = self.daemon.batches_in_flight() if self.daemon else 0
            detail = f"{e}\n  batches in flight: {running}"
            if self.last_diffs:
                detail += "\n  " + "\n  ".join(self.last_diffs[:30])
                if len(self.last_diffs) > 30:
                    detail += f"\n  ... and {len(self.last_diffs) - 30} more"
                detail += self.ops_naming(self.last_diffs[:5])
            raise Failure(detail)
        print(f"outage: {what}: {time.monotonic() - start:.1f} s", flush=True)

    def ops_naming(self, diffs):
        """The last operations of ops.log that named a path in `diffs` (treecmp's
        b'...' names) as a whole: what a failure report needs first."""
        self.oplog.flush()
        with open(os.path.join(self.work, "ops.log"), errors="replace") as f:
            ops = f.read().splitlines()
        text = ""
        for name in dict.fromkeys(m for d in diffs for m in re.findall(r"b'([^']*)'", d)):
            found = [op for op in ops if re.search(r"(?:^|\s)" + re.escape(name) + r"(?=$|[\s,])", op)]
            if found:
                text += f"\n  ops naming {name!r} (last {min(len(found), 8)} of {len(found)}):\n    " + \
                    "\n    ".join(found[-8:])
        return text

    def wait_remote_down(self):
        last = [None]

        def down():
            entry = status_entry(read_status(self.status_path), True)
            last[0] = entry
            return (entry is not None and entry.get("state") == "down"
                    and (entry.get("pending", 0) > 0 or entry.get("failures", 0) > 0))
        try:
            self.wait_for("the status file to report the remote as down", down, STATUS_DEADLINE)
        except Failure as e:
            raise Failure(f"{e}; its remote entry: {last[0]!r}")
        print(f"outage: status says remote down: pending {last[0].get('pending')}, "
              f"failures {last[0].get('failures')}, last error {str(last[0].get('last_error'))[:100]!r}", flush=True)

    def check_warnings(self):
        warnings = self.daemon.warnings_for("127.0.0.1:")
        if len(warnings) > MAX_WARNINGS:
            raise Failure(f"{len(warnings)} 'warning: sync to 127.0.0.1:' lines in one daemon lifetime "
                          f"(at most {MAX_WARNINGS}: once per change of state, not per retry):\n  " +
                          "\n  ".join(w.decode("utf-8", "backslashreplace")[:300] for w in warnings[:10]))
        return len(warnings)

    def kill_daemon(self):
        """SIGKILL, as a crash would: its children are left to end on their own."""
        pid = self.daemon.proc.pid
        children = [(c, start_time(c)) for c in descendants(pid)]
        self.daemon.proc.kill()
        self.daemon.proc.wait()
        # A sync still running when the daemon died must not write into LOCAL after
        # the next daemon has synced it: wait for the orphans to end (they do: the
        # remote is down, and a local rsync finishes its batch).
        end = time.monotonic() + CHILD_DEADLINE
        while True:
            left = [c for c, t in children if t is not None and start_time(c) == t]
            if not left:
                break
            if time.monotonic() >= end:
                raise Failure(f"the killed daemon's children {left} still run after {CHILD_DEADLINE:.0f} s:\n" +
                              "\n".join(torture.process_tree(c) for c in left))
            time.sleep(0.1)
        print(f"outage: daemon SIGKILLed ({len(children)} child process(es) then)", flush=True)

    def stop_daemon(self):
        self.daemon.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.daemon.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise Failure("daemon did not exit within 60 s of SIGTERM")
        if rc != 0:
            raise Failure(f"daemon exited with {rc} on SIGTERM")

    # ---- the scenario --------------------------------------------------------------

    def run(self):
        both = {"local": self.local, "remote": self.remote}
        local = {"local": self.local}
        self.phase = "start"
        self.sshd.start()
        self.t.populate(self.args.initial)
        self.t.log("populated", f"{self.t.entries()} entries")
        self.start_daemon()
        self.wait_converged("initial sync of both destinations", both, START_DEADLINE)

        self.phase = "both up"
        self.workload(self.args.burst)
        self.t.log("stopped", f"{self.t.entries()} entries")
        self.wait_converged("both converged", both, CONVERGE_DEADLINE)

        self.phase = "remote down"
        self.sshd.stop()
        self.t.log("sshd", "stopped")
        self.workload(self.args.burst)
        self.t.log("stopped", f"{self.t.entries()} entries")
        self.wait_converged("local converged, remote down", local, CONVERGE_DEADLINE)
        self.wait_remote_down()
        print(f"outage: warnings for the remote: {self.check_warnings()}", flush=True)

        self.phase = "daemon killed"
        self.kill_daemon()
        self.t.log("daemon", "killed")
        os.unlink(self.status_path)  # what the status file says next is the new daemon's
        self.workload(2.0, daemon_running=False)
        self.t.log("stopped", f"{self.t.entries()} entries")

        self.phase = "daemon restarted, remote down"
        self.start_daemon()
        self.t.log("daemon", "restarted")
        self.workload(3.0)
        self.t.log("stopped", f"{self.t.entries()} entries")
        self.wait_converged("local converged after the restart, remote down", local, CONVERGE_DEADLINE)
        self.wait_remote_down()
        print(f"outage: warnings for the remote: {self.check_warnings()}", flush=True)

        self.phase = "remote back"
        self.sshd.start()
        self.t.log("sshd", "started")
        self.wait_converged("both converged after the outage", both, RECOVER_DEADLINE)
        print(f"outage: warnings for the remote (restarted daemon): {self.check_warnings()}", flush=True)
        self.phase = "stop"
        self.stop_daemon()
        with open(self.log_path, "rb") as f:
            log = f.read()
        replayed = log.count(b" replayed) to 127.0.0.1:")
        unstarted = log.count(b"renaming at 127.0.0.1: could not start")
        print(f"outage: remote batches with renames replayed by mv: {replayed}"
              f"{f'; the remote rename session could not start {unstarted} times (renames copied instead)' if unstarted else ''}",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--clsync", default=os.environ.get("CLSYNC"))
    parser.add_argument("--burst", type=float, default=5.0, help="seconds of workload in the long phases")
    parser.add_argument("--ssh", default="ssh", help="the ssh client in --ssh-command (default: ssh, from $PATH)")
    parser.add_argument("--initial", type=int, default=150, help="entries created before the daemon starts")
    args = parser.parse_args()

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"outage seed: {seed}", flush=True)
    if os.geteuid() != 0:
        print("SKIP: the outage test runs sshd and logs in as root")
        return 77
    if not os.access(SSHD_BIN, os.X_OK) or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        print(f"SKIP: no {SSHD_BIN} (or ssh, ssh-keygen): install openssh-server")
        return 77
    if not args.clsync:
        print("outage: no clsync binary (--clsync or $CLSYNC)", file=sys.stderr)
        return 2
    clsync = os.path.abspath(args.clsync)

    work = tempfile.mkdtemp(prefix="clsync-outage.", dir=os.environ.get("TMPDIR"))
    print(f"outage work dir: {work}", flush=True)
    # A harness timeout (SIGTERM) still stops sshd and the daemon: the finally clause runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"outage: killed by signal {signum} (seed {seed})"))
    started = time.monotonic()
    test = None
    ok = False
    try:
        test = Outage(args, seed, work, clsync)
        test.run()
        ok = True
        print(f"outage: OK seed={seed}: {test.t.ops} ops ({test.t.errors} raced/failed), "
              f"{test.t.entries()} entries at the end, {time.monotonic() - started:.1f} s")
    except Exception as e:  # a Failure, or a bug of the test (a traceback then)
        phase = test.phase if test else "setup"
        ops = test.t.ops if test else 0
        if not isinstance(e, Failure):
            traceback.print_exc()
        print(f"outage: FAIL seed={seed} in phase '{phase}' after {ops} ops: {e}", file=sys.stderr)
        if test and test.daemon and test.daemon.alive():
            print("--- daemon processes (pid state wchan command):", file=sys.stderr)
            print(torture.process_tree(test.daemon.proc.pid), file=sys.stderr)
        log_path = os.path.join(work, "clsync.log")
        print(f"--- daemon log (last 50 lines of {log_path}):", file=sys.stderr)
        print(torture.log_tail(log_path), file=sys.stderr)
        status = os.path.join(work, "status")
        if os.path.exists(status):
            with open(status, "rb") as f:
                print(f"--- status file: {f.read().decode('utf-8', 'backslashreplace').strip()}", file=sys.stderr)
        print(f"--- work dir kept: {work} (ops log: {os.path.join(work, 'ops.log')})", file=sys.stderr)
        print(f"--- replay: {sys.argv[0]} --seed {seed}", file=sys.stderr)
    finally:
        if test is not None:
            test.oplog.close()
            if test.daemon is not None and test.daemon.alive():
                test.daemon.proc.send_signal(signal.SIGTERM)
                try:
                    rc = test.daemon.proc.wait(timeout=30)
                    print(f"--- daemon exited with {rc} on SIGTERM", file=sys.stderr)
                except subprocess.TimeoutExpired:
                    print("--- daemon did not exit within 30 s of SIGTERM: killed", file=sys.stderr)
                    test.daemon.proc.kill()
                    test.daemon.proc.wait()
            test.sshd.stop()
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
