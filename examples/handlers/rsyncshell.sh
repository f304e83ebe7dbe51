#!/bin/sh
# clsync handler for -M rsyncshell: mirrors the paths clsync lists with rsync.
#
#   clsync -W /srv/data -D /srv/mirror -M rsyncshell -S /path/to/rsyncshell.sh
#
# Called as: rsyncshell.sh rsynclist LABEL INCLUDE-LIST-PATH EXCLUDE-LIST-PATH
# The lists hold rsync patterns anchored at the watch dir, one a line (a sync of the
# whole tree lists "/***"); clsync runs this in the watch dir. Exit 0 on success:
# any other exit code makes clsync retry the batch (see --retries).
set -eu

DEST=${CLSYNC_DEST:-/srv/mirror}   # where to mirror to (a local dir or host:path)

if [ "$#" -ne 4 ] || [ "$1" != rsynclist ]; then
    echo "usage: $0 rsynclist LABEL INCLUDE-LIST EXCLUDE-LIST" >&2
    exit 64
fi
# The exclude list first: it names directories clsync cannot read, never to be touched.
# --modify-window=-1: compare mtimes to the nanosecond (else a directory changed within
# the second it was copied in keeps a wrong mtime).
exec rsync -aH --modify-window=-1 --delete-before --exclude-from="$4" --include-from="$3" --exclude='*' ./ "$DEST"/
