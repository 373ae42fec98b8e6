"""A private network namespace for a benchmark run, and packet loss inside it.

The bench process itself moves into the namespace (setns on its main thread),
so the agents it starts, its DNS and HTTP clients and the memberlist harness all
share that namespace's own loopback: no port collides with anything else on
the machine, and loss rules touch nothing outside it. Needs root.

Loss is made with an nftables `numgen random` drop in the namespace's input
hook, for gossip's port only (UDP and TCP, either direction), so the bench's
own DNS polls and HTTP calls are never dropped. `tc netem` would be the usual
tool, but this kernel has no queueing disciplines at all (`tc qdisc add dev lo
root netem` answers "Specified qdisc kind is unknown"); dropping on input
rather than output keeps the sender from seeing EPERM, so a lost packet is as
silent as on a real network. Every packet between two agents crosses `lo`
once, so each is lost with the given probability.
"""

import ctypes
import os
import re
import signal
import subprocess

CLONE_NEWNET = 0x40000000
PREFIX = "cairn-bench-gossip-"
TABLE = "cairn_bench"


def _setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _remove_stale():
    """Namespaces of earlier runs whose process is gone (killed with -9)."""
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return
    for name in names:
        m = re.fullmatch(re.escape(PREFIX) + r"(\d+)", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], check=False)


def _exit_on_signal(sig, frame):
    raise SystemExit(128 + sig)


class Namespace:
    """with Namespace(): ... runs the block (and every process it starts) in a
    fresh network namespace with loopback up; it is deleted on every way out,
    SIGTERM, SIGINT and SIGHUP included (they raise SystemExit here)."""

    def __init__(self, port):
        self.name = f"{PREFIX}{os.getpid()}"
        self.port = port
        self.home = None
        self.loss_pct = 0.0

    def __enter__(self):
        _remove_stale()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _exit_on_signal)
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
            fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.home is not None:
            _setns(self.home)
            os.close(self.home)
            self.home = None
        subprocess.run(["ip", "netns", "del", self.name], check=False)
        return False

    def set_loss(self, pct):
        """Drop pct% of gossip packets (UDP and TCP on the gossip port, either
        direction), each one at random; 0 drops none. Counters give the
        fraction really dropped (see counters())."""
        subprocess.run(["nft", "delete", "table", "inet", TABLE], check=False, stderr=subprocess.DEVNULL)
        self.loss_pct = pct
        port = self.port
        rules = (f"table inet {TABLE} {{\n"
                 "  chain input {\n"
                 "    type filter hook input priority 0; policy accept;\n"
                 f"    iifname \"lo\" meta l4proto {{ tcp, udp }} th dport {port} jump gossip\n"
                 f"    iifname \"lo\" meta l4proto {{ tcp, udp }} th sport {port} th dport != {port} jump gossip\n"
                 "  }\n"
                 "  chain gossip {\n"
                 "    counter comment \"seen\"\n"
                 f"    numgen random mod 10000 < {round(pct * 100)} counter drop comment \"dropped\"\n"
                 "  }\n"
                 "}\n")
        subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)

    def counters(self):
        """(gossip packets seen, dropped) since the last set_loss()."""
        text = subprocess.run(["nft", "list", "table", "inet", TABLE], check=True,
                              capture_output=True, text=True).stdout
        count = lambda what: int(re.search(rf'counter packets (\d+) bytes \d+ .*comment "{what}"', text).group(1))
        return count("seen"), count("dropped")
