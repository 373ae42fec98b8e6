"""Reference DNS servers (NSD, Knot) as plain processes on loopback, and raw
UDP/TCP exchange helpers shared by the DNS integration tests.

Each server runs from a temporary directory with its own config: no chroot,
no privilege drop, no rate limiting, no pid file or database outside the
temp dir, so the tests never touch (or depend on) a system-wide NSD or Knot
that a Debian package's postinst may have started on port 53.
"""
import os
import shutil
import socket
import struct
import subprocess
import tempfile

import dns.message
import dns.rdatatype

import harness

NSD_BIN = os.environ.get("CAIRN_NSD_BIN", "/usr/sbin/nsd")
KNOTD_BIN = os.environ.get("CAIRN_KNOTD_BIN", "/usr/sbin/knotd")

EXAMPLE_ORIGIN = "example.test."
EXAMPLE_ZONE_FILE = "example.test.zone"


def source_root():
    return os.environ.get("CAIRN_SOURCE_ROOT", harness.ROOT)


def example_zone_text():
    with open(os.path.join(source_root(), "zones", EXAMPLE_ZONE_FILE)) as f:
        return f.read()


# --- raw exchanges -------------------------------------------------------------

class NoResponse:
    """What a server did instead of answering: `timeout` or `closed`."""

    def __init__(self, what):
        self.what = what

    def __eq__(self, other):
        return isinstance(other, NoResponse) and other.what == self.what

    def __repr__(self):
        return f"<no response: {self.what}>"


def udp_exchange(wire, host, port, timeout=1.0):
    """Sends one datagram, returns the reply bytes or NoResponse('timeout')."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(wire)
        try:
            return s.recv(65535)
        except socket.timeout:
            return NoResponse("timeout")


def recv_exact(s, n):
    """Reads exactly n bytes, or returns what came before EOF."""
    chunks = []
    got = 0
    while got < n:
        chunk = s.recv(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def tcp_read_message(s):
    """Reads one length-prefixed message; NoResponse on EOF or timeout."""
    try:
        prefix = recv_exact(s, 2)
        if len(prefix) < 2:
            return NoResponse("closed")
        (length,) = struct.unpack("!H", prefix)
        body = recv_exact(s, length)
        if len(body) < length:
            return NoResponse("closed")
        return body
    except socket.timeout:
        return NoResponse("timeout")
    except ConnectionResetError:
        return NoResponse("closed")


def tcp_exchange(wire, host, port, timeout=2.0):
    """One query on a fresh TCP connection; the reply bytes or NoResponse."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.sendall(struct.pack("!H", len(wire)) + wire)
        return tcp_read_message(s)


def serves_zone(host, port, origin=EXAMPLE_ORIGIN):
    """True once the server answers the zone's SOA authoritatively."""
    q = dns.message.make_query(origin, "SOA")
    reply = udp_exchange(q.to_wire(), host, port, timeout=0.3)
    if isinstance(reply, NoResponse):
        return False
    r = dns.message.from_wire(reply)
    return r.rcode() == 0 and any(rrset.rdtype == dns.rdatatype.SOA for rrset in r.answer)


# --- servers ---------------------------------------------------------------------

class ReferenceServer:
    """A DNS server process serving `zones` ({origin: zone text}) on loopback."""

    name = "?"

    def __init__(self, zones, host="127.0.0.1"):
        self.zones = zones
        self.host = host
        self.port = harness.free_port(host)
        self.dir = tempfile.mkdtemp(prefix=f"cairn-{self.name}-")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.log = None

    def command(self):
        raise NotImplementedError

    def write_files(self):
        for origin, text in self.zones.items():
            with open(self.zone_path(origin), "w") as f:
                f.write(text)

    def zone_path(self, origin):
        return os.path.join(self.dir, origin.rstrip(".") + ".zone")

    def start(self):
        binary = self.command()[0]
        if not os.access(binary, os.X_OK):
            raise AssertionError(f"{binary} is missing: install it (tools/deps.sh installs nsd and knot)")
        self.write_files()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        origin = next(iter(self.zones))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.read_log()}")
            return serves_zone(self.host, self.port, origin)

        harness.wait_until(ready, timeout=15, what=f"{self.name} on {self.host}:{self.port} to serve {origin}")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Nsd(ReferenceServer):
    """NSD in the foreground (-d), one server process, RRL off.

    `minimal_responses` and `edns_size` map to the nsd.conf options of the same
    names; the defaults are NSD's own (Debian's build)."""

    name = "nsd"

    def __init__(self, zones, host="127.0.0.1", minimal_responses=False, edns_size=None):
        super().__init__(zones, host)
        self.minimal_responses = minimal_responses
        self.edns_size = edns_size

    def command(self):
        return [NSD_BIN, "-d", "-c", os.path.join(self.dir, "nsd.conf")]

    def write_files(self):
        super().write_files()
        d = self.dir
        lines = [
            "server:",
            f'  ip-address: {self.host}@{self.port}',
            f"  port: {self.port}",
            "  server-count: 1",
            '  username: ""',
            '  chroot: ""',
            f'  zonesdir: "{d}"',
            '  database: ""',
            f'  zonelistfile: "{d}/zone.list"',
            f'  pidfile: "{d}/nsd.pid"',
            f'  xfrdfile: "{d}/xfrd.state"',
            f'  xfrdir: "{d}"',
            f'  logfile: "{d}/nsd.log"',
            "  verbosity: 1",
            "  rrl-ratelimit: 0",
            "  rrl-whitelist-ratelimit: 0",
            f"  minimal-responses: {'yes' if self.minimal_responses else 'no'}",
            "remote-control:",
            "  control-enable: no",
        ]
        if self.edns_size:
            lines.insert(1, f"  ipv4-edns-size: {self.edns_size}")
            lines.insert(1, f"  ipv6-edns-size: {self.edns_size}")
        for origin in self.zones:
            lines += ["zone:", f"  name: {origin}", f'  zonefile: "{self.zone_path(origin)}"']
        with open(os.path.join(d, "nsd.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def read_log(self):
        text = super().read_log()
        path = os.path.join(self.dir, "nsd.log")
        if os.path.exists(path):
            with open(path, "rb") as f:
                text += f.read().decode(errors="replace")
        return text


class Knot(ReferenceServer):
    """knotd in the foreground, one UDP and one TCP worker (no RRL by default)."""

    name = "knot"

    def command(self):
        return [KNOTD_BIN, "-c", os.path.join(self.dir, "knot.conf")]

    def write_files(self):
        super().write_files()
        d = self.dir
        lines = [
            "server:",
            f'  rundir: "{d}"',
            f"  listen: {self.host}@{self.port}",
            "  udp-workers: 1",
            "  tcp-workers: 1",
            "  background-workers: 1",
            "database:",
            f'  storage: "{d}"',
            "log:",
            "  - target: stderr",
            "    any: warning",
            "template:",
            "  - id: default",
            f'    storage: "{d}"',
            "    journal-content: none",
            "    zonefile-sync: -1",
            "zone:",
        ]
        for origin in self.zones:
            lines += [f"  - domain: {origin}", f'    file: "{self.zone_path(origin)}"']
        with open(os.path.join(d, "knot.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")


class CairnAgent:
    """cairn through harness.Agent with the zones in its zones dir and
    forwarding off, so names outside them are REFUSED, never sent upstream."""

    name = "cairn"

    def __init__(self, zones, host="127.0.0.1", dns_settings=""):
        self.zones = zones
        files = {origin.rstrip(".") + ".zone": text for origin, text in zones.items()}
        self.agent = harness.Agent(config_extra=f"[dns]\n{dns_settings}\n[dns.forward]\nallow = []\n",
                                   zones=files, host=host)
        self.host = host
        self.port = self.agent.dns_port

    def start(self):
        # Only DNS matters here: wait for the zone, not for the HTTP API.
        self.agent.start(wait=False)
        origin = next(iter(self.zones))

        def ready():
            if self.agent.proc.poll() is not None:
                raise AssertionError(f"cairn exited with {self.agent.proc.returncode}:\n{self.read_log()}")
            return serves_zone(self.host, self.port, origin)

        harness.wait_until(ready, timeout=15, what=f"cairn on {self.host}:{self.port} to serve {origin}")
        return self

    def stop(self):
        self.agent.stop()

    def read_log(self):
        return self.agent.read_log()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def make_server(kind, zones, host="127.0.0.1", **kwargs):
    if kind == "nsd":
        return Nsd(zones, host, **kwargs)
    if kind == "knot":
        return Knot(zones, host)
    if kind == "cairn":
        return CairnAgent(zones, host, **kwargs)
    raise ValueError(f"unknown server kind {kind!r} (nsd, knot or cairn)")
