"""`cairn agent --dev --cluster 3`, as the README's "A cluster" shows it: three
agents n1-n3 on 127.0.0.1-3 (DNS :8600, HTTP :8500, gossip :8301 on each)
that join each other in the foreground; a registration on n1 with curl is
answered by dig on n3; the NS RRset names all three; `cairn members` on n2
lists three alive; Ctrl-C (SIGINT to the process group, as a terminal sends
it) stops all three, with exit code 0 and every port free again. `kill -9`
of one: its instance leaves the others' answers and they keep running. One
that cannot start (its HTTP address taken) stops the others, exit code 1.
`kill -9` of the command: its three agents stop too.

Runs alone (is_parallel false in meson.build): the ports are the documented
ones. Skipped when one of them is taken on this machine (a dev agent someone
is running)."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import CAIRN_BIN, wait_until

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
PORTS = [(8600, socket.SOCK_DGRAM), (8600, socket.SOCK_STREAM), (8500, socket.SOCK_STREAM),
         (8301, socket.SOCK_DGRAM), (8301, socket.SOCK_STREAM)]


def taken():
    """The documented addresses that something holds now."""
    busy = []
    for host in HOSTS:
        for port, kind in PORTS:
            with socket.socket(socket.AF_INET, kind) as s:
                # As the agent binds: a connection in TIME_WAIT does not hold the port.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((host, port))
                except OSError:
                    busy.append(f"{host}:{port}")
    return busy


def sh(*args, env=None):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=10, env=env)
    return r.stdout


class DevCluster(unittest.TestCase):
    def setUp(self):
        busy = taken()
        if busy:
            self.skipTest(f"in use: {', '.join(busy)} (a dev agent running?)")
        self.log_path = os.path.join(tempfile.mkdtemp(prefix="cairn-test-devcluster-"), "out.log")
        self.log = open(self.log_path, "wb")
        # What `tools/dev --cluster 3` runs once the build is done.
        self.proc = subprocess.Popen([CAIRN_BIN, "agent", "--dev", "--cluster", "3"], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self.kill_all)

    def kill_all(self):
        # The command and its agents share the process group it leads, even
        # after the command is gone.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def members(self, host):
        if self.proc.poll() is not None:
            raise AssertionError(f"exited with {self.proc.returncode}:\n{self.read_log()}")
        out = sh("curl", "-s", "-m", "1", f"{host}:8500/v1/members")
        return {m["name"]: m["state"] for m in json.loads(out)} if out else {}

    def test_readme_cluster(self):
        three = {"n1": "alive", "n2": "alive", "n3": "alive"}
        wait_until(lambda: all(self.members(h) == three for h in HOSTS), timeout=20, interval=0.1,
                   what="n1, n2, n3 alive on all three")

        # The README's commands, as written there.
        out = sh("curl", "-s", "-X", "PUT", "127.0.0.1:8500/v1/services", "-d",
                 '{"name":"web","address":"127.0.0.11","port":8080}')
        self.assertIn('"node":"n1"', out.replace(" ", ""), out)
        wait_until(lambda: sh("dig", "@127.0.0.3", "-p", "8600", "+short", "web.service.cairn").split()
                   == ["127.0.0.11"], timeout=1, what="dig on n3 to answer web, registered on n1")
        ns = sh("dig", "@127.0.0.2", "-p", "8600", "+short", "NS", "cairn").split()
        self.assertEqual(sorted(ns), ["n1.node.cairn.", "n2.node.cairn.", "n3.node.cairn."])
        listed = sh(CAIRN_BIN, "members", env={**os.environ, "CAIRN_HTTP_ADDR": "127.0.0.2:8500"})
        rows = [line.split() for line in listed.splitlines()[1:]]
        self.assertEqual(sorted((r[0], r[2]) for r in rows),
                         [("n1", "alive"), ("n2", "alive"), ("n3", "alive")], listed)
        # Every dev agent registers itself: the cluster answers for all three.
        wait_until(lambda: sorted(sh("dig", "@127.0.0.1", "-p", "8600", "+short", "cairn.service.cairn")
                                  .split()) == HOSTS, timeout=2, what="cairn.service.cairn: three")

        # Ctrl-C: the terminal's SIGINT reaches every process of the group.
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 20 s after SIGINT:\n{self.read_log()}") from None
        self.assertEqual(code, 0, self.read_log())
        # Nothing of the three is left holding a port.
        wait_until(lambda: not taken(), timeout=5, what="every port free again")
        self.assertEqual(self.read_log().count("msg=agent.stopped"), 3, self.read_log())

    def children(self):
        pids = sh("pgrep", "-s", str(self.proc.pid)).split()
        return [int(p) for p in pids if int(p) != self.proc.pid]

    def test_kill_9_one_the_others_keep_running(self):
        three = {"n1": "alive", "n2": "alive", "n3": "alive"}
        wait_until(lambda: all(self.members(h) == three for h in HOSTS), timeout=20, interval=0.1,
                   what="n1, n2, n3 alive on all three")
        self.assertEqual(len(self.children()), 3)
        # Each agent logs its pid when ready.
        n2 = re.search(r"msg=agent\.ready node=n2 pid=(\d+)", self.read_log())
        self.assertIsNotNone(n2, self.read_log())
        self.assertIn(int(n2.group(1)), self.children())
        os.kill(int(n2.group(1)), signal.SIGKILL)
        # n2's own registration (service cairn) leaves the others' answers
        # once it is declared dead; the cluster command keeps running.
        wait_until(lambda: sorted(sh("dig", "@127.0.0.1", "-p", "8600", "+short", "cairn.service.cairn")
                                  .split()) == ["127.0.0.1", "127.0.0.3"], timeout=30, interval=0.2,
                   what="n2's instance gone from n1's answers")
        self.assertIsNone(self.proc.poll())
        self.assertIn("n2 was killed by signal 9; the others keep running", self.read_log())
        os.killpg(self.proc.pid, signal.SIGINT)
        self.assertEqual(self.proc.wait(timeout=20), 0, self.read_log())
        wait_until(lambda: not taken(), timeout=5, what="every port free again")


    def test_kill_9_of_the_command_stops_its_agents(self):
        three = {"n1": "alive", "n2": "alive", "n3": "alive"}
        wait_until(lambda: all(self.members(h) == three for h in HOSTS), timeout=20, interval=0.1,
                   what="n1, n2, n3 alive on all three")
        children = self.children()
        self.assertEqual(len(children), 3)
        self.proc.kill()
        self.proc.wait()
        wait_until(lambda: not sh("pgrep", "-s", str(self.proc.pid)).split(), timeout=20, interval=0.1,
                   what="the three agents to stop after their parent's kill -9")
        wait_until(lambda: not taken(), timeout=5, what="every port free again")


class DevClusterStartFailure(unittest.TestCase):
    def test_one_that_cannot_start_stops_the_others(self):
        busy = taken()
        if busy:
            self.skipTest(f"in use: {', '.join(busy)} (a dev agent running?)")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
            holder.bind(("127.0.0.2", 8500))
            holder.listen()
            r = subprocess.run([CAIRN_BIN, "agent", "--dev", "--cluster", "3"], capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("n2 exited with 1; stopping the others", r.stderr)
        wait_until(lambda: not taken(), timeout=5, what="every port free again")

if __name__ == "__main__":
    unittest.main()
