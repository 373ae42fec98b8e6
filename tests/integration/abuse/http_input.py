"""Hostile input to the HTTP API through real curl (issue 14, item 6).

Invalid UTF-8 in a path and in a JSON body gets 400 or 404 (it was 500: the
message echoed the bytes and JSON encoding threw), with the bytes escaped in
a message that is itself valid JSON. A JSON key given twice, CR or LF in a
check's header value, NUL in a script argument and a duration built by
repetition get 400 naming the field. None of them changes the registry.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import Agent, start_http


@unittest.skipUnless(shutil.which("curl"), "needs curl")
class HttpInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = start_http(Agent())
        cls.tmp = tempfile.mkdtemp(prefix="cairn-http-input-")
        status, _ = cls.agent.http("PUT", "/v1/services",
                                   json.dumps({"name": "web", "id": "web-1", "port": 8080}))
        assert status == 200

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def curl(self, method, path, body=None):
        """(status, body bytes) from curl; path and body are bytes, sent as they are."""
        url = self.agent.http_url("").encode() + path
        args = [b"curl", b"-sS", b"--max-time", b"5", b"--path-as-is", b"-X", method.encode(),
                b"-o", b"-", b"-w", b"\n%{http_code}", url]
        if body is not None:
            name = os.path.join(self.tmp, "body")
            with open(name, "wb") as f:
                f.write(body)
            args += [b"-H", b"Content-Type: application/json", b"--data-binary", b"@" + name.encode()]
        out = subprocess.run(args, capture_output=True, timeout=10, check=True).stdout
        payload, _, code = out.rpartition(b"\n")
        return int(code), payload

    def registry(self):
        status, body = self.agent.http("GET", "/v1/services")
        self.assertEqual(status, 200)
        services = json.loads(body)
        status, body = self.agent.http("GET", "/v1/services/web")
        self.assertEqual(status, 200)
        return services, [(i["id"], i["port"], i.get("version")) for i in json.loads(body)]

    def error_of(self, payload):
        """The error message; the body must be JSON (ASCII), whatever was sent."""
        payload.decode("ascii")
        return json.loads(payload)["error"]

    def test_invalid_utf8_in_a_path_is_404_with_the_bytes_escaped(self):
        before = self.registry()
        cases = [
            ("GET", b"/v1/services/web\xff\xfe", "\\xff\\xfe"),            # raw bytes
            ("GET", b"/v1/services/web%FF%FE", "\\xff\\xfe"),              # percent-encoded
            ("DELETE", b"/v1/services/web-1%C3%28", "\\xc3("),             # a broken 2-byte sequence
            ("PUT", b"/v1/services/web-1%ED%A0%80/maintenance?enable=true", "\\xed\\xa0\\x80"),  # a surrogate
            ("PUT", b"/v1/checks/%F8%88%80%80%80/pass", "\\xf8\\x88\\x80\\x80\\x80"),  # a 5-byte form
        ]
        for method, path, escaped in cases:
            with self.subTest(path=path):
                status, payload = self.curl(method, path)
                self.assertEqual(status, 404, payload)
                self.assertIn(escaped, self.error_of(payload))
        self.assertEqual(self.registry(), before)

    def test_invalid_utf8_in_a_json_body_is_400_with_the_bytes_escaped(self):
        before = self.registry()
        cases = [
            (b'{"name": "web", "id": "web-1", "port": 9090, "tags": ["a\xff"]}', "\\xff"),
            (b'{"name": "web\xc3", "id": "web-2", "port": 80}', "\\xc3"),
            (b'{"name": "web", "id": "web-2", "port": 80, "meta": {"k\xfe": "v"}}', "\\xfe"),
            (b'{"name": "web", "id": "web-2", "port": 80, "checks": [{"http": "http://127.0.0.1/\x80", '
             b'"interval": "1s"}]}', "\\x80"),
        ]
        for body, escaped in cases:
            with self.subTest(body=body):
                status, payload = self.curl("PUT", b"/v1/services", body)
                self.assertEqual(status, 400, payload)
                message = self.error_of(payload)
                self.assertTrue(message.startswith("body: "), message)
                self.assertIn(escaped, message)
        status, payload = self.curl("PUT", b"/v1/checks/web-1:1/pass", b'{"note": "\xff"}')
        self.assertIn(status, (400, 404), payload)
        self.error_of(payload)
        self.assertEqual(self.registry(), before)

    def test_bad_fields_are_refused_naming_them(self):
        before = self.registry()
        check = '{"name": "web", "id": "web-1", "port": 9090, "checks": [%s]}'
        cases = [
            (b'{"name": "web", "id": "web-1", "port": 9090, "port": 9091}',
             'body: the key "port" appears twice in one object'),
            (b'{"name": "web", "id": "web-1", "port": 9090, "meta": {"k": "1", "k": "2"}}',
             'body: the key "k" appears twice in one object'),
            ((check % '{"http": "http://127.0.0.1/", "headers": {"X-A": "1\\r\\nX-Injected: 1"}}').encode(),
             'checks[0].headers.X-A: "1\\x0d\\x0aX-Injected: 1" contains CR, LF'),
            ((check % '{"http": "http://127.0.0.1/", "headers": {"X-A": "1\\nX-Injected: 1"}}').encode(),
             'checks[0].headers.X-A: "1\\x0aX-Injected: 1" contains CR, LF'),
            ((check % '{"args": ["/bin/true", "a\\u0000b"], "interval": "1s"}').encode(),
             "checks[0].args[1]: contains a NUL byte"),
            ((check % ('{"ttl": "%s"}' % ("1m" * 50_000))).encode(), "checks[0].ttl: "),
            ((check % '{"ttl": "1m1m"}').encode(), 'checks[0].ttl: "1m1m" is not a duration'),
        ]
        for body, names in cases:
            with self.subTest(body=body[:120]):
                status, payload = self.curl("PUT", b"/v1/services", body)
                self.assertEqual(status, 400, payload)
                self.assertIn(names, self.error_of(payload))
                print(self.error_of(payload)[:150], file=sys.stderr)
        self.assertEqual(self.registry(), before)


if __name__ == "__main__":
    unittest.main()
