# A real OpenSSH server for the remote-destination tests (source after lib.sh):
# listens on a free 127.0.0.1 port, with a host key and a client key generated here,
# and lets root in with that key only. start_sshd sets SSH_COMMAND, the client command
# line (for --ssh-command); stop_sshd stops it (existing sessions end with their
# commands); start_sshd again reuses the port and the keys. Root only (77 otherwise).
SSHD_DIR=$WORK/sshd
SSHD_PID=
SSHD_PORT=

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the sshd tests log in as root"
    exit 77
fi
SSHD_BIN=$(command -v sshd || echo /usr/sbin/sshd)
if [ ! -x "$SSHD_BIN" ]; then
    echo "SKIP: no sshd (install openssh-server; scripts/install-deps does)"
    exit 77
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_sshd() {
    if [ -z "$SSHD_PORT" ]; then
        mkdir -p "$SSHD_DIR"
        chmod 700 "$SSHD_DIR"
        ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_key"
        ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/client_key"
        cp "$SSHD_DIR/client_key.pub" "$SSHD_DIR/authorized_keys"
        SSHD_PORT=$(free_port)
        cat >"$SSHD_DIR/sshd_config" <<CONFIG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/host_key
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PidFile $SSHD_DIR/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
MaxStartups 100
LogLevel ERROR
CONFIG
        SSH_COMMAND="ssh -p $SSHD_PORT -i $SSHD_DIR/client_key -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5"
    fi
    mkdir -p /run/sshd  # its privilege separation directory
    "$SSHD_BIN" -D -e -f "$SSHD_DIR/sshd_config" 2>>"$SSHD_DIR/sshd.log" &
    SSHD_PID=$!
    # shellcheck disable=SC2086
    wait_for "sshd on port $SSHD_PORT" $SSH_COMMAND 127.0.0.1 true
}

stop_sshd() {
    [ -n "$SSHD_PID" ] || return 0
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=
}

trap 'stop_sshd; cleanup' EXIT
