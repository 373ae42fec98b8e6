"""SIGHUP reloads zones and configuration; a bad reload logs why (file:line)
and the old state keeps serving."""
import os
import re
import signal
import sys
import unittest

import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_util as util  # noqa: E402
from harness import Agent, wait_until  # noqa: E402


class Reload(unittest.TestCase):
    def setUp(self):
        self.agent = Agent(zones={"example.test.zone": util.zone(serial=1, www="192.0.2.10")})
        self.zone_path = os.path.join(self.agent.zones_dir, "example.test.zone")
        util.start_dns(self.agent)

    def tearDown(self):
        self.agent.stop()

    def count(self, text):
        return self.agent.read_log().count(text)

    def hup_and_wait(self, outcome):
        """Sends SIGHUP and waits for one more log line containing outcome."""
        before = self.count(outcome)
        self.agent.signal(signal.SIGHUP)
        wait_until(lambda: self.count(outcome) > before, timeout=10, what=f"{outcome} in the log")

    def test_broken_zone_keeps_the_old_zone_serving(self):
        self.assertEqual(util.www_address(self.agent), ["192.0.2.10"])
        util.write(self.zone_path, util.zone(serial=2, www="192.0.2.20") + "broken IN A 300.1.2.3\n")
        broken_line = util.line_of(self.zone_path, "broken")
        self.hup_and_wait("msg=reload.failed")
        log = self.agent.read_log()
        failed = [line for line in log.splitlines() if "msg=reload.failed" in line][-1]
        reported = re.search(r"example\.test\.zone:(\d+):", failed)
        self.assertIsNotNone(reported, f"the error names the zone file and a line: {failed}")
        # ldns counts the newline of the bad line before it reports, so the
        # loader may name the next line; anything else is wrong.
        self.assertIn(int(reported.group(1)), (broken_line, broken_line + 1), failed)
        self.assertEqual(util.www_address(self.agent), ["192.0.2.10"], "the old zone keeps serving")
        self.assertEqual(self.agent.proc.poll(), None)

        # Fixed: the new data is served.
        util.write(self.zone_path, util.zone(serial=3, www="192.0.2.30"))
        self.hup_and_wait("msg=reload.done")
        self.assertEqual(util.www_address(self.agent), ["192.0.2.30"])
        r = self.agent.query("example.test.", "SOA")
        self.assertEqual(r.answer[0][0].serial, 3)

    def test_new_and_removed_zone_files(self):
        util.write(os.path.join(self.agent.zones_dir, "other.test.zone"),
                   "$ORIGIN other.test.\n$TTL 60\n@ IN SOA ns1 h 1 1 1 1 1\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"
                   "api IN A 192.0.2.99\n")
        self.hup_and_wait("msg=reload.done")
        self.assertEqual(util.addresses(self.agent.query("api.other.test.", "A")), ["192.0.2.99"])
        os.remove(os.path.join(self.agent.zones_dir, "other.test.zone"))
        self.hup_and_wait("msg=reload.done")
        self.assertEqual(self.agent.query("api.other.test.", "A").rcode(), dns.rcode.REFUSED)

    def test_bad_config_keeps_running_and_names_key_and_line(self):
        original = util.read(self.agent.config_path)
        util.append(self.agent.config_path, "\n[log]\nlevell = \"debug\"\n")
        line = util.line_of(self.agent.config_path, "levell")
        self.hup_and_wait("msg=reload.failed")
        failed = [x for x in self.agent.read_log().splitlines() if "msg=reload.failed" in x][-1]
        self.assertIn(f"{self.agent.config_path}:{line}: log.levell: unknown key", failed)
        self.assertEqual(util.www_address(self.agent), ["192.0.2.10"])
        self.assertTrue(util.serves(self.agent))

        util.write(self.agent.config_path, original)
        self.hup_and_wait("msg=reload.done")

    def test_negative_ttl_applies_without_restart(self):
        def soa_minimum():
            return self.agent.query("cairn.", "SOA").answer[0][0].minimum
        self.assertEqual(soa_minimum(), 5)
        text = util.read(self.agent.config_path).replace("[dns]\n", "[dns]\nnegative_ttl = \"7s\"\n", 1)
        util.write(self.agent.config_path, text)
        self.hup_and_wait("msg=reload.done")
        self.assertEqual(soa_minimum(), 7)

    def test_settings_that_need_a_restart_are_kept_and_named(self):
        text = util.read(self.agent.config_path).replace("workers = 1", "workers = 2", 1)
        util.write(self.agent.config_path, text)
        self.hup_and_wait("msg=reload.done")
        self.assertIn("msg=reload.ignored key=dns.workers", self.agent.read_log())
        self.assertTrue(util.serves(self.agent))

    def test_log_level_applies(self):
        # Level warn, plus a restart-only change whose warning tells us the reload ran.
        text = util.read(self.agent.config_path).replace("workers = 1", "workers = 2", 1)
        util.write(self.agent.config_path, text + "\n[log]\nlevel = \"warn\"\n")
        self.hup_and_wait("msg=reload.ignored key=dns.workers")
        starts = self.count("msg=reload.start")
        # At level warn, a failing reload logs its error but no info lines.
        text = util.read(self.agent.config_path)
        util.write(self.agent.config_path, "bogus_key = 1\n" + text)
        self.hup_and_wait("msg=reload.failed")
        self.assertEqual(self.count("msg=reload.start"), starts)
        self.assertNotIn("msg=reload.done", self.agent.read_log().split("msg=reload.ignored")[-1])


class ConfigServices(unittest.TestCase):
    """[[service]] entries reach DNS, and a reload adds, changes and removes them."""

    def setUp(self):
        self.agent = Agent(config_extra='[[service]]\nname = "web"\nport = 8080\n')
        util.start_dns(self.agent)

    def tearDown(self):
        self.agent.stop()

    def srv_ports(self, name="web.service.cairn."):
        r = self.agent.query(name, "SRV", timeout=0.5)
        if r.rcode() != dns.rcode.NOERROR:
            return r.rcode()
        return sorted(rr.port for rrset in r.answer for rr in rrset if rrset.rdtype == dns.rdatatype.SRV)

    def test_config_service_answers_and_follows_reloads(self):
        wait_until(lambda: self.srv_ports() == [8080], timeout=5, what="web.service.cairn SRV 8080")
        self.assertEqual(util.addresses(self.agent.query("web.service.cairn.", "A")), ["127.0.0.1"])

        text = util.read(self.agent.config_path)
        text = text.replace("port = 8080", "port = 8081")
        text += '\n[[service]]\nname = "api"\nport = 9000\naddress = "127.0.0.9"\n'
        util.write(self.agent.config_path, text)
        self.agent.signal(signal.SIGHUP)
        wait_until(lambda: self.srv_ports() == [8081], timeout=5, what="the changed port")
        wait_until(lambda: util.addresses(self.agent.query("api.service.cairn.", "A")) == ["127.0.0.9"],
                   timeout=5, what="the added service")

        text = re.sub(r'\[\[service\]\]\nname = "web"\nport = 8081\n', "", text)
        util.write(self.agent.config_path, text)
        self.agent.signal(signal.SIGHUP)
        wait_until(lambda: self.srv_ports() == dns.rcode.NXDOMAIN, timeout=5, what="the removed service to go")
        self.assertEqual(util.addresses(self.agent.query("api.service.cairn.", "A")), ["127.0.0.9"])


if __name__ == "__main__":
    unittest.main()
