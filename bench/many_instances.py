#!/usr/bin/env python3
"""Many instances on one host, as with one clsync per LXC container: N instances at
once, each watching its own small tree (a fake container: 200 directories, 1,000
files) and syncing it to its own destination. After every instance has synced its
tree, measures the idle cost: total and per-instance RSS and PSS (shared pages split
between the instances), and CPU used by all instances over an idle period.

Run as root: bench/many_instances.py [--instances 50] [--idle 30] [--tools ours,debian,lsyncd]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OURS = os.path.join(HERE, "..", "clsync")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def make_tree(root, dirs=200, files_per_dir=5):
    for d in range(dirs):
        path = os.path.join(root, f"etc{d % 10}", f"d{d}")
        os.makedirs(path, exist_ok=True)
        for f in range(files_per_dir):
            with open(os.path.join(path, f"f{f}"), "w") as out:
                out.write("x" * 100)


def start(tool, src, dst, work):
    if tool == "ours":
        cmd = [OURS, "-W", src, "-D", dst, "-t", "1", "-q"]
    elif tool == "debian":
        lists = os.path.join(work, "lists")
        os.makedirs(lists, mode=0o700)
        cmd = ["clsync", "-M", "rsyncdirect", "-S", shutil.which("rsync"), "-W", src, "-D", dst, "-L", lists,
               "-H", "/NULL/", "-u", "0", "-g", "0", "-t", "1", "-w", "1", "-T", "1", "-x", "23", "-x", "24"]
    else:
        conf = os.path.join(work, "lsyncd.conf.lua")
        with open(conf, "w") as out:
            out.write(f'settings {{ nodaemon = true, logfile = "{work}/lsyncd.log", insist = true }}\n'
                      f'sync {{ default.rsync, source = "{src}", target = "{dst}", delay = 1,\n'
                      f'       rsync = {{ binary = "/usr/bin/rsync", archive = true, hard_links = true }} }}\n')
        cmd = ["lsyncd", conf]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "log"), "w"))


def synced(src, dst):
    return subprocess.run(["diff", "-rq", src, dst], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def memory_kib(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15])  # utime stime cutime cstime


def run(tool, n, idle, base):
    procs, pairs = [], []
    for i in range(n):
        work = os.path.join(base, tool, f"ct{i}")
        src, dst = os.path.join(work, "rootfs"), os.path.join(work, "dst")
        os.makedirs(dst)
        make_tree(src)
        pairs.append((src, dst))
        procs.append(start(tool, src, dst, work))
    deadline = time.monotonic() + 600
    pending = list(range(n))
    while pending and time.monotonic() < deadline:
        pending = [i for i in pending if not synced(*pairs[i])]
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"{tool}: an instance exited")
        time.sleep(1)
    if pending:
        raise SystemExit(f"{tool}: {len(pending)} instances never synced their tree")
    time.sleep(3)  # let the last batches end
    before = sum(cpu_ticks(p.pid) for p in procs)
    time.sleep(idle)
    after = sum(cpu_ticks(p.pid) for p in procs)
    mem = [memory_kib(p.pid) for p in procs]
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=30)
    rss = sum(m[0] for m in mem)
    pss = sum(m[1] for m in mem)
    cpu_ms = (after - before) * 1000 / CLK_TCK
    return rss, pss, cpu_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--idle", type=int, default=30, help="seconds of idle measured")
    parser.add_argument("--tools", default="ours,debian,lsyncd")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="clsync-many.")
    results = {}
    try:
        for tool in args.tools.split(","):
            results[tool] = run(tool, args.instances, args.idle, base)
            rss, pss, cpu = results[tool]
            n = args.instances
            print(f"{tool:8} {n} instances: RSS total {rss / 1024:.1f} MiB ({rss / n / 1024:.2f} MiB each), "
                  f"PSS total {pss / 1024:.1f} MiB ({pss / n / 1024:.2f} MiB each), "
                  f"CPU over {args.idle} s idle {cpu:.0f} ms ({cpu / n:.1f} ms each)", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if "ours" in results:
        for tool, (rss, pss, cpu) in results.items():
            if tool != "ours":
                print(f"ours/{tool}: RSS {results['ours'][0] / rss:.2f}x, PSS {results['ours'][1] / pss:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
