"""The HTTP API against bad input and bad clients, on a real agent.

Each bad request gets its error (naming the field) or its timeout, the agent
keeps serving, and the registry is unchanged. Also: the bearer token, and
registrations surviving a restart (and a corrupt state file not stopping it).
"""
import json
import sqlite3
import os
import socket
import time
import unittest

from harness import Agent, raw_exchange, start_http


def status_of(raw):
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else None


class HttpLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = start_http(Agent(config_extra='[http]\nidle_timeout = "500ms"\n'))
        status, _ = cls.agent.http("PUT", "/v1/services",
                                   json.dumps({"name": "web", "id": "web-1", "port": 8080, "tags": ["v1"]}))
        assert status == 200

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()

    def snapshot(self):
        status, body = self.agent.http("GET", "/v1/services/web")
        self.assertEqual(status, 200)
        instances = json.loads(body)
        for i in instances:  # check timestamps are not what we compare
            for c in i.get("checks", []):
                c.pop("last_change", None)
        return instances

    def put(self, body):
        status, out = self.agent.http("PUT", "/v1/services", body)
        return status, json.loads(out) if out else None

    def test_bad_bodies_get_400_naming_the_field_and_change_nothing(self):
        before = self.snapshot()
        cases = [
            ('{"name": "web", "id": "web-1", "port": ', "body: invalid JSON"),
            ('{"name": "web", "id": "web-1", "port": "8080"}', "port: expected an integer, got a string"),
            ('{"id": "web-1", "port": 8080}', "name: missing"),
            ('{"name": "web", "id": "web-1", "port": 70000}', "port: 70000 is out of range (1 to 65535)"),
            ('{"name": "web", "id": "web-1", "port": 80, "checks": [{"http": "http://x/", "interval": "5x"}]}',
             'checks[0].interval: "5x" is not a duration'),
            ('{"name": "web", "id": "web-1", "port": 80, "tags": "v2"}', "tags: expected an array of strings"),
        ]
        for body, message in cases:
            with self.subTest(body=body):
                status, out = self.put(body)
                self.assertEqual(status, 400)
                self.assertTrue(out["error"].startswith(message), out["error"])
        self.assertEqual(self.snapshot(), before)

    def test_two_mib_body_gets_413_without_being_read(self):
        before = self.snapshot()
        head = (b"PUT /v1/services HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (2 << 20))
        raw = raw_exchange(self.agent, head)
        self.assertEqual(status_of(raw), 413, raw[:200])
        self.assertIn(b"Connection: close", raw)
        # And with the body actually sent (the server may close mid-way).
        try:
            raw = raw_exchange(self.agent, head + b"x" * (2 << 20))
            self.assertIn(status_of(raw), (413, None))
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertEqual(self.snapshot(), before)

    def test_big_headers_get_431(self):
        raw = raw_exchange(self.agent, b"GET /v1/services HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertEqual(status_of(raw), 431)

    def test_garbage_gets_400(self):
        raw = raw_exchange(self.agent, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n")
        self.assertEqual(status_of(raw), 400)

    def test_slow_client_that_never_finishes_headers_gets_408_and_agent_keeps_serving(self):
        before = self.snapshot()
        s = socket.create_connection((self.agent.host, self.agent.http_port), timeout=5)
        try:
            s.sendall(b"PUT /v1/services HTTP/1.1\r\nHost: x\r\nContent-Le")
            started = time.monotonic()
            # Meanwhile others are served.
            status, _ = self.agent.http("GET", "/health")
            self.assertEqual(status, 200)
            data = b""
            # Until the server closes; each recv waits 5 s at most, and the
            # whole no more than 10 s.
            while time.monotonic() - started < 10:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            elapsed = time.monotonic() - started
        finally:
            s.close()
        self.assertEqual(status_of(data), 408, data)
        self.assertLess(elapsed, 4.0)
        self.assertEqual(self.snapshot(), before)

    def test_idle_keep_alive_connection_is_closed(self):
        s = socket.create_connection((self.agent.host, self.agent.http_port), timeout=5)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            first = s.recv(4096)
            self.assertEqual(status_of(first), 200)
            self.assertEqual(s.recv(4096), b"")  # closed by the idle timeout, no response
        finally:
            s.close()

    def test_keep_alive_and_pipelining(self):
        raw = raw_exchange(self.agent, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/services/web HTTP/1.1\r\nHost: x\r\n\r\n"
                           b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(raw.count(b"HTTP/1.1 "), 3)
        self.assertTrue(raw.startswith(b"HTTP/1.1 200"))
        self.assertIn(b"HTTP/1.1 404", raw)

    def test_404_and_405(self):
        self.assertEqual(self.agent.http("GET", "/v2/nothing")[0], 404)
        status, body = self.agent.http("DELETE", "/v1/members")
        self.assertEqual(status, 405)


class HttpToken(unittest.TestCase):
    def test_token_guards_writes(self):
        a = start_http(Agent(config_extra='[http]\ntoken = "s3cret"\n'))
        try:
            body = json.dumps({"name": "api", "port": 9000})
            self.assertEqual(a.http("PUT", "/v1/services", body)[0], 401)
            self.assertEqual(a.http("PUT", "/v1/services", body, {"Authorization": "Bearer nope"})[0], 401)
            self.assertEqual(a.http("GET", "/v1/services/api")[0], 404)
            self.assertEqual(a.http("PUT", "/v1/services", body, {"Authorization": "Bearer s3cret"})[0], 200)
            self.assertEqual(a.http("GET", "/v1/services/api")[0], 200)  # reads are open
            self.assertEqual(a.http("DELETE", "/v1/services/api")[0], 401)
            self.assertEqual(a.http("DELETE", "/v1/services/api", None, {"Authorization": "Bearer s3cret"})[0], 200)
        finally:
            a.stop()


class Persistence(unittest.TestCase):
    def test_registrations_survive_a_restart_and_a_corrupt_legacy_file_is_moved_aside(self):
        a = start_http(Agent())
        try:
            body = json.dumps({"name": "db", "id": "db-1", "port": 5432, "tags": ["primary"],
                               "checks": [{"ttl": "30s"}]})
            self.assertEqual(a.http("PUT", "/v1/services", body)[0], 200)
            self.assertEqual(a.http("PUT", "/v1/services/db-1/maintenance?enable=true&reason=backup")[0], 200)
        finally:
            a.stop()
        state = os.path.join(a.dir, "data", "state.db")
        start_http(a)
        try:
            status, out = a.http("GET", "/v1/services/db")
            self.assertEqual(status, 200)
            inst = json.loads(out)
            self.assertEqual([i["id"] for i in inst], ["db-1"])
            self.assertEqual(inst[0]["tags"], ["primary"])
            self.assertEqual(inst[0]["health"], "maintenance")
            # Config-defined services are not persisted.
            with sqlite3.connect(state) as db:
                self.assertEqual([r[0] for r in db.execute("SELECT id FROM instances")], ["db-1"])
        finally:
            a.stop()
        legacy = os.path.join(a.dir, "data", "services.json")
        with open(legacy, "w") as f:
            f.write("{ not json")
        start_http(a)
        try:
            self.assertEqual(a.http("GET", "/v1/services/db")[0], 200)
            aside = [n for n in os.listdir(os.path.dirname(legacy)) if n.startswith("services.json.corrupt-")]
            self.assertEqual(len(aside), 1)
            self.assertIn("state.corrupt", a.read_log())
        finally:
            a.stop()


if __name__ == "__main__":
    unittest.main()
