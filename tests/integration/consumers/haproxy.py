"""Debian's HAProxy (2.6) filling a backend from cairn's SRV records: a
`resolvers` section names cairn's DNS, `server-template` on
_web._tcp.service.cairn takes the instances with their weights, and an
instance whose cairn check fails leaves the backend (cairn drops it from the
SRV answer; HAProxy's own checks are off, so only DNS can take it out).
Asserted through HAProxy's stats socket (`show servers state`), and a
request through HAProxy reaches a registered server."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Agent, at_exit, free_port, wait_until  # noqa: E402
from targets import Target, require_program  # noqa: E402

HAPROXY = "/usr/sbin/haproxy"
HOLD_S = 1  # resolvers' hold times; HAProxy asks again every `hold valid`
# SRV weights as HAProxy 2.6 maps them: weight / 256, at least 1 (RFC
# 2782's 0-65535 onto HAProxy's 1-256).
WEIGHTS = [512, 2560, 25600]


def ha_weight(srv_weight):
    return max(1, srv_weight // 256)


class HaproxyFollowsCairn(unittest.TestCase):
    def setUp(self):
        require_program(self, HAPROXY, "haproxy")
        self.work = tempfile.mkdtemp(prefix="cairn-haproxy-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.agent = Agent()
        self.agent.start()
        self.addCleanup(self.agent.stop)
        # One address each: HAProxy 2.6 pairs an additional-section A record
        # with one SRV record only, so instances sharing an address (and so
        # a target name) past the first wait for an A lookup of their own.
        self.targets = [Target(f"w{k}", host=f"127.0.0.{11 + k}") for k in range(3)]
        for t, weight in zip(self.targets, WEIGHTS):
            self.addCleanup(t.stop)
            body = {"id": t.name, "name": "web", "address": t.host, "port": t.port, "weight": weight,
                    "checks": [{"http": t.url(), "interval": "1s", "timeout": "1s"}]}
            status, reply = self.agent.http("PUT", "/v1/services", json.dumps(body))
            self.assertEqual(status, 200, reply)
        self.start_haproxy()

    def start_haproxy(self):
        self.socket_path = os.path.join(self.work, "haproxy.sock")
        self.front_port = free_port()
        config = os.path.join(self.work, "haproxy.cfg")
        with open(config, "w") as f:
            f.write(f"""global
    stats socket {self.socket_path} mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

resolvers cairn
    nameserver cairn 127.0.0.1:{self.agent.dns_port}
    accepted_payload_size 1232
    resolve_retries 3
    timeout resolve 200ms
    timeout retry 200ms
    hold valid {HOLD_S}s
    hold obsolete 0s
    hold nx {HOLD_S}s
    hold refused {HOLD_S}s
    hold timeout {HOLD_S}s
    hold other {HOLD_S}s

backend web
    balance roundrobin
    server-template web 5 _web._tcp.service.cairn resolvers cairn resolve-prefer ipv4 init-addr none

frontend front
    bind 127.0.0.1:{self.front_port}
    default_backend web
""")
        check = subprocess.run([HAPROXY, "-c", "-f", config], capture_output=True, text=True, timeout=10)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        log = open(os.path.join(self.work, "haproxy.log"), "wb")
        self.addCleanup(log.close)
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", config], stdout=log, stderr=subprocess.STDOUT)
        at_exit(self.kill_haproxy)
        self.addCleanup(self.kill_haproxy)
        wait_until(lambda: os.path.exists(self.socket_path) and self.servers() is not None, timeout=15,
                   what="HAProxy's stats socket")

    def kill_haproxy(self):
        if self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()

    def command(self, text):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(self.socket_path)
            s.sendall(text.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode()
                out += chunk

    def servers(self):
        """{port: weight} of the servers HAProxy has from DNS and serves:
        an address, and no maintenance (forced, inherited, or from DNS)."""
        if self.haproxy.poll() is not None:
            with open(os.path.join(self.work, "haproxy.log"), "rb") as f:
                raise AssertionError(f"haproxy exited: {f.read().decode(errors='replace')[-3000:]}")
        lines = self.command("show servers state web").splitlines()
        header = next(l for l in lines if l.startswith("# be_id"))
        names = header[2:].split()
        out = {}
        for line in lines:
            if not line or line.startswith("#") or line[0] not in "0123456789":
                continue
            fields = line.split()
            if len(fields) < len(names):  # the format version line ("1")
                continue
            row = dict(zip(names, fields))
            admin = int(row["srv_admin_state"])
            if row["srv_addr"] in ("-", "0.0.0.0") or admin & 0x23:  # FMAINT | IMAINT | RMAINT
                continue
            out[int(row["srv_port"])] = int(row["srv_uweight"])
        return out

    def want(self, *indexes):
        return {self.targets[k].port: ha_weight(WEIGHTS[k]) for k in indexes}

    def wait_servers(self, want, what):
        started = time.monotonic()
        seen = {}

        def follows():
            seen["servers"] = self.servers()
            return seen["servers"] == want
        try:
            wait_until(follows, timeout=10 + HOLD_S, interval=0.1, what=f"haproxy: {what}")
        except AssertionError as e:
            state = self.command("show servers state web")
            raise AssertionError(f"{e}: want {want} (port: weight), have {seen.get('servers')}\n{state}") from None
        print(f"haproxy: {what}: followed in {time.monotonic() - started:.1f} s", file=sys.stderr)

    def test_servers_follow_srv_with_weights_and_health(self):
        self.wait_servers(self.want(0, 1, 2), "three servers with their weights")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.front_port}/", timeout=5) as r:
            self.assertIn(r.read().decode().strip(), {"w0", "w1", "w2"})
        self.targets[1].code = 500  # cairn's check fails: w1 leaves the SRV answer
        self.wait_servers(self.want(0, 2), "a failing check")
        self.targets[1].code = 200
        self.wait_servers(self.want(0, 1, 2), "recovery")
        status, reply = self.agent.http("DELETE", "/v1/services/w0")
        self.assertEqual(status, 200, reply)
        self.wait_servers(self.want(1, 2), "deregistration")


if __name__ == "__main__":
    unittest.main()
