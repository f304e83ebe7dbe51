#!/usr/bin/env python3
"""A peer's Resend: repairs an overtaken write at the asker's destination only, creates
nothing, and is not sent again for a path another peer announced gone since.

A Resend (doc/PROTOCOL.md) asks a node to sync a path again because its write at the
asking peer was overtaken by an older one. Its run brings this node's copy only where
the destination's is older (--update), and creates nothing there (--existing): a path
the destination no longer has went with a newer change (its owner deleted it, or
renamed it away: cluster.py seed 103, a renamed file back at its owner). If the path's
owner announced it deleted (the path itself or a directory above it) after this node
last changed it, the path is not sent at all: that deletion is newer than both writes
(cluster.py seeds 63 and 88). Nor is the Resend itself a change of this node's: it
does not make a peer's earlier deletion look older. And a destination that is another
node's tree (--cluster-peer) is not written: that node did not ask (cluster.py seed
170: a Resend's run raced the owner's deletion at a third node).

One node (A) runs in a network namespace of its own (loopback only, multicast routed
on lo), syncing WORK/a to WORK/b and WORK/c with --cluster-*, as in cluster_packets.py,
WORK/b given as peer P's tree and WORK/c as peer O's (--cluster-peer); its rsync (-S) is
a wrapper that counts runs. This test plays those two fake peers, with correctly signed
packets of its own encoder (cluster_packets.py's):

1. overtaken: A's initial sync announces every path with its signature (read from A's
   own multicast notices). asked.txt in WORK/b and WORK/c is overwritten with other
   content and an older mtime (an older write that landed last), and peer P asks A for
   it again: A must sync it to P (WORK/b/asked.txt is A's again, with a run), and not
   to O (WORK/c/asked.txt stays as it is).
2. gone there: WORK/b/absent.txt is removed, and P asks A for it again: A's run must
   not create it.
3. deleted since: owner O announces gone.txt and the directory d deleted (a notice,
   then its Done), as if O's deletions were on their way to A; gone.txt and
   d/under.txt are removed from WORK/b and WORK/c; then P asks A for both again. A must leave
   both to O (debug line "... is older here than a peer's announcement of it: left
   to the peer"), run no rsync, and WORK/b must not get them back.

Root only, with `ip netns` and rsync (exit 77 otherwise). Exit 0 on success (the work
dir is removed unless --keep), 1 on failure (the work dir is kept, the log tail
printed).
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_packets as cp  # noqa: E402

QUIET_SECONDS = 2.0    # s: watched for a sync run after the judgement (several -t windows)
FILES = ("asked.txt", "absent.txt", "gone.txt", "d/under.txt", "kept.txt")


class Test(cp.FakePeerTest):
    def __init__(self, work, clsync):
        super().__init__(work, clsync, "clsync-r")
        self.other = os.path.join(work, "c")  # O's tree
        self.node.argv += ["-D", self.other, f"--cluster-peer=P={self.node.dst}", f"--cluster-peer=O={self.other}"]

    def in_sync(self, destinations=2):
        return super().in_sync(destinations)

    def trees_with(self, rel):
        """Which of WORK/b and WORK/c have `rel`."""
        return [d for d in (self.node.dst, self.other) if os.path.lexists(os.path.join(d, rel))]

    def ask_again(self, paths):
        self.send_as(b"P", cp.RESEND, cp.resend_body(cp.NODE.encode(),
                                                  [(p.encode(), 0, self.signatures[p]) for p in paths]))

    def log_has(self, text):
        return text.encode() in self.node.log()

    def start(self):
        src = self.node.src
        os.makedirs(os.path.join(src, "d"))
        os.makedirs(self.node.dst)
        os.makedirs(self.other)
        for rel in FILES:
            with open(os.path.join(src, rel), "wb") as f:
                f.write(f"{rel}: A's version\n".encode())
        self.start_node()
        self.wait_for("the initial sync", lambda: self.in_sync() and cp.same_trees(src, self.node.dst)
                      and cp.same_trees(src, self.other))
        self.wait_for("A's notices naming " + ", ".join(FILES), lambda: self.read_announcements(FILES))

    def overtaken(self):
        self.phase = "1 overtaken"
        past = time.time() - 3600
        for tree in (self.node.dst, self.other):
            older = os.path.join(tree, "asked.txt")
            with open(older, "wb") as f:
                f.write(b"asked.txt: an older write that landed last\n")
            os.utime(older, (past, past))
        runs = self.node.runs()[1]
        self.ask_again(["asked.txt"])
        self.wait_for("A syncing asked.txt again",
                      lambda: cp.same_trees(self.node.src, self.node.dst) and self.in_sync())
        if self.node.runs()[1] <= runs:
            raise cp.Failure("asked.txt is A's in WORK/b again without a run of the rsync wrapper")
        with open(os.path.join(self.other, "asked.txt"), "rb") as f:
            if not f.read().startswith(b"asked.txt: an older write"):
                raise cp.Failure("P's Resend wrote asked.txt to WORK/c too, O's tree (--cluster-peer O)")
        print("cluster_resend: 1 overtaken: A synced asked.txt again to P when asked, not to O", flush=True)

    def gone_there(self):
        self.phase = "2 gone there"
        os.unlink(os.path.join(self.node.dst, "absent.txt"))
        runs = self.node.runs()[1]
        self.ask_again(["absent.txt"])
        self.wait_for("A's run for the Resend", lambda: self.node.runs()[1] > runs and self.in_sync())
        if os.path.exists(os.path.join(self.node.dst, "absent.txt")):
            raise cp.Failure("a Resend created absent.txt in WORK/b, which no longer had it")
        print("cluster_resend: 2 gone there: A's run for the Resend did not create absent.txt", flush=True)

    def deleted_since(self):
        self.phase = "3 deleted since"
        seq = self.send_as(b"O", cp.NOTICE, cp.notice_body([(b"gone.txt", 1, 0), (b"d", 1, 0)]))
        self.send_as(b"O", cp.DONE, struct.pack(">IQ", 1, seq))
        self.wait_for("A taking O's notice", lambda: self.log_has("cluster: node O announces 2 changes"))
        for rel in ("gone.txt", "d/under.txt"):
            for tree in (self.node.dst, self.other):
                os.unlink(os.path.join(tree, rel))
        runs = self.node.runs()[1]
        self.ask_again(["gone.txt", "d/under.txt"])
        self.wait_for("A queueing the Resend", lambda: self.log_has("node P asks for 2 paths again (2 still as"))
        back = [rel for rel in ("gone.txt", "d/under.txt") if self.trees_with(rel)]

        def judged():
            nonlocal back
            back = [rel for rel in ("gone.txt", "d/under.txt") if self.trees_with(rel)]
            return back or all(self.log_has(f"'{rel}' is older here than a peer's announcement of it: left to the peer")
                               for rel in ("gone.txt", "d/under.txt"))
        self.wait_for("A judging the paths asked for", judged)
        if back:
            raise cp.Failure(f"sent again after their owner announced them gone: {', '.join(back)} back in WORK/b")
        time.sleep(QUIET_SECONDS)  # no condition to poll: a run that does not happen
        back = [rel for rel in ("gone.txt", "d/under.txt") if self.trees_with(rel)]
        if back or self.node.runs()[1] != runs:
            raise cp.Failure(f"{self.node.runs()[1] - runs} sync run(s) after the Resend; back in WORK/b: {back}")
        print("cluster_resend: 3 deleted since: A left gone.txt and d/under.txt to their owner, no run", flush=True)

    def steps(self):
        return [self.overtaken, self.gone_there, self.deleted_since]


def main():
    return cp.fake_peer_main("cluster_resend", __doc__, Test)


if __name__ == "__main__":
    sys.exit(main())
