"""cairn in resolv.conf, tried as a new user would (issue 17's "Done when").

A network namespace of the test's own (loopback and a veth pair, one end with
10.250.0.1 and fd00:250::1, so that glibc's AI_ADDRCONFIG asks for A and
AAAA; no route leaves it), whose /etc/resolv.conf (`ip netns exec` binds
/etc/netns/<ns>/resolv.conf over it) says `nameserver 127.0.0.1` and `search
service.cairn`. In it: cairn on 127.0.0.1:53 forwarding to NSD on
127.0.0.2:53, which stands in for the network's resolver (zone example.test.
with TTLs of 2 s, so cached answers expire during the test).

- glibc (`getent hosts`, `getent ahosts`) and Python's socket.getaddrinfo
  agree: a service name, a name the upstream serves (A and AAAA), a name that
  does not exist, and `web` through the search list;
- a client outside `allow` (127.0.0.3) gets REFUSED for outside names and
  still gets cairn's own;
- NSD killed: the cached name keeps answering (stale, TTL 30) until the
  stale limit; a new name gets SERVFAIL within the forwarding timeout, and
  getent gives up instead of hanging; NSD started again: a new name
  resolves within one probe interval.

Needs root and network namespaces; fails (does not skip) without them. The
namespace, its /etc/netns directory and every process are removed on every
way out."""

import json
import os
import secrets
import subprocess
import time
import unittest

from harness import CAIRN_BIN, wait_until
from sandbox import LogsOnFailure, add_namespace, cleanup, run, started, temp_dir

UPSTREAM = "127.0.0.2"
OUTSIDER = "127.0.0.3"
WEB = "10.250.0.7"
TTL_S = 2
TIMEOUT_S = 1.0  # [dns.forward] timeout
PROBE_S = 1.0  # [dns.forward] probe_interval
STALE_S = 8  # [dns.forward] serve_stale
# Slack for a loaded, shared machine on top of each bound.
SLACK_S = 2.0

ZONE = f"""$ORIGIN example.test.
$TTL {TTL_S}
@ IN SOA ns hostmaster 1 3600 600 86400 {TTL_S}
@ IN NS ns
ns IN A {UPSTREAM}
www IN A 192.0.2.10
www IN AAAA 2001:db8::10
*.new IN A 192.0.2.99
"""


class Namespace:
    def __init__(self):
        self.name = f"cairn-rt-{os.getpid()}-{secrets.token_hex(3)}"
        add_namespace(self.name)
        self.exec("ip", "link", "set", "lo", "up")
        # A veth pair with both ends here (no dummy driver everywhere).
        self.exec("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
        self.exec("ip", "addr", "add", "10.250.0.1/24", "dev", "eth0")
        self.exec("ip", "addr", "add", f"{WEB}/32", "dev", "eth0")
        self.exec("ip", "addr", "add", "fd00:250::1/64", "dev", "eth0", "nodad")
        self.exec("ip", "link", "set", "eth0", "up")
        self.exec("ip", "link", "set", "eth1", "up")
        self.etc = f"/etc/netns/{self.name}"
        os.makedirs(self.etc)
        self.resolv_conf("nameserver 127.0.0.1\nsearch service.cairn\n")

    def resolv_conf(self, text):
        with open(os.path.join(self.etc, "resolv.conf"), "w") as f:
            f.write(text)

    def exec(self, *args, check=True, timeout=15):
        return run("ip", "netns", "exec", self.name, *args, check=check, timeout=timeout)

    def spawn(self, args, log_path):
        with open(log_path, "ab") as log:
            return started(subprocess.Popen(["ip", "netns", "exec", self.name, *args], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))


class Upstream:
    """NSD on 127.0.0.2:53 in the namespace, serving example.test."""

    def __init__(self, ns):
        self.ns = ns
        self.dir = temp_dir("cairn-rt-nsd-")
        with open(os.path.join(self.dir, "example.test.zone"), "w") as f:
            f.write(ZONE)
        d = self.dir
        with open(os.path.join(d, "nsd.conf"), "w") as f:
            f.write(f"""server:
  ip-address: {UPSTREAM}
  port: 53
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "{d}"
  database: ""
  zonelistfile: "{d}/zone.list"
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  logfile: "{d}/nsd.log"
  rrl-ratelimit: 0
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: example.test.
  zonefile: "{d}/example.test.zone"
""")
        self.proc = None

    def start(self):
        self.proc = self.ns.spawn(["/usr/sbin/nsd", "-d", "-c", os.path.join(self.dir, "nsd.conf")],
                                  os.path.join(self.dir, "out.log"))
        wait_until(lambda: dig(self.ns, "www.example.test", server=UPSTREAM)[0] == "NOERROR",
                   timeout=15, interval=0.1, what="NSD serving in the namespace")

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=5)


class Cairn:
    def __init__(self, ns):
        self.ns = ns
        self.dir = temp_dir("cairn-rt-")
        os.makedirs(os.path.join(self.dir, "zones"))
        self.config = os.path.join(self.dir, "agent.toml")
        with open(self.config, "w") as f:
            f.write(f"""node_name = "trial"
data_dir = "{self.dir}/data"
[dns]
listen = ["127.0.0.1:53"]
workers = 2
zones_dir = "{self.dir}/zones"
[dns.forward]
upstreams = ["{UPSTREAM}"]
allow = ["127.0.0.1/32", "::1/128"]
timeout = "{TIMEOUT_S:g}s"
probe_interval = "{PROBE_S:g}s"
serve_stale = "{STALE_S}s"
[http]
listen = "127.0.0.1:8500"
[gossip]
bind = "127.0.0.1:8301"
""")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.proc = None

    def start(self):
        self.proc = self.ns.spawn([CAIRN_BIN, "agent", "--config", self.config], self.log_path)
        wait_until(lambda: self.alive() and dig(self.ns, "cairn", "SOA")[0] == "NOERROR",
                   timeout=15, interval=0.1, what="cairn answering on 127.0.0.1:53")

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"cairn exited with {self.proc.returncode}:\n{self.read_log()}")
        return True

    def register(self, name, address):
        body = json.dumps({"id": name, "name": name, "address": address, "port": 80})
        r = run("ip", "netns", "exec", self.ns.name, "curl", "-s", "-m", "5", "-X", "PUT",
                "--data-binary", "@-", "-w", "\n%{http_code}", "http://127.0.0.1:8500/v1/services",
                input=body, check=False)
        if not r.stdout.endswith("200"):
            raise AssertionError(f"registering {name}: {r.stdout} {r.stderr}")

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-6000:]


def dig(ns, name, qtype="A", server="127.0.0.1", source=None):
    """(rcode, [(ttl, address)]) of one query, asked with dig in the namespace."""
    args = ["dig", "+time=3", "+tries=1", "+nosearch", "+noall", "+comments", "+answer", f"@{server}", name, qtype]
    if source:
        args += ["-b", source]
    out = ns.exec(*args, check=False).stdout
    rcode = "TIMEOUT"
    records = []
    for line in out.splitlines():
        if "status:" in line:
            rcode = line.split("status:")[1].split(",")[0].strip()
        fields = line.split()
        if len(fields) == 5 and not line.startswith(";") and fields[3] in ("A", "AAAA"):
            records.append((int(fields[1]), fields[4]))
    return rcode, records


def poll(fetch, ok, timeout, what, interval=0.2):
    """Calls fetch() until ok(value), for at most `timeout` seconds; the last
    value is in the error."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not ok(value):
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}; last: {value}")
        time.sleep(interval)
        value = fetch()
    return value


def getent(ns, database, name):
    """(exit status, set of addresses, seconds taken) of `getent DATABASE NAME`."""
    started = time.monotonic()
    r = ns.exec("getent", database, name, check=False, timeout=30)
    took = time.monotonic() - started
    return r.returncode, {line.split()[0] for line in r.stdout.splitlines() if line.strip()}, took


def python_getaddrinfo(ns, name):
    """The addresses Python's socket.getaddrinfo gives in the namespace, or the
    name of its error (e.g. EAI_NONAME)."""
    code = ("import json, socket, sys\n"
            "try:\n"
            f"    out = sorted({{a[4][0] for a in socket.getaddrinfo({name!r}, 80, type=socket.SOCK_STREAM)}})\n"
            "except socket.gaierror as e:\n"
            "    out = socket.EAI_NONAME == e.errno and 'EAI_NONAME' or str(e)\n"
            "print(json.dumps(out))\n")
    out = ns.exec("/usr/bin/python3", "-c", code, check=False, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"python3 in the namespace: {out.stderr}")
    result = json.loads(out.stdout)
    return set(result) if isinstance(result, list) else result


def start_web(ns):
    """An HTTP server on WEB:80 in the namespace, for curl to find by name."""
    root = temp_dir("cairn-rt-web-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("hello from web\n")
    ns.spawn(["/usr/bin/python3", "-m", "http.server", "--bind", WEB, "--directory", root, "80"],
             os.path.join(root, "log"))
    wait_until(lambda: ns.exec("curl", "-s", "-m", "2", f"http://{WEB}/", check=False).stdout
               == "hello from web\n", timeout=10, interval=0.1, what="the web server")


class ResolvTrial(LogsOnFailure, unittest.TestCase):
    def setUp(self):
        self.addCleanup(cleanup)
        self.ns = Namespace()
        self.upstream = Upstream(self.ns)
        self.upstream.start()
        self.cairn = Cairn(self.ns)
        self.cairn.start()
        self.cairn.register("web", WEB)
        wait_until(lambda: [a for _, a in dig(self.ns, "web.service.cairn")[1]] == [WEB], timeout=10, interval=0.1, what="web.service.cairn in DNS")
        self.print_logs_on_failure(lambda: [("cairn", self.cairn.read_log())])

    def test_user_trial(self):
        ns = self.ns
        # What the user does: curl by name, absolute and through the search list.
        start_web(ns)
        for url in ("http://web.service.cairn/", "http://web/"):
            r = ns.exec("curl", "-s", "-m", "5", url, check=False)
            self.assertEqual(r.stdout, "hello from web\n", f"curl {url}: {r.returncode} {r.stderr}")
        # Through glibc, as every program on the machine resolves.
        self.assertEqual(getent(ns, "hosts", "web.service.cairn")[:2], (0, {WEB}))
        self.assertEqual(getent(ns, "hosts", "web")[:2], (0, {WEB}), "web through search service.cairn")
        status, addresses, _ = getent(ns, "ahosts", "www.example.test")
        self.assertEqual((status, addresses), (0, {"192.0.2.10", "2001:db8::10"}))
        status, addresses, _ = getent(ns, "hosts", "nothing.example.test")
        self.assertEqual(status, 2, f"a missing name resolved to {addresses}")
        # Python agrees.
        self.assertEqual(python_getaddrinfo(ns, "web.service.cairn"), {WEB})
        self.assertEqual(python_getaddrinfo(ns, "web"), {WEB})
        self.assertEqual(python_getaddrinfo(ns, "www.example.test"), {"192.0.2.10", "2001:db8::10"})
        self.assertEqual(python_getaddrinfo(ns, "nothing.example.test"), "EAI_NONAME")
        # The upstream's NXDOMAIN passes through as it is.
        self.assertEqual(dig(ns, "nothing.example.test")[0], "NXDOMAIN")
        self.assertEqual(dig(ns, "www.example.test")[0], "NOERROR")

        # Outside `allow`: no recursion, but cairn's own names still answer.
        self.assertEqual(dig(ns, "www.example.test", source=OUTSIDER)[0], "REFUSED")
        self.assertEqual(dig(ns, "other.example.test", source=OUTSIDER)[0], "REFUSED")
        rcode, records = dig(ns, "web.service.cairn", source=OUTSIDER)
        self.assertEqual((rcode, [a for _, a in records]), ("NOERROR", [WEB]))

        # Kill the upstream. Ask www once more first: fresh in the cache now.
        self.assertEqual(dig(ns, "www.example.test")[0], "NOERROR")
        fresh_at = time.monotonic()
        self.upstream.kill()
        # A new name: SERVFAIL within the forwarding timeout, not a hang.
        started = time.monotonic()
        rcode, _ = dig(ns, "n1.new.example.test")
        took = time.monotonic() - started
        self.assertEqual(rcode, "SERVFAIL")
        self.assertLess(took, TIMEOUT_S + SLACK_S, f"SERVFAIL took {took:.2f} s")
        status, addresses, took = getent(ns, "hosts", "n2.new.example.test")
        self.assertEqual(status, 2, f"new2 resolved to {addresses} with the upstream dead")
        self.assertLess(took, 2 * (TIMEOUT_S + SLACK_S), f"getent took {took:.2f} s")
        # The cached name: served stale (TTL 30) once expired, through glibc too.
        poll(lambda: dig(ns, "www.example.test"), lambda v: v == ("NOERROR", [(30, "192.0.2.10")]),
             timeout=TTL_S + TIMEOUT_S + SLACK_S, what="www served stale with TTL 30")
        status, addresses, _ = getent(ns, "ahosts", "www.example.test")
        self.assertEqual((status, addresses), (0, {"192.0.2.10", "2001:db8::10"}))
        self.assertEqual(python_getaddrinfo(ns, "www.example.test"), {"192.0.2.10", "2001:db8::10"})
        # ... for the stale limit only. It was fresh at fresh_at, so stored
        # after fresh_at - TTL_S: served stale until after fresh_at + STALE_S,
        # and gone by fresh_at + TTL_S + STALE_S.
        limit = fresh_at + TTL_S + STALE_S
        if time.monotonic() < fresh_at + STALE_S - 0.5:
            self.assertEqual(dig(ns, "www.example.test")[0], "NOERROR")
        poll(lambda: dig(ns, "www.example.test"), lambda v: v[0] == "SERVFAIL",
             timeout=max(0.0, limit - time.monotonic()) + TIMEOUT_S + SLACK_S,
             what="www no longer served once past the stale limit")
        self.assertGreater(time.monotonic(), fresh_at + STALE_S, "the stale answer ended early")

        # The upstream back: a new name resolves within one probe interval.
        self.upstream.start()
        back = time.monotonic()
        poll(lambda: dig(ns, "n3.new.example.test"), lambda v: v == ("NOERROR", [(TTL_S, "192.0.2.99")]),
             timeout=PROBE_S + TIMEOUT_S + SLACK_S, what="a new name after the upstream came back",
             interval=0.1)
        print(f"new names resolve {time.monotonic() - back:.2f} s after the upstream serves again")
        self.assertEqual(getent(ns, "hosts", "n4.new.example.test")[:2], (0, {"192.0.2.99"}))
        # What the cache did, in GET /metrics.
        metrics = ns.exec("curl", "-s", "-m", "5", "http://127.0.0.1:8500/metrics").stdout
        figures = {}
        for line in metrics.splitlines():
            if line.startswith("cairn_dns_cache_"):
                name, _, value = line.rpartition(" ")
                figures[name] = int(value)
        self.assertGreater(figures.get('cairn_dns_cache_lookups_total{result="hit"}', 0), 0, metrics)
        self.assertGreater(figures.get("cairn_dns_cache_stale_served_total", 0), 0, metrics)
        self.assertGreater(figures.get("cairn_dns_cache_stored_total", 0), 0, metrics)
        self.cairn.alive()


if __name__ == "__main__":
    unittest.main()
