"""Forwarding ([dns.forward]) with real processes on loopback: cairn in front
of an NSD serving upstream.test. (the network's resolver in this test), and a
fake upstream made of a bare UDP socket where the test decides what comes
back and when. Clients are dnspython and dig.

Checks: answers pass through with the client's ID and question, RD copied
and RA set; NXDOMAIN; a truncated upstream reply retried over TCP; the DO
bit; clients outside `allow` get REFUSED; identical queries in flight go
upstream once; replies that do not match (ID, question, source port) or are
malformed are dropped and counted while the real one is still taken; a
killed upstream gives SERVFAIL within the bounded time, then at once while it
is known down, and comes back within a probe interval once it answers."""
import re
import socket
import struct
import subprocess
import threading
import time
import unittest

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import harness
import refservers

UPSTREAM_ZONE = """$ORIGIN upstream.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.10
www IN AAAA 2001:db8::10
""" + "".join(f'big IN TXT "{"b" * 200}{i}"\n' for i in range(12))

SAMPLE = re.compile(r"^(cairn_dns_[a-z_]+)(\{[^}]*\})? ([0-9.]+)$")


def metrics(agent):
    status, body = agent.http("GET", "/metrics")
    assert status == 200, (status, body)
    out = {}
    for line in body.decode().splitlines():
        m = SAMPLE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def forwarding_agent(upstreams, extra="", allow='["127.0.0.0/8", "::1/128"]'):
    listed = ", ".join(f'"{u}"' for u in upstreams)
    return harness.Agent(config_extra=f"[dns.forward]\nupstreams = [{listed}]\nallow = {allow}\n"
                                      f'timeout = "1s"\nprobe_interval = "300ms"\n{extra}\n')


def udp(agent, name, rdtype="A", timeout=3, **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    return q, dns.query.udp(q, agent.host, port=agent.dns_port, timeout=timeout)


class FakeUpstream:
    """A UDP socket on loopback playing an upstream resolver."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def receive(self, timeout=3):
        self.sock.settimeout(timeout)
        data, peer = self.sock.recvfrom(65535)
        return dns.message.from_wire(data), peer

    def close(self):
        self.sock.close()


class Forwarding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nsd = refservers.Nsd({"upstream.test.": UPSTREAM_ZONE}).start()
        cls.upstream = f"127.0.0.1:{cls.nsd.port}"
        cls.agent = forwarding_agent([cls.upstream]).start()

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        cls.nsd.stop()

    def test_answers_pass_through(self):
        timed = 'cairn_dns_upstream_duration_seconds_count{upstream="%s"}' % self.upstream
        fast = 'cairn_dns_upstream_duration_seconds_bucket{upstream="%s",le="1"}' % self.upstream
        before = metrics(self.agent)
        q, r = udp(self.agent, "WwW.Upstream.TEST.", "A", use_edns=0)
        self.assertEqual(r.id, q.id)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(r.question[0].name.to_text(), "WwW.Upstream.TEST.")
        self.assertTrue(r.flags & dns.flags.RD)
        self.assertTrue(r.flags & dns.flags.RA)
        self.assertFalse(r.flags & dns.flags.AA)
        self.assertEqual([rr.address for rr in r.answer[0]], ["192.0.2.10"])
        _, r6 = udp(self.agent, "www.upstream.test.", "AAAA")
        self.assertEqual([rr.address for rr in r6.answer[0]], ["2001:db8::10"])
        _, nx = udp(self.agent, "nothing.upstream.test.", "A")
        self.assertEqual(nx.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(nx.authority[0].rdtype, dns.rdatatype.SOA)
        # RD clear is echoed clear.
        q = dns.message.make_query("www.upstream.test.", "A")
        q.flags &= ~dns.flags.RD
        r = dns.query.udp(q, self.agent.host, port=self.agent.dns_port, timeout=3)
        self.assertFalse(r.flags & dns.flags.RD)
        self.assertTrue(r.flags & dns.flags.RA)
        # Each reply from NSD was timed: A, AAAA and the NXDOMAIN at least,
        # each well within a second.
        after = metrics(self.agent)
        self.assertGreaterEqual(after[timed] - before.get(timed, 0), 3)
        answers = 'cairn_dns_upstream_answers_total{upstream="%s"}' % self.upstream
        self.assertGreaterEqual(after[answers] - before.get(answers, 0), 3)
        self.assertEqual(after[fast] - before.get(fast, 0), after[timed] - before.get(timed, 0))

    def test_own_names_say_ra_and_stay_local(self):
        _, r = udp(self.agent, "cairn.", "SOA")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.flags & dns.flags.AA)
        self.assertTrue(r.flags & dns.flags.RA)

    def test_truncated_upstream_reply_is_asked_over_tcp(self):
        before = metrics(self.agent).get("cairn_dns_forward_tcp_retries_total", 0)
        _, r = udp(self.agent, "big.upstream.test.", "TXT", use_edns=0, payload=1232)
        self.assertTrue(r.flags & dns.flags.TC)  # too big for the client over UDP too
        q = dns.message.make_query("big.upstream.test.", "TXT")
        full = dns.query.tcp(q, self.agent.host, port=self.agent.dns_port, timeout=3)
        self.assertEqual(len(full.answer[0]), 12)
        self.assertGreaterEqual(metrics(self.agent)["cairn_dns_forward_tcp_retries_total"], before + 1)

    def test_do_bit_is_passed_on(self):
        _, r = udp(self.agent, "ns1.upstream.test.", "A", want_dnssec=True)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.ednsflags & dns.flags.DO)
        self.assertEqual(r.payload, 1232)

    def test_dig_through_cairn(self):
        out = subprocess.run(["dig", f"@{self.agent.host}", "-p", str(self.agent.dns_port), "+tries=1",
                              "+time=3", "+short", "www.upstream.test", "A"],
                             capture_output=True, text=True, timeout=10).stdout
        self.assertEqual(out.strip(), "192.0.2.10")

    def test_client_outside_allow_is_refused(self):
        other = forwarding_agent([self.upstream], allow='["127.0.0.2/32"]').start()
        try:
            _, r = udp(other, "www.upstream.test.", "A")
            self.assertEqual(r.rcode(), dns.rcode.REFUSED)
            self.assertFalse(r.flags & dns.flags.RA)
            self.assertEqual(metrics(other).get("cairn_dns_forward_queries_total", 0), 0)
            _, own = udp(other, "cairn.", "SOA")
            self.assertEqual(own.rcode(), dns.rcode.NOERROR)
            self.assertFalse(own.flags & dns.flags.RA)
        finally:
            other.stop()


class FakeUpstreamForwarding(unittest.TestCase):
    def setUp(self):
        self.fake = FakeUpstream()
        self.agent = forwarding_agent([self.fake.address], extra="cache_size = 0").start()

    def tearDown(self):
        self.agent.stop()
        self.fake.close()

    def ask_in_background(self, name, count):
        results = [None] * count

        def ask(i):
            try:
                results[i] = udp(self.agent, name, "A", timeout=5)[1]
            except Exception as e:  # noqa: BLE001 - reported by the assertion below
                results[i] = e

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        return threads, results

    def test_identical_queries_go_upstream_once(self):
        threads, results = self.ask_in_background("same.example.", 8)
        query, peer = self.fake.receive()
        harness.wait_until(lambda: metrics(self.agent)["cairn_dns_forward_queries_total"] == 8,
                           timeout=5, what="8 queries taken")
        self.assertEqual(metrics(self.agent)["cairn_dns_forward_joined_total"], 7)
        self.assertEqual(metrics(self.agent)["cairn_dns_forward_sent_total"], 1)
        reply = dns.message.make_response(query)
        reply.answer.append(dns.rrset.from_text("same.example.", 60, "IN", "A", "192.0.2.77"))
        self.fake.sock.sendto(reply.to_wire(), peer)
        for t in threads:
            t.join(10)
        for r in results:
            self.assertIsInstance(r, dns.message.Message)
            self.assertEqual([rr.address for rr in r.answer[0]], ["192.0.2.77"])

    def test_mismatched_and_malformed_replies_are_dropped_and_counted(self):
        threads, results = self.ask_in_background("spoof.example.", 1)
        query, peer = self.fake.receive()
        # The upstream's query: RD, EDNS with cairn's payload size, a random ID.
        self.assertTrue(query.flags & dns.flags.RD)
        self.assertEqual(query.payload, 1232)
        good = dns.message.make_response(query)
        good.answer.append(dns.rrset.from_text("spoof.example.", 60, "IN", "A", "192.0.2.1"))
        wrong_id = dns.message.make_response(query)
        wrong_id.id = (query.id + 1) % 65536
        wrong_id.answer.append(dns.rrset.from_text("spoof.example.", 60, "IN", "A", "6.6.6.6"))
        wrong_name = dns.message.make_query("spoof.example.", "AAAA")
        wrong_name.id = query.id
        wrong_name.flags |= dns.flags.QR
        self.fake.sock.sendto(wrong_id.to_wire(), peer)
        self.fake.sock.sendto(wrong_name.to_wire(), peer)
        self.fake.sock.sendto(good.to_wire()[:-3], peer)  # cut short
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_port:
            other_port.bind(("127.0.0.1", 0))
            other_port.sendto(good.to_wire(), peer)
        harness.wait_until(lambda: metrics(self.agent)['cairn_dns_forward_bad_replies_total{reason="mismatched"}'] == 3
                           and metrics(self.agent)['cairn_dns_forward_bad_replies_total{reason="malformed"}'] == 1,
                           timeout=5, what="three mismatched and one malformed reply counted")
        self.fake.sock.sendto(good.to_wire(), peer)
        threads[0].join(10)
        self.assertIsInstance(results[0], dns.message.Message)
        self.assertEqual([rr.address for rr in results[0].answer[0]], ["192.0.2.1"])

    def test_silent_upstream_gives_servfail_in_bounded_time_then_at_once(self):
        up = 'cairn_dns_upstream_up{upstream="%s"}' % self.fake.address
        # Each query times out (adaptive timeouts, within timeout = "1s")
        # until the upstream counts as down.
        for i in range(5):
            if metrics(self.agent)[up] == 0:
                break
            started = time.monotonic()
            _, r = udp(self.agent, f"silent{i}.example.", "A", timeout=5)
            self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
            self.assertLess(time.monotonic() - started, 1.5)
        self.assertEqual(metrics(self.agent)[up], 0)
        started = time.monotonic()
        _, r = udp(self.agent, "silent-now.example.", "A", timeout=5)
        self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
        self.assertLess(time.monotonic() - started, 0.3)


class UpstreamRestart(unittest.TestCase):
    def test_killed_upstream_then_back(self):
        nsd = refservers.Nsd({"upstream.test.": UPSTREAM_ZONE}).start()
        port = nsd.port
        agent = forwarding_agent([f"127.0.0.1:{port}"]).start()
        try:
            _, r = udp(agent, "www.upstream.test.", "A")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            nsd.stop()
            # New names fail within the bounded time, never hang.
            for i in range(4):
                started = time.monotonic()
                _, r = udp(agent, f"gone{i}.upstream.test.", "A", timeout=5)
                self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
                self.assertLess(time.monotonic() - started, 1.5)
            # A cached name still answers.
            _, r = udp(agent, "www.upstream.test.", "A")
            self.assertEqual([rr.address for rr in r.answer[0]], ["192.0.2.10"])
            nsd = refservers.Nsd({"upstream.test.": UPSTREAM_ZONE})
            nsd.port = port
            nsd.start()
            # Back within a probe interval (300 ms) or so.
            back = time.monotonic()
            harness.wait_until(lambda: udp(agent, "ns1.upstream.test.", "A")[1].rcode() == dns.rcode.NOERROR,
                               timeout=5, interval=0.05, what="the upstream back in use")
            self.assertLess(time.monotonic() - back, 2.0)
        finally:
            agent.stop()
            nsd.stop()


if __name__ == "__main__":
    unittest.main()
