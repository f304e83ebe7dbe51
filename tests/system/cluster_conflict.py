#!/usr/bin/env python3
"""Conflict copies: a file changed here and at a peer at once is kept, and a file a
peer's write brought here before its notice is not taken for this node's version.

A node keeps its version of a file as NAME.clsync-conflict-NODE-TIME when a peer
announces another version while its own has not reached that peer (conflict_keeper.h).
A peer's write can arrive here before its notice (cluster.py seed 182: at start, a peer's
initial sync wrote a file into this node's tree 33 ms before its notice came); this node
then names the file as its own (its whole-tree walk, or its sync of what looks like a
local change). Once the peer's notice names that very version, it is the peer's too,
and the peer's next change of it follows it: no conflict copy.

One node (A) runs in a network namespace of its own (loopback only, multicast routed
on lo), syncing WORK/a to WORK/b (peer P's tree, --cluster-peer) with --cluster-*, as in
cluster_packets.py; this test plays P, with correctly signed packets of its own encoder:

1. a real conflict: own.txt changed in WORK/a; once A announced it (its signature read
   from A's own multicast notices), P announces another version: A must keep its own
   as own.txt.clsync-conflict-A-*.
2. acknowledged first: acked.txt changed in WORK/a while P is up; A's notice must be
   sent again (P does not acknowledge it) before A's rsync runs, and the run must come
   once P acknowledged it: P handles a notice (its conflict copies made) before A's
   write can land (cluster.py scenario 7: a peer's write overtook the copy, and this
   node's version was lost).
3. a late notice: from-p.txt appears in WORK/a as P's rsync would write it (a temporary
   name renamed into place), with no notice; A syncs and announces it. Then P's notice
   names that very version, and, after its Done, P's next one another version: A must
   keep no conflict copy of it.

Root only, with `ip netns` and rsync (exit 77 otherwise). Exit 0 on success (the work
dir is removed unless --keep), 1 on failure (the work dir is kept, the log tail
printed).
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_packets as cp  # noqa: E402


class Test(cp.FakePeerTest):
    def __init__(self, work, clsync):
        super().__init__(work, clsync, "clsync-c")
        self.node.argv.append(f"--cluster-peer=P={self.node.dst}")
        self.notices = 0  # P's notices sent, each logged once by A

    def copies_of(self, name):
        return [n for n in os.listdir(self.node.src) if n.startswith(name + ".clsync-conflict-")]

    def announce(self, entries):
        """P's notice of `entries` ((path, signature)...), taken by A, then its Done."""
        seq = self.send_as(b"P", cp.NOTICE, cp.notice_body([(p.encode(), 0, s) for p, s in entries]))
        self.notices += 1
        self.wait_for("A taking P's notice",
                      lambda: self.log_has(f"cluster: node P announces {len(entries)} change", self.notices))
        self.send_as(b"P", cp.DONE, struct.pack(">IQ", 1, seq))

    def change_and_wait_announced(self, rel, write):
        """`write` changes WORK/a/`rel`; waits for A to sync and announce the new version."""
        before = self.signatures.get(rel)
        write(os.path.join(self.node.src, rel))
        self.wait_for(f"A announcing {rel}", lambda: self.read_announcements([rel])
                      and self.signatures[rel] != before)
        self.wait_for(f"A syncing {rel}", lambda: self.in_sync() and cp.same_trees(self.node.src, self.node.dst))
        return self.signatures[rel]

    def start(self):
        os.makedirs(self.node.src)
        os.makedirs(self.node.dst)
        self.start_node()
        self.wait_for("the initial sync", self.in_sync)

    def real_conflict(self):
        self.phase = "1 a real conflict"

        def write(path):
            with open(path, "wb") as f:
                f.write(b"own.txt: A's change\n")
        mine = self.change_and_wait_announced("own.txt", write)
        self.announce([("own.txt", mine ^ 1)])  # P changed it too, at once
        self.wait_for("A keeping its version of own.txt", lambda: self.copies_of("own.txt"))
        print(f"cluster_conflict: 1 a real conflict: A kept {self.copies_of('own.txt')[0]}", flush=True)

    def acknowledged_first(self):
        self.phase = "2 acknowledged first"
        self.send_as(b"P", cp.ANNOUNCE, b"")  # P is up: A waits for it
        seen_before = set(self.notices_seen)
        runs = self.node.runs()[1]
        with open(os.path.join(self.node.src, "acked.txt"), "wb") as f:
            f.write(b"acked.txt: A's file\n")

        def sent_again():
            self.read_announcements([])
            return any(n >= 2 for k, n in self.notices_seen.items() if k not in seen_before)
        self.wait_for("A's notice sent again (P has not acknowledged it)", sent_again)
        if self.node.runs()[1] != runs:
            raise cp.Failure("A's rsync ran before P acknowledged A's notice")
        for epoch, seq in set(self.notices_seen) - seen_before:
            self.send_as(b"P", cp.ACK, cp.ack_body(cp.NODE.encode(), epoch, seq))
        self.wait_for("A syncing acked.txt once acknowledged",
                      lambda: self.in_sync() and cp.same_trees(self.node.src, self.node.dst))
        print("cluster_conflict: 2 acknowledged first: A wrote only after P acknowledged its notice", flush=True)

    def late_notice(self):
        self.phase = "3 a late notice"

        def write_as_rsync(path):
            temp = os.path.join(os.path.dirname(path), ".from-p.txt.Xy12Zq")
            with open(temp, "wb") as f:
                f.write(b"from-p.txt: P's file\n")
            os.rename(temp, path)
        theirs = self.change_and_wait_announced("from-p.txt", write_as_rsync)
        # Nothing more to read: closed, so that the node's port holds only its own socket's
        # queue when counters() waits for it to be empty.
        self.listen.close()
        self.listen = None
        self.announce([("from-p.txt", theirs)])      # P's notice, late: the version A named first
        self.announce([("from-p.txt", theirs ^ 1)])  # P's next change
        self.node.counters()  # the main loop answered SIGUSR1: it handled that notice whole
        copies = self.copies_of("from-p.txt")
        if copies:
            raise cp.Failure(f"P's own file kept as A's version: {copies} (a peer's next change taken for a "
                             "conflict with its own earlier version)")
        if self.log_has("conflict: 'from-p.txt'"):
            raise cp.Failure("A logged a conflict for from-p.txt, P's own file")
        print("cluster_conflict: 3 a late notice: no conflict copy of P's own file", flush=True)

    def steps(self):
        return [self.real_conflict, self.acknowledged_first, self.late_notice]


def main():
    return cp.fake_peer_main("cluster_conflict", __doc__, Test)


if __name__ == "__main__":
    sys.exit(main())
