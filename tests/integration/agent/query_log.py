"""[log] queries: a real agent logs one dns.query line per answered query,
UDP and TCP, at most queries_per_second a second (bursts of as many), says
how many it left out in a dns.query.suppressed line, writes JSON lines with
format = "json", and writes no query line at all while queries is off."""
import json
import re
import time
import unittest

import harness

RATE = 5
WEB = '{"name": "web", "port": 8080, "address": "127.0.0.1"}'


def query_lines(agent):
    return [line for line in agent.read_log().splitlines() if "dns.query" in line]


class QueryLog(unittest.TestCase):
    def test_off_by_default_logs_no_query(self):
        with harness.Agent(name="q0") as a:
            for _ in range(20):
                a.query("cairn.service.cairn.")
            a.query("cairn.service.cairn.", tcp=True)
            a.stop()
            self.assertEqual(query_lines(a), [])

    def test_a_burst_is_limited_and_the_rest_counted(self):
        a = harness.Agent(name="q1", config_extra=f"[log]\nqueries = true\nqueries_per_second = {RATE}\n")
        with a:
            self.assertEqual(a.http("PUT", "/v1/services", WEB)[0], 200)
            harness.wait_until(lambda: a.query("web.service.cairn.", "SRV").answer, timeout=5,
                               what="web in DNS")
            time.sleep(1.1)  # the bucket full again, and the probes' lines out
            a.read_log()
            started = time.monotonic()
            before = len(query_lines(a))
            sent = 0
            for i in range(40):  # far above the rate: most are left out
                a.query(f"burst{i}.service.cairn.", tcp=(i % 2 == 1))
                sent += 1
            # A second later, one more: the suppressed count goes out with it.
            time.sleep(1.1)
            a.query("web.service.cairn.", "SRV")
            sent += 1
            elapsed = time.monotonic() - started
            harness.wait_until(lambda: any("msg=dns.query " in l and "qtype=SRV" in l for l in query_lines(a)),
                               timeout=5, what="the last query's line")
            lines = query_lines(a)[before:]
        # The probes' own suppressed count goes out a second after them, or
        # just before the next line: on a loaded machine, after `before`.
        # It is not the burst's, so the burst's lines start at its first.
        lines = lines[next(i for i, l in enumerate(lines) if "qname=burst0." in l):]
        logged = [l for l in lines if "msg=dns.query " in l]
        suppressed = [int(re.search(r"count=(\d+)", l).group(1)) for l in lines if "msg=dns.query.suppressed" in l]
        self.assertGreater(len(logged), 0)
        self.assertLessEqual(len(logged), RATE * elapsed + RATE)
        self.assertGreater(len(suppressed), 0)
        self.assertEqual(len(logged) + sum(suppressed), sent)
        udp = next(l for l in logged if "qname=burst0.service.cairn." in l)
        self.assertIn("transport=udp", udp)
        self.assertIn("qtype=A", udp)
        self.assertIn("rcode=3", udp)  # no such service: NXDOMAIN
        self.assertRegex(udp, r"client=127\.0\.0\.1:\d+")
        self.assertTrue(any("transport=tcp" in l for l in logged))
        last = next(l for l in logged if "qtype=SRV" in l)
        self.assertIn("rcode=0", last)
        self.assertIn("answers=1", last)

    def test_json_lines(self):
        a = harness.Agent(name="q2", config_extra='[log]\nformat = "json"\nqueries = true\n')
        with a:
            self.assertEqual(a.http("PUT", "/v1/services", WEB)[0], 200)
            harness.wait_until(lambda: a.query("web.service.cairn.").answer, timeout=5, what="web in DNS")
            # The polls above may have met the registration before DNS had
            # it, so the line checked is that of one SRV query sent after.
            self.assertEqual(len(a.query("web.service.cairn.", "SRV").answer), 1)
            mine = lambda: [r for r in map(json.loads, query_lines(a)) if r.get("qtype") == "SRV"]
            harness.wait_until(mine, timeout=5, what="the SRV query's line")
            records = mine()
        self.assertEqual(len(records), 1)
        record = records[0]
        self.assertEqual(record["msg"], "dns.query")
        self.assertEqual(record["qname"], "web.service.cairn.")
        self.assertEqual(record["transport"], "udp")
        self.assertEqual(record["rcode"], "0")
        self.assertEqual(record["answers"], "1")


if __name__ == "__main__":
    unittest.main()
