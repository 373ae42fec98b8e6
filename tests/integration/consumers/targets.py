"""Small HTTP servers on loopback for the consumer tests (not a test module).

Target answers GET /health with a status code and body the test sets, and
GET /metrics with one Prometheus metric naming the target, so Prometheus has
something to scrape and HAProxy something to check.
"""
import http.server
import os
import shutil
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        target = self.server.target
        if self.path.startswith("/metrics"):
            code, body = 200, f'cairn_test_target_up{{name="{target.name}"}} 1\n'
        elif self.path.startswith("/health"):
            code, body = target.code, target.body
        else:
            code, body = 200, f"{target.name}\n"
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Target:
    """An HTTP server on `host` (loopback), port chosen by the kernel."""

    def __init__(self, name, host="127.0.0.1", code=200, body="ok\n"):
        self.name = name
        self.host = host
        self.code = code
        self.body = body
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer((host, 0), _Handler)
        self._server.daemon_threads = True
        self._server.target = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def url(self, path="/health"):
        return f"http://{self.host}:{self.port}{path}"

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


def require_program(test, path, package):
    """Skips unless `path` exists (tools/deps.sh installs `package`)."""
    if not (os.path.exists(path) or shutil.which(path)):
        test.skipTest(f"{path} is not installed (Debian package {package}, tools/deps.sh)")
