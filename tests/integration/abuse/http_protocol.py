"""HTTP protocol defects (issue 14, item 6), on a real agent.

HEAD answers every GET route with GET's headers and no body; with a token
set, an unauthenticated write that asks for 100 Continue gets 401 and no
100; RFC 9112's requirements (Host in HTTP/1.1, no whitespace before a
header colon, CRLF after chunk data) are enforced with 400.
"""
import json
import re
import unittest

from abuse_util import statuses
from harness import Agent, raw_exchange, start_http

TOKEN = "s3cret"


def content_length(raw):
    m = re.search(rb"\r\nContent-Length: (\d+)\r\n", raw)
    return int(m.group(1)) if m else None


class HttpProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = start_http(Agent(config_extra=f'[http]\ntoken = "{TOKEN}"\n'))
        status, _ = cls.agent.http("PUT", "/v1/services", json.dumps({"name": "web", "id": "web-1", "port": 80}),
                                   headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()

    def test_head_answers_every_get_route_without_a_body(self):
        for path in ["/health", "/v1/services", "/v1/services/web", "/v1/members", "/v1/agent"]:
            with self.subTest(path=path):
                get = raw_exchange(self.agent, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                get_body = get.split(b"\r\n\r\n", 1)[1]
                # HEAD then GET on one connection: the GET's answer follows the
                # HEAD's headers directly, so no body was sent for HEAD.
                raw = raw_exchange(self.agent, (f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n"
                                                f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
                self.assertEqual(statuses(raw), [200, 200])
                head, rest = raw.split(b"\r\n\r\n", 1)
                self.assertEqual(content_length(head + b"\r\n"), len(get_body))
                self.assertTrue(rest.startswith(b"HTTP/1.1 200 "), rest[:40])
        raw = raw_exchange(self.agent, b"HEAD /v1/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(statuses(raw), [404])
        self.assertTrue(raw.endswith(b"\r\n\r\n"))

    def test_expect_continue_without_token_gets_401_and_no_100(self):
        raw = raw_exchange(self.agent, b"PUT /v1/services HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                       b"Content-Length: 40\r\nExpect: 100-continue\r\n\r\n",
                           read_timeout=3, until=lambda b: b"\r\n\r\n" in b)
        self.assertEqual(statuses(raw)[:1], [401], raw[:200])
        self.assertNotIn(b"100 Continue", raw)
        # With the token, the client is told to go on.
        raw = raw_exchange(self.agent, b"PUT /v1/services HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                       b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                                       b"Content-Length: 40\r\nExpect: 100-continue\r\n\r\n",
                           read_timeout=3, until=lambda b: b"\r\n\r\n" in b)
        self.assertEqual(statuses(raw)[:1], [100], raw[:200])

    def test_rfc9112_violations_get_400(self):
        cases = {
            "no Host": b"GET /health HTTP/1.1\r\n\r\n",
            "two Hosts": b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "space before colon": b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n",
            "chunk data without CRLF": b"GET /health HTTP/1.1\r\nHost: x\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                raw = raw_exchange(self.agent, data, read_timeout=3)
                self.assertEqual(statuses(raw), [400], raw[:300])
        # HTTP/1.0 without Host is fine.
        self.assertEqual(statuses(raw_exchange(self.agent, b"GET /health HTTP/1.0\r\n\r\n")), [200])


if __name__ == "__main__":
    unittest.main()
