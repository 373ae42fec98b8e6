"""The DNS counters in GET /metrics move with real queries: dig over UDP and
TCP, a truncated answer and its TCP retry, NXDOMAIN and REFUSED answers, a
datagram that is not DNS; queries by type and the answer latency histogram. The agent's DNS threads are the only writers, and
this test is the agent's only client, so every delta is exact."""
import re
import shutil
import socket
import subprocess
import unittest

import harness
import refservers

Z = refservers.EXAMPLE_ORIGIN
SAMPLE = re.compile(r"^(cairn_dns_[a-z_]+)(\{[^}]*\})? (\d+)$")


def dns_metrics(agent):
    status, body = agent.http("GET", "/metrics")
    if status != 200:
        raise AssertionError(f"GET /metrics: {status} {body!r}")
    out = {}
    for line in body.decode().splitlines():
        m = SAMPLE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    return out


def dig(agent, *args):
    cmd = ["dig", f"@{agent.host}", "-p", str(agent.dns_port), "+tries=1", "+time=5", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


class DnsMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("dig"):
            raise AssertionError("dig is missing (tools/deps.sh installs bind9-dnsutils)")
        cls.agent = harness.Agent(zones={refservers.EXAMPLE_ZONE_FILE: refservers.example_zone_text()}).start()

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()

    def test_counters_follow_the_queries(self):
        a = self.agent
        before = dns_metrics(a)
        for key in ('cairn_dns_queries_total{transport="udp"}', 'cairn_dns_queries_total{transport="tcp"}',
                    'cairn_dns_responses_total{transport="udp",rcode="NOERROR"}',
                    'cairn_dns_truncated_total{transport="udp"}', "cairn_dns_dropped_total",
                    "cairn_dns_tcp_connections", 'cairn_dns_tcp_connections_total{result="accepted"}'):
            self.assertIn(key, before)

        self.assertIn("status: NOERROR", dig(a, f"www.{Z}", "A"))
        self.assertIn("status: NXDOMAIN", dig(a, f"nothere.{Z}", "A"))
        self.assertIn("status: REFUSED", dig(a, "example.org.", "A"))
        self.assertIn("status: NOERROR", dig(a, "+tcp", f"www.{Z}", "A"))
        retried = dig(a, "+noedns", f"big.{Z}", "A")  # TC over UDP, then TCP
        self.assertIn("Truncated, retrying in TCP mode", retried)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x00\x01\x02", (a.host, a.dns_port))  # shorter than a header: no answer

        want = {
            'cairn_dns_queries_total{transport="udp"}': 5,
            'cairn_dns_queries_total{transport="tcp"}': 2,
            'cairn_dns_responses_total{transport="udp",rcode="NOERROR"}': 2,
            'cairn_dns_responses_total{transport="udp",rcode="NXDOMAIN"}': 1,
            'cairn_dns_responses_total{transport="udp",rcode="REFUSED"}': 1,
            'cairn_dns_responses_total{transport="tcp",rcode="NOERROR"}': 2,
            'cairn_dns_truncated_total{transport="udp"}': 1,
            'cairn_dns_truncated_total{transport="tcp"}': 0,
            "cairn_dns_dropped_total": 1,
            'cairn_dns_tcp_connections_total{result="accepted"}': 2,
            # Six A questions parsed (the 3-byte datagram has none), answered
            # four times over UDP and twice over TCP.
            'cairn_dns_queries_by_type_total{qtype="A"}': 6,
            'cairn_dns_queries_by_type_total{qtype="other"}': 0,
            'cairn_dns_answer_duration_seconds_count{transport="udp"}': 4,
            'cairn_dns_answer_duration_seconds_count{transport="tcp"}': 2,
            'cairn_dns_answer_duration_seconds_bucket{transport="udp",le="+Inf"}': 4,
        }

        def moved():
            after = dns_metrics(a)
            got = {k: after.get(k, 0) - before.get(k, 0) for k in want}
            # dig has closed its TCP connections; the server sees it soon.
            if got != want or after["cairn_dns_tcp_connections"] != 0:
                raise AssertionError(f"deltas {got}, open {after['cairn_dns_tcp_connections']}")
            return True

        harness.wait_until(moved, timeout=5, what="the DNS counters to move by the queries sent")


if __name__ == "__main__":
    unittest.main()
