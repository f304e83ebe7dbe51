#!/bin/sh
# clsync handler for -M shell: mirrors the listed paths with cp, mkdir and rm.
#
#   clsync -W /srv/data -D /srv/mirror -M shell -S /path/to/shell.sh
#
# Called as:
#   shell.sh initialsync LABEL WATCH-DIR   sync the whole tree (at start, after an overflow...)
#   shell.sh synclist LABEL LIST-PATH      sync the paths of the list, whose lines are
#                                          "sync LABEL MASK PATH" (PATH relative to the
#                                          watch dir, may hold spaces; MASK is ignored
#                                          here: the path's state now is what counts;
#                                          bare PATH lines, as --synclist-simplify
#                                          writes them, work too)
# clsync runs this in the watch dir. Exit 0 on success: any other exit code makes
# clsync retry the batch (see --retries).
set -eu

DEST=${CLSYNC_DEST:-/srv/mirror}   # where to mirror to (a local directory)

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

case "${1:-}" in
initialsync)
    # --modify-window=-1: compare mtimes to the nanosecond, not to the second.
    exec rsync -a --modify-window=-1 --delete -- "$3"/ "$DEST"/
    ;;
synclist)
    prefix="sync $2 "
    # First the contents, then the attributes of the directories they changed.
    while IFS= read -r line; do mirror "${line#"$prefix"*" "}"; done < "$3"
    while IFS= read -r line; do
        path=${line#"$prefix"*" "}
        fix_dir "$path"
        fix_dir "$(dirname -- "$path")"
    done < "$3"
    ;;
*)
    echo "usage: $0 {initialsync LABEL DIR | synclist LABEL LIST}" >&2
    exit 64
    ;;
esac
