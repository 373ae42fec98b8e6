"""packaging/systemd/cairn.service: systemd-analyze accepts it and rates its
exposure at most EXPOSURE_LIMIT, and the agent starts as the unit starts it:
as an unprivileged user, no new privileges, CAP_NET_BIND_SERVICE as its only
(ambient) capability, and then serves DNS on port 53 (of a loopback address)
and says READY=1. systemd is not PID 1 where the tests run, so the unit is
not started by systemd itself."""
import configparser
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

import dns.message
import dns.query
import dns.rcode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "agent"))
import harness  # noqa: E402
from systemd_notify import NotifySocket  # noqa: E402

ROOT = os.environ.get("CAIRN_SOURCE_ROOT", harness.ROOT)
UNIT = os.path.join(ROOT, "packaging", "systemd", "cairn.service")
# systemd-analyze security's score, 0 (locked down) to 10; the unit is at 1.8.
EXPOSURE_LIMIT = 2.0


def read_unit():
    """The unit as {section: {key: [values]}} (keys repeat in units)."""
    sections = {}
    current = None
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), {})
                continue
            key, value = line.split("=", 1)
            current.setdefault(key, []).append(value)
    return sections


class SystemdUnit(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cairn-unit-")
        os.chmod(self.dir, 0o755)
        # The unit names the installed binary; here it is the one just built.
        with open(UNIT) as f:
            text = f.read().replace("/usr/bin/cairn", harness.CAIRN_BIN)
        self.unit = os.path.join(self.dir, "cairn.service")
        with open(self.unit, "w") as f:
            f.write(text)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_systemd_analyze_verify(self):
        # --man=no: the man pages are checked by their own test, installed or not.
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", self.unit],
                           capture_output=True, text=True, timeout=60, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "", "no warnings")

    def test_systemd_analyze_security(self):
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                            # --threshold counts tenths
                            f"--threshold={round(EXPOSURE_LIMIT * 10)}", "--no-pager", self.unit],
                           capture_output=True, text=True, timeout=60, cwd=self.dir)
        score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
        self.assertIsNotNone(score, r.stdout + r.stderr)
        self.assertLessEqual(float(score.group(1)), EXPOSURE_LIMIT)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_what_the_unit_promises(self):
        service = read_unit()["Service"]
        self.assertEqual(service["Type"], ["notify"])
        self.assertEqual(service["User"], ["cairn"])
        self.assertNotIn("DynamicUser", service)  # the package's postinst makes the user
        self.assertEqual(service["AmbientCapabilities"], ["CAP_NET_BIND_SERVICE"])
        self.assertEqual(service["CapabilityBoundingSet"], ["CAP_NET_BIND_SERVICE"])
        self.assertEqual(service["StateDirectory"], ["cairn"])  # the default data_dir
        for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
            self.assertEqual(service[key], ["yes"], key)
        self.assertEqual(service["ProtectSystem"], ["strict"])
        self.assertIn("WatchdogSec", service)
        self.assertEqual(service["ExecReload"], ["/bin/kill -HUP $MAINPID"])

    @unittest.skipUnless(os.getuid() == 0, "setpriv needs root to drop to another user")
    def test_starts_as_the_unit_starts_it(self):
        host = "127.53.0.%d" % (os.getpid() % 200 + 20)
        http_port = harness.free_port()
        config_dir = os.path.join(self.dir, "etc")
        data_dir = os.path.join(self.dir, "data")
        os.makedirs(config_dir)
        os.makedirs(data_dir)
        os.chown(data_dir, 65534, 65534)  # as StateDirectory= hands it to User=
        with open(os.path.join(config_dir, "cairn.toml"), "w") as f:
            f.write(f'node_name = "unit"\ndata_dir = "{data_dir}"\nadvertise_address = "{host}"\n'
                    f'[dns]\nlisten = ["{host}:53"]\nworkers = 1\nzones_dir = "{self.dir}/none"\n'
                    f'[http]\nlisten = "127.0.0.1:{http_port}"\n'
                    f'[gossip]\nbind = "{host}:{harness.free_port(host)}"\n')
        service = read_unit()["Service"]
        argv = shlex.split(service["ExecStart"][0].replace("/usr/bin/cairn", harness.CAIRN_BIN))
        argv[argv.index("/etc/cairn")] = config_dir
        cap = service["AmbientCapabilities"][0].lower().removeprefix("cap_")
        as_unit = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   f"--inh-caps=-all,+{cap}", f"--ambient-caps=-all,+{cap}",
                   f"--bounding-set=-all,+{cap}", "--no-new-privs"]

        # Without the capability, port 53 is refused: it is what the unit adds.
        r = subprocess.run(as_unit[:4] + ["--bounding-set=-all", "--no-new-privs"] + argv,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("agent.failed", r.stderr)

        notify = NotifySocket()
        os.chmod(notify.dir, 0o755)
        os.chmod(notify.path, 0o777)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        env["NOTIFY_SOCKET"] = notify.path
        log = open(os.path.join(self.dir, "agent.log"), "wb")
        proc = subprocess.Popen(as_unit + argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        harness._started.append(proc)
        try:
            ready = notify.next_with("READY", timeout=20)
            self.assertEqual(ready["READY"], "1")
            q = dns.message.make_query("cairn.", "SOA")
            r = dns.query.udp(q, host, port=53, timeout=2)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            with open(f"/proc/{proc.pid}/status") as f:
                status = f.read()
            self.assertRegex(status, r"Uid:\s+65534\s")
            self.assertRegex(status, r"NoNewPrivs:\s+1")
            self.assertRegex(status, r"CapAmb:\s+0000000000000400")  # CAP_NET_BIND_SERVICE only
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(timeout=15), 0)
            log.close()
            notify.close()


if __name__ == "__main__":
    unittest.main()
