"""DNS transport behaviour of a cairn agent serving zones/example.test.zone:
TCP as RFC 7766 asks (pipelining, a length prefix split across writes, many
queries on one connection), IPv6 on ::1, and truncation: an answer that does
not fit in 512 bytes without EDNS has TC set over UDP, and the TCP retry of
real clients (dig, kdig) gets it whole.

CAIRN_TRANSPORT_SUBJECT=nsd|knot runs the same tests against NSD or Knot
(to check the tests themselves).
"""
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import time
import unittest

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import harness
import refservers

SUBJECT = os.environ.get("CAIRN_TRANSPORT_SUBJECT", "cairn")
Z = refservers.EXAMPLE_ORIGIN
BIG_COUNT = 40  # A records at big.example.test.
CLIENT_TIMEOUT_S = 20


def zones():
    return {Z: refservers.example_zone_text()}


def wire(name, rdtype="A", qid=None, **kwargs):
    q = dns.message.make_query(name, rdtype, **kwargs)
    if qid is not None:
        q.id = qid
    return q.to_wire()


def framed(message):
    return struct.pack("!H", len(message)) + message


def read_reply(sock):
    reply = refservers.tcp_read_message(sock)
    if isinstance(reply, refservers.NoResponse):
        raise AssertionError(f"no reply on the TCP connection ({reply.what})")
    return dns.message.from_wire(reply)


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def run_client(args):
    """Runs dig/kdig with a timeout; returns stdout."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def header_flags(output):
    """The flags of the last ';; flags: qr aa ...;' line of dig/kdig output,
    upper-cased."""
    found = re.findall(r"^;; [Ff]lags:([^;]*);", output, re.MULTILINE)
    if not found:
        raise AssertionError(f"no flags line in:\n{output}")
    return {f.upper() for f in found[-1].split()}


def answer_records(output, name, rdtype="A"):
    """Answer-section lines of dig/kdig output for name and type."""
    out = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0].lower() == name and rdtype in fields[2:4]:
            out.append(fields[-1])
    return out


class Transport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = refservers.make_server(SUBJECT, zones()).start()
        cls.host, cls.port = cls.server.host, cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def connect(self):
        s = socket.create_connection((self.host, self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addCleanup(s.close)
        return s

    # --- TCP (RFC 7766) ---------------------------------------------------------------

    def test_pipelined_queries_in_one_write(self):
        names = ["www", "mail", "nothere", "alias", "txt", "_http._tcp", "b.c", "foo.wild"]
        types = ["A", "A", "A", "A", "TXT", "SRV", "A", "A"]
        queries = {1000 + i: (f"{n}.{Z}", t) for i, (n, t) in enumerate(zip(names, types))}
        s = self.connect()
        s.sendall(b"".join(framed(wire(name, t, qid)) for qid, (name, t) in queries.items()))
        replies = {}
        for _ in queries:  # RFC 7766 6.2.1.1: replies may come in any order
            r = read_reply(s)
            replies[r.id] = r
        self.assertEqual(set(replies), set(queries))
        for qid, (name, t) in queries.items():
            r = replies[qid]
            self.assertEqual(r.question[0].name.to_text(), name)
            self.assertEqual(dns.rdatatype.to_text(r.question[0].rdtype), t)
        self.assertEqual(replies[1002].rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(replies[1000].rcode(), dns.rcode.NOERROR)
        self.assertEqual(len(replies[1000].answer[0]), 2)

    def test_burst_of_pipelined_queries_read_late(self):
        # 300 queries (about 12 KB) in one write, and the replies read only
        # afterwards: the server must neither drop queries nor stall when its
        # writes back up.
        s = self.connect()
        ids = list(range(9000, 9300))
        s.sendall(b"".join(framed(wire(("www." if i % 2 else "bigtxt.") + Z, "A" if i % 2 else "TXT", i))
                           for i in ids))
        got = set()
        for _ in ids:
            r = read_reply(s)
            self.assertFalse(r.flags & dns.flags.TC)
            got.add(r.id)
        self.assertEqual(got, set(ids))

    def test_many_queries_on_one_connection(self):
        s = self.connect()
        for i in range(50):  # one after the other, waiting for each reply
            s.sendall(framed(wire("www." + Z, "A", 2000 + i)))
            r = read_reply(s)
            self.assertEqual(r.id, 2000 + i)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)

    def test_length_prefix_split_across_writes(self):
        s = self.connect()
        message = framed(wire("mail." + Z, "A", 3000))
        # Each piece goes out as its own segment (TCP_NODELAY) and the pause
        # lets the server read it alone, so it sees a partial length prefix,
        # then a partial message. The pause creates the condition under test;
        # nothing waits on it.
        for piece in (message[:1], message[1:2], message[2:9], message[9:]):
            s.sendall(piece)
            time.sleep(0.05)
        r = read_reply(s)
        self.assertEqual(r.id, 3000)
        self.assertEqual({rd.to_text() for rd in r.answer[0]}, {"192.0.2.25"})

    def test_messages_split_at_random_points(self):
        rng = random.Random(7766)
        stream = b"".join(framed(wire("www." + Z, "A", 4000 + i)) for i in range(10))
        s = self.connect()
        at = 0
        while at < len(stream):
            step = rng.randint(1, 40)
            s.sendall(stream[at:at + step])
            at += step
            time.sleep(0.005)  # as above: makes the server see partial reads
        ids = {read_reply(s).id for _ in range(10)}
        self.assertEqual(ids, set(range(4000, 4010)))

    def test_connection_stays_usable_after_an_error_reply(self):
        s = self.connect()
        s.sendall(framed(wire("www.example.org.", "A", 5000)))
        self.assertEqual(read_reply(s).rcode(), dns.rcode.REFUSED)
        s.sendall(framed(wire("www." + Z, "A", 5001)))
        r = read_reply(s)
        self.assertEqual((r.id, r.rcode()), (5001, dns.rcode.NOERROR))

    def test_large_answer_whole_over_tcp(self):
        s = self.connect()
        s.sendall(framed(wire("bigtxt." + Z, "TXT", 6000)))
        r = read_reply(s)
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertEqual(len(r.answer[0]), 6)

    # --- truncation with real clients ---------------------------------------------------

    def client_available(self, tool):
        if not shutil.which(tool):
            self.fail(f"{tool} is missing (tools/deps.sh installs bind9-dnsutils and knot-dnsutils)")

    def test_udp_without_edns_truncates_and_dig_retries_over_tcp(self):
        self.client_available("dig")
        base = ["dig", f"@{self.host}", "-p", str(self.port), "+noedns", "+tries=1", "+time=3"]
        truncated = run_client(base + ["+ignore", f"big.{Z}", "A"])
        self.assertIn("TC", header_flags(truncated), truncated)
        self.assertLess(len(answer_records(truncated, f"big.{Z}")), BIG_COUNT)
        retried = run_client(base + [f"big.{Z}", "A"])  # dig retries over TCP on TC
        self.assertIn("Truncated, retrying in TCP mode", retried)
        self.assertNotIn("TC", header_flags(retried), retried)
        self.assertEqual(len(answer_records(retried, f"big.{Z}")), BIG_COUNT, retried)

    def test_kdig_sees_tc_over_udp_and_gets_it_whole_over_tcp(self):
        self.client_available("kdig")
        base = ["kdig", f"@{self.host}", "-p", str(self.port), "+noedns", "+retry=0", "+time=3"]
        truncated = run_client(base + ["+notcp", "+ignore", f"big.{Z}", "A"])
        self.assertIn("TC", header_flags(truncated), truncated)
        whole = run_client(base + ["+tcp", f"big.{Z}", "A"])
        self.assertNotIn("TC", header_flags(whole), whole)
        self.assertEqual(len(answer_records(whole, f"big.{Z}")), BIG_COUNT, whole)

    def test_small_answer_not_truncated_and_edns_answer_fits(self):
        r = refservers.udp_exchange(wire("www." + Z, "A"), self.host, self.port)
        m = dns.message.from_wire(r)
        self.assertFalse(m.flags & dns.flags.TC)
        big = dns.message.from_wire(refservers.udp_exchange(wire("big." + Z, "A", use_edns=0, payload=1232),
                                                            self.host, self.port))
        self.assertFalse(big.flags & dns.flags.TC)
        self.assertEqual(len(big.answer[0]), BIG_COUNT)


def closed_by_peer(sock):
    """True once the peer has closed (EOF or reset); False while it is open."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


class CairnTcpLimits(unittest.TestCase):
    """A cairn agent with [dns] tcp_idle_timeout and tcp_max_connections set
    (RFC 7766 6.2.3: servers close idle connections and cap their number)."""

    IDLE_S = 30.0
    MAX_CONNECTIONS = 1000

    @classmethod
    def setUpClass(cls):
        if SUBJECT != "cairn":
            raise unittest.SkipTest("cairn's [dns] TCP limits only")
        settings = (f'tcp_idle_timeout = "{int(cls.IDLE_S * 1000)}ms"\n'
                    f"tcp_max_connections = {cls.MAX_CONNECTIONS}\n")
        cls.server = refservers.make_server("cairn", zones(), dns_settings=settings).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def connect(self):
        s = socket.create_connection((self.server.host, self.server.port), timeout=5)
        self.addCleanup(s.close)
        return s


class IdleTimeout(CairnTcpLimits):
    IDLE_S = 0.5

    def test_idle_connection_is_closed(self):
        s = self.connect()
        s.sendall(b"\x00")  # half a length prefix, then nothing: must not hold the slot forever
        opened = time.monotonic()
        harness.wait_until(lambda: closed_by_peer(s), timeout=10 * self.IDLE_S + 5,
                           what="the server to close an idle connection")
        self.assertGreaterEqual(time.monotonic() - opened, self.IDLE_S * 0.8)

    def test_busy_connection_stays_open(self):
        s = self.connect()
        deadline = time.monotonic() + 3 * self.IDLE_S
        n = 0
        while time.monotonic() < deadline:  # a query every IDLE_S/3 for 3 idle periods
            s.sendall(framed(wire("www." + Z, "A", 7000 + n)))
            self.assertEqual(read_reply(s).id, 7000 + n)
            n += 1
            time.sleep(self.IDLE_S / 3)  # the spacing under test, not a wait for something


class ConnectionCap(CairnTcpLimits):
    MAX_CONNECTIONS = 4

    def test_oldest_idle_connection_closed_at_the_cap(self):
        idle = [self.connect() for _ in range(self.MAX_CONNECTIONS)]
        for i, s in enumerate(idle):  # each answered once, so all are established and idle
            s.sendall(framed(wire("www." + Z, "A", 8000 + i)))
            self.assertEqual(read_reply(s).id, 8000 + i)
        newest = self.connect()
        newest.sendall(framed(wire("mail." + Z, "A", 8100)))
        self.assertEqual(read_reply(newest).id, 8100)
        harness.wait_until(lambda: closed_by_peer(idle[0]), timeout=5,
                           what="the oldest idle connection to be closed for the new one")
        for s in idle[1:]:
            self.assertFalse(closed_by_peer(s), "only the oldest idle connection should be closed")


@unittest.skipUnless(has_ipv6_loopback(), "no IPv6 loopback (::1) on this machine")
class TransportIpv6(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = refservers.make_server(SUBJECT, zones(), host="::1").start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_udp_and_tcp_on_ipv6_loopback(self):
        q = dns.message.make_query("www." + Z, "AAAA")
        for exchange in (dns.query.udp, dns.query.tcp):
            r = exchange(q, "::1", port=self.server.port, timeout=3)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual([rd.to_text() for rd in r.answer[0]], ["2001:db8::10"])

    def test_truncation_and_tcp_retry_on_ipv6(self):
        if not shutil.which("dig"):
            self.fail("dig is missing")
        out = run_client(["dig", "@::1", "-p", str(self.server.port), "+noedns", "+tries=1", "+time=3",
                          f"big.{Z}", "A"])
        self.assertEqual(len(answer_records(out, f"big.{Z}")), BIG_COUNT, out)
        self.assertIn("Truncated, retrying in TCP mode", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
