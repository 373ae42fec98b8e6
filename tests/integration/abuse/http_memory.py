"""HTTP memory amplification (issue 14, item 3), on a real agent.

Clients that pipeline GETs of a large service and never read the answers
must not grow the agent's memory without bound, and are closed when their
answers do not drain within the idle timeout; an unfinished request behind
unread answers does not keep the connection open; a large service is
streamed, and the main loop keeps serving while it is.
"""
import http.client
import json
import socket
import time
import unittest

from abuse_util import metric, register_many, rss_kib, send_without_reading
from harness import Agent, start_http, wait_until

IDLE_TIMEOUT_S = 1.0


class HttpMemory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = start_http(Agent(config_extra='[http]\nidle_timeout = "1s"\n'))
        # About 40 KB per GET /v1/services/big, as in the report.
        register_many(cls.agent, "big", 100, meta_bytes=200)
        status, body = cls.agent.http("GET", "/v1/services/big")
        assert status == 200 and len(body) > 30000, len(body)
        cls.response_bytes = len(body)

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()

    def open_connections(self):
        # The connection asking counts itself.
        return metric(self.agent, "cairn_http_connections") - 1

    def test_pipelined_gets_never_read_keep_memory_bounded_and_are_closed(self):
        before = rss_kib(self.agent)
        request = b"GET /v1/services/big HTTP/1.1\r\nHost: x\r\n\r\n"
        clients = [socket.create_connection((self.agent.host, self.agent.http_port)) for _ in range(5)]
        try:
            for s in clients:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                send_without_reading(s, request * 4000, timeout=2.0)  # 160 MB of answers asked for, each
            # Track the peak while the agent works through what it was sent;
            # the answers are not read, so every connection must be closed.
            peak = [before]

            def closed():
                peak[0] = max(peak[0], rss_kib(self.agent))
                return self.open_connections() == 0

            try:
                wait_until(closed, timeout=IDLE_TIMEOUT_S * 4 + 5, interval=0.05,
                           what="connections that do not read to be closed")
                not_closed = None
            except AssertionError as e:
                not_closed = e
            grown_mib = (peak[0] - before) / 1024
            self.assertLess(grown_mib, 30, f"RSS grew by {grown_mib:.0f} MiB")
            if not_closed:
                raise not_closed
        finally:
            for s in clients:
                s.close()
        # And the agent still answers at once.
        self.assertEqual(self.agent.http("GET", "/health", timeout=2)[0], 200)

    def test_unfinished_request_behind_unread_answers_is_closed(self):
        request = b"GET /v1/services/big HTTP/1.1\r\nHost: x\r\n\r\n"
        with socket.create_connection((self.agent.host, self.agent.http_port)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            send_without_reading(s, request * 200 + b"GET /v1/services/big HTTP/1.1\r\nHost", timeout=2.0)
            wait_until(lambda: self.open_connections() == 0, timeout=IDLE_TIMEOUT_S * 4 + 5,
                       what="the connection with an unfinished request to be closed")

    def test_large_service_is_streamed_whole_and_the_loop_keeps_serving(self):
        register_many(self.agent, "wide", 3000, meta_bytes=16)
        conn = http.client.HTTPConnection(self.agent.host, self.agent.http_port, timeout=10)
        conn.request("GET", "/v1/services/wide")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        # Read a little, then ask for health on another connection while the
        # rest of the body waits to be read.
        first = r.read(1000)
        started = time.monotonic()
        self.assertEqual(self.agent.http("GET", "/health", timeout=2)[0], 200)
        self.assertLess(time.monotonic() - started, 1.0)
        instances = json.loads(first + r.read())
        self.assertEqual(len(instances), 3000)
        self.assertEqual(sorted(i["id"] for i in instances), sorted(f"wide-{i}" for i in range(3000)))
        # The connection stays usable after the chunked body.
        conn.request("GET", "/v1/services/wide?passing")
        r = conn.getresponse()
        self.assertEqual(len(json.loads(r.read())), 3000)
        conn.close()


if __name__ == "__main__":
    unittest.main()
