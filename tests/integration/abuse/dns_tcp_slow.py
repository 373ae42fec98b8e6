"""DNS over TCP against slow-drip clients (issue 14, item 4), on a real agent.

Hundreds of connections from ten addresses send a length prefix and then one
byte now and then, reconnecting whenever the agent closes them; the
connection cap is far below their number. A legitimate client on another
address keeps asking over TCP and must get every answer within a bound.
"""
import socket
import time
import unittest

import dns.message
import dns.query
import dns.rcode

from harness import Agent

CAP = 100
DRIP_ADDRESSES = [f"127.0.0.{i}" for i in range(2, 12)]
PER_ADDRESS = 30  # 300 slow connections in all
ATTACK_S = 6.0
DRIP_EVERY_S = 0.3


class Dripper:
    """One slow connection: a length prefix for a 40-byte query, then a byte per tick."""

    def __init__(self, source, server):
        self.source, self.server = source, server
        self.sock = None
        self.connect()

    def connect(self):
        if self.sock:
            self.sock.close()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((self.source, 0))
        self.sock.settimeout(1.0)
        self.sent = 0
        try:
            self.sock.connect(self.server)
            self.sock.send(b"\x00\x28")  # a 40-byte query announced at once
            self.sent = 2
        except OSError:
            pass  # refused or reset: tried again at the next tick
        self.sock.setblocking(False)

    def tick(self):
        try:
            # Closed by the agent? Then come back, as an attacker would.
            try:
                if self.sock.recv(1) == b"":
                    return self.connect()
            except BlockingIOError:
                pass
            if self.sent == 0:
                return self.connect()
            self.sock.send(b"\x00")
            self.sent += 1
        except OSError:
            self.connect()

    def close(self):
        self.sock.close()


class DnsTcpSlowDrip(unittest.TestCase):
    def test_legitimate_client_keeps_getting_answers(self):
        agent = Agent(config_extra=f"[dns]\ntcp_max_connections = {CAP}\n")
        agent.start()
        drippers = []
        try:
            server = (agent.host, agent.dns_port)
            drippers = [Dripper(src, server) for src in DRIP_ADDRESSES for _ in range(PER_ADDRESS)]
            answered, failed, slowest = 0, 0, 0.0
            deadline = time.monotonic() + ATTACK_S
            next_drip = time.monotonic()
            while time.monotonic() < deadline:
                if time.monotonic() >= next_drip:
                    for d in drippers:
                        d.tick()
                    next_drip = time.monotonic() + DRIP_EVERY_S
                q = dns.message.make_query("cairn.", "SOA")
                started = time.monotonic()
                try:
                    r = dns.query.tcp(q, agent.host, port=agent.dns_port, timeout=1.0, source="127.0.0.1")
                    self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                    answered += 1
                    slowest = max(slowest, time.monotonic() - started)
                except Exception:
                    failed += 1
                time.sleep(0.05)
            self.assertGreater(answered, 20)
            self.assertEqual(failed, 0, f"{failed} of {answered + failed} TCP queries failed under the drip")
            self.assertLess(slowest, 1.0)
        finally:
            for d in drippers:
                d.close()
            agent.stop()


if __name__ == "__main__":
    unittest.main()
