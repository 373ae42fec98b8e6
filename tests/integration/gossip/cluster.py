"""Three real agents on 127.0.0.1-3 that find each other by gossip: join with
--join, kill -9 one (the others mark it dead), start it again (alive with a
higher incarnation), stop one with SIGTERM (the others see it left)."""

import json
import unittest

from harness import Agent, wait_until

PROFILE = '[gossip]\nprofile = "local"\n'
# local profile: suspicion 3 x max(1, log10(3)) x 1 s = 3 s, up to 6x that; with
# the probe round and gossip of the dead message, well under 30 s.
DETECT_S = 30


def members(agent):
    status, body = agent.http("GET", "/v1/members")
    assert status == 200, (status, body)
    return {m["name"]: m for m in json.loads(body)}


def states(agent):
    return {name: m["state"] for name, m in members(agent).items()}


class Cluster(unittest.TestCase):
    def setUp(self):
        self.agents = []
        seed = None
        for i in (1, 2, 3):
            args = ["--join", f"127.0.0.1:{seed.gossip_port}"] if seed else []
            a = Agent(config_extra=PROFILE, host=f"127.0.0.{i}", name=f"n{i}", args=args)
            self.agents.append(a)
            seed = seed or a
        for a in self.agents:
            a.start()

    def tearDown(self):
        for a in self.agents:
            if a.proc and a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait()

    def all_see(self, name, state, among, timeout):
        wait_until(lambda: all(states(a).get(name) == state for a in among), timeout=timeout,
                   what=f"{name} {state} on {[a.host for a in among]}")

    def test_join_kill_restart_leave(self):
        a1, a2, a3 = self.agents
        for n in ("n1", "n2", "n3"):
            self.all_see(n, "alive", self.agents, timeout=10)
        m = members(a1)["n2"]
        self.assertEqual(m["address"], "127.0.0.2")
        self.assertEqual(m["port"], a2.gossip_port)
        self.assertEqual(m["datacenter"], "dc1")
        self.assertEqual(m["protocol"], {"min": 1, "max": 5, "current": 2})

        before = members(a1)["n3"]["incarnation"]
        a3.proc.kill()
        a3.proc.wait()
        self.all_see("n3", "dead", [a1, a2], timeout=DETECT_S)
        self.assertIn("gossip.member_dead", a1.read_log() + a2.read_log())

        a3.args = ["--join", f"127.0.0.1:{a1.gossip_port}"]
        a3.log.close()
        a3.start()
        self.all_see("n3", "alive", self.agents, timeout=10)
        self.assertGreater(members(a1)["n3"]["incarnation"], before)

        self.assertEqual(a2.stop(), 0)
        self.all_see("n2", "left", [a1, a3], timeout=5)

    def test_join_retries_until_a_seed_answers(self):
        # n2 and n3 were told to join n1; a fourth agent joins a seed that is
        # not up yet, which starts later: the retry finds it.
        a1 = self.agents[0]
        late = Agent(config_extra=PROFILE, host="127.0.0.4", name="late")
        early = Agent(config_extra=PROFILE, host="127.0.0.5", name="early",
                      args=["--join", f"127.0.0.4:{late.gossip_port}"])
        try:
            early.start()
            wait_until(lambda: "gossip.join" in early.read_log(), timeout=5, what="a join attempt")
            late.args = ["--join", f"127.0.0.1:{a1.gossip_port}"]
            late.start()
            self.all_see("early", "alive", [a1, late], timeout=20)
        finally:
            for a in (early, late):
                a.stop()


if __name__ == "__main__":
    unittest.main()
