"""least_loaded through a real agent, real checks and dig (docs/discovery.md):
instances report loads with TTL heartbeats (the `load` field and a `load=N`
note) and an HTTP check's JSON body; a fresh client gets the lowest load, a
burst of 200 clients at once spreads over the least-loaded half, SRV answers
follow the same order, and a load that goes stale stops counting."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

import dns.message
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Agent, wait_until  # noqa: E402
from targets import Target  # noqa: E402

# Ten instances; i0..i4 are the least-loaded half. i0 reports by an HTTP
# check's JSON body, the others by TTL heartbeats.
LOADS = [12, 15, 20, 30, 50, 80, 100, 200, 300, 500]


def address(k):
    return f"127.0.1.{k + 1}"


class LeastLoaded(unittest.TestCase):
    def setUp(self):
        self.agent = Agent()
        self.agent.start()
        self.addCleanup(self.agent.stop)
        self.target = Target("i0", body=json.dumps({"load": LOADS[0]}))
        self.addCleanup(self.target.stop)
        for k, load in enumerate(LOADS):
            if k == 0:
                check = {"id": "i0-check", "http": self.target.url(), "interval": "1s"}
            else:
                check = {"id": f"i{k}-hb", "ttl": "60s"}
            body = {"id": f"i{k}", "name": "web", "address": address(k), "port": 8000 + k,
                    "policy": "least_loaded", "checks": [check]}
            status, reply = self.agent.http("PUT", "/v1/services", json.dumps(body))
            self.assertEqual(status, 200, reply)
        for k, load in enumerate(LOADS[1:], start=1):
            # Both documented forms: the field, and a load=N word in the note.
            report = {"load": load} if k % 2 else {"note": f"busy load={load}"}
            status, reply = self.agent.http("PUT", f"/v1/checks/i{k}-hb/pass", json.dumps(report))
            self.assertEqual(status, 200, reply)

        def all_reported():
            status, reply = self.agent.http("GET", "/v1/services/web")
            if status != 200:
                return False
            loads = {i["id"]: i["checks"][0].get("load") for i in json.loads(reply)
                     if i["health"] == "passing"}
            return loads == {f"i{k}": load for k, load in enumerate(LOADS)}
        wait_until(all_reported, timeout=10, what="every instance passing with its load")

    def dig_first(self, rdtype="A"):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.agent.dns_port), "+short", "+tries=1",
                              "+time=2", "web.service.cairn" if rdtype == "A" else "_web._tcp.service.cairn",
                              rdtype], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.split()
        self.assertTrue(lines, "empty answer")
        return out.stdout.splitlines()[0]

    def test_a_fresh_client_gets_the_lowest_load(self):
        firsts = []
        for _ in range(12):
            firsts.append(self.dig_first())
            time.sleep(1.05)  # the next client comes alone: earlier answers no longer count
        lowest = sum(1 for f in firsts if f == address(0))
        self.assertGreater(lowest / len(firsts), 0.9, firsts)
        srv = self.dig_first("SRV").split()
        self.assertEqual(srv[0], "1")  # priority: passing
        self.assertEqual(srv[2], "8000")
        self.assertEqual(srv[3], "7f000101.addr.cairn.")

    def test_200_clients_at_once_spread_over_the_least_loaded_half(self):
        socks = []
        try:
            for n in range(200):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(5)
                socks.append(s)
            queries = [dns.message.make_query("web.service.cairn.", "A", id=n) for n in range(200)]
            for s, q in zip(socks, queries):  # all sent before any answer is read
                s.sendto(q.to_wire(), ("127.0.0.1", self.agent.dns_port))
            firsts = []
            for s in socks:
                reply = dns.message.from_wire(s.recv(4096))
                records = [r for rrset in reply.answer for r in rrset if rrset.rdtype == dns.rdatatype.A]
                self.assertTrue(records)
                firsts.append(records[0].address)
        finally:
            for s in socks:
                s.close()
        half = {address(k) for k in range(5)}
        counts = {a: firsts.count(a) for a in set(firsts)}
        self.assertTrue(set(firsts) <= half, counts)
        self.assertGreaterEqual(len(counts), 4, counts)
        self.assertLess(max(counts.values()), 100, counts)

    def test_a_stale_load_stops_counting(self):
        # i0's HTTP check stops reporting a load (interval 1 s: stale after
        # 3 s); the next lowest, i1, is then first.
        self.target.body = "ok, no load\n"

        def i1_first():
            time.sleep(1.05)  # a fresh client each time
            return self.dig_first() == address(1)
        wait_until(i1_first, timeout=15, interval=0, what="i1 first once i0's load is stale")
        status, reply = self.agent.http("GET", "/v1/services/web")
        i0 = [i for i in json.loads(reply) if i["id"] == "i0"][0]
        self.assertNotIn("load", i0["checks"][0])


if __name__ == "__main__":
    unittest.main()
