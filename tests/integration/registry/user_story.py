"""The user story of issue 3 through a real agent, real HTTP and real DNS:
register a service with three instances, look it up as A, SRV (RFC 2782),
by tag and as TXT, deregister one, restart the agent; then the policies
measured through DNS with bounded query counts (not timing)."""
import collections
import json
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from harness import Agent, wait_until  # PYTHONPATH=tests/integration (meson sets it)

DOMAIN = "cairn."


def addresses(response):
    return [r.address for rrset in response.answer for r in rrset
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]


def first_address(response):
    for rrset in response.answer:
        for r in rrset:
            return r.address
    return None


class Registered:
    """A running agent with helpers to register and deregister."""

    def __init__(self, agent):
        self.agent = agent

    def put(self, body):
        status, data = self.agent.http("PUT", "/v1/services", json.dumps(body))
        if status != 200:
            raise AssertionError(f"PUT {body} -> {status} {data!r}")
        return json.loads(data)

    def delete(self, instance_id):
        status, data = self.agent.http("DELETE", f"/v1/services/{instance_id}")
        if status != 200:
            raise AssertionError(f"DELETE {instance_id} -> {status} {data!r}")


class UserStory(unittest.TestCase):
    def setUp(self):
        self.agent = Agent(name="story-node")
        self.agent.start()
        self.api = Registered(self.agent)

    def tearDown(self):
        self.agent.stop()

    def register_three(self):
        self.api.put({"id": "web-1", "name": "web", "address": "127.0.1.1", "port": 8081,
                      "tags": ["v2", "primary"], "meta": {"version": "2.1.0"}, "weight": 10})
        self.api.put({"id": "web-2", "name": "web", "address": "127.0.1.2", "port": 8082,
                      "tags": ["v2"], "meta": {"version": "2.1.0", "zone": "b"}, "weight": 20})
        self.api.put({"id": "web-3", "name": "web", "address": "127.0.1.3", "port": 8083,
                      "tags": ["v1"], "meta": {"version": "1.9.4"}, "weight": 30})

    def answer_set(self, name, rdtype="A", **kw):
        return sorted(addresses(self.agent.query(name, rdtype, **kw)))

    def test_register_look_up_deregister_restart(self):
        self.register_three()
        all_three = ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
        wait_until(lambda: self.answer_set("web.service.cairn.") == all_three, timeout=2,
                   what="the three instances in the A answer")

        r = self.agent.query("web.service.cairn.", "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.flags & dns.flags.AA)
        self.assertEqual(r.answer[0].ttl, 5)  # [dns] service_ttl

        # RFC 2782 SRV: priority 1 (passing), weight, port, .addr. target resolved in additional.
        srv = self.agent.query("_web._tcp.service.cairn.", "SRV")
        records = sorted((r.priority, r.weight, r.port, r.target.to_text()) for rrset in srv.answer for r in rrset)
        self.assertEqual(records, [(1, 10, 8081, "7f000101.addr.cairn."),
                                   (1, 20, 8082, "7f000102.addr.cairn."),
                                   (1, 30, 8083, "7f000103.addr.cairn.")])
        glue = sorted((rrset.name.to_text(), r.address) for rrset in srv.additional
                      if rrset.rdtype == dns.rdatatype.A for r in rrset)
        self.assertEqual(glue, [("7f000101.addr.cairn.", "127.0.1.1"), ("7f000102.addr.cairn.", "127.0.1.2"),
                                ("7f000103.addr.cairn.", "127.0.1.3")])
        self.assertEqual(self.answer_set("7f000102.addr.cairn."), ["127.0.1.2"])

        # Tags, both forms.
        self.assertEqual(self.answer_set("v2.web.service.cairn."), ["127.0.1.1", "127.0.1.2"])
        srv_v1 = self.agent.query("_web._v1.service.cairn.", "SRV")
        self.assertEqual([r.port for rrset in srv_v1.answer for r in rrset], [8083])

        # TXT: one record per instance, metadata as key=value.
        txt = self.agent.query("web.service.cairn.", "TXT")
        strings = sorted(tuple(s.decode() for s in r.strings) for rrset in txt.answer for r in rrset)
        self.assertEqual(strings, [("version=1.9.4",), ("version=2.1.0",), ("version=2.1.0", "zone=b")])

        # Unknown service: NXDOMAIN with the SOA.
        nx = self.agent.query("nope.service.cairn.", "A")
        self.assertEqual(nx.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(nx.authority[0].rdtype, dns.rdatatype.SOA)

        # Deregister: gone from the next answer (the publish is coalesced to a
        # few ms, so poll briefly rather than assume).
        self.api.delete("web-3")
        wait_until(lambda: self.answer_set("web.service.cairn.") == ["127.0.1.1", "127.0.1.2"], timeout=1,
                   what="web-3 to leave the answer")
        self.assertEqual(self.answer_set("v1.web.service.cairn."), [])
        self.assertEqual(self.agent.query("v1.web.service.cairn.", "A").rcode(), dns.rcode.NOERROR)

        # Restart: the registrations are still there.
        self.agent.stop()
        self.agent.start()
        self.assertEqual(self.answer_set("web.service.cairn."), ["127.0.1.1", "127.0.1.2"])
        self.assertEqual(self.answer_set("v2.web.service.cairn."), ["127.0.1.1", "127.0.1.2"])

    def test_nothing_healthy_is_nodata_then_a_pass_brings_it(self):
        self.api.put({"id": "api-1", "name": "api", "address": "127.0.1.9", "port": 9000,
                      "checks": [{"ttl": "30s"}]})
        # A TTL check starts critical: the service exists, nothing is served.
        def nodata():
            r = self.agent.query("api.service.cairn.", "A")
            return r.rcode() == dns.rcode.NOERROR and not r.answer and r.authority
        wait_until(nodata, timeout=2, what="NODATA for a service with nothing healthy")
        status, body = self.agent.http("PUT", "/v1/checks/api-1:1/pass", "{}")
        self.assertEqual(status, 200, body)
        wait_until(lambda: self.answer_set("api.service.cairn.") == ["127.0.1.9"], timeout=2,
                   what="the instance to be served after its check passed")

    def test_truncation_and_tcp_retry(self):
        for i in range(1, 101):
            self.api.put({"id": f"big-{i}", "name": "big", "address": f"127.0.2.{i}", "port": 80})
        wait_until(lambda: len(self.answer_set("big.service.cairn.", tcp=True)) == 100, timeout=3,
                   what="100 instances over TCP")
        udp = self.agent.query("big.service.cairn.", "A")  # no EDNS: 512 bytes
        self.assertTrue(udp.flags & dns.flags.TC)
        self.assertLess(len(addresses(udp)), 100)
        tcp = self.agent.query("big.service.cairn.", "A", tcp=True)
        self.assertFalse(tcp.flags & dns.flags.TC)
        self.assertEqual(len(addresses(tcp)), 100)


class Policies(unittest.TestCase):
    def setUp(self):
        self.agent = Agent(name="policy-node")
        self.agent.start()
        self.api = Registered(self.agent)

    def tearDown(self):
        self.agent.stop()

    def test_weighted_90_10_in_the_first_record(self):
        self.api.put({"id": "stable", "name": "canary", "address": "127.0.3.1", "port": 80,
                      "weight": 90, "policy": "weighted"})
        self.api.put({"id": "canary", "name": "canary", "address": "127.0.3.2", "port": 80,
                      "weight": 10, "policy": "weighted"})
        wait_until(lambda: len(addresses(self.agent.query("canary.service.cairn.", "A"))) == 2, timeout=2,
                   what="both instances")
        firsts = collections.Counter(first_address(self.agent.query("canary.service.cairn.", "A"))
                                     for _ in range(1000))
        share = firsts["127.0.3.1"] / 1000
        self.assertGreater(share, 0.85, firsts)
        self.assertLess(share, 0.95, firsts)

    def test_round_robin_rotates_evenly(self):
        for i in range(1, 4):
            self.api.put({"id": f"rr-{i}", "name": "rr", "address": f"127.0.4.{i}", "port": 80,
                          "policy": "round_robin"})
        wait_until(lambda: len(addresses(self.agent.query("rr.service.cairn.", "A"))) == 3, timeout=2,
                   what="three instances")
        firsts = collections.Counter(first_address(self.agent.query("rr.service.cairn.", "A"))
                                     for _ in range(300))
        self.assertEqual(sorted(firsts.values()), [100, 100, 100], firsts)

    def test_affinity_on_client_subnet(self):
        for i in range(1, 5):
            self.api.put({"id": f"aff-{i}", "name": "aff", "address": f"127.0.5.{i}", "port": 80,
                          "policy": "affinity"})
        wait_until(lambda: len(addresses(self.agent.query("aff.service.cairn.", "A"))) == 4, timeout=2,
                   what="four instances")

        def first_for(subnet):
            ecs = dns.edns.ECSOption(f"198.51.{subnet}.0", 24)
            r = self.agent.query("aff.service.cairn.", "A", use_edns=0, options=[ecs])
            echoed = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
            self.assertEqual(len(echoed), 1, "ECS is echoed")
            self.assertEqual(echoed[0].scopelen, 24)
            return first_address(r)

        before = {s: first_for(s) for s in range(60)}
        for s in range(0, 60, 6):
            self.assertEqual(first_for(s), before[s], "the same client gets the same first answer")
        self.assertEqual(len(set(before.values())), 4, before)

        self.api.delete("aff-2")
        wait_until(lambda: len(addresses(self.agent.query("aff.service.cairn.", "A"))) == 3, timeout=2,
                   what="aff-2 to leave")
        for s, was in before.items():
            now = first_for(s)
            if was == "127.0.5.2":
                self.assertNotEqual(now, was)
            else:
                self.assertEqual(now, was, f"client {s} moved although its instance stayed")


if __name__ == "__main__":
    unittest.main()
