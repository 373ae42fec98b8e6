"""Debian's python3-consul (0.7.1), unmodified, against a cairn agent
(docs/consul-compatibility.md): it registers a service with a TTL check,
passes the check, reads health.service with a blocking index (the read is
held until the pass changes the service, then answers with a higher index),
and deregisters; dig sees the instance come and go."""
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Agent, wait_until  # noqa: E402

try:
    import consul
except ImportError:  # tools/deps.sh installs python3-consul
    consul = None


class PythonConsul(unittest.TestCase):
    def setUp(self):
        if consul is None:
            self.skipTest("python3-consul is not installed (tools/deps.sh)")
        self.agent = Agent()
        self.agent.start()
        self.addCleanup(self.agent.stop)
        self.c = consul.Consul(host="127.0.0.1", port=self.agent.http_port)

    def dig(self):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.agent.dns_port), "+tries=1", "+time=2",
                              "web.service.cairn", "A"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_register_pass_block_deregister(self):
        self.assertTrue(self.c.agent.service.register("web", service_id="web-1", address="127.0.0.1", port=8080,
                                                      tags=["v1"], check=consul.Check.ttl("10s")))
        checks = self.c.agent.checks()
        ids = [cid for cid, chk in checks.items() if chk.get("ServiceID") == "web-1"]
        self.assertEqual(len(ids), 1, checks)
        check_id = ids[0]
        self.assertEqual(checks[check_id]["Status"], "critical")  # a TTL check starts critical

        index, nodes = self.c.health.service("web", passing=True)
        self.assertEqual(nodes, [])
        self.assertGreaterEqual(int(index), 1)

        result = {}

        def watch():
            result["reply"] = self.c.health.service("web", index=index, wait="10s", passing=True)
            result["at"] = time.monotonic()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        # Held: nothing changed yet. (A short look; the real bound is below.)
        watcher.join(timeout=0.5)
        self.assertTrue(watcher.is_alive(), f"the blocking read returned before any change: {result}")
        passed_at = time.monotonic()
        self.c.agent.check.ttl_pass(check_id, "ok from python-consul")
        watcher.join(timeout=5)
        self.assertFalse(watcher.is_alive(), "the blocking read did not return after the pass")
        new_index, nodes = result["reply"]
        self.assertGreater(int(new_index), int(index))
        self.assertLess(result["at"] - passed_at, 2.0)
        self.assertEqual([n["Service"]["ID"] for n in nodes], ["web-1"])
        self.assertEqual(nodes[0]["Service"]["Port"], 8080)
        self.assertEqual(nodes[0]["Service"]["Tags"], ["v1"])
        self.assertTrue(all(chk["Status"] == "passing" for chk in nodes[0]["Checks"]), nodes[0]["Checks"])
        wait_until(lambda: "127.0.0.1" in self.dig(), timeout=5, what="dig to answer with the instance")

        self.assertTrue(self.c.agent.service.deregister("web-1"))
        _, nodes = self.c.health.service("web")
        self.assertEqual(nodes, [])
        self.assertNotIn("web-1", self.c.agent.services())
        wait_until(lambda: "NXDOMAIN" in self.dig(), timeout=5, what="dig to stop answering")


if __name__ == "__main__":
    unittest.main()
