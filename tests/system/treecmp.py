#!/usr/bin/env python3
"""Compares two trees the way clsync promises to keep them: same names, file types,
contents, modes, symlink targets, mtimes (files and directories, to the nanosecond)
and hard-link groups. Prints the first differences; exit 0 when equal, 1 otherwise.

Usage: treecmp.py SRC DST [--quiet] [--no-root-mtime]
"""
import os
import stat
import sys


def scan(root):
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root.encode(), followlinks=False):
        rel_dir = os.path.relpath(dirpath, root.encode())
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            try:
                entries[rel] = os.lstat(path)
            except FileNotFoundError:
                pass
    return entries


def link_groups(root, entries):
    by_inode = {}
    for rel, st in entries.items():
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            by_inode.setdefault(st.st_ino, set()).add(rel)
    return {frozenset(g) for g in by_inode.values() if len(g) > 1}


def same_content(a, b):
    try:
        return same_bytes(a, b)
    except FileNotFoundError:  # removed since the scan: the trees are still changing
        return False


def same_bytes(a, b):
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def compare(src, dst, check_root_mtime=True, check_dir_mtimes=True):
    diffs = []
    s_entries, d_entries = scan(src), scan(dst)
    for rel in sorted(set(s_entries) - set(d_entries)):
        diffs.append(f"missing at destination: {rel!r}")
    for rel in sorted(set(d_entries) - set(s_entries)):
        diffs.append(f"extra at destination: {rel!r}")
    for rel in sorted(set(s_entries) & set(d_entries)):
        s, d = s_entries[rel], d_entries[rel]
        sp, dp = os.path.join(src.encode(), rel), os.path.join(dst.encode(), rel)
        if stat.S_IFMT(s.st_mode) != stat.S_IFMT(d.st_mode):
            diffs.append(f"type differs: {rel!r}")
            continue
        if not stat.S_ISLNK(s.st_mode) and s.st_mode != d.st_mode:
            diffs.append(f"mode differs: {rel!r} {oct(s.st_mode)} != {oct(d.st_mode)}")
        if stat.S_ISLNK(s.st_mode):
            if os.readlink(sp) != os.readlink(dp):
                diffs.append(f"symlink target differs: {rel!r}")
        elif s.st_mtime_ns != d.st_mtime_ns and (check_dir_mtimes or not stat.S_ISDIR(s.st_mode)):
            diffs.append(f"mtime differs: {rel!r} {s.st_mtime_ns} != {d.st_mtime_ns}")
        if stat.S_ISREG(s.st_mode):
            if s.st_size != d.st_size or not same_content(sp, dp):
                diffs.append(f"content differs: {rel!r}")
    if check_root_mtime:
        s, d = os.lstat(src), os.lstat(dst)
        if s.st_mtime_ns != d.st_mtime_ns:
            diffs.append("mtime of the top directory differs")
        if s.st_mode != d.st_mode:
            diffs.append("mode of the top directory differs")
    if link_groups(src, s_entries) != link_groups(dst, d_entries):
        diffs.append("hard-link groups differ")
    return diffs


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    quiet = '--quiet' in sys.argv
    diffs = compare(args[0], args[1], '--no-root-mtime' not in sys.argv)
    if diffs and not quiet:
        for line in diffs[:20]:
            print(line)
        if len(diffs) > 20:
            print(f"... and {len(diffs) - 20} more")
    sys.exit(1 if diffs else 0)


if __name__ == '__main__':
    main()
