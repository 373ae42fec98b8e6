"""A mixed cluster of three cairn agents and three real memberlist nodes (the Go
test peer in tests/gossip/peer, `run` mode, memberlist's DefaultLocalConfig) on
loopback, each on its own 127.0.0.x: all six alive from every side; kill -9 of
a Go node seen dead by every cairn agent and of a cairn agent by every Go node,
within a bound from memberlist's local profile; a cairn agent stopped with
SIGSTOP for less than the suspicion timeout is suspected and refutes; a
graceful leave seen as left on both sides; the join with a 16- and a 32-byte
key; two cairn agents that each join only through a Go node replicate their
registry to each other. The peer is built here, offline, with tests/gossip/peer/build.sh; without
Debian's Go or memberlist source the tests are skipped."""

import base64
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

import dns.rdatatype

from harness import CAIRN_BIN, Agent, free_port, wait_until

ROOT = os.environ.get("CAIRN_SOURCE_ROOT",
                      os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
BUILD_SH = os.path.join(ROOT, "tests", "gossip", "peer", "build.sh")
PEER_DIR = os.path.join(os.path.dirname(CAIRN_BIN), "tests", "integration", "gossip")
PEER_BIN = os.path.join(PEER_DIR, "memberlist-interop-peer")
MEMBERLIST_SRC = "/usr/share/gocode/src/github.com/hashicorp/memberlist"

# memberlist's DefaultLocalConfig, which cairn's `local` profile copies.
PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 0.2
SUSPICION_MULT = 3
SUSPICION_MAX_TIMEOUT_MULT = 6
NODES = 6


def suspicion_timeout(n):
    """memberlist's suspicionTimeout(): the shortest a suspicion can last."""
    return SUSPICION_MULT * max(1.0, math.log10(max(1.0, n))) * PROBE_INTERVAL_S


# A dead node is first probed within a round of NODES probe intervals (every
# other node probes one member per interval), its suspicion runs at most
# SuspicionMaxTimeoutMult times the minimum when nobody confirms it, and the
# dead message then spreads by gossip; 5 s of margin on top for a busy machine.
DETECT_S = NODES * PROBE_INTERVAL_S + SUSPICION_MAX_TIMEOUT_MULT * suspicion_timeout(NODES) + 5.0
# Under the shortest suspicion (3 s), which starts no sooner than a probe
# interval after the stop: the agent misses probes but is not declared dead.
STOP_S = 2.8
# An alive message is retransmitted only mult x log10(N+1) = 2 times per node,
# so a member may first learn a newcomer from the periodic push-pull (15 s in
# the local profile): two of those, and margin.
JOIN_S = 2 * 15.0 + 5.0

CAIRN_HOSTS = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
GO_HOSTS = ["127.0.0.24", "127.0.0.25", "127.0.0.26"]
KEY16 = base64.b64encode(bytes(range(1, 17))).decode()
KEY32 = base64.b64encode(bytes(range(101, 133))).decode()


def build_peer():
    """Builds the Go peer once per build directory; returns an error or None."""
    if not shutil.which("go") or not os.path.isdir(MEMBERLIST_SRC):
        return "go or Debian's memberlist source missing"
    if os.path.exists(PEER_BIN) and os.path.getmtime(PEER_BIN) >= max(
            os.path.getmtime(os.path.join(os.path.dirname(BUILD_SH), f))
            for f in ("build.sh", "main.go", "run.go", "memberlist_goldens.go", "memberlist_states.go")):
        return None
    os.makedirs(PEER_DIR, exist_ok=True)
    tmp = PEER_BIN + ".tmp"
    r = subprocess.run([BUILD_SH, tmp, PEER_BIN + ".gopath"], capture_output=True, timeout=240)
    if r.returncode != 0:
        raise AssertionError("building the memberlist peer failed:\n" + r.stderr.decode(errors="replace"))
    os.replace(tmp, PEER_BIN)
    return None


def cairn_members(agent):
    status, body = agent.http("GET", "/v1/members")
    assert status == 200, (status, body)
    return {m["name"]: m for m in json.loads(body)}


def cairn_states(agent):
    return {name: m["state"] for name, m in cairn_members(agent).items()}


class GoNode:
    """One memberlist node (`peer run`), commands on stdin, events on stdout."""

    def __init__(self, name, host, join=(), key=None):
        self.name = name
        self.host = host
        self.port = free_port(host)
        self.join = list(join)
        self.key = key
        self.proc = None
        self.events = []
        self.lock = threading.Lock()
        self.replies = queue.Queue()
        self.stderr_path = None

    def start(self):
        args = [PEER_BIN, "run", "-name", self.name, "-bind", self.host, "-port", str(self.port),
                "-profile", "local"]
        if self.join:
            args += ["-join", ",".join(self.join)]
        if self.key:
            args += ["-key", self.key]
        self.stderr_path = os.path.join(PEER_DIR, f"{self.name}-{self.port}.log")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(lambda: self.saw(lambda e: e.get("event") == "ready"), timeout=10,
                   what=f"{self.name} ready")
        return self

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            if "command" in msg:
                self.replies.put(msg)
            else:
                with self.lock:
                    self.events.append(msg)

    def saw(self, pred):
        with self.lock:
            return any(pred(e) for e in self.events)

    def command(self, text, timeout=5):
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()
        reply = self.replies.get(timeout=timeout)
        if "error" in reply:
            raise AssertionError(f"{self.name}: {text}: {reply['error']}")
        return reply

    def members(self):
        """Every node this memberlist knows, dead and left ones too."""
        return {m["name"]: m for m in self.command("members")["members"] or []}

    def states(self):
        return {name: m["state"] for name, m in self.members().items()}

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.stderr.close()

    def read_log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")


class Interop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        skip = build_peer()
        if skip:
            raise unittest.SkipTest(skip)

    def setUp(self):
        self.agents = []
        self.gos = []

    def tearDown(self):
        for a in self.agents:
            if a.proc and a.proc.poll() is None:
                if a.proc.returncode is None:
                    a.proc.send_signal(signal.SIGCONT)
                a.proc.kill()
                a.proc.wait()
        for g in self.gos:
            g.close()

    def start_cluster(self, key=None):
        extra = '[gossip]\nprofile = "local"\n' + (f'encrypt = "{key}"\n' if key else "")
        seed = None
        for i, host in enumerate(CAIRN_HOSTS, 1):
            args = ["--join", f"{seed.host}:{seed.gossip_port}"] if seed else []
            a = Agent(config_extra=extra, host=host, name=f"cairn-{i}", args=args)
            self.agents.append(a)
            seed = seed or a
        for a in self.agents:
            a.start()
        # go-1 joins through cairn, the others through go-1 and a cairn agent.
        first = self.agents[0]
        for i, host in enumerate(GO_HOSTS, 1):
            join = [f"{first.host}:{first.gossip_port}"] if i == 1 else [
                f"{self.gos[0].host}:{self.gos[0].port}", f"{self.agents[i - 1].host}:{self.agents[i - 1].gossip_port}"]
            self.gos.append(GoNode(f"go-{i}", host, join=join, key=key).start())
        for g in self.gos:
            self.assertFalse(g.saw(lambda e: e.get("event") == "join_failed"), g.events)
        self.all_alive(self.names(), timeout=JOIN_S)

    def names(self):
        return [f"cairn-{i}" for i in (1, 2, 3)] + [g.name for g in self.gos]

    def all_alive(self, names, agents=None, gos=None, timeout=10):
        agents = self.agents if agents is None else agents
        gos = self.gos if gos is None else gos

        def check():
            return (all(all(cairn_states(a).get(n) == "alive" for n in names) for a in agents)
                    and all(all(g.states().get(n) == "alive" for n in names) for g in gos))

        wait_until(check, timeout=timeout, interval=0.1, what=f"{names} alive on every node")

    def test_mixed_cluster(self):
        self.start_cluster()
        c1, c2, c3 = self.agents
        g1, g2, g3 = self.gos
        m = cairn_members(c1)["go-2"]
        self.assertEqual((m["address"], m["port"]), (g2.host, g2.port))
        go_view = {m["name"]: m for m in g1.command("members")["members"]}
        self.assertEqual((go_view["cairn-2"]["addr"], go_view["cairn-2"]["port"]), (c2.host, c2.gossip_port))
        self.assertEqual(go_view["cairn-2"]["vsn"][:3], [1, 5, 2])

        # SIGSTOP cairn-2 for less than the suspicion timeout: the Go nodes
        # suspect it, it refutes after SIGCONT with a higher incarnation and
        # is never declared dead. It is continued as soon as a Go node
        # suspects it; a stop can fall between probes of it (a suspicion comes
        # 1.3-2 s after the stop), so it is tried up to four times.
        before = cairn_members(c1)["cairn-2"]["incarnation"]
        suspected = set()
        for _ in range(4):
            c2.signal(signal.SIGSTOP)
            stopped = time.monotonic()
            while not suspected and time.monotonic() - stopped < STOP_S:
                for g in self.gos:
                    if g.states().get("cairn-2") == "suspect":
                        suspected.add(g.name)
                time.sleep(0.02)
            c2.signal(signal.SIGCONT)
            self.all_alive(self.names(), timeout=10)
            if suspected:
                break
        self.assertTrue(suspected, "no Go node suspected the stopped agent")
        wait_until(lambda: all(cairn_members(a)["cairn-2"]["incarnation"] > before for a in (c1, c2, c3))
                   and all(g.members()["cairn-2"]["incarnation"] > before for g in self.gos),
                   timeout=10, interval=0.1, what="cairn-2's refutation on every node")
        self.all_alive(self.names(), timeout=10)
        for g in self.gos:
            self.assertFalse(g.saw(lambda e: e.get("event") == "leave" and e["node"]["name"] == "cairn-2"),
                             f"{g.name} declared the stopped agent dead")
        for a in (c1, c3):
            self.assertIsNone(re.search(r"gossip\.member_dead member=cairn-2 ", a.read_log()))
        self.assertIn("gossip.refute", c2.read_log())

        # kill -9 one Go node and one cairn agent: each side sees the other's
        # death within memberlist's detection bound for the local profile.
        g3.kill()
        c3.proc.kill()
        c3.proc.wait()
        killed = time.monotonic()
        # Each view is checked on its own: memberlist forgets a dead node
        # GossipToTheDeadTime (15 s) after it died, so the six views need not
        # all show the deaths at the same moment.
        views = {f"{a.host} sees {name}": (lambda a=a, name=name: cairn_states(a).get(name) == "dead")
                 for a in (c1, c2) for name in ("go-3", "cairn-3")}
        views.update({f"{g.name} sees {name}": (lambda g=g, name=name: g.states().get(name) == "dead")
                      for g in (g1, g2) for name in ("cairn-3", "go-3")})
        seen = {}

        def all_dead():
            for what, check in views.items():
                if what not in seen and check():
                    seen[what] = time.monotonic() - killed
            return len(seen) == len(views)

        try:
            wait_until(all_dead, timeout=DETECT_S, interval=0.1, what="every kill -9 seen dead")
        except AssertionError as e:
            raise AssertionError(f"{e}; seen: {seen}") from None
        print("kill -9 seen dead after (s): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(seen.items())))

        # A graceful leave on each side is seen as left on the other.
        self.assertEqual(c2.stop(), 0)
        g2.command("leave", timeout=10)
        for name in ("cairn-2", "go-2"):
            try:
                wait_until(lambda: cairn_states(c1).get(name) == "left" and g1.states().get(name) == "left",
                           timeout=10, interval=0.1, what=f"{name} left on cairn-1 and go-1")
            except AssertionError as e:
                raise AssertionError(f"{e}; cairn-1: {cairn_states(c1)}, go-1: {g1.states()}") from None
        self.all_alive(["cairn-1", "go-1"], agents=[c1], gos=[g1])

    def test_registry_around_go_peers(self):
        # Each cairn agent joins only through a Go node: cairn-1 through go-1,
        # cairn-2 through go-2 (which joins go-1). The cairn agents learn of
        # each other from memberlist's gossip, and the registry travels
        # between them beside the Go nodes, which are sent the registry's
        # user messages and state and carry on.
        g1 = GoNode("go-1", GO_HOSTS[0]).start()
        self.gos.append(g1)
        c1 = Agent(config_extra='[gossip]\nprofile = "local"\n', host=CAIRN_HOSTS[0], name="cairn-1",
                   args=["--join", f"{g1.host}:{g1.port}"])
        self.agents.append(c1)
        c1.start()
        g2 = GoNode("go-2", GO_HOSTS[1], join=[f"{g1.host}:{g1.port}"]).start()
        self.gos.append(g2)
        c2 = Agent(config_extra='[gossip]\nprofile = "local"\n', host=CAIRN_HOSTS[1], name="cairn-2",
                   args=["--join", f"{g2.host}:{g2.port}"])
        self.agents.append(c2)
        c2.start()
        for g in self.gos:
            self.assertFalse(g.saw(lambda e: e.get("event") == "join_failed"), g.events)
        self.all_alive(["cairn-1", "cairn-2", "go-1", "go-2"], timeout=JOIN_S)

        def a_records(agent, name):
            return sorted(rr.address for rrset in agent.query(name).answer for rr in rrset
                          if rrset.rdtype == dns.rdatatype.A)

        status, body = c1.http("PUT", "/v1/services", json.dumps(
            {"id": "web-1", "name": "web", "address": "127.0.0.11", "port": 8080}))
        self.assertEqual(status, 200, body)
        wait_until(lambda: a_records(c2, "web.service.cairn") == ["127.0.0.11"], timeout=5,
                   what="web, registered on cairn-1, answered by cairn-2")
        status, body = c2.http("GET", "/v1/services/web")
        self.assertEqual((status, [i["node"] for i in json.loads(body)]), (200, ["cairn-1"]))
        # And back the other way, and a deregistration.
        status, body = c2.http("PUT", "/v1/services", json.dumps(
            {"id": "web-2", "name": "web", "address": "127.0.0.12", "port": 8080}))
        self.assertEqual(status, 200, body)
        wait_until(lambda: a_records(c1, "web.service.cairn") == ["127.0.0.11", "127.0.0.12"],
                   timeout=5, what="web-2, registered on cairn-2, answered by cairn-1")
        status, body = c1.http("DELETE", "/v1/services/web-1")
        self.assertEqual(status, 200, body)
        wait_until(lambda: a_records(c2, "web.service.cairn") == ["127.0.0.12"], timeout=5,
                   what="web-1's deregistration on cairn-2")
        # The Go nodes were sent the registry's messages (user state in
        # push-pull at least) and are still members everywhere.
        self.assertTrue(any(g.saw(lambda e: e.get("event") in ("user", "merge")) for g in self.gos))
        self.all_alive(["cairn-1", "cairn-2", "go-1", "go-2"], timeout=5)

    def check_encrypted(self, key):
        self.start_cluster(key=key)
        self.assertIn("encrypt", open(self.agents[0].config_path).read())
        # A node without the key is not let in: its join fails.
        stranger = GoNode("go-plain", "127.0.0.27", join=[f"{self.agents[0].host}:{self.agents[0].gossip_port}"])
        self.gos.append(stranger)
        stranger.start()
        self.assertTrue(stranger.saw(lambda e: e.get("event") == "join_failed"), stranger.events)
        self.assertNotIn("go-plain", cairn_states(self.agents[0]))

    def test_encrypted_16_byte_key(self):
        self.check_encrypted(KEY16)

    def test_encrypted_32_byte_key(self):
        self.check_encrypted(KEY32)


if __name__ == "__main__":
    unittest.main()
