"""Storage faults (issue 14, items 2 and 6): a data_dir that cannot be
written stops the start, naming it; on a full file system a write is
answered 503 with the reason and changes nothing DNS serves, /health and
/metrics show the fault, and a SIGTERM stop that cannot persist exits 1;
once space is free, writes succeed again. Also: a stored version of 2^64-1
refuses writes instead of wrapping to 0, and entries rejected at load are
copied to rejected-*.json. The file systems are small tmpfs mounts (root)."""
import errno
import json
import os
import subprocess
import unittest

import dns.rcode

from harness import Agent
from storage_util import start_serving


def mount_tmpfs(path, size="2m", options=""):
    os.makedirs(path, exist_ok=True)
    opts = f"size={size}" + (f",{options}" if options else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path], check=True)


def umount(path):
    subprocess.run(["umount", path], check=False)


def fill(path):
    """Writes a file until the file system is full; returns its path."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        chunk = b"\0" * 4096
        for _ in range(100_000):  # far more than 2 MiB
            try:
                os.write(fd, chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    return filler


def register(agent, instance_id, meta_bytes=0):
    body = {"name": "web", "id": instance_id, "address": "10.3.0.1", "port": 80,
            "meta": {f"pad{k}": "x" * 200 for k in range(meta_bytes // 200)}}
    return agent.http("PUT", "/v1/services", json.dumps(body), timeout=10)


def ids(agent):
    status, body = agent.http("GET", "/v1/services/web", timeout=5)
    return set() if status == 404 else {i["id"] for i in json.loads(body)}


def metric(agent, name):
    status, body = agent.http("GET", "/metrics", timeout=5)
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


class ReadOnlyDataDir(unittest.TestCase):
    def test_the_agent_refuses_to_start_naming_the_data_dir(self):
        a = Agent()
        data = os.path.join(a.dir, "data")
        mount_tmpfs(data)
        try:
            # Once with a state.db written by an earlier run, once empty.
            start_serving(a)
            self.assertEqual(register(a, "web-1")[0], 200)
            self.assertEqual(a.stop(), 0)
            for leave_db in (True, False):
                if not leave_db:
                    for name in os.listdir(data):
                        os.remove(os.path.join(data, name))
                subprocess.run(["mount", "-o", "remount,ro", data], check=True)
                try:
                    a.start(wait=False)
                    a.proc.wait(timeout=15)
                    a.log.close()
                    self.assertEqual(a.proc.returncode, 1)
                    log = a.read_log()
                    self.assertIn("agent.failed", log)
                    self.assertIn(f"data_dir {data}", log)
                finally:
                    subprocess.run(["mount", "-o", "remount,rw", data], check=True)
        finally:
            umount(data)


class FullFileSystem(unittest.TestCase):
    def setUp(self):
        self.agent = Agent()
        self.data = os.path.join(self.agent.dir, "data")
        mount_tmpfs(self.data)
        start_serving(self.agent)

    def tearDown(self):
        if self.agent.proc and self.agent.proc.poll() is None:
            self.agent.proc.kill()
            self.agent.proc.wait()
        umount(self.data)

    def fail_a_write(self):
        """Fills the disk; returns the id of a registration answered 503."""
        a = self.agent
        self.filler = fill(self.data)
        for n in range(200):
            status, body = register(a, f"full-{n}", meta_bytes=3000)
            if status == 503:
                self.assertIn("not stored", body.decode())
                self.assertIn("full", body.decode())
                return f"full-{n}"
            self.assertEqual(status, 200, body)
        self.fail("no write was refused on a full file system")

    def test_a_write_that_cannot_be_stored_is_503_changes_nothing_and_the_stop_exits_1(self):
        a = self.agent
        self.assertEqual(register(a, "web-1")[0], 200)
        refused = self.fail_a_write()
        before = ids(a)
        self.assertIn("web-1", before)
        self.assertNotIn(refused, before)
        self.assertEqual(a.http("DELETE", "/v1/services/web-1")[0], 503)
        self.assertIn("web-1", ids(a))
        # DNS serves nothing of the refused write.
        self.assertEqual(a.query("web.service.cairn.", "A").rcode(), dns.rcode.NOERROR)
        status, body = a.http("GET", "/health")
        self.assertEqual(status, 503)
        self.assertIn("storage fault", body.decode())
        self.assertEqual(metric(a, "cairn_storage_fault"), 1)
        # The stop cannot persist: exit 1.
        self.assertEqual(a.stop(timeout=15), 1)
        self.assertIn("state.stop_failed", a.read_log())
        # With space again, what was acknowledged is there, the refused write is not.
        os.remove(self.filler)
        start_serving(a)
        now = ids(a)
        self.assertIn("web-1", now)
        self.assertNotIn(refused, now)
        self.assertEqual(a.stop(), 0)

    def test_writes_succeed_again_once_there_is_space(self):
        a = self.agent
        refused = self.fail_a_write()
        os.remove(self.filler)
        status, _ = register(a, refused)
        self.assertEqual(status, 200)
        self.assertIn(refused, ids(a))
        self.assertEqual(a.http("GET", "/health")[0], 200)
        self.assertEqual(metric(a, "cairn_storage_fault"), 0)
        self.assertEqual(a.stop(), 0)


class LoadedState(unittest.TestCase):
    def test_a_stored_version_of_2_64_minus_1_refuses_writes_instead_of_wrapping(self):
        a = Agent()
        data = os.path.join(a.dir, "data")
        os.makedirs(data)
        with open(os.path.join(data, "services.json"), "w") as f:
            json.dump({"format": 1, "instances": [{"name": "web", "id": "web-1", "address": "10.3.0.1",
                                                    "port": 80, "version": 2**64 - 1}]}, f)
        start_serving(a)
        try:
            status, body = register(a, "web-2")
            self.assertEqual(status, 503, body)
            self.assertIn("2^64-1", body.decode())
            status, body = a.http("GET", "/v1/services/web")
            self.assertEqual([i["version"] for i in json.loads(body)], [2**64 - 1])
        finally:
            self.assertEqual(a.stop(), 0)

    def test_entries_rejected_at_load_are_copied_to_rejected_json(self):
        a = Agent()
        data = os.path.join(a.dir, "data")
        os.makedirs(data)
        bad = {"name": "web", "id": "web-bad", "address": "10.3.0.1", "port": 0, "version": 3}
        with open(os.path.join(data, "services.json"), "w") as f:
            json.dump({"format": 1, "instances": [
                {"name": "web", "id": "web-1", "address": "10.3.0.1", "port": 80, "version": 2}, bad]}, f)
        start_serving(a)
        try:
            self.assertEqual(ids(a), {"web-1"})
            self.assertEqual(register(a, "web-2")[0], 200)  # a save, as the old file store did
        finally:
            self.assertEqual(a.stop(), 0)
        copies = [n for n in os.listdir(data) if n.startswith("rejected-") and n.endswith(".json")]
        self.assertEqual(len(copies), 1, os.listdir(data))
        with open(os.path.join(data, copies[0])) as f:
            kept = json.load(f)
        self.assertEqual([r["entry"] for r in kept["rejected"]], [bad])
        self.assertIn("port", kept["rejected"][0]["error"])


if __name__ == "__main__":
    unittest.main()
