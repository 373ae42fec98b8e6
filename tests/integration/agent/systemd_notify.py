"""The sd_notify protocol of the Type=notify unit: the agent is started with
NOTIFY_SOCKET pointing at a datagram socket this test holds, as systemd
starts it, and every message it sends is read from there."""
import os
import signal
import socket
import sys
import tempfile
import time
import unittest
import urllib.request

import dns.message
import dns.query
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_util as util  # noqa: E402
from harness import Agent  # noqa: E402


class NotifySocket:
    """The receiving end of NOTIFY_SOCKET; each datagram is one message of
    KEY=VALUE lines."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cairn-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def next(self, timeout=15.0):
        """The next message as a dict, or None once the deadline passes."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return None
            return dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)

    def next_with(self, key, timeout=15.0, skip=("WATCHDOG",)):
        """The next message, skipping those made only of `skip` keys; fails
        when it does not carry `key`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.next(deadline - time.monotonic())
            if m is None:
                break
            if set(m) <= set(skip):
                continue
            if key not in m:
                raise AssertionError(f"expected {key}=, got {m}")
            return m
        raise AssertionError(f"no {key}= within {timeout}s")

    def close(self):
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


class SystemdNotify(unittest.TestCase):
    def setUp(self):
        for inherited in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            os.environ.pop(inherited, None)
        self.notify = NotifySocket()
        self.agent = Agent(zones={"example.test.zone": util.zone(serial=1, www="192.0.2.10")})
        self.zone_path = os.path.join(self.agent.zones_dir, "example.test.zone")

    def tearDown(self):
        self.agent.stop()
        self.notify.close()

    def start(self, **env):
        self.agent.start(wait=False, env={"NOTIFY_SOCKET": self.notify.path, **env})

    def answers_at_once(self):
        """DNS over UDP and TCP and HTTP /health answer the first try."""
        q = dns.message.make_query("example.test.", "SOA")
        r = dns.query.udp(q, self.agent.host, port=self.agent.dns_port, timeout=1)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        r = dns.query.tcp(q, self.agent.host, port=self.agent.dns_port, timeout=1)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        with urllib.request.urlopen(self.agent.http_url("/health"), timeout=1) as h:
            self.assertEqual(h.status, 200)

    def test_ready_reloading_stopping(self):
        self.start()
        ready = self.notify.next_with("READY")
        self.assertEqual(ready["READY"], "1")
        self.assertEqual(ready["STATUS"], "serving")
        # READY=1 means serving: the first query after it is answered.
        self.answers_at_once()

        util.write(self.zone_path, util.zone(serial=2, www="192.0.2.20"))
        self.agent.signal(signal.SIGHUP)
        reloading = self.notify.next_with("RELOADING")
        self.assertEqual(reloading["RELOADING"], "1")
        self.assertGreater(int(reloading["MONOTONIC_USEC"]), 0)
        self.assertEqual(self.notify.next_with("READY")["STATUS"], "serving")
        self.assertEqual(util.www_address(self.agent), ["192.0.2.20"], "READY=1 after the reload applied")

        # A reload that fails still ends with READY=1, and says so.
        util.write(self.zone_path, util.zone(serial=3, www="192.0.2.30") + "broken IN A 300.1.2.3\n")
        self.agent.signal(signal.SIGHUP)
        self.notify.next_with("RELOADING")
        self.assertIn("reload failed", self.notify.next_with("READY")["STATUS"])
        self.assertEqual(util.www_address(self.agent), ["192.0.2.20"])

        self.agent.signal(signal.SIGTERM)
        self.assertEqual(self.notify.next_with("STOPPING")["STOPPING"], "1")
        self.assertEqual(self.agent.stop(), 0)
        # Nothing after STOPPING=1, and no watchdog pings without WATCHDOG_USEC:
        # the agent has exited, so every message it sent is queued here.
        self.assertIsNone(self.notify.next(timeout=0.05))

    def test_watchdog_pings_at_half_the_interval(self):
        self.start(WATCHDOG_USEC="1000000")  # WatchdogSec=1s: a ping every 500ms
        self.notify.next_with("READY")
        pings = []
        deadline = time.monotonic() + 10
        while len(pings) < 4 and time.monotonic() < deadline:
            m = self.notify.next(timeout=2)
            self.assertIsNotNone(m, "a watchdog ping within 2s")
            if m.get("WATCHDOG") == "1":
                pings.append(time.monotonic())
        self.assertEqual(len(pings), 4)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        # At half the interval, so never as late as WatchdogSec itself (with
        # room for a loaded machine), and not much more often.
        self.assertLess(max(gaps), 1.0, gaps)
        self.assertGreater(min(gaps), 0.25, gaps)

    def test_no_watchdog_for_another_pid(self):
        # WATCHDOG_PID names the process systemd watches; a child that
        # inherited the variables must not ping for it.
        self.start(WATCHDOG_USEC="200000", WATCHDOG_PID="1")
        self.notify.next_with("READY", skip=())
        self.agent.signal(signal.SIGTERM)
        self.notify.next_with("STOPPING", skip=())
        self.assertEqual(self.agent.stop(), 0)
        self.assertIsNone(self.notify.next(timeout=0.05))


if __name__ == "__main__":
    unittest.main()
