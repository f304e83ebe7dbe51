#!/usr/bin/env python3
"""Private networks of Linux network namespaces for the system tests (root only).

Network(["A", "B"]) builds, with `ip`, one namespace per node and one "hub" namespace
holding a bridge; each node has a veth pair whose inner end (Network.iface(node), in
the node's namespace) has the address 10.213.SUBNET.(10+i)/24 and a route for
224.0.0.0/4, and whose outer end is a port of the bridge in the hub. The root
namespace is not touched: no address, route or interface is added there. Multicast
snooping is off on the bridge, so multicast flows between all nodes without IGMP.

Namespace names start with clsync-t-PID- (PID: this process); close() deletes every
namespace the network created, and runs at exit too (atexit) if the caller forgot.
remove_stale() deletes the leftovers of killed runs (their PID no longer exists).

cut_link(node) / restore_link(node) set the outer end of a node's veth down / up:
the node then neither sends nor receives anything (its interface shows NO-CARRIER).

check_multicast(net) proves that a datagram sent to a group on one node's interface
(IP_MULTICAST_IF, TTL 1) reaches a socket that joined the group on every other node's
interface (IP_ADD_MEMBERSHIP), and that a cut link stops it. Self-test, which builds a
network, checks it and removes it again:

    python3 netns.py [--nodes N]          (exit 0 ok, 1 failure, 77 not root / no netns)

The sender and receiver used by check_multicast are this file too, run with
`ip netns exec NS python3 netns.py mcast-send|mcast-recv ...`.
"""
import argparse
import atexit
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

PREFIX = "clsync-t-"
GROUP = "227.108.115.121"   # clsync's cluster defaults
PORT = 40079
BRIDGE = "br0"
CMD_TIMEOUT = 30.0           # s, for one `ip` command


class Unavailable(Exception):
    """Network namespaces (or veth, bridges) cannot be used here: skip."""


class NetError(Exception):
    """The plumbing does not do what it should."""


def ip(*args, check=True):
    """Runs `ip ARGS`; NetError (with ip's message) when it fails and `check`."""
    r = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=CMD_TIMEOUT)
    if check and r.returncode != 0:
        raise NetError(f"ip {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def namespaces():
    """The names of the existing network namespaces."""
    r = ip("netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def available():
    """None when this process can build networks, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("ip"):
        return "no ip command (iproute2)"
    r = subprocess.run(["ip", "netns", "list"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode != 0:
        return f"ip netns unavailable: {r.stderr.strip()}"
    return None


def remove_stale():
    """Deletes the namespaces of earlier runs whose process is gone (a SIGKILLed test)."""
    removed = []
    for name in namespaces():
        m = re.match(re.escape(PREFIX) + r"(\d+)-", name)
        if m and int(m.group(1)) != os.getpid() and not os.path.exists(f"/proc/{m.group(1)}"):
            if ip("netns", "del", name, check=False).returncode == 0:
                removed.append(name)
    return removed


class Network:
    """One hub namespace (a bridge) and one namespace per node, wired by veth pairs."""

    def __init__(self, nodes, subnet=1):
        if not 0 <= subnet <= 255:
            raise ValueError("subnet is 0 to 255")
        self.nodes = list(nodes)
        self.subnet = subnet
        self.base = f"{PREFIX}{os.getpid()}-"
        self.hub = self.base + "hub"
        self.created = []           # namespaces made so far, deleted by close()
        self.closed = False
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # ---- names ------------------------------------------------------------------------

    def ns(self, node):
        return self.base + node

    def iface(self, node):
        """The veth end inside the node's namespace."""
        return f"veth-{node}"[:15]

    def hub_port(self, node):
        return f"hub-{node}"[:15]

    def address(self, node):
        return f"10.213.{self.subnet}.{10 + self.nodes.index(node)}"

    def exec_argv(self, node, argv):
        """`argv` run inside the node's namespace (`ip netns exec` execs it: same pid)."""
        return ["ip", "netns", "exec", self.ns(node), *argv]

    # ---- building and removing ------------------------------------------------------

    def _add_ns(self, name):
        if name in namespaces():
            raise NetError(f"namespace {name} exists already")
        ip("netns", "add", name)
        self.created.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def _build(self):
        try:
            self._add_ns(self.hub)
        except NetError as e:
            raise Unavailable(f"cannot make a network namespace: {e}")
        try:
            ip("-n", self.hub, "link", "add", BRIDGE, "type", "bridge")
        except NetError as e:
            raise Unavailable(f"no bridge: {e}")
        ip("-n", self.hub, "link", "set", BRIDGE, "type", "bridge", "mcast_snooping", "0")
        ip("-n", self.hub, "link", "set", BRIDGE, "up")
        for node in self.nodes:
            self._add_node(node)

    def _add_node(self, node):
        ns, inner, outer = self.ns(node), self.iface(node), self.hub_port(node)
        self._add_ns(ns)
        try:
            ip("-n", ns, "link", "add", inner, "type", "veth", "peer", "name", outer, "netns", self.hub)
        except NetError as e:
            raise Unavailable(f"no veth: {e}")
        ip("-n", self.hub, "link", "set", outer, "master", BRIDGE)
        ip("-n", self.hub, "link", "set", outer, "up")
        ip("-n", ns, "addr", "add", f"{self.address(node)}/24", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", inner)

    def close(self):
        """Deletes every namespace this network created (idempotent)."""
        if self.closed:
            return
        self.closed = True
        failed = []
        for name in reversed(self.created):
            if ip("netns", "del", name, check=False).returncode != 0 and name in namespaces():
                failed.append(name)
        self.created = []
        if failed:
            print(f"netns: could not delete {', '.join(failed)}", file=sys.stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- faults -----------------------------------------------------------------------

    def cut_link(self, node):
        ip("-n", self.hub, "link", "set", self.hub_port(node), "down")

    def restore_link(self, node):
        ip("-n", self.hub, "link", "set", self.hub_port(node), "up")

    def link_is_up(self, node):
        r = ip("-n", self.ns(node), "-o", "link", "show", self.iface(node))
        return "NO-CARRIER" not in r.stdout and "state UP" in r.stdout

    def describe(self):
        """Addresses and links of every node (for failure reports)."""
        lines = []
        for node in self.nodes:
            r = ip("-n", self.ns(node), "-br", "addr", "show", "dev", self.iface(node), check=False)
            lines.append(f"{node} ({self.ns(node)}): {r.stdout.strip() or r.stderr.strip()}")
        return "\n".join(lines)


# ---- multicast check (this file, run inside the namespaces) -------------------------

def mreqn(group, ifindex):
    """struct ip_mreqn: the group, any local address, the interface."""
    return struct.pack("=4s4si", socket.inet_aton(group), socket.inet_aton("0.0.0.0"), ifindex)


def mcast_recv(iface, group, port, timeout):
    """Joins the group on `iface`, prints "ready", then the first datagram's payload
    and source ("got PAYLOAD from ADDR"); exit 0, or 1 when nothing came in time."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((group, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn(group, socket.if_nametoindex(iface)))
    print("ready", flush=True)
    s.settimeout(timeout)
    try:
        data, addr = s.recvfrom(65536)
    except socket.timeout:
        print("timeout", flush=True)
        return 1
    print(f"got {data.decode(errors='replace')} from {addr[0]}", flush=True)
    return 0


def mcast_send(iface, group, port, payload, interval):
    """Sends `payload` to the group out of `iface` (TTL 1, no loopback) every `interval`
    seconds until its stdin is closed; prints how many sendto calls failed, and why."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn("0.0.0.0", socket.if_nametoindex(iface)))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    count, errors, first = 0, 0, None
    while True:
        try:
            s.sendto(payload.encode(), (group, port))
        except OSError as e:
            errors += 1
            first = first or e
        count += 1
        if select.select([sys.stdin], [], [], interval)[0]:
            break  # closed (or written to): done
    print(f"sent {count}, {errors} failed{f' ({first})' if first else ''}", flush=True)
    return 0


def _helper(net, node, *args):
    return net.exec_argv(node, [sys.executable, os.path.abspath(__file__), *map(str, args)])


def multicast_round(net, sender, receivers, group=GROUP, port=PORT, timeout=5.0):
    """Sends from `sender`; {receiver: "got ..." or "timeout"} and the sender's line."""
    procs = {}
    try:
        for node in receivers:
            p = subprocess.Popen(_helper(net, node, "mcast-recv", net.iface(node), group, port, timeout),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            procs[node] = p
            line = p.stdout.readline().strip()
            if line != "ready":
                raise NetError(f"multicast receiver in {node} did not start: {line} {p.stdout.read().strip()}")
        payload = f"hello-from-{sender}-{os.getpid()}"
        # Sends until every receiver has one datagram or gave up.
        sender_proc = subprocess.Popen(_helper(net, sender, "mcast-send", net.iface(sender), group, port, payload, 0.05),
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs[sender + " (sender)"] = sender_proc
        results = {}
        for node in receivers:
            out, _ = procs[node].communicate(timeout=timeout + 30)
            results[node] = out.strip()
        sent, _ = sender_proc.communicate(input="", timeout=30)
        return results, sent.strip(), payload
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def check_multicast(net, group=GROUP, port=PORT, timeout=5.0):
    """Every node's datagrams reach every other node, from the sender's address;
    NetError otherwise. Returns one line per sender."""
    report = []
    for sender in net.nodes:
        others = [n for n in net.nodes if n != sender]
        results, sent, payload = multicast_round(net, sender, others, group, port, timeout)
        want = f"got {payload} from {net.address(sender)}"
        bad = {n: r for n, r in results.items() if r != want}
        if bad:
            raise NetError(f"multicast {group}:{port} from {sender} ({sent}): " +
                           ", ".join(f"{n}: {r!r}" for n, r in bad.items()) + f"\n{net.describe()}")
        report.append(f"{sender} -> {', '.join(others)}: ok ({sent})")
    return report


def check_cut(net, node, group=GROUP, port=PORT, timeout=2.0):
    """While `node`'s link is cut, nothing flows either way; restored, it flows again."""
    others = [n for n in net.nodes if n != node]
    net.cut_link(node)
    try:
        if net.link_is_up(node):
            raise NetError(f"{node}'s interface still has a carrier after cut_link")
        results, sent_out, _ = multicast_round(net, node, others, group, port, timeout)
        leaked = {n: r for n, r in results.items() if r != "timeout"}
        results, sent_in, _ = multicast_round(net, others[0], [node], group, port, timeout)
        if results[node] != "timeout":
            leaked[node] = results[node]
        if leaked:
            raise NetError(f"multicast crossed the cut link of {node}: {leaked}")
    finally:
        net.restore_link(node)
    return f"cut {node}: nothing crossed (sender {node}: {sent_out}; sender {others[0]}: {sent_in})"


def selftest(nodes):
    with Network(nodes) as net:
        print(net.describe())
        for line in check_multicast(net):
            print(line)
        print(check_cut(net, nodes[-1]))
        # Restored: it flows again (the carrier may take a moment to come back).
        end = time.monotonic() + 10
        while not net.link_is_up(nodes[-1]) and time.monotonic() < end:
            time.sleep(0.1)
        for line in check_multicast(net):
            print("restored: " + line)
        names = list(net.created)
    left = [n for n in names if n in namespaces()]
    if left:
        raise NetError(f"namespaces left after close(): {left}")
    print(f"netns: OK ({len(names)} namespaces created and removed)")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "mcast-recv":
        iface, group, port, timeout = sys.argv[2:6]
        return mcast_recv(iface, group, int(port), float(timeout))
    if len(sys.argv) > 1 and sys.argv[1] == "mcast-send":
        iface, group, port, payload, interval = sys.argv[2:7]
        return mcast_send(iface, group, int(port), payload, float(interval))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    why = available()
    if why:
        print(f"SKIP: {why}")
        return 77
    for name in remove_stale():
        print(f"netns: removed the stale namespace {name}")
    # SIGTERM still removes the namespaces (atexit runs on sys.exit).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"netns: killed by signal {signum}"))
    try:
        selftest([chr(ord("A") + i) for i in range(args.nodes)])
    except Unavailable as e:
        print(f"SKIP: {e}")
        return 77
    except NetError as e:
        print(f"netns: FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
