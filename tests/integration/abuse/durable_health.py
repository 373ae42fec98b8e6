"""Health writes across kill -9 and restart (issue 14, item 1: maintenance
and "TTL update where it changes health" are durable, as registrations are).

A report that changes a TTL check's status is answered 200 only once it is
stored: kill -9 right after the 200 and restart, and the check has that
status, that note, and DNS serves (or hides) the instance accordingly. A
TTL that expired (no heartbeat, so critical) stays critical across a
restart instead of coming back as the last report's passing. A passing TTL
check restored at start gets one ttl to hear from its application again,
then expires as any other. Maintenance switched on or off is there after
kill -9 right after its 200.
"""
import json
import signal
import unittest

import dns.rcode

from harness import Agent, wait_until
from storage_util import start_serving

LONG_TTL = "60s"  # never runs out during a test
SHORT_TTL_S = 1.0


class TtlAcrossRestart(unittest.TestCase):
    def setUp(self):
        self.agent = start_serving(Agent())
        self.addCleanup(self.stop)
        self.register("app-1", "127.0.0.21", LONG_TTL)
        self.register("app-2", "127.0.0.22", f"{int(SHORT_TTL_S * 1000)}ms")

    def stop(self):
        if self.agent.proc and self.agent.proc.poll() is None:
            self.assertEqual(self.agent.stop(timeout=30), 0)

    def register(self, instance_id, address, ttl):
        body = {"id": instance_id, "name": instance_id, "address": address, "port": 9000,
                "checks": [{"id": f"{instance_id}:hb", "ttl": ttl}]}
        status, reply = self.agent.http("PUT", "/v1/services", json.dumps(body))
        self.assertEqual(status, 200, reply)

    def report(self, instance_id, verb, note):
        status, reply = self.agent.http("PUT", f"/v1/checks/{instance_id}:hb/{verb}",
                                        json.dumps({"note": note}))
        self.assertEqual(status, 200, reply)

    def check(self, instance_id):
        status, reply = self.agent.http("GET", f"/v1/services/{instance_id}")
        self.assertEqual(status, 200, reply)
        [instance] = json.loads(reply)
        [c] = instance["checks"]
        return c

    def served(self, instance_id):
        r = self.agent.query(f"{instance_id}.service.cairn.", "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        return [rr.address for rrset in r.answer for rr in rrset]

    def kill_and_restart(self):
        self.agent.proc.send_signal(signal.SIGKILL)
        self.agent.proc.wait(timeout=10)
        self.agent.log.close()
        start_serving(self.agent)

    def test_a_report_that_changes_health_survives_kill_9_right_after_its_200(self):
        for verb, status, note in [("pass", "passing", "up"), ("warn", "warning", "slow"),
                                   ("fail", "critical", "down"), ("pass", "passing", "up again")]:
            with self.subTest(verb=verb):
                self.report("app-1", verb, note)
                self.kill_and_restart()
                c = self.check("app-1")
                self.assertEqual((c["status"], c["output"]), (status, note))
                # serve_warning = fallback: a warning instance is served when no passing one is.
                self.assertEqual(self.served("app-1"), [] if status == "critical" else ["127.0.0.21"])

    def test_an_expired_ttl_stays_critical_across_a_restart(self):
        self.report("app-2", "pass", "alive")
        wait_until(lambda: self.check("app-2")["status"] == "critical", timeout=SHORT_TTL_S + 5,
                   what="app-2's TTL to expire")
        expired = self.check("app-2")
        self.assertIn("TTL expired", expired["output"])
        # The expiry's commit was queued before this registration's: once
        # this one is acknowledged, that one is stored.
        self.register("sync-1", "127.0.0.23", LONG_TTL)
        self.kill_and_restart()
        c = self.check("app-2")
        self.assertEqual(c["status"], "critical")
        self.assertIn("TTL expired", c["output"])
        self.assertEqual(c.get("last_change"), expired.get("last_change"), "the stored expiry, not a new one")
        self.assertEqual(self.served("app-2"), [])

    def test_a_restored_passing_ttl_check_expires_one_ttl_after_the_start(self):
        self.report("app-2", "pass", "alive")
        self.kill_and_restart()
        wait_until(lambda: self.check("app-2")["status"] == "critical", timeout=SHORT_TTL_S + 5,
                   what="app-2 to expire after the restart")
        self.assertIn("TTL expired", self.check("app-2")["output"])
        self.assertEqual(self.served("app-2"), [])

    def test_maintenance_survives_kill_9_right_after_its_200(self):
        self.report("app-1", "pass", "up")
        for enable, health in [("true", "maintenance"), ("false", "passing")]:
            with self.subTest(enable=enable):
                status, reply = self.agent.http("PUT", f"/v1/services/app-1/maintenance?enable={enable}&reason=deploy")
                self.assertEqual(status, 200, reply)
                self.kill_and_restart()
                status, reply = self.agent.http("GET", "/v1/services/app-1")
                [instance] = json.loads(reply)
                self.assertEqual(instance["health"], health)
                self.assertEqual(self.served("app-1"), [] if enable == "true" else ["127.0.0.21"])


if __name__ == "__main__":
    unittest.main()
