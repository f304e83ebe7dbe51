#!/usr/bin/env python3
"""What a peer's renames moved here under a name no notice named is the peer's.

A peer's run replays its renames here before it writes. Where they form a chain through
a directory made for it (a -> t/m -> b), this node's watcher cannot follow them: t is
not watched yet when m moves on, so the watcher reports a gone and b moved in from
outside, with everything below b as if made here. What b holds is the peer's earlier
write under the name a; where the peer no longer has part of it (its rsync deletes only
what it deleted itself, and a replay or an overtaken run can leave an entry behind),
this node must neither take that part for its own change and send it back to the peer
(cluster.py two-node seed 187: a directory the peer had moved away came back to it), nor
keep it for good: it is a stale entry of the peer's, removed once the peer's batch is
done (stale_entries.h), also below the directories the batch named.

One node (A) runs in a network namespace of its own (loopback only, multicast routed
on lo), syncing WORK/a to WORK/b (peer P's tree, --cluster-peer) with --cluster-*, as in
cluster_packets.py; this test plays P, with correctly signed packets of its own encoder.
The signatures of what P writes are read from A's own notices of a reference copy
(a signature covers type, permissions, size, mtime and bytes: not the path).

1. P announces pa, pa/d and pa/d/x and writes them into WORK/a (and WORK/b, its own
   tree); A takes them for P's write (nothing synced back).
2. P's next batch: pa renamed to t/m, then t/m to pb; P no longer has pb/d/x. Its
   notice lists both renames and announces pa and t/m gone, pb written whole (state 2)
   and pb/d; its "run" makes t, replays the two renames, removes t; then its Done. A
   must not sync pb/d/x to WORK/b, and must remove it from WORK/a as P's stale entry.

3. An old entry found again: P writes w, w/q and w/q/x; then announces w/q gone (its run
   that deletes it here has not come yet). Here, w is moved out of the tree and back (the
   watcher scans it: events on w/q and w/q/x, which did not change). A must not take w/q
   for its own change made after P's deletion and send it back to P (cluster.py
   three-node seed 298: a peer's old symlink, found by such a scan, recreated the
   directory its owner had moved away): an entry last changed here no later than its
   ctime (LocalEvents::last_change), which is older than P's announcement.

4. What A's run deletes below a tree it syncs whole: A moves its directory d4 out of the
   tree and back, and deletes d4/x, in one delay window (d4 is queued whole, and d4/x's
   event folds into it; A runs with -t 1.5 for that); its run's rsync deletes d4/x at P,
   and its notice must name d4/x gone (cluster.py two-node seed 248: a deletion no notice named
   was judged at the peer against an older notice, taken for the peer's own change, and
   sent back; rsync then made the directories above it again at the owner).

5. A directory above, older here: P writes m (0755), then makes it 0700 and announces
   that (its run here not yet); meanwhile a file m/n is made here. A's sync of m/n
   would set m at P back to 0755 (rsync sets the attributes of every directory above a
   listed path: cluster.py two-node seeds 282, 335): the batch must wait until m here
   is as P announced it (P's run arriving: the test's chmod), and then sync m/n.

Root only, with `ip netns` and rsync (exit 77 otherwise). Exit 0 on success (the work
dir is removed unless --keep), 1 on failure (the work dir is kept, the log tail
printed).
"""
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_packets as cp  # noqa: E402

MTIME = 1700000000  # the reference copy's and P's files', so that their signatures agree
CONTENT = b"x: written by P\n"


def make_tree(top):
    """top/d/x with CONTENT, directories 0755, x 0644, x's mtime MTIME."""
    os.makedirs(os.path.join(top, "d"), mode=0o755)
    os.chmod(top, 0o755)
    os.chmod(os.path.join(top, "d"), 0o755)
    x = os.path.join(top, "d", "x")
    with open(x, "wb") as f:
        f.write(CONTENT)
    os.chmod(x, 0o644)
    os.utime(x, (MTIME, MTIME))


class Test(cp.FakePeerTest):
    def __init__(self, work, clsync):
        super().__init__(work, clsync, "clsync-m")
        # A delay window long enough for phase 4's two steps.
        self.node.argv += [f"--cluster-peer=P={self.node.dst}", "-t", "1.5"]
        self.notices = 0  # P's notices sent, each logged once by A

    def notice(self, entries, renames=()):
        """P's notice of `entries` ((path, state, signature)...) and `renames`, taken by A; its seq."""
        body = cp.notice_body([(p.encode(), state, s) for p, state, s in entries],
                              renames=[(a.encode(), b.encode()) for a, b in renames])
        seq = self.send_as(b"P", cp.NOTICE, body)
        self.notices += 1
        self.wait_for("A taking P's notice",
                      lambda: self.log_has("cluster: node P announces ", self.notices))
        return seq

    def done(self, seq):
        self.send_as(b"P", cp.DONE, struct.pack(">IQ", 1, seq))

    def listed(self, path):
        """Whether one of A's sync runs listed `path` (or a path below it)."""
        for line in self.node.log().decode(errors="replace").splitlines():
            _, sep, listed = line.partition(" info:   ")
            if sep and (listed == path or listed.startswith(path + " ") or listed.startswith(path + "/")):
                return True
        return False

    def start(self):
        make_tree(os.path.join(self.node.src, "ref"))
        os.mkdir(os.path.join(self.node.src, "ref7"))
        os.chmod(os.path.join(self.node.src, "ref7"), 0o700)
        os.makedirs(self.node.dst)
        self.start_node()
        self.wait_for("the initial sync and A's notice of ref", lambda: self.in_sync()
                      and self.read_announcements(["ref", "ref/d", "ref/d/x", "ref7"]))
        self.dir_sig, self.x_sig = self.signatures["ref/d"], self.signatures["ref/d/x"]
        self.dir700_sig = self.signatures["ref7"]

    def peer_writes(self):
        self.phase = "1 P writes pa"
        seq = self.notice([("pa", 0, self.dir_sig), ("pa/d", 0, self.dir_sig), ("pa/d/x", 0, self.x_sig)])
        for tree in (self.node.dst, self.node.src):
            make_tree(os.path.join(tree, "pa"))
        self.done(seq)
        self.wait_for("A judging P's write", lambda: self.log_has("are what other nodes wrote: not synced back"))
        self.wait_for("A in sync", self.in_sync)
        if self.listed("pa"):
            raise cp.Failure("A synced P's write of pa back to P")

    def peer_renames(self):
        self.phase = "2 P's renames"
        # P's tree: pa is pb now, without d/x.
        os.rename(os.path.join(self.node.dst, "pa"), os.path.join(self.node.dst, "pb"))
        os.unlink(os.path.join(self.node.dst, "pb", "d", "x"))
        seq = self.notice([("pa", 1, 0), ("t", 1, 0), ("t/m", 1, 0), ("pb", 2, self.dir_sig),
                           ("pb/d", 0, self.dir_sig)], renames=[("pa", "t/m"), ("t/m", "pb")])
        # P's run replays them here: t is made for the chain, and gone again (P has none).
        src = self.node.src
        os.mkdir(os.path.join(src, "t"))
        os.rename(os.path.join(src, "pa"), os.path.join(src, "t", "m"))
        os.rename(os.path.join(src, "t", "m"), os.path.join(src, "pb"))
        os.rmdir(os.path.join(src, "t"))
        self.done(seq)
        self.wait_for("A removing pb/d/x as P's stale entry", lambda: not os.path.lexists(os.path.join(src, "pb/d/x")))
        if not self.log_has("cluster: removed 'pb/d/x': node P wrote it here and no longer has it"):
            raise cp.Failure("pb/d/x went from A's tree, but not as P's stale entry")
        self.wait_for("A in sync", self.in_sync)
        if self.listed("pb/d/x") or os.path.lexists(os.path.join(self.node.dst, "pb/d/x")):
            raise cp.Failure("A synced pb/d/x, P's write moved by P's renames, back to P")
        if not cp.same_trees(src, self.node.dst):
            cp.same_trees(src, self.node.dst, diffs=True)
            raise cp.Failure("A's tree and P's differ")
        print("cluster_moved: 2 P's renames: pb/d/x, moved here by them, was not synced back, and went as P's "
              "stale entry", flush=True)

    def old_entry_found_again(self):
        self.phase = "3 an old entry found again"
        src, dst = self.node.src, self.node.dst
        judged = self.node.log().count(b"are what other nodes wrote: not synced back")
        seq = self.notice([("w", 0, self.dir_sig), ("w/q", 0, self.dir_sig), ("w/q/d", 0, self.dir_sig),
                           ("w/q/d/x", 0, self.x_sig)])
        for tree in (dst, src):
            os.mkdir(os.path.join(tree, "w"))
            os.chmod(os.path.join(tree, "w"), 0o755)
            make_tree(os.path.join(tree, "w", "q"))
        self.done(seq)
        self.wait_for("A judging P's write of w",
                      lambda: self.log_has("are what other nodes wrote: not synced back", judged + 1))
        self.wait_for("A in sync", self.in_sync)
        # P deletes w/q; its notice comes, its run here not yet.
        shutil.rmtree(os.path.join(dst, "w", "q"))
        self.done(self.notice([("w/q", 1, 0)]))  # taken by A before the scan below
        outside = os.path.join(self.work, "outside-w")
        os.rename(os.path.join(src, "w"), outside)
        os.rename(outside, os.path.join(src, "w"))
        self.wait_for("A judging w/q after the scan",
                      lambda: self.log_has("'w/q' is older here than a peer's announcement of it: left to the peer")
                      or self.listed("w/q") or self.listed("w"))
        self.wait_for("A in sync", self.in_sync)
        if self.listed("w/q") or self.listed("w") or os.path.lexists(os.path.join(dst, "w", "q")):
            raise cp.Failure("A sent w/q, which P deleted after A last changed it, back to P")
        print("cluster_moved: 3 an old entry found again: w/q, found by a scan after P announced it gone, was left "
              "to P", flush=True)

    def deletion_in_a_tree(self):
        self.phase = "4 a deletion in a tree synced whole"
        src, dst = self.node.src, self.node.dst
        os.mkdir(os.path.join(src, "d4"))
        for name in ("x", "y"):
            with open(os.path.join(src, "d4", name), "wb") as f:
                f.write(name.encode() + b": A's\n")
        self.wait_for("A syncing d4", lambda: os.path.exists(os.path.join(dst, "d4", "y")) and self.in_sync())
        # Out of the tree and back: d4 is queued whole (and below); once the watcher
        # watches it again, within the delay window, d4/x goes, which folds into it.
        outside = os.path.join(self.work, "outside-d4")
        events = self.node.log().count(b"event: 'd4' (and below)")
        os.rename(os.path.join(src, "d4"), outside)
        os.rename(outside, os.path.join(src, "d4"))
        self.wait_for("A's event on d4", lambda: self.log_has("event: 'd4' (and below)", events + 2))
        os.unlink(os.path.join(src, "d4", "x"))
        self.wait_for("A syncing d4/x's deletion", lambda: self.in_sync()
                      and not os.path.lexists(os.path.join(dst, "d4", "x")))
        if self.listed("d4/x"):
            raise cp.Failure("d4/x was listed on its own: the case under test (a deletion folded into a directory "
                             "synced whole) did not happen")

        def announced_gone():
            self.read_announcements([])
            return "d4/x" in self.deleted
        if not announced_gone():
            raise cp.Failure("A's notice did not name d4/x, which its run deleted at P, as gone")
        print("cluster_moved: 4 a deletion in a tree synced whole: announced gone", flush=True)

    def directory_above_older_here(self):
        self.phase = "5 a directory above, older here"
        src, dst = self.node.src, self.node.dst
        judged = self.node.log().count(b"are what other nodes wrote: not synced back")
        seq = self.notice([("m", 0, self.dir_sig)])
        for tree in (dst, src):
            os.mkdir(os.path.join(tree, "m"))
            os.chmod(os.path.join(tree, "m"), 0o755)
        self.done(seq)
        self.wait_for("A judging P's write of m",
                      lambda: self.log_has("are what other nodes wrote: not synced back", judged + 1))
        self.wait_for("A in sync", self.in_sync)
        # P makes m private; its notice comes, its run here not yet. Meanwhile a file is
        # made in m here.
        os.chmod(os.path.join(dst, "m"), 0o700)
        self.done(self.notice([("m", 0, self.dir700_sig)]))
        with open(os.path.join(src, "m", "n"), "wb") as f:
            f.write(b"n: A's\n")
        self.wait_for("A waiting for P's m, or having synced m/n",
                      lambda: self.log_has("cluster: 'm/n' waits: the directory 'm' above it is older here")
                      or (os.path.exists(os.path.join(dst, "m", "n")) and self.in_sync()))
        os.chmod(os.path.join(src, "m"), 0o700)  # P's run arrives
        self.wait_for("A syncing m/n", lambda: self.in_sync() and os.path.exists(os.path.join(dst, "m", "n")))
        mode = os.stat(os.path.join(dst, "m")).st_mode & 0o777
        if mode != 0o700:
            raise cp.Failure(f"A's sync of m/n set m at P back to {mode:o} (P made it 700 after A last changed it)")
        print("cluster_moved: 5 a directory above, older here: A's m/n waited for P's m, whose mode stayed 700 at P",
              flush=True)

    def steps(self):
        return [self.peer_writes, self.peer_renames, self.old_entry_found_again, self.deletion_in_a_tree,
                self.directory_above_older_here]


def main():
    return cp.fake_peer_main("cluster_moved", __doc__, Test)


if __name__ == "__main__":
    sys.exit(main())
