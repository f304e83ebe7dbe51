#!/bin/sh
# clsync handler for -M simple: mirrors one path per call with cp, mkdir and rm.
#
#   clsync -W /srv/data -D /srv/mirror -M simple -S /path/to/simple.sh
#
# Called as: simple.sh sync LABEL MASK ABSOLUTE-PATH, once for every changed path (a
# sync of the whole tree calls it for the watch dir and everything in it). MASK is
# ignored here: the path's state now is what counts. clsync runs this in the watch dir,
# with CLSYNC_WATCH_DIR set. Exit 0 on success: any other exit code makes clsync retry
# the batch (see --retries).
set -eu

DEST=${CLSYNC_DEST:-/srv/mirror}   # where to mirror to (a local directory)

if [ "$#" -ne 4 ] || [ "$1" != sync ]; then
    echo "usage: $0 sync LABEL MASK PATH" >&2
    exit 64
fi
rel=${4#"${CLSYNC_WATCH_DIR:-$PWD}"}
rel=${rel#/}
rel=${rel:-.}   # the watch dir itself
src=./$rel dst=$DEST/$rel

# Make $DEST/REL what ./REL is now (not recursive; gone: removed).
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

# fix_dir REL: give the directory $DEST/REL the mode and mtime of ./REL (the change
# above changed the mtime of the directory it is in).
fix_dir() {
    [ -d "./$1" ] && [ ! -L "./$1" ] && [ -d "$DEST/$1" ] || return 0
    chmod --reference="./$1" -- "$DEST/$1"
    touch -r "./$1" -- "$DEST/$1"
}
fix_dir "$rel"
[ "$rel" = . ] || fix_dir "$(dirname -- "$rel")"
