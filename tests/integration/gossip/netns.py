"""The registry over gossip across real network trouble: every cairn agent in a
network namespace of its own, its veth on a bridge in another namespace made
for the run, addresses 10.200.0.x that exist only inside those namespaces (no
namespace has a route out, nothing reaches the machine's own network).

- partition: one agent's cable is pulled (its veth on the bridge set down);
  while it is cut off a service is deregistered and another registered on the
  other side, and one registered on the cut-off agent; after the heal every
  agent answers the new ones and none the deregistered one, within a bound;
- loss: 20% of the packets arriving on every agent's interface are dropped
  (`tc netem loss 20%` on egress where the kernel has sch_netem, else an
  nftables `numgen random` drop on ingress: the same loss per hop); 20
  services registered on random agents reach every agent's DNS within a bound,
  then every other one, deregistered by its owner, leaves every agent's DNS.

Talks to each agent from inside its namespace (`ip netns exec NS dig/curl`).
Needs root, network namespaces, veth and a bridge; without those, or without
any way to lose packets, it fails (it does not skip). Every namespace, and
with it every interface, is deleted on every way out: the end of a test, a
failed assertion, SIGTERM from meson's timeout, the interpreter's exit.
Names carry the pid and a random part, so parallel runs do not collide."""

import json
import os
import random
import re
import secrets
import shutil
import subprocess
import time
import unittest

from harness import CAIRN_BIN, wait_until
from sandbox import LogsOnFailure, add_namespace, cleanup, run, started, temp_dir

SUBNET = "10.200.0"
DNS_PORT, HTTP_PORT, GOSSIP_PORT = 8600, 8500, 8301
# The local profile: probe 1 s, suspicion 3 s at three nodes (confirmed by the
# other side), push-pull every 15 s.
PROFILE = '[gossip]\nprofile = "local"\n'

class Net:
    """A bridge namespace and one namespace per agent, each joined to the bridge
    by a veth pair (eth0 inside the agent's namespace, v<i> on the bridge)."""

    def __init__(self, n):
        self.tag = f"cairn-nt-{os.getpid()}-{secrets.token_hex(3)}"
        self.bridge_ns = add_namespace(f"{self.tag}-br")
        run("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        self.namespaces = []
        for i in range(1, n + 1):
            ns = add_namespace(f"{self.tag}-{i}")
            # Made inside the bridge namespace and moved: no interface ever
            # appears in the machine's own namespace.
            run("ip", "-n", self.bridge_ns, "link", "add", f"v{i}", "type", "veth",
                "peer", "name", "eth0", "netns", ns)
            run("ip", "-n", self.bridge_ns, "link", "set", f"v{i}", "master", "br0", "up")
            run("ip", "-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            self.namespaces.append(ns)

    @staticmethod
    def address(i):
        return f"{SUBNET}.{i}"

    def cut(self, i):
        run("ip", "-n", self.bridge_ns, "link", "set", f"v{i}", "down")

    def heal(self, i):
        run("ip", "-n", self.bridge_ns, "link", "set", f"v{i}", "up")

    def lose(self, percent):
        """Drops `percent`% of the packets on every agent's link; returns how.
        CAIRN_NETNS_LOSS=netem or =nftables insists on one way (netem then
        fails the test where the kernel lacks it)."""
        how = os.environ.get("CAIRN_NETNS_LOSS") or None
        if how not in (None, "netem", "nftables"):
            raise AssertionError(f"CAIRN_NETNS_LOSS={how}: netem or nftables")
        for ns in self.namespaces:
            how = lose_packets(ns, percent, how)
        self.loss = how
        return how

    def dropped(self):
        """Packets dropped so far by the loss on every agent's link, in all."""
        total = 0
        for ns in self.namespaces:
            if self.loss == "netem":
                out = run("ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", "eth0").stdout
                total += int(re.search(r"dropped (\d+)", out).group(1))
            else:
                out = run("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "cairn_loss").stdout
                total += int(re.search(r"counter packets (\d+)", out).group(1))
        return total


def lose_packets(ns, percent, how=None):
    netem_error = "not tried"
    if how in (None, "netem"):
        r = run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root",
                "netem", "loss", f"{percent}%", check=False)
        if r.returncode != 0 and how is None and shutil.which("modprobe"):
            run("modprobe", "sch_netem", check=False)
            r = run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root",
                    "netem", "loss", f"{percent}%", check=False)
        if r.returncode == 0:
            return "netem"
        if how == "netem":
            raise AssertionError(f"tc netem in {ns}: {r.stderr.strip()}")
        netem_error = r.stderr.strip()
    # No sch_netem in this kernel: nftables drops as many, at random, on the
    # way in (a drop on the way out would fail the sender's sendto with EPERM,
    # which a lost packet never does).
    if not shutil.which("nft"):
        raise AssertionError("no way to lose packets: tc netem failed "
                             f"({netem_error}) and nft (Debian's nftables) is not installed")
    rules = ("table inet cairn_loss {\n"
             "  chain input {\n"
             "    type filter hook input priority 0; policy accept;\n"
             f"    iifname \"eth0\" numgen random mod 100 < {percent} counter drop\n"
             "  }\n"
             "}\n")
    run("ip", "netns", "exec", ns, "nft", "-f", "-", input=rules)
    return "nftables"


class NsAgent:
    """One cairn agent inside namespace `ns`, on 10.200.0.<i>."""

    def __init__(self, net, i, join=None):
        self.ns = net.namespaces[i - 1]
        self.name = f"n{i}"
        self.host = net.address(i)
        self.dir = temp_dir("cairn-netns-")
        self.config_path = os.path.join(self.dir, "agent.toml")
        with open(self.config_path, "w") as f:
            f.write(f'node_name = "{self.name}"\n'
                    f'data_dir = "{self.dir}/data"\n'
                    f'advertise_address = "{self.host}"\n'
                    f'[dns]\nlisten = ["{self.host}:{DNS_PORT}"]\nworkers = 1\n'
                    f'zones_dir = "{self.dir}/zones"\n'
                    f'[http]\nlisten = "{self.host}:{HTTP_PORT}"\n'
                    f'{PROFILE}bind = "{self.host}:{GOSSIP_PORT}"\n')
        os.makedirs(os.path.join(self.dir, "zones"))
        self.args = ["--join", f"{join}:{GOSSIP_PORT}"] if join else []
        self.log_path = os.path.join(self.dir, "agent.log")
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            # `ip netns exec` execs the agent, so this is the agent's pid.
            self.proc = started(subprocess.Popen(["ip", "netns", "exec", self.ns, CAIRN_BIN, "agent",
                                                  "--config", self.config_path, *self.args],
                                                 stdout=log, stderr=subprocess.STDOUT))
        return self

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.read_log()}")
        return True

    def http(self, method, path, body=None):
        """(status, body) of a request made from inside the agent's namespace."""
        r = run("ip", "netns", "exec", self.ns, "curl", "-s", "-m", "3", "-X", method,
                "-o", "-", "-w", "\n%{http_code}", *(["--data-binary", "@-"] if body else []),
                f"http://{self.host}:{HTTP_PORT}{path}", input=body, check=False)
        text, _, code = r.stdout.rpartition("\n")
        return int(code or 0), text

    def members(self):
        self.alive()
        status, body = self.http("GET", "/v1/members")
        return {m["name"]: m["state"] for m in json.loads(body)} if status == 200 else {}

    def answers(self, names):
        """{name: sorted A records} for each service name, asked with dig in
        the agent's namespace (one dig for all names)."""
        self.alive()
        qnames = [f"{n}.service.cairn" for n in names]
        r = run("ip", "netns", "exec", self.ns, "dig", "+noall", "+answer", "+time=1", "+tries=1",
                f"@{self.host}", "-p", str(DNS_PORT), *[a for q in qnames for a in (q, "A")],
                check=False)
        got = {n: [] for n in names}
        for line in r.stdout.splitlines():
            fields = line.split()
            if len(fields) == 5 and fields[3] == "A":
                owner = fields[0].rstrip(".").removesuffix(".service.cairn")
                if owner in got:
                    got[owner].append(fields[4])
        return {n: sorted(v) for n, v in got.items()}

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


def service(name, address):
    return json.dumps({"id": name, "name": name, "address": address, "port": 8080})


class Netns(LogsOnFailure, unittest.TestCase):
    def setUp(self):
        self.addCleanup(cleanup)

    def start_cluster(self, n):
        self.net = Net(n)
        self.agents = [NsAgent(self.net, i, join=None if i == 1 else Net.address(1))
                       for i in range(1, n + 1)]
        for a in self.agents:
            a.start()
        names = {a.name for a in self.agents}
        wait_until(lambda: all(set(k for k, v in a.members().items() if v == "alive") == names
                               for a in self.agents),
                   timeout=10, interval=0.1, what=f"{n} members alive everywhere")
        self.print_logs_on_failure(lambda: [(a.name, a.read_log()[-4000:]) for a in self.agents])

    def register(self, agent, name, address):
        status, body = agent.http("PUT", "/v1/services", service(name, address))
        self.assertEqual(status, 200, body)

    def wait_answers(self, expected, agents, timeout, what):
        """Polls until every agent answers exactly `expected` ({name: [A]})."""
        names = list(expected)
        wait_until(lambda: all(a.answers(names) == expected for a in agents), timeout=timeout,
                   interval=0.1, what=what)

    def test_partition_deregister_register_heal(self):
        self.start_cluster(3)
        a1, a2, a3 = self.agents
        self.register(a1, "old", "192.0.2.1")
        self.register(a1, "keep", "192.0.2.2")
        self.wait_answers({"old": ["192.0.2.1"], "keep": ["192.0.2.2"]}, self.agents, timeout=5,
                          what="old and keep everywhere")

        # Pull n3's cable: the others declare it dead, it suspects them.
        self.net.cut(3)
        cut_at = time.monotonic()
        wait_until(lambda: a1.members().get("n3") == "dead" and a2.members().get("n3") == "dead"
                   and all(a3.members().get(n) != "alive" for n in ("n1", "n2")),
                   timeout=12, interval=0.2, what="the partition seen from both sides")
        print(f"partition seen from both sides after {time.monotonic() - cut_at:.1f} s")

        status, body = a1.http("DELETE", "/v1/services/old")
        self.assertEqual(status, 200, body)
        self.register(a1, "new", "192.0.2.3")
        self.register(a3, "lonely", "192.0.2.4")
        expected_majority = {"old": [], "keep": ["192.0.2.2"], "new": ["192.0.2.3"], "lonely": []}
        self.wait_answers(expected_majority, [a1, a2], timeout=5, what="the change on n1 and n2")
        # n3 cannot have heard of "new": it was registered after the cut.
        self.assertEqual(a3.answers(["new", "lonely"]), {"new": [], "lonely": ["192.0.2.4"]})

        self.net.heal(3)
        healed = time.monotonic()
        everything = {"old": [], "keep": ["192.0.2.2"], "new": ["192.0.2.3"], "lonely": ["192.0.2.4"]}
        # The others hold n3 dead and have nothing left to gossip to it: n3
        # learns of its death at its next push-pull (every 15 s) and refutes;
        # then the replicas exchange digests. If n3's own suspicions ran out
        # first (18 s after the cut with nobody to confirm them), it has no
        # live member to push-pull with, and the heal waits for a reconnect
        # (every 30 s): that, and margin.
        self.wait_answers(everything, self.agents, timeout=40, what="the same answers everywhere after the heal")
        print(f"converged {time.monotonic() - healed:.1f} s after the heal")
        names = {a.name for a in self.agents}
        wait_until(lambda: all({k for k, v in a.members().items() if v == "alive"} == names
                               for a in self.agents), timeout=5, interval=0.2, what="three alive")
        # Still so once membership is whole: the stale copy of "old" on n3
        # did not come back.
        self.wait_answers(everything, self.agents, timeout=1, what="no stale copy back")

    def test_loss_20_percent(self):
        n = 5
        self.start_cluster(n)
        how = self.net.lose(20)
        print(f"20% loss on every agent's link by {how}")
        seed = int(os.environ.get("CAIRN_NETNS_SEED") or random.randrange(1 << 30))
        rng = random.Random(seed)
        expected, owners = {}, {}
        started = time.monotonic()
        for k in range(20):
            owner = rng.choice(self.agents)
            address = f"192.0.2.{k + 10}"
            self.register(owner, f"s{k}", address)
            expected[f"s{k}"] = [address]
            owners[f"s{k}"] = owner
        # Broadcasts relayed by every agent, and push-pull (every 15 s) for
        # what they miss: two push-pull rounds and margin.
        try:
            self.wait_answers(expected, self.agents, timeout=40,
                              what="20 registrations on every agent's DNS under 20% loss")
        except AssertionError:
            missing = {a.name: [k for k, v in a.answers(list(expected)).items() if v != expected[k]]
                       for a in self.agents}
            raise AssertionError(f"seed {seed} (CAIRN_NETNS_SEED): missing {missing}") from None
        print(f"all 20 on all {n} agents {time.monotonic() - started:.1f} s after the first "
              f"registration (seed {seed})")
        # And every other one deregistered by its owner: gone everywhere.
        started = time.monotonic()
        for k in range(0, 20, 2):
            status, body = owners[f"s{k}"].http("DELETE", f"/v1/services/s{k}")
            self.assertEqual(status, 200, body)
            expected[f"s{k}"] = []
        self.wait_answers(expected, self.agents, timeout=40,
                          what="10 deregistrations on every agent's DNS under 20% loss")
        dropped = self.net.dropped()
        print(f"10 deregistrations gone from all {n} agents after {time.monotonic() - started:.1f} s; "
              f"{dropped} packets lost in all")
        self.assertGreater(dropped, 0, "the loss dropped nothing")


if __name__ == "__main__":
    unittest.main()
