#!/usr/bin/env python3
"""Soak test (not in CI): the randomized torture workload against one running daemon
for 30 minutes (--minutes), sampling its resident memory (VmRSS) and open file
descriptors every 10 s; then the trees must be identical (torture.py checks that).

Flat means: after the first minute, no sample above the first minute's highest by more
than 10 % (RSS) or 8 descriptors, and the last quarter's median RSS within 10 % of the
second quarter's. The curve is printed as a markdown table (one row per minute) for
bench/RESULTS.md. Exit 0 when the run converged and both curves are flat.

    bench/soak.py [--minutes 30] [--clsync ./clsync] [--seed N] [--csv soak.csv]
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TORTURE = os.path.join(HERE, "..", "tests", "system", "torture.py")


def flat(rows, key, ratio, slack):
    warm = [r[key] for r in rows if r["seconds"] <= 60]
    later = [r[key] for r in rows if r["seconds"] > 60]
    if not warm or not later:
        return False, "too short a run"
    ceiling = max(warm) * ratio + slack
    worst = max(later)
    return worst <= ceiling, f"first minute's highest {max(warm)}, later highest {worst} (limit {ceiling:.0f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clsync", default=os.path.join(HERE, "..", "clsync"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", default=None, help="keep the samples here")
    args = parser.parse_args()
    samples = args.csv or tempfile.mktemp(prefix="clsync-soak.", suffix=".csv")
    env = dict(os.environ, CLSYNC=os.path.abspath(args.clsync))
    # The tree starts at the workload's size bound (torture.py's MAX_ENTRIES, 2,500),
    # so that what the daemon holds for it does not grow with it during the run.
    run = subprocess.run([sys.executable, TORTURE, "--seed", str(args.seed), "--duration", str(args.minutes * 60),
                          "--initial", "2400", "--hardlinks", "no", "--sample", samples, "--converge", "600"],
                         env=env)
    with open(samples) as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    print(f"\nsoak: {args.minutes:g} min, seed {args.seed}, {len(rows)} samples, torture exit {run.returncode}")
    # RSS in its two parts: anonymous (the heap, the stacks) and file-backed (the pages
    # of the binary and of the libraries, mapped in as code runs for the first time).
    print("| minute | RSS (MiB) | anonymous | file-backed | open fds | ops | entries |\n"
          "|---|---|---|---|---|---|---|")
    for row in rows:
        if int(row["seconds"]) % 60 < 10:
            print(f"| {row['seconds'] / 60:.0f} | {row['rss_kib'] / 1024:.1f} | {row['rss_anon_kib'] / 1024:.1f} | "
                  f"{row['rss_file_kib'] / 1024:.1f} | {row['fds']:.0f} | {row['ops']:.0f} | {row['entries']:.0f} |")
    rss_ok, rss_why = flat(rows, "rss_kib", 1.10, 0)
    fds_ok, fds_why = flat(rows, "fds", 1.0, 8)
    quarter = max(1, len(rows) // 4)
    second, last = rows[quarter:2 * quarter], rows[-quarter:]
    drift_ok = bool(second) and statistics.median(r["rss_kib"] for r in last) <= \
        1.10 * statistics.median(r["rss_kib"] for r in second)
    print(f"soak: RSS {'flat' if rss_ok else 'GROWS'} ({rss_why}); "
          f"second vs last quarter median {'within 10 %' if drift_ok else 'GROWS'}; "
          f"fds {'flat' if fds_ok else 'GROW'} ({fds_why})")
    if not args.csv:
        os.unlink(samples)
    return 0 if run.returncode == 0 and rss_ok and fds_ok and drift_ok else 1


if __name__ == "__main__":
    sys.exit(main())
