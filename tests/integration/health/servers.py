"""Small loopback servers for the health integration tests and benchmark.

Not a test module. HttpTarget answers GET with a status code that the test
can change (or flap); it can be stopped and started again on the same port.
HangingTarget listens and never accepts, so a client's request never gets an
answer and its timeout must fire.
"""
import http.server
import socket
import threading
import time


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        target = self.server.target
        code = target.current_code()
        body = f"status {code}\n".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        target.hits += 1

    def log_message(self, *args):
        pass


class HttpTarget:
    """An HTTP server on 127.0.0.1 whose answer the test controls."""

    def __init__(self, port=0, code=200):
        self.code = code
        self.hits = 0
        self.flap_period = None  # seconds up, then as many down (500)
        self._flap_start = 0.0
        self._server = None
        self._thread = None
        self.port = port
        self.start()

    def current_code(self):
        if self.flap_period:
            phase = int((time.monotonic() - self._flap_start) / self.flap_period)
            return 200 if phase % 2 == 0 else 500
        return self.code

    def flap(self, period):
        self._flap_start = time.monotonic()
        self.flap_period = period

    def url(self, path="/health"):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        self._server.target = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def running(self):
        return self._server is not None


class HangingTarget:
    """Listens on 127.0.0.1 and never accepts: requests are never answered."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]

    def url(self, path="/health"):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.sock.close()


def closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
