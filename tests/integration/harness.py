"""Starts real cairn agents on loopback for integration tests.

Every wait here polls with a deadline; nothing sleeps and hopes. The binary
comes from $CAIRN_BIN (set by meson), falling back to build/cairn.
"""
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import dns.message
import dns.query
import dns.rdatatype

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAIRN_BIN = os.environ.get("CAIRN_BIN", os.path.join(ROOT, "build", "cairn"))


def free_port(host="127.0.0.1", kind=socket.SOCK_STREAM, avoid=()):
    """A port free for both TCP and UDP on host right now, and not in
    `avoid` (ports picked already but not bound yet: the kernel may hand
    out a closed one again)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            port = t.getsockname()[1]
            if port in avoid:
                continue
            try:
                with socket.socket(family, socket.SOCK_DGRAM) as u:
                    u.bind((host, port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls predicate until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # the thing we wait for may not be up yet
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


# What must not outlive the test process, however it ends: a setUp that fails
# half-way never reaches tearDown, and meson's timeout sends SIGTERM. Each
# function registered with at_exit runs once, last registered first.
_exit_steps = []


def at_exit(step):
    _exit_steps.append(step)


def _run_exit_steps():
    while _exit_steps:
        _exit_steps.pop()()


def _on_sigterm(signum, frame):
    _run_exit_steps()
    os._exit(128 + signum)


atexit.register(_run_exit_steps)
signal.signal(signal.SIGTERM, _on_sigterm)

_started = []  # every agent a test started


def _kill_leftovers():
    for proc in _started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


at_exit(_kill_leftovers)


class Agent:
    """One `cairn agent` process with its own config, data dir and ports."""

    def __init__(self, config_extra="", zones=None, host="127.0.0.1", name="test-node", args=()):
        self.dir = tempfile.mkdtemp(prefix="cairn-test-")
        self.host = host
        self.dns_port = free_port(host)
        self.http_port = free_port(host, avoid={self.dns_port})
        self.gossip_port = free_port(host, avoid={self.dns_port, self.http_port})
        self.zones_dir = os.path.join(self.dir, "zones")
        os.makedirs(self.zones_dir)
        for filename, text in (zones or {}).items():
            with open(os.path.join(self.zones_dir, filename), "w") as f:
                f.write(text)
        bracket = f"[{host}]" if ":" in host else host
        self.config_path = os.path.join(self.dir, "agent.toml")
        with open(self.config_path, "w") as f:
            f.write(f'node_name = "{name}"\n')
            f.write(f'data_dir = "{self.dir}/data"\n')
            f.write(f'advertise_address = "{host}"\n')
            f.write(config_extra + "\n")
            f.write("[dns]\n" if "[dns]" not in config_extra else "")
            # Never forward to the machine's resolvers from a test: only a
            # test that names its (loopback) upstreams forwards.
            f.write("[dns.forward]\nallow = []\n" if "[dns.forward]" not in config_extra else "")
        # [dns] keys may be given in config_extra; listen and zones_dir are ours.
        self._patch_section("dns", f'listen = ["{bracket}:{self.dns_port}"]\nzones_dir = "{self.zones_dir}"\nworkers = 1')
        self._patch_section("http", f'listen = "{bracket}:{self.http_port}"')
        self._patch_section("gossip", f'bind = "{bracket}:{self.gossip_port}"')
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(self.dir, "agent.log")

    def _patch_section(self, section, lines):
        with open(self.config_path) as f:
            text = f.read()
        header = f"[{section}]\n"
        if header in text:
            text = text.replace(header, header + lines + "\n", 1)
        else:
            text += "\n" + header + lines + "\n"
        with open(self.config_path, "w") as f:
            f.write(text)

    def start(self, wait=True, env=None):
        """env: variables added to this process's environment for the agent."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([CAIRN_BIN, "agent", "--config", self.config_path, *self.args],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        _started.append(self.proc)
        if wait:
            wait_until(self.ready, timeout=15, what=f"agent on {self.host}:{self.dns_port} to serve")
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"agent exited with {self.proc.returncode}:\n{self.read_log()}")
        q = dns.message.make_query("cairn.", "SOA")
        dns.query.udp(q, self.host, port=self.dns_port, timeout=0.2)
        with urllib.request.urlopen(self.http_url("/health"), timeout=0.5) as r:
            return r.status == 200

    def http_url(self, path):
        bracket = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{bracket}:{self.http_port}{path}"

    def http(self, method, path, body=None, headers=None, timeout=5):
        """Returns (status, body bytes) without raising on HTTP errors."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.http_url(path), data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def query(self, name, rdtype="A", tcp=False, timeout=2, **make_query_args):
        q = dns.message.make_query(name, rdtype, **make_query_args)
        if tcp:
            return dns.query.tcp(q, self.host, port=self.dns_port, timeout=timeout)
        return dns.query.udp(q, self.host, port=self.dns_port, timeout=timeout)

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agent did not stop within %ss of SIGTERM" % timeout)
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def rss_kib(pid):
    """A process's resident memory now, in KiB, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def raw_exchange(agent, data, read_timeout=5.0, until=None):
    """Sends raw bytes and returns what the server sends until it closes
    (or until `until(bytes)` is true)."""
    with socket.create_connection((agent.host, agent.http_port), timeout=read_timeout) as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + read_timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if until and until(b"".join(chunks)):
                break
        return b"".join(chunks)


def start_http(agent):
    """Starts the agent and waits for its HTTP API alone (for tests of HTTP only)."""
    agent.start(wait=False)

    def serving():
        if agent.proc.poll() is not None:
            raise AssertionError(f"agent exited with {agent.proc.returncode}:\n{agent.read_log()}")
        return agent.http("GET", "/health", timeout=0.5)[0] == 200

    wait_until(serving, timeout=15, what="the HTTP API to serve")
    return agent


@contextlib.contextmanager
def agent(**kwargs):
    a = Agent(**kwargs)
    a.start()
    try:
        yield a
    finally:
        a.stop()
