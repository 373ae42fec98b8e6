"""The registry over gossip with real agents: a service registered on one
agent is answered by dig on the others; kill -9 its owner and it leaves every
answer; start the owner again and it returns without re-registration; a
deregistration leaves everywhere. GET /v1/services/{name} names each
instance's owner on every agent; the domain's NS RRset names the live agents
(<node>.node.cairn. with their addresses as glue) and drops a dead one."""

import json
import subprocess
import unittest

from harness import Agent, wait_until

PROFILE = '[gossip]\nprofile = "local"\n'


def dig(agent, name, rdtype="A"):
    out = subprocess.run(["dig", "+short", "+time=1", "+tries=1", f"@{agent.host}", "-p",
                          str(agent.dns_port), name, rdtype],
                         capture_output=True, text=True, timeout=5).stdout
    return sorted(line for line in out.splitlines() if line and not line.startswith(";"))


class Replication(unittest.TestCase):
    def setUp(self):
        self.agents = []
        for i in (1, 2, 3):
            args = ["--join", f"127.0.0.1:{self.agents[0].gossip_port}"] if self.agents else []
            self.agents.append(Agent(config_extra=PROFILE, host=f"127.0.0.{i}", name=f"n{i}", args=args))
        for a in self.agents:
            a.start()
        wait_until(lambda: all(len(json.loads(a.http("GET", "/v1/members")[1])) == 3 for a in self.agents),
                   timeout=10, what="three members everywhere")

    def tearDown(self):
        for a in self.agents:
            if a.proc and a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait()

    def test_register_kill_restart_deregister(self):
        a1, a2, a3 = self.agents
        status, body = a1.http("PUT", "/v1/services", json.dumps(
            {"id": "web-1", "name": "web", "address": "127.0.0.11", "port": 8080}))
        self.assertEqual(status, 200, body)
        for a in (a2, a3):
            wait_until(lambda a=a: dig(a, "web.service.cairn") == ["127.0.0.11"], timeout=1,
                       what=f"web on {a.host}")
        srv = dig(a3, "_web._tcp.service.cairn", "SRV")
        self.assertEqual(len(srv), 1)
        self.assertIn(" 8080 ", srv[0])
        status, body = a3.http("GET", "/v1/services/web")
        self.assertEqual([i["node"] for i in json.loads(body)], ["n1"])
        # Every live agent answers for every agent's node name.
        wait_until(lambda: dig(a3, "n1.node.cairn") == ["127.0.0.1"], timeout=5, what="n1.node on n3")

        a1.proc.kill()
        a1.proc.wait()
        for a in (a2, a3):
            wait_until(lambda a=a: dig(a, "web.service.cairn") == [], timeout=30,
                       what=f"web gone from {a.host}")

        a1.args = ["--join", f"127.0.0.2:{a2.gossip_port}"]
        a1.log.close()
        a1.start()
        for a in (a2, a3):
            wait_until(lambda a=a: dig(a, "web.service.cairn") == ["127.0.0.11"], timeout=10,
                       what=f"web back on {a.host}")

        status, body = a1.http("DELETE", "/v1/services/web-1")
        self.assertEqual(status, 200, body)
        for a in (a2, a3):
            wait_until(lambda a=a: dig(a, "web.service.cairn") == [], timeout=2,
                       what=f"web deregistered on {a.host}")
        status, body = a2.http("GET", "/v1/services/web")
        self.assertIn(status, (200, 404))
        if status == 200:
            self.assertEqual(json.loads(body), [])

    def test_owner_nodes_and_ns_records(self):
        a1, a2, a3 = self.agents
        for a, i in ((a1, 1), (a2, 2)):
            status, body = a.http("PUT", "/v1/services", json.dumps(
                {"id": f"api-{i}", "name": "api", "address": f"127.0.0.{20 + i}", "port": 9000}))
            self.assertEqual(status, 200, body)

        def owners(agent):
            status, body = agent.http("GET", "/v1/services/api")
            return {i["id"]: i["node"] for i in json.loads(body)} if status == 200 else {}

        # Each instance names the agent it was registered with, on every agent.
        for a in self.agents:
            wait_until(lambda a=a: owners(a) == {"api-1": "n1", "api-2": "n2"}, timeout=2,
                       what=f"api's owners on {a.host}")

        # The domain's NS RRset names every live agent, with its address as
        # glue, and each name resolves on its own.
        def ns(agent):
            out = subprocess.run(["dig", "+noall", "+answer", "+additional", "+time=1", "+tries=1",
                                  f"@{agent.host}", "-p", str(agent.dns_port), "cairn.", "NS"],
                                 capture_output=True, text=True, timeout=5).stdout
            names, glue = set(), {}
            for line in out.splitlines():
                f = line.split()
                if len(f) == 5 and f[3] == "NS" and f[0] == "cairn.":
                    names.add(f[4])
                elif len(f) == 5 and f[3] == "A":
                    glue[f[0]] = f[4]
            return names, glue

        everyone = {f"n{i}.node.cairn." for i in (1, 2, 3)}
        for a in self.agents:
            wait_until(lambda a=a: ns(a)[0] == everyone, timeout=5, what=f"three NS on {a.host}")
            self.assertEqual(ns(a)[1], {f"n{i}.node.cairn.": f"127.0.0.{i}" for i in (1, 2, 3)})
        self.assertEqual(dig(a1, "n2.node.cairn"), ["127.0.0.2"])

        # A dead agent leaves the RRset everywhere else.
        a1.proc.kill()
        a1.proc.wait()
        for a in (a2, a3):
            wait_until(lambda a=a: ns(a)[0] == everyone - {"n1.node.cairn."}, timeout=30,
                       what=f"n1 out of the NS RRset on {a.host}")
        self.assertEqual(dig(a3, "n1.node.cairn"), [])


if __name__ == "__main__":
    unittest.main()
