"""`cairn agent --dev`: one self-contained node that serves the repository's
zones/ and registers itself as service `cairn`."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_util as util  # noqa: E402
from harness import CAIRN_BIN, free_port, wait_until  # noqa: E402


def query(port, name, rdtype, tcp=False):
    q = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=0.5)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)


def answers_self(port):
    r = query(port, "cairn.service.cairn.", "A")
    return r.rcode() == dns.rcode.NOERROR and util.addresses(r) == ["127.0.0.1"]


class DevAgent:
    def __init__(self, args):
        self.dir = tempfile.mkdtemp(prefix="cairn-test-dev-")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([CAIRN_BIN, "agent", "--dev", *args], stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("dev agent did not stop within 10s")
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


class Dev(unittest.TestCase):
    def test_dev_with_ports_moved(self):
        # The dev defaults with the three ports moved, so that this test runs next to a real dev agent.
        dns_port, http_port, gossip_port = free_port(), free_port(), free_port()
        override = os.path.join(tempfile.mkdtemp(prefix="cairn-test-devcfg-"), "ports.toml")
        util.write(override, f'[dns]\nlisten = ["127.0.0.1:{dns_port}"]\nworkers = 1\n'
                             f'[http]\nlisten = "127.0.0.1:{http_port}"\n'
                             f'[gossip]\nbind = "127.0.0.1:{gossip_port}"\n')
        agent = DevAgent(["--config", override])
        try:
            wait_until(lambda: agent.proc.poll() is None and query(dns_port, "cairn.", "SOA"), timeout=15,
                       what="the dev agent to serve")
            # The repository's example zone is served.
            r = query(dns_port, "example.test.", "SOA")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            # The agent registered itself: cairn.service.cairn, SRV port = the HTTP port.
            wait_until(lambda: answers_self(dns_port), timeout=5, what="cairn.service.cairn A 127.0.0.1")
            srv = query(dns_port, "cairn.service.cairn.", "SRV", tcp=True)
            ports = [rr.port for rrset in srv.answer for rr in rrset if rrset.rdtype == dns.rdatatype.SRV]
            self.assertEqual(ports, [http_port])
            log = agent.read_log()
            data_dir = [x.split("path=")[1].split()[0] for x in log.splitlines() if "msg=data_dir.ready" in x][0]
            self.assertTrue(os.path.isdir(data_dir))
        finally:
            self.assertEqual(agent.stop(), 0)
        self.assertFalse(os.path.exists(data_dir), "the dev data_dir is temporary")

    def test_dev_on_the_documented_ports(self):
        for port, kind in ((8600, socket.SOCK_DGRAM), (8600, socket.SOCK_STREAM), (8500, socket.SOCK_STREAM),
                           (8301, socket.SOCK_DGRAM), (8301, socket.SOCK_STREAM)):
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    self.skipTest(f"127.0.0.1:{port} is in use (another dev agent?)")
        agent = DevAgent([])
        try:
            wait_until(lambda: agent.proc.poll() is None and answers_self(8600), timeout=15,
                       what="dig @127.0.0.1 -p 8600 cairn.service.cairn to answer")
        finally:
            self.assertEqual(agent.stop(), 0)


if __name__ == "__main__":
    unittest.main()
