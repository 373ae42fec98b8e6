"""The registry over gossip with real agents: a service registered on one
agent is answered by dig on the others; kill -9 its owner and it leaves every
answer; start the owner again and it returns without re-registration; a
deregistration leaves everywhere."""

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


if __name__ == "__main__":
    unittest.main()
