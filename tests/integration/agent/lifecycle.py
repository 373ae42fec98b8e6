"""The agent starts, answers the SOA of its domain over UDP and TCP, logs its
startup steps, and stops cleanly (exit 0) on SIGTERM and SIGINT."""
import os
import signal
import sys
import unittest

import dns.flags
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_util as util  # noqa: E402
from harness import Agent  # noqa: E402


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.agent = Agent(zones={"example.test.zone": util.zone()})
        util.start_dns(self.agent)

    def tearDown(self):
        if self.agent.proc.poll() is None:
            self.agent.stop()
        else:
            self.agent.log.close()

    def test_answers_soa_of_its_domain(self):
        for tcp in (False, True):
            r = util.soa(self.agent, tcp=tcp)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertTrue(r.flags & dns.flags.AA, "the SOA answer is authoritative")
            self.assertEqual([rrset.rdtype for rrset in r.answer], [dns.rdatatype.SOA])
            self.assertEqual(str(r.answer[0].name), "cairn.")

    def test_serves_the_zones_dir(self):
        self.assertEqual(util.www_address(self.agent), ["192.0.2.10"])

    def test_logs_each_startup_step_with_fields(self):
        log = self.agent.read_log()
        for step in ("msg=agent.start", "msg=data_dir.ready", "msg=registry.ready", "msg=zones.loaded",
                     "msg=dns.listen", "msg=services.synced", "msg=agent.ready"):
            self.assertIn(step, log)
        self.assertIn("node=test-node", log)
        self.assertIn(f"127.0.0.1:{self.agent.dns_port}", log)
        self.assertTrue(os.path.isdir(os.path.join(self.agent.dir, "data")), "data_dir is created")

    def test_sigterm_stops_cleanly(self):
        self.assertEqual(util.stop_and_wait(self.agent, signal.SIGTERM), 0)
        log = self.agent.read_log()
        self.assertIn("signal=SIGTERM", log)
        self.assertIn("msg=agent.stopped exit_code=0", log)

    def test_sigint_stops_cleanly(self):
        self.assertEqual(util.stop_and_wait(self.agent, signal.SIGINT), 0)
        self.assertIn("signal=SIGINT", self.agent.read_log())

    def test_port_is_free_again_after_stop(self):
        self.assertEqual(util.stop_and_wait(self.agent, signal.SIGTERM), 0)
        again = Agent(zones={"example.test.zone": util.zone()})
        # Reuse the same DNS port: a clean stop released it.
        again.dns_port = self.agent.dns_port
        with open(again.config_path) as f:
            text = f.read()
        import re
        text = re.sub(r'listen = \["127\.0\.0\.1:\d+"\]', f'listen = ["127.0.0.1:{self.agent.dns_port}"]', text)
        util.write(again.config_path, text)
        util.start_dns(again)
        try:
            self.assertEqual(util.www_address(again), ["192.0.2.10"])
        finally:
            again.stop()


class JsonLogs(unittest.TestCase):
    def test_log_format_json_writes_one_object_per_line(self):
        import json
        agent = Agent(config_extra="[log]\nformat = \"json\"\nlevel = \"debug\"\n")
        util.start_dns(agent)
        try:
            lines = [line for line in agent.read_log().splitlines() if line.strip()]
            self.assertTrue(lines)
            records = [json.loads(line) for line in lines]
            self.assertIn("agent.ready", [r["msg"] for r in records])
            self.assertTrue(all("ts" in r and "level" in r for r in records))
        finally:
            agent.stop()


if __name__ == "__main__":
    unittest.main()
