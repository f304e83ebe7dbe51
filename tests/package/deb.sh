#!/bin/bash
# Builds the Debian package from this checkout (dpkg-buildpackage -us -uc -b), checks
# it with lintian, installs it, runs the installed clsync (version, man pages, the
# systemd unit, a live sync with the installed config), and purges it: nothing may
# be left behind. Debian's own clsync 0.4.5 (the benchmarks' peer), if it was
# installed, is installed again at the end. Needs root; skipped (77) otherwise.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "deb: skipped (needs root to install the package)"; exit 77; fi
if ! git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then echo "deb: skipped (not a git checkout)"; exit 77; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/clsync-deb.XXXXXX")
daemon=
ours=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
fail() { echo "deb: FAIL: $*"; exit 1; }

# Another clsync package (Debian's 0.4.5, the benchmarks' peer) is put back at the
# end, from a copy of its .deb taken now: without one, the test does not replace it.
previous=
if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' clsync 2>/dev/null)" = "ii " ]; then
    previous=$(dpkg-query -W -f='${Version}' clsync)
fi
if [ -n "$previous" ] && [ "$previous" != "$ours" ]; then
    mkdir "$work/previous"
    (cd "$work/previous" && apt-get download -qq "clsync=$previous") >/dev/null 2>&1 ||
        { echo "deb: skipped (clsync $previous is installed and no copy of its .deb can be downloaded)"; rm -rf "$work"; exit 77; }
fi
restore_previous() {
    [ -n "$previous" ] && [ "$previous" != "$ours" ] || return 0
    dpkg -i "$work"/previous/clsync_*.deb >/dev/null 2>&1 || { echo "deb: FAIL: could not reinstall clsync $previous"; return 1; }
}
cleanup() {
    local rc=$?
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
    dpkg-query -W -f='${Version}' clsync 2>/dev/null | grep -qxF "$ours" && dpkg --purge clsync >/dev/null 2>&1 || true
    restore_previous || rc=1
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT

# The checkout's files (committed or not, ignored ones left out), as a clean tree.
mkdir "$work/clsync"
git -C "$top" ls-files -z --cached --others --exclude-standard |
    (cd "$top" && tar --null -T - -cf -) | tar -xf - -C "$work/clsync"
echo "deb: building the package"
(cd "$work/clsync" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log"; fail "dpkg-buildpackage failed"; }
deb=$work/clsync_${ours}_$(dpkg --print-architecture).deb

lintian --allow-root "$deb" >"$work/lintian.log" 2>&1 || true
cat "$work/lintian.log"
if grep -q '^E: ' "$work/lintian.log"; then fail "lintian reports errors"; fi

dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i failed"; }
version=$(/usr/bin/clsync -V)
[ "$version" = "clsync $ours" ] || fail "installed clsync -V says '$version'"
man -w clsync >/dev/null || fail "man -w clsync finds no page"
man -w clsync.conf >/dev/null || fail "man -w clsync.conf finds no page"
[ -f /etc/clsync/clsync.conf ] || fail "no /etc/clsync/clsync.conf"
[ -f /etc/logrotate.d/clsync ] || fail "no /etc/logrotate.d/clsync"
for f in handlers/rsyncshell.sh handlers/shell.sh handlers/direct.sh handlers/simple.sh rules/lxc clsync.conf \
    lxc/clsync-lxc-start lxc/clsync-lxc-stop lxc/clsync-lxc.conf lxc/README clsync-start-rsyncdirect.sh testdir/from; do
    [ -e "/usr/share/doc/clsync/examples/$f" ] || fail "example $f not installed"
done
unit=$(dpkg -L clsync | grep '/clsync@\.service$') || fail "no clsync@.service installed"
systemd-analyze verify "$unit" || fail "systemd-analyze verify clsync@.service"
[ -f /usr/share/clsync/rules/lxc ] || fail "the rules of the example configs are not in /usr/share/clsync/rules"

# A live sync with the installed binary, which reads the installed config (the
# search finds /etc/clsync/clsync.conf: HOME has no ~/.clsync.conf).
mkdir -p "$work/home" "$work/src/sub" "$work/dst"
echo before > "$work/src/sub/before"
HOME=$work/home /usr/bin/clsync -W "$work/src" -D "$work/dst" -t 0.2 >"$work/clsync.log" 2>&1 &
daemon=$!
echo after > "$work/src/sub/after"
for _ in $(seq 600); do
    cmp -s "$work/src/sub/after" "$work/dst/sub/after" && cmp -s "$work/src/sub/before" "$work/dst/sub/before" && break
    kill -0 "$daemon" 2>/dev/null || { cat "$work/clsync.log"; fail "the installed clsync exited"; }
    sleep 0.1
done
cmp -s "$work/src/sub/after" "$work/dst/sub/after" || { cat "$work/clsync.log"; fail "the live sync did not happen"; }
kill "$daemon"
wait "$daemon" || fail "the installed clsync did not exit 0 on TERM"
daemon=

listed=$(dpkg -L clsync)
dpkg --purge clsync >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge failed"; }
left=
while read -r path; do
    # Directories other packages share stay; ours (/etc/clsync, ...) are checked as files are.
    case "$path" in */clsync | */clsync/*) ;; *) [ -d "$path" ] && continue ;; esac
    [ -e "$path" ] && left="$left $path"
done <<<"$listed"
[ -e /etc/clsync ] && left="$left /etc/clsync"
[ -z "$left" ] || fail "purge left files behind:$left"
echo "deb: ok ($(basename "$deb"), lintian: $(grep -c '^[WI]: ' "$work/lintian.log" || true) warnings/notes)"
