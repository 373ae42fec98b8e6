"""TTL checks through the HTTP API, a real agent and real DNS: an instance
with a TTL check is served only while the application reports within the
TTL, a `warn` report keeps it served (serve_warning = fallback) and `fail`
removes it at once; silence past the TTL makes it critical."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Agent, wait_until  # noqa: E402
from health_dns import served  # noqa: E402

TTL_S = 1.0


class TtlThroughApi(unittest.TestCase):
    def setUp(self):
        self.agent = Agent()
        self.agent.start()
        self.addCleanup(self.agent.stop)
        body = {"id": "app-1", "name": "app", "address": "127.0.0.21", "port": 9000,
                "checks": [{"id": "app-hb", "ttl": f"{int(TTL_S * 1000)}ms"}]}
        status, reply = self.agent.http("PUT", "/v1/services", json.dumps(body))
        self.assertEqual(status, 200, reply)
        # Known to DNS (NODATA, not NXDOMAIN) once the next snapshot is out.
        wait_until(lambda: served(self.agent, "app") is False, timeout=2, what="app known to DNS")

    def report(self, verb):
        status, reply = self.agent.http("PUT", f"/v1/checks/app-hb/{verb}", '{"note": "from the test"}')
        self.assertEqual(status, 200, reply)

    def test_not_served_until_the_first_report(self):
        self.report("pass")
        wait_until(lambda: served(self.agent, "app"), timeout=2, what="app served after a pass")

    def test_silence_past_the_ttl_makes_it_critical(self):
        # Before the report: the TTL runs from when the agent takes it, and
        # the wait for the pass to be served below can take a while on a
        # loaded machine.
        passed_at = time.monotonic()
        self.report("pass")
        wait_until(lambda: served(self.agent, "app"), timeout=2, what="app served after a pass")
        wait_until(lambda: not served(self.agent, "app"), timeout=TTL_S + 3, what="app gone after the TTL")
        self.assertGreaterEqual(time.monotonic() - passed_at, TTL_S * 0.8,
                                "left DNS before its TTL ran out")
        status, reply = self.agent.http("GET", "/v1/services/app")
        self.assertEqual(status, 200, reply)
        self.assertIn("critical", reply.decode())

    def test_fail_removes_at_once_and_warn_is_served_as_fallback(self):
        self.report("pass")
        wait_until(lambda: served(self.agent, "app"), timeout=2, what="app served after a pass")
        self.report("fail")
        wait_until(lambda: not served(self.agent, "app"), timeout=0.5, what="app gone after a fail")
        self.report("warn")
        wait_until(lambda: served(self.agent, "app"), timeout=0.5, what="a warning instance served as fallback")

    def test_unknown_check_is_404_and_changes_nothing(self):
        status, _ = self.agent.http("PUT", "/v1/checks/nope/pass")
        self.assertEqual(status, 404)
        self.assertFalse(served(self.agent, "app"))


if __name__ == "__main__":
    unittest.main()
