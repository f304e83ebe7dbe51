#!/bin/sh
# clsync handler for -M direct: mirrors the paths given as arguments with cp, mkdir, rm.
#
#   clsync -W /srv/data -D /srv/mirror -M direct -S /path/to/direct.sh
#
# Called as: direct.sh PATH... DEST/  (clsync's default arguments for this mode,
# "%INCLUDE-LIST% %destination-dir%/"): the changed files and directories, relative to
# the watch dir, then the destination. Long lists come in several calls. clsync runs
# this in the watch dir. Exit 0 on success: any other exit code makes clsync retry the
# batch (see --retries).
set -eu

[ "$#" -ge 2 ] || { echo "usage: $0 PATH... DEST/" >&2; exit 64; }
for last; do :; done
DEST=${CLSYNC_DEST:-$last}   # CLSYNC_DEST, if set, wins over the last argument

# mirror REL: make $DEST/REL what ./REL is now (not recursive; gone: removed).
mirror() {
    src=./$1 dst=$DEST/$1
    if [ -d "$src" ] && [ ! -L "$src" ]; then
        if [ ! -d "$dst" ] || [ -L "$dst" ]; then rm -rf -- "$dst"; fi
        mkdir -p -- "$dst"
    elif [ -e "$src" ] || [ -L "$src" ]; then
        if [ -d "$dst" ] && [ ! -L "$dst" ]; then rm -rf -- "$dst"; fi
        mkdir -p -- "$(dirname -- "$dst")"
        cp -P --preserve=mode,timestamps --remove-destination -- "$src" "$dst"
    else
        rm -rf -- "$dst"
    fi
}

# fix_dir REL: give the directory $DEST/REL the mode and mtime of ./REL. Run after all
# changes inside it, as each of them changes its mtime.
fix_dir() {
    [ -d "./$1" ] && [ ! -L "./$1" ] && [ -d "$DEST/$1" ] || return 0
    chmod --reference="./$1" -- "$DEST/$1"
    touch -r "./$1" -- "$DEST/$1"
}

# First the contents, then the attributes of the directories they changed.
n=$(($# - 1))
i=0
for path; do
    i=$((i + 1)); [ "$i" -le "$n" ] || break
    mirror "$path"
done
i=0
for path; do
    i=$((i + 1)); [ "$i" -le "$n" ] || break
    fix_dir "$path"
    fix_dir "$(dirname -- "$path")"
done
