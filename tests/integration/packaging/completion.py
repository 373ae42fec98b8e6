"""packaging/bash-completion/cairn, sourced in bash and called as bash calls
it (COMP_WORDS, COMP_CWORD), against a dev agent (`cairn agent --dev`, its
ports moved to free ones) with services registered through the API."""
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import harness

ROOT = os.environ.get("CAIRN_SOURCE_ROOT", harness.ROOT)
COMPLETION = os.path.join(ROOT, "packaging", "bash-completion", "cairn")
# Built with the binary (packaging/man/meson.build).
CAIRN_1 = os.path.join(os.path.dirname(harness.CAIRN_BIN), "packaging", "man", "cairn.1")


def complete(words, addr=None):
    """What _cairn offers for the command line `words`, the last being the
    word under the cursor."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_HTTP")}
    if addr:
        env["CAIRN_HTTP_ADDR"] = addr
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f"source '{COMPLETION}' && complete -p cairn >/dev/null && "
              f"COMP_WORDS=({quoted}) && COMP_CWORD={len(words) - 1} && _cairn && "
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       text=True, env=env, timeout=30)
    if r.returncode != 0 or r.stderr:
        raise AssertionError(f"bash: exit {r.returncode}: {r.stderr}")
    return sorted(w for w in r.stdout.splitlines() if w)


def man_flags():
    """{command: [flags]} from cairn(1), which is made from the command table."""
    out, command = {}, None
    with open(CAIRN_1) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SS "):
            command = line[4:]
            out[command] = []
        elif line.startswith(".SH"):
            command = "client" if line == ".SH CLIENT OPTIONS" else None
            if command:
                out[command] = []
        elif line == ".TP" and command:
            # ".TP" then "\fB\-\-config\fR \fIFILE|DIR\fR"
            tag = lines[i + 1]
            out[command].append(tag[3:tag.index("\\fR")].replace("\\-", "-"))
    return out


class Completion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="cairn-completion-")
        dns_port = harness.free_port()
        http_port = harness.free_port(avoid={dns_port})
        gossip_port = harness.free_port(avoid={dns_port, http_port})
        ports = os.path.join(cls.dir, "ports.toml")
        cls.primary = base64.b64encode(os.urandom(32)).decode()
        with open(ports, "w") as f:
            f.write(f'[dns]\nlisten = ["127.0.0.1:{dns_port}"]\nworkers = 1\n'
                    f'[http]\nlisten = "127.0.0.1:{http_port}"\n'
                    f'[gossip]\nbind = "127.0.0.1:{gossip_port}"\nencrypt = "{cls.primary}"\n')
        cls.addr = f"127.0.0.1:{http_port}"
        cls.log = open(os.path.join(cls.dir, "agent.log"), "wb")
        cls.proc = subprocess.Popen([harness.CAIRN_BIN, "agent", "--dev", "--config", ports],
                                    stdout=cls.log, stderr=subprocess.STDOUT)
        harness._started.append(cls.proc)
        harness.wait_until(lambda: cls.put({"name": "probe", "port": 1}) == 200, timeout=15,
                           what="the dev agent's HTTP API")
        cls.delete("probe")
        for body in ({"id": "web-1", "name": "web", "port": 8081, "checks": [{"ttl": "30s"}]},
                     {"id": "web-2", "name": "web", "port": 8082,
                      "checks": [{"id": "web-2-tcp", "tcp": "127.0.0.1:1", "interval": "10s"}]},
                     {"id": "db-1", "name": "db", "port": 5432,
                      "checks": [{"id": "db-beat", "ttl": "1m"}, {"tcp": "127.0.0.1:1"}]}):
            assert cls.put(body) == 200, body

    @classmethod
    def put(cls, body):
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                            f"http://{cls.addr}/v1/services", "-d", json.dumps(body)],
                           capture_output=True, text=True, timeout=10)
        return int(r.stdout or 0)

    @classmethod
    def delete(cls, instance_id):
        subprocess.run(["curl", "-s", "-X", "DELETE", f"http://{cls.addr}/v1/services/{instance_id}"],
                       capture_output=True, timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=15)
        cls.log.close()

    def test_commands_are_those_of_cairn_help(self):
        usage = subprocess.run([harness.CAIRN_BIN, "help"], capture_output=True, text=True).stdout
        commands = sorted(set(re.findall(r"^  cairn (\S+)", usage, re.M)))
        self.assertEqual(complete(["cairn", ""]), sorted(commands + ["--help", "--version"]))
        self.assertEqual(complete(["cairn", "reg"]), ["register"])
        self.assertEqual(complete(["cairn", "--http-addr", self.addr, "se"]), ["services"])

    def test_flags_are_those_of_cairn_1(self):
        flags = man_flags()
        self.assertIn("--check-http", flags["register"])
        for command in ("agent", "services", "register", "check", "members", "deregister",
                        "keyring"):
            expected = set(flags[command])
            if command != "agent":
                expected |= set(flags["client"])
            self.assertEqual(set(complete(["cairn", command, "--"])), expected, command)
        self.assertEqual(complete(["cairn", "register", "--check-t"]),
                         ["--check-tcp", "--check-timeout", "--check-ttl"])

    def test_flag_values(self):
        self.assertEqual(complete(["cairn", "register", "--policy", "w"]), ["weighted"])
        self.assertEqual(complete(["cairn", "agent", "--dev", "--cluster", ""]),
                         [str(n) for n in range(2, 10)])
        self.assertEqual(complete(["cairn", "register", "--port", ""]), [])
        self.assertIn(COMPLETION, complete(["cairn", "agent", "--config", COMPLETION[:-2]]))

    def test_service_names_from_the_agent(self):
        self.assertEqual(complete(["cairn", "services", ""], self.addr), ["cairn", "db", "web"])
        self.assertEqual(complete(["cairn", "services", "w"], self.addr), ["web"])
        # --http-addr on the line wins over the environment.
        self.assertEqual(complete(["cairn", "services", "--http-addr", self.addr, "d"],
                                  "127.0.0.1:1"), ["db"])
        self.assertEqual(complete(["cairn", "services", "web", ""], self.addr), [])
        self.assertEqual(complete(["cairn", "register", "--name", "d"], self.addr), ["db"])

    def test_instance_ids_for_deregister(self):
        self.assertEqual(complete(["cairn", "deregister", ""], self.addr),
                         ["cairn", "db-1", "web-1", "web-2"])
        self.assertEqual(complete(["cairn", "deregister", "web"], self.addr), ["web-1", "web-2"])

    def test_ttl_check_ids_for_check(self):
        self.assertEqual(complete(["cairn", "check", ""]), ["fail", "pass", "warn"])
        # Only heartbeat checks can be reported: not web-2-tcp, not db-1:2.
        self.assertEqual(complete(["cairn", "check", "pass", ""], self.addr), ["db-beat", "web-1:1"])
        self.assertEqual(complete(["cairn", "check", "fail", "--note", "x", "w"], self.addr),
                         ["web-1:1"])

    def test_keys_for_keyring_use_and_remove(self):
        self.assertEqual(complete(["cairn", "keyring", "u"]), ["use"])
        # Only the primary: nothing to switch to or remove.
        self.assertEqual(complete(["cairn", "keyring", "use", ""], self.addr), [])
        second = base64.b64encode(os.urandom(16)).decode()
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                            f"http://{self.addr}/v1/keyring/install", "-d", json.dumps({"key": second})],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.stdout, "200")
        self.assertEqual(complete(["cairn", "keyring", "use", ""], self.addr), [second])
        self.assertEqual(complete(["cairn", "keyring", "remove", second[:4]], self.addr), [second])
        self.assertEqual(complete(["cairn", "keyring", "install", ""], self.addr), [])
        self.assertEqual(complete(["cairn", "keyring", "use", second, ""], self.addr), [])

    def test_no_agent_completes_nothing_and_quickly(self):
        started = time.monotonic()
        self.assertEqual(complete(["cairn", "services", ""], "127.0.0.1:1"), [])
        self.assertEqual(complete(["cairn", "deregister", ""], "127.0.0.1:1"), [])
        self.assertLess(time.monotonic() - started, 10)


if __name__ == "__main__":
    unittest.main()
