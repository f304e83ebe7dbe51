#!/usr/bin/env python3
"""Seeded randomized torture test for clsync.

Starts `clsync -W SRC -D DST -t 0.2 -d`, mutates SRC at random for --duration
seconds (files, directories, renames, deletes, links, modes, times, odd names, a big
file), then polls until DST equals SRC (tests/system/treecmp.py).

The whole run is driven by random.Random(seed): a failure is replayed with the same
--seed (and, to narrow it down, --max-ops / --only). The seed also decides whether
the run makes hard links (--hardlinks overrides): a batch touching a multi-linked file
makes the daemon sync the whole tree, which would hide the changes it missed. Every
operation is logged to WORK/ops.log. Exit 0 when the trees converge and the daemon stops cleanly on SIGTERM,
1 otherwise (the work dir is then kept).
"""
import argparse
import ctypes
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

LIBC = ctypes.CDLL(None, use_errno=True)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import treecmp  # noqa: E402

MAX_ENTRIES = 2500          # the tree is kept below this many entries
BIG_FILE_SIZE = 3 << 20     # the big file is a few MiB
CONVERGE_DEADLINE = 60.0    # seconds, after the last mutation
START_DEADLINE = 60.0       # seconds, for the initial sync

SPECIAL_NAMES = [
    b"new\nline", b"-dash", b"--double-dash", b"[br]ack*?\\", b"*", b"?", b"\\", b"a\\b",
    b"[a-z]", b"sp ace", b"trailing space ", b" leading space", b"\xff\xfe", b"bad\xff\xfeutf8",
    b"#hash", b"+ plus", b"- minus", b"!", b";semi", b"~tilde", b".hidden", b"...", b"%s%n",
    b"tab\tname", b"quote'\"", b"\xc3\xa9t\xc3\xa9", b"x" * 200,
]


class IndexedSet:
    """A set with O(1) add/remove and a deterministic random choice."""

    def __init__(self, items=()):
        self.items, self.index = [], {}
        for item in items:
            self.add(item)

    def add(self, item):
        if item not in self.index:
            self.index[item] = len(self.items)
            self.items.append(item)

    def discard(self, item):
        i = self.index.pop(item, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.index[last] = i

    def choice(self, rng):
        return self.items[rng.randrange(len(self.items))] if self.items else None

    def __contains__(self, item):
        return item in self.index

    def __len__(self):
        return len(self.items)


def is_under(path, ancestor):
    """True when `path` is `ancestor` or below it (relative bytes paths, b'' = root)."""
    return ancestor == b"" or path == ancestor or path.startswith(ancestor + b"/")


class Torture:
    def __init__(self, rng, src, outside, oplog, only=(), hardlinks=True):
        self.rng = rng
        self.only = set(only)
        # Any batch touching a multi-linked file makes the daemon sync the whole tree,
        # which would mask changes it failed to notice: some runs have no hard links.
        self.hardlinks = hardlinks
        self.src = src.encode() if isinstance(src, str) else src
        self.outside = outside.encode() if isinstance(outside, str) else outside
        self.oplog = oplog
        self.ops = 0
        self.errors = 0
        self.counts = {}
        self.name_counter = 0
        self.big = None  # relative path of the big file
        self.rescan()

    # ---- the model of the tree -------------------------------------------------------

    def rescan(self):
        """Rebuilds the model from the disk (sorted, so a replay chooses the same)."""
        dirs, files = [b""], []
        for dirpath, dirnames, filenames in os.walk(self.src):
            rel = os.path.relpath(dirpath, self.src)
            rel = b"" if rel == b"." else rel
            for name in dirnames:
                path = os.path.join(rel, name) if rel else name
                (files if os.path.islink(os.path.join(self.src, path)) else dirs).append(path)
            for name in filenames:
                files.append(os.path.join(rel, name) if rel else name)
        self.dirs = IndexedSet(sorted(dirs))
        self.files = IndexedSet(sorted(files))  # regular files, symlinks
        if self.big is not None and self.big not in self.files:
            self.big = None

    def abs(self, rel):
        return os.path.join(self.src, rel) if rel else self.src

    def forget_tree(self, top):
        for p in [p for p in self.dirs.items if is_under(p, top)]:
            self.dirs.discard(p)
        for p in [p for p in self.files.items if is_under(p, top)]:
            self.files.discard(p)

    def rename_tree(self, old, new):
        moved_dirs = [p for p in self.dirs.items if is_under(p, old)]
        moved_files = [p for p in self.files.items if is_under(p, old)]
        for p in moved_dirs:
            self.dirs.discard(p)
        for p in moved_files:
            self.files.discard(p)
        for p in moved_dirs:
            self.dirs.add(new + p[len(old):])
        for p in moved_files:
            self.files.add(new + p[len(old):])
        if self.big is not None and is_under(self.big, old):
            self.big = new + self.big[len(old):]

    def entries(self):
        return len(self.dirs) + len(self.files)

    # ---- random choices ------------------------------------------------------------

    def new_name(self):
        self.name_counter += 1
        r = self.rng.random()
        if r < 0.12:
            base = self.rng.choice(SPECIAL_NAMES)
            return base if self.rng.random() < 0.5 else base + b"%d" % self.name_counter
        if r < 0.15:
            return b"n%d-" % self.name_counter + bytes(self.rng.choice(b"abcdef[]*? -\\\n\xff") for _ in range(6))
        return b"%s%d" % (self.rng.choice([b"f", b"d", b"x", b"file", b"dir"]), self.name_counter)

    def new_path(self, parent=None):
        parent = self.rng_dir() if parent is None else parent
        name = self.new_name()
        return os.path.join(parent, name) if parent else name

    def rng_dir(self):
        return self.dirs.choice(self.rng)

    def rng_file(self):
        return self.files.choice(self.rng)

    def rng_regular(self, tries=8):
        for _ in range(tries):
            f = self.files.choice(self.rng)
            if f is None:
                return None
            if os.path.isfile(self.abs(f)) and not os.path.islink(self.abs(f)):
                return f
        return None

    def data(self, size):
        return self.rng.getrandbits(8 * size).to_bytes(size, "little") if size else b""

    def rng_size(self):
        r = self.rng.random()
        if r < 0.2:
            return 0
        if r < 0.9:
            return self.rng.randrange(1, 4096)
        return self.rng.randrange(4096, 128 * 1024)

    # ---- operations ------------------------------------------------------------------

    def op_create(self):
        path = self.new_path()
        with open(self.abs(path), "wb") as f:
            f.write(self.data(self.rng_size()))
        self.files.add(path)
        return path

    def op_append(self):
        path = self.rng_regular()
        if path is None:
            return self.op_create()
        with open(self.abs(path), "ab") as f:
            f.write(self.data(self.rng.randrange(1, 2048)))
        return path

    def op_overwrite(self):
        path = self.rng_regular()
        if path is None:
            return self.op_create()
        with open(self.abs(path), "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(self.rng.randrange(size + 1) if size else 0)
            f.write(self.data(self.rng.randrange(1, 512)))
        return path

    def op_replace(self):
        """Whole new content: in place (truncate + write) or atomically (temp + rename)."""
        path = self.rng_regular()
        if path is None:
            return self.op_create()
        content = self.data(self.rng_size())
        if self.rng.random() < 0.5:
            with open(self.abs(path), "wb") as f:
                f.write(content)
        else:
            tmp = os.path.join(os.path.dirname(path), b".tmp%d" % self.name_counter)
            self.name_counter += 1
            with open(self.abs(tmp), "wb") as f:
                f.write(content)
            os.rename(self.abs(tmp), self.abs(path))
        return path

    def op_truncate(self):
        path = self.rng_regular()
        if path is None:
            return self.op_create()
        size = os.lstat(self.abs(path)).st_size
        os.truncate(self.abs(path), self.rng.randrange(size * 2 + 2))
        return path

    def target_dir_for(self, moving):
        """A directory that is not `moving` nor below it."""
        for _ in range(10):
            d = self.rng_dir()
            if not is_under(d, moving):
                return d
        return b""

    def do_rename(self, old, new):
        os.rename(self.abs(old), self.abs(new))
        if os.path.lexists(self.abs(old)):  # two names of one inode: rename(2) did nothing
            return
        if old in self.dirs:
            self.forget_tree(new) if new in self.dirs else None
            self.files.discard(new)
            self.rename_tree(old, new)
        else:
            self.files.discard(new)
            self.files.discard(old)
            self.files.add(new)
            if self.big == old:
                self.big = new
            elif self.big == new:
                self.big = None

    def op_rename_file(self):
        old = self.rng_file()
        if old is None:
            return None
        if self.rng.random() < 0.2:  # over an existing file
            new = self.rng_file()
            if new == old:
                return None
        else:
            new = self.new_path(os.path.dirname(old) if self.rng.random() < 0.4 else None)
        self.do_rename(old, new)
        return b"%s -> %s" % (old, new)

    def op_rename_dir(self):
        old = self.rng_dir()
        if not old:
            return None
        parent = self.target_dir_for(old)
        if self.rng.random() < 0.15:
            # over an existing empty directory (rename(2) replaces it)
            new = self.new_path(parent)
            os.mkdir(self.abs(new))
            self.dirs.add(new)
        else:
            new = self.new_path(parent)
        self.do_rename(old, new)
        return b"%s -> %s" % (old, new)

    def op_chain_rename(self):
        """a -> b -> c -> ... quickly (file or directory)."""
        old = self.rng_dir() if self.rng.random() < 0.5 else self.rng_file()
        if not old:
            return None
        steps = [old]
        for _ in range(self.rng.randrange(2, 5)):
            parent = self.target_dir_for(steps[-1]) if self.rng.random() < 0.5 else os.path.dirname(steps[-1])
            new = self.new_path(parent)
            self.do_rename(steps[-1], new)
            steps.append(new)
        return b" -> ".join(steps)

    def op_mkdir_rename(self):
        """A new directory (with a subdirectory) renamed at once, before the daemon has
        handled its creation; sometimes its parent is renamed instead."""
        parent = self.rng_dir()
        path = self.new_path(parent)
        os.mkdir(self.abs(path))
        sub = os.path.join(path, self.new_name())
        os.mkdir(self.abs(sub))
        self.dirs.add(path)
        self.dirs.add(sub)
        old = parent if parent and self.rng.random() < 0.3 else path
        new = self.new_path(self.target_dir_for(old))
        self.do_rename(old, new)
        return b"%s, then %s -> %s" % (sub, old, new)

    def op_swap(self):
        """Swaps two names via a third: a -> t, b -> a, t -> b."""
        pool_a = self.dirs if self.rng.random() < 0.4 else self.files
        a = pool_a.choice(self.rng)
        b = (self.dirs if self.rng.random() < 0.5 else self.files).choice(self.rng)
        if not a or not b or a == b or is_under(a, b) or is_under(b, a):
            return None
        t = self.new_path(os.path.dirname(a))
        self.do_rename(a, t)
        self.do_rename(b, a)
        self.do_rename(t, b)
        return b"swap %s <-> %s" % (a, b)

    def op_rename_modify(self):
        """A file renamed, then written under its new name at once."""
        old = self.rng_regular()
        if old is None:
            return None
        new = self.new_path(os.path.dirname(old) if self.rng.random() < 0.5 else None)
        self.do_rename(old, new)
        if new not in self.files:
            return b"%s -> %s" % (old, new)
        with open(self.abs(new), "ab") as f:
            f.write(self.data(self.rng.randrange(1, 4096)))
        return b"%s -> %s, then appended" % (old, new)

    def op_exchange(self):
        """renameat2(RENAME_EXCHANGE): the kernel reports it like two renames a -> b, b -> a."""
        a = (self.dirs if self.rng.random() < 0.4 else self.files).choice(self.rng)
        b = (self.dirs if self.rng.random() < 0.5 else self.files).choice(self.rng)
        if not a or not b or a == b or is_under(a, b) or is_under(b, a):
            return None
        if LIBC.renameat2(-100, self.abs(a), -100, self.abs(b), 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
            return None
        a_dir, b_dir = a in self.dirs, b in self.dirs
        t = self.new_path(os.path.dirname(a))  # bookkeeping only: swap the names via a third
        for old, new in ((a, t), (b, a), (t, b)):
            (self.rename_tree if old in self.dirs else self.rename_file_entry)(old, new)
        if self.big in (a, b):
            self.big = b if self.big == a else a
        return b"exchange %s <-> %s%s%s" % (a, b, b" (dir)" if a_dir else b"", b" (dir)" if b_dir else b"")

    def rename_file_entry(self, old, new):
        self.files.discard(old)
        self.files.add(new)

    def op_delete_file(self):
        path = self.rng_file()
        if path is None:
            return None
        os.unlink(self.abs(path))
        self.files.discard(path)
        if self.big == path:
            self.big = None
        return path

    def op_rmtree(self):
        path = self.rng_dir()
        if not path:
            return None
        try:
            shutil.rmtree(self.abs(path))
        finally:
            self.forget_tree(path)
            if self.big is not None and is_under(self.big, path):
                self.big = None
        return path

    def op_mkdir(self):
        path = self.new_path()
        os.mkdir(self.abs(path))
        self.dirs.add(path)
        return path

    def op_deep_makedirs(self):
        """os.makedirs of a deep chain, then files at once at several levels."""
        base = self.rng_dir()
        parts = [self.new_name() for _ in range(self.rng.randrange(3, 12))]
        path = os.path.join(base, *parts) if base else os.path.join(*parts)
        os.makedirs(self.abs(path))
        level = base
        for part in parts:
            level = os.path.join(level, part) if level else part
            self.dirs.add(level)
        for _ in range(self.rng.randrange(1, 15)):
            parent = path
            for _ in range(self.rng.randrange(len(parts))):
                parent = os.path.dirname(parent)
            existing = self.rng_regular() if self.hardlinks and self.rng.random() < 0.15 else None
            if existing is not None:  # a second name, in the new directories, for an older file
                link = self.new_path(parent)
                os.link(self.abs(existing), self.abs(link))
                self.files.add(link)
            else:
                self.op_create_in(parent)
        return path

    def op_create_in(self, parent):
        path = self.new_path(parent)
        with open(self.abs(path), "wb") as f:
            f.write(self.data(self.rng.randrange(0, 2000)))
        self.files.add(path)

    def op_symlink(self):
        path = self.new_path()
        r = self.rng.random()
        if r < 0.3:
            target = b"dangling-" + self.new_name()
        elif r < 0.5:
            target = b"/nonexistent/" + self.new_name()
        else:
            other = self.rng_file() if self.rng.random() < 0.5 else self.rng_dir()
            other = other or b"."
            if self.rng.random() < 0.5:
                target = os.path.relpath(other or b".", os.path.dirname(path) or b".")
            else:
                target = self.abs(other)
        os.symlink(target, self.abs(path))
        self.files.add(path)
        return b"%s => %s" % (path, target)

    def op_hardlink(self):
        existing = self.rng_regular()
        if existing is None:
            return None
        path = self.new_path()
        os.link(self.abs(existing), self.abs(path))
        self.files.add(path)
        return b"%s == %s" % (path, existing)

    def op_chmod(self):
        if self.rng.random() < 0.3:
            path = self.rng_dir()
            mode = self.rng.choice([0o755, 0o700, 0o775, 0o750, 0o711])
        else:
            path = self.rng_regular()
            if path is None:
                return None
            mode = self.rng.choice([0o644, 0o600, 0o755, 0o444, 0o640, 0o700, 0o664])
        os.chmod(self.abs(path), mode)
        return b"%s %o" % (path, mode)

    def op_utime(self):
        r = self.rng.random()
        if r < 0.4:
            path = self.rng_dir()
        else:
            path = self.rng_file()
            if path is None:
                return None
        ns = self.rng.randrange(10**18, 1_800_000_000 * 10**9)
        follow = self.rng.random() < 0.5
        if os.path.islink(self.abs(path)):
            follow = False
        os.utime(self.abs(path), ns=(ns, ns), follow_symlinks=follow)
        return b"%s %d" % (path, ns)

    def op_type_change(self):
        """A file replaced by a directory of the same name, or the other way round."""
        if self.rng.random() < 0.5:
            path = self.rng_file()
            if path is None:
                return None
            os.unlink(self.abs(path))
            self.files.discard(path)
            os.mkdir(self.abs(path))
            self.dirs.add(path)
            self.op_create_in(path)
        else:
            path = self.rng_dir()
            if not path:
                return None
            shutil.rmtree(self.abs(path), ignore_errors=True)
            self.forget_tree(path)
            with open(self.abs(path), "wb") as f:
                f.write(self.data(self.rng.randrange(100)))
            self.files.add(path)
        return path

    def op_move_out(self):
        """Moves an entry out of the tree (to the work dir's outside/)."""
        path = self.rng_dir() if self.rng.random() < 0.4 else self.rng_file()
        if not path:
            return None
        out = os.path.join(self.outside, b"out%d" % self.name_counter)
        self.name_counter += 1
        os.rename(self.abs(path), out)
        self.forget_tree(path)
        return path

    def op_move_in(self):
        """Builds a small tree outside, then moves it in."""
        outdir = os.path.join(self.outside, b"in%d" % self.name_counter)
        self.name_counter += 1
        os.mkdir(outdir)
        names = []
        for _ in range(self.rng.randrange(0, 6)):
            name = self.new_name()
            if self.rng.random() < 0.3:
                os.mkdir(os.path.join(outdir, name))
                with open(os.path.join(outdir, name, b"inner"), "wb") as f:
                    f.write(self.data(50))
            else:
                with open(os.path.join(outdir, name), "wb") as f:
                    f.write(self.data(self.rng.randrange(300)))
            names.append(name)
        path = self.new_path()
        os.rename(outdir, self.abs(path))
        self.dirs.add(path)
        for name in names:
            p = os.path.join(path, name)
            if os.path.isdir(self.abs(p)):
                self.dirs.add(p)
                self.files.add(os.path.join(p, b"inner"))
            else:
                self.files.add(p)
        return path

    def op_big(self):
        """Creates the big file, or rewrites a chunk in its middle."""
        if self.big is None or not os.path.isfile(self.abs(self.big)):
            path = self.new_path(b"")
            with open(self.abs(path), "wb") as f:
                f.write(self.data(BIG_FILE_SIZE))
            self.files.add(path)
            self.big = path
            return b"create big " + path
        with open(self.abs(self.big), "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(self.rng.randrange(size // 4, max(size // 4 + 1, 3 * size // 4)))
            f.write(self.data(self.rng.randrange(1, 65536)))
        return b"rewrite big " + self.big

    OPS = [  # (name, weight)
        ("create", 14), ("append", 8), ("overwrite", 8), ("replace", 6), ("truncate", 4),
        ("rename_file", 7), ("rename_dir", 5), ("chain_rename", 3), ("swap", 3), ("mkdir_rename", 3),
        ("rename_modify", 3), ("exchange", 2),
        ("delete_file", 6), ("rmtree", 1), ("mkdir", 5), ("deep_makedirs", 2), ("symlink", 4),
        ("hardlink", 4), ("chmod", 4), ("utime", 5), ("type_change", 2), ("move_out", 1),
        ("move_in", 2), ("big", 1),
    ]

    def step(self):
        ops = [(n, w) for n, w in self.OPS
               if (not self.only or n in self.only) and (n != "hardlink" or self.hardlinks)]
        names, weights = [n for n, _ in ops], [w for _, w in ops]
        if self.entries() > MAX_ENTRIES:
            name = self.rng.choice(["rmtree", "delete_file"])  # over the bound: shrink (even with --only)
        else:
            name = self.rng.choices(names, weights)[0]
        self.ops += 1
        self.counts[name] = self.counts.get(name, 0) + 1
        try:
            what = getattr(self, "op_" + name)()
            self.log(name, what)
        except OSError as e:
            # an earlier op may have moved/removed the target; the model is rebuilt
            self.errors += 1
            self.log(name, b"error: " + str(e).encode("utf-8", "backslashreplace"))
            self.rescan()

    def log(self, name, what):
        if self.oplog:
            what = repr(what)[2:-1] if isinstance(what, bytes) else str(what)
            self.oplog.write(f"{self.ops} {time.monotonic():.3f} {name} {what}\n")

    def probe(self):
        """A new file in every directory: one the daemon no longer watches shows up as
        missing (later renames of an ancestor would otherwise resync it and hide that)."""
        self.rescan()
        count = 0
        for d in sorted(self.dirs.items):
            path = os.path.join(d, b".probe") if d else b".probe"
            try:
                with open(self.abs(path), "wb") as f:
                    f.write(b"probe %s\n" % d)
                count += 1
            except OSError:
                pass
        self.log("probe", f"{count} directories")
        return count

    def populate(self, count):
        """The initial tree (symlinks and hard links only when the run allows them)."""
        for _ in range(count):
            r = self.rng.random()
            try:
                if r < 0.25:
                    self.op_mkdir()
                elif r < 0.85:
                    self.op_create()
                elif r < 0.92:
                    if not self.only or "symlink" in self.only:
                        self.op_symlink()
                else:
                    if self.hardlinks:
                        self.op_hardlink()
            except OSError:
                self.rescan()


def link_group_diffs(src, dst, limit=5):
    """Hard-link groups (by relative name) present on one side only."""
    s_groups = treecmp.link_groups(src, treecmp.scan(src))
    d_groups = treecmp.link_groups(dst, treecmp.scan(dst))
    lines = [f"source only: {sorted(g)!r}" for g in sorted(s_groups - d_groups, key=sorted)[:limit]]
    lines += [f"destination only: {sorted(g)!r}" for g in sorted(d_groups - s_groups, key=sorted)[:limit]]
    return lines


def log_tail(path, lines=50):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * 1024))
            data = f.read().decode("utf-8", "backslashreplace")
        return "\n".join(data.splitlines()[-lines:])
    except OSError as e:
        return f"(cannot read the log: {e})"


def children_by_parent():
    """{ppid: [pids]} of every process, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return children


def process_tree(pid):
    """The daemon and its descendants (pid, state, wchan, command), from /proc."""
    children = children_by_parent()
    lines, todo = [], [(pid, 0)]
    while todo:
        p, depth = todo.pop()
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            with open(f"/proc/{p}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0].decode()
            try:
                with open(f"/proc/{p}/wchan") as f:
                    wchan = f.read().strip()
            except OSError:
                wchan = "?"
        except OSError:
            continue
        lines.append(f"{'  ' * depth}{p} {state} {wchan} {cmd[:200]}")
        todo.extend((c, depth + 1) for c in children.get(p, []))
    return "\n".join(lines)


def wait_for(what, predicate, deadline, daemon):
    end = time.monotonic() + deadline
    while True:
        if predicate():
            return True
        if daemon.poll() is not None:
            raise Failure(f"daemon exited with {daemon.returncode} while waiting for {what}")
        if time.monotonic() >= end:
            raise Failure(f"timed out after {deadline:.0f} s waiting for {what}")
        time.sleep(0.05)


class Failure(Exception):
    pass


def sync_failures(log_path):
    """{rsync exit code: count} of the failed batches, from the daemon's log."""
    codes = {}
    with open(log_path, "rb") as f:
        for line in f:
            i = line.find(b" failed (rsync exit code ")
            if i >= 0 and b" clsync warning: sync to " in line:
                code = line[i + 25:].split(b")", 1)[0].decode(errors="replace")
                codes[code] = codes.get(code, 0) + 1
    return codes


def batches_in_flight(log_path):
    """Batches started but not finished, from the daemon's log."""
    started = finished = 0
    with open(log_path, "rb") as f:
        for line in f:
            if b" clsync info: syncing " in line:
                started += 1
            elif (b" clsync info: synced " in line or b"deletions were skipped" in line
                  or (b" sync to " in line and (b" failed (" in line or b" failed again (" in line
                                                 or b" times in a row" in line))):
                finished += 1
    return started - finished


class Sampler:
    """The daemon's resident memory and open descriptors over time, as CSV rows:
    seconds since the mutations started, VmRSS and its two parts RssAnon (the heap,
    the stacks) and RssFile (pages of the binary and the libraries mapped in, which
    grow as code runs for the first time) in KiB, open fds, ops so far, entries."""

    def __init__(self, path, pid, torture, start, every):
        self.out = open(path, "w", buffering=1)
        self.out.write("seconds,rss_kib,rss_anon_kib,rss_file_kib,fds,ops,entries\n")
        self.pid, self.t, self.start, self.every = pid, torture, start, every
        self.next = start

    def maybe_sample(self):
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + self.every
        with open(f"/proc/{self.pid}/status") as f:
            kib = {line.split(":")[0]: line.split()[1] for line in f if line.startswith(("VmRSS:", "RssAnon:", "RssFile:"))}
        fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        self.out.write(f"{now - self.start:.0f},{kib['VmRSS']},{kib['RssAnon']},{kib['RssFile']},{fds},"
                       f"{self.t.ops},{self.t.entries()}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clsync", default=os.environ.get("CLSYNC"))
    parser.add_argument("--work", default=None, help="work dir (default: a temp dir, removed on success)")
    parser.add_argument("--max-ops", type=int, default=0, help="stop mutating after this many operations")
    parser.add_argument("--only", default="", help="comma-separated operation names to restrict to")
    parser.add_argument("--no-probe", dest="probe", action="store_false",
                        help="skip the final probe file in every directory")
    parser.add_argument("--hardlinks", choices=("yes", "no"), default=None,
                        help="whether the run makes hard links (default: chosen by the seed)")
    parser.add_argument("--initial", type=int, default=150, help="entries created before the daemon starts")
    parser.add_argument("--converge", type=float, default=CONVERGE_DEADLINE, help="convergence deadline (s)")
    parser.add_argument("--sample", default=None, metavar="CSV",
                        help="every --sample-every s, the daemon's RSS and open fds and the tree's entries to CSV "
                             "(bench/soak.py)")
    parser.add_argument("--sample-every", type=float, default=10.0)
    args = parser.parse_args()

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"torture seed: {seed}", flush=True)
    if not args.clsync:
        print("torture: no clsync binary (--clsync or $CLSYNC)", file=sys.stderr)
        return 2
    clsync = os.path.abspath(args.clsync)
    only = set(filter(None, args.only.split(",")))
    unknown = only - {n for n, _ in Torture.OPS}
    if unknown:
        print(f"torture: unknown operations: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2

    if args.work:
        os.makedirs(args.work, exist_ok=True)
        work = os.path.abspath(args.work)
    else:
        work = tempfile.mkdtemp(prefix="clsync-torture.", dir=os.environ.get("TMPDIR"))
    src, dst, outside = (os.path.join(work, d) for d in ("src", "dst", "outside"))
    log_path = os.path.join(work, "clsync.log")
    for d in (src, dst, outside):
        os.makedirs(d, exist_ok=True)
    print(f"torture work dir: {work}", flush=True)

    # A harness timeout (SIGTERM) still stops the daemon: the finally clause below runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"torture: killed by signal {signum} (seed {seed})"))
    rng = random.Random(seed)
    oplog = open(os.path.join(work, "ops.log"), "w", buffering=1)
    hardlinks = rng.random() < 0.5 if args.hardlinks is None else args.hardlinks == "yes"
    if only and args.hardlinks is None:
        hardlinks = "hardlink" in only
    t = Torture(rng, src, outside, oplog, only, hardlinks)
    print(f"torture profile: mode {os.environ.get('CLSYNC_MODE', 'rsyncdirect')}, "
          f"hard links {'yes' if t.hardlinks else 'no'}"
          f"{', only ' + args.only if args.only else ''}", flush=True)
    t.populate(args.initial)
    t.log("populated", f"{t.entries()} entries")

    daemon = None
    ok = False
    try:
        with open(log_path, "wb") as log_file:
            monitor = "--monitor=" + os.environ.get("CLSYNC_MONITOR", "inotify")
            # The sync mode under test, as lib.sh's start_daemon adds it.
            mode = os.environ.get("CLSYNC_MODE", "rsyncdirect")
            if mode == "librsync":
                mode_options = ["-M", "librsync", "--state-dir=" + os.path.join(work, "state")]
            elif mode == "rsyncdirect":
                mode_options = ["--state-dir=" + os.path.join(work, "state")]
            else:
                raise Failure(f"unknown CLSYNC_MODE {mode!r} (rsyncdirect or librsync)")
            # TORTURE_EXTRA_OPTIONS: more daemon options, split at blanks (a lone cluster
            # node, say).
            extra = os.environ.get("TORTURE_EXTRA_OPTIONS", "").split()
            daemon = subprocess.Popen([clsync, *mode_options, "-W", src, "-D", dst, monitor, "-t", "0.2", "-d", *extra],
                                      stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)

        def initial_synced():
            with open(log_path, "rb") as f:
                return b"synced the whole tree" in f.read()

        wait_for("the initial sync", initial_synced, START_DEADLINE, daemon)

        start = time.monotonic()
        end = start + args.duration
        last_rescan = 0
        sampler = Sampler(args.sample, daemon.pid, t, start, args.sample_every) if args.sample else None
        while time.monotonic() < end and (not args.max_ops or t.ops < args.max_ops):
            if sampler:
                sampler.maybe_sample()
            for _ in range(rng.randrange(1, 20)):  # a burst
                t.step()
                if args.max_ops and t.ops >= args.max_ops:
                    break
            if daemon.poll() is not None:
                raise Failure(f"daemon exited with {daemon.returncode} during the mutations")
            if rng.random() < 0.7:
                time.sleep(rng.uniform(0, 0.05))
            if t.ops - last_rescan >= 200:
                t.rescan()  # keeps the model honest
                last_rescan = t.ops
        probed = t.probe() if args.probe else 0
        mutate_end = time.monotonic()
        t.log("stopped", f"{t.entries()} entries")

        # Converged: the trees are equal while no batch is running (a batch still in
        # flight could have read the source before the last change).
        last_diffs = []

        def converged():
            nonlocal last_diffs
            if batches_in_flight(log_path) != 0:
                return False
            try:
                # A cluster node (TORTURE_EXTRA_OPTIONS) leaves directory times that differ
                # below the second as they are (clsync(1)).
                exact_dir_times = "--cluster-key" not in " ".join(extra)
                last_diffs = treecmp.compare(src, dst, check_root_mtime=exact_dir_times,
                                             check_dir_mtimes=exact_dir_times)
            except OSError as e:  # a file vanished under the comparison: rsync is busy
                last_diffs = [f"comparison raced with the daemon: {e}"]
            return not last_diffs and batches_in_flight(log_path) == 0

        try:
            wait_for("convergence", converged, args.converge, daemon)
        except Failure:
            running = batches_in_flight(log_path)
            if running:
                raise Failure(f"not converged: {running} batch(es) still running at the deadline "
                              f"(an rsync that never finishes?)")
            if last_diffs:
                if "hard-link groups differ" in last_diffs:
                    last_diffs = last_diffs + ["  " + line for line in link_group_diffs(src, dst)]
                raise Failure("destination did not converge:\n  " + "\n  ".join(last_diffs[:30]) +
                              (f"\n  ... and {len(last_diffs) - 30} more" if len(last_diffs) > 30 else ""))
            raise
        converge_time = time.monotonic() - mutate_end

        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise Failure("daemon did not exit within 30 s of SIGTERM")
        if rc != 0:
            raise Failure(f"daemon exited with {rc} on SIGTERM")
        ok = True
        busiest = ", ".join(f"{n}={c}" for n, c in sorted(t.counts.items(), key=lambda kv: -kv[1]))
        print(f"torture: OK seed={seed}: {t.ops} ops in {mutate_end - start:.1f} s ({t.errors} raced/failed), "
              f"{t.entries()} entries at the end ({probed} directories probed), converged in {converge_time:.2f} s")
        print(f"torture: ops: {busiest}")
        failures = sync_failures(log_path)
        if failures:
            print("torture: failed (retried) batches by rsync exit code: " +
                  ", ".join(f"{c}: {n}" for c, n in sorted(failures.items())))
    except Failure as e:
        print(f"torture: FAIL seed={seed} after {t.ops} ops: {e}", file=sys.stderr)
        if daemon is not None and daemon.poll() is None:
            print("--- daemon processes (pid state wchan command):", file=sys.stderr)
            print(process_tree(daemon.pid), file=sys.stderr)
        failures = sync_failures(log_path)
        if failures:
            print("--- failed (retried) batches by rsync exit code: " +
                  ", ".join(f"{c}: {n}" for c, n in sorted(failures.items())), file=sys.stderr)
        print(f"--- daemon log (last 50 lines of {log_path}):", file=sys.stderr)
        print(log_tail(log_path), file=sys.stderr)
        print(f"--- work dir kept: {work} (ops log: {os.path.join(work, 'ops.log')})", file=sys.stderr)
        print(f"--- replay: CLSYNC_MODE={os.environ.get('CLSYNC_MODE', 'rsyncdirect')} {sys.argv[0]} --seed {seed} --duration {args.duration:g}"
              f"{' --only ' + args.only if args.only else ''}"
              f"{' --hardlinks ' + args.hardlinks if args.hardlinks else ''}", file=sys.stderr)
    finally:
        oplog.close()
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                rc = daemon.wait(timeout=30)
                print(f"--- daemon exited with {rc} on SIGTERM", file=sys.stderr)
            except subprocess.TimeoutExpired:
                print("--- daemon did not exit within 30 s of SIGTERM: killed", file=sys.stderr)
                daemon.kill()
                daemon.wait()
    if ok and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
