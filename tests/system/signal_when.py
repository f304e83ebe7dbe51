#!/usr/bin/env python3
"""Sends a signal to a process the moment a condition holds: for catching the daemon
in the middle of something that lasts a fraction of a second (a file being written),
which a shell loop polling every 0.1 s would often miss. Polls every 2 ms.

Conditions (one):
  --glob DIR PATTERN   an entry of DIR matches the shell PATTERN (a temp file)
  --sql DB QUERY       QUERY on the SQLite database DB (opened read-only) returns a
                       first column > 0 (a row in the state store's unfinished_updates)

Once it polls, it prints "signal_when: polling" (flushed): start it in the background,
wait for that line, then make the daemon start the work to catch (the interpreter
takes a while to start on a busy machine).

Exit 0: signalled (prints how long it waited); 1: the deadline passed first; 2: the
process exited first (or was never there).

With --delay SECONDS (first), the signal follows the condition by that long (to land
in the middle of what the condition marks the start of).

Usage: signal_when.py [--delay SECONDS] PID SIGNAL DEADLINE_SECONDS (--glob DIR PATTERN | --sql DB QUERY)
"""
import fnmatch
import os
import signal
import sqlite3
import sys
import time


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not reaped yet) is not running either
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def glob_condition(directory, pattern):
    def check():
        try:
            return any(fnmatch.fnmatchcase(name, pattern) for name in os.listdir(directory))
        except FileNotFoundError:
            return False
    return check


def sql_condition(db, query):
    connection = None

    def check():
        nonlocal connection
        try:
            if connection is None:
                if not os.path.exists(db):
                    return False
                connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
            row = connection.execute(query).fetchone()
            return bool(row) and row[0] is not None and row[0] > 0
        except sqlite3.Error:  # busy, or the tables are not created yet
            return False
    return check


def main(argv):
    delay = 0.0
    if len(argv) > 2 and argv[1] == "--delay":
        delay = float(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) != 7 or argv[4] not in ("--glob", "--sql"):
        print(__doc__, file=sys.stderr)
        return 64
    pid, signame, deadline = int(argv[1]), argv[2], float(argv[3])
    signum = signal.Signals["SIG" + signame.upper().removeprefix("SIG")]
    check = glob_condition(argv[5], argv[6]) if argv[4] == "--glob" else sql_condition(argv[5], argv[6])
    start = time.monotonic()
    end = start + deadline
    ready = False
    while True:
        if check():
            if delay:
                time.sleep(delay)
            if not alive(pid):
                print(f"signal_when: process {pid} exited before the signal", file=sys.stderr)
                return 2
            os.kill(pid, signum)
            print(f"signal_when: {signum.name} sent to {pid} after {time.monotonic() - start:.3f} s")
            return 0
        if not alive(pid):
            print(f"signal_when: process {pid} exited before the condition held", file=sys.stderr)
            return 2
        if time.monotonic() >= end:
            print(f"signal_when: the condition did not hold within {deadline:g} s", file=sys.stderr)
            return 1
        if not ready:
            print("signal_when: polling", flush=True)
            ready = True
        time.sleep(0.002)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
