"""The runtime keyring of one real agent: data_dir/keyring.json written from
[gossip] encrypt at the first start (mode 0600), `cairn keyring list|install|
use|remove` against the HTTP API with memberlist's rules (a bad key, using a
key not installed and removing the primary are refused with the reason), every
change in the file when its 200 arrives, a change the file cannot take
refused with 503 and not applied, the token on reads and writes, and at
the next start the file taking precedence over [gossip] encrypt."""

import base64
import json
import os
import stat
import subprocess
import unittest

from harness import CAIRN_BIN, Agent

K1 = base64.b64encode(bytes(range(1, 17))).decode()
K2 = base64.b64encode(bytes(range(101, 133))).decode()
K3 = base64.b64encode(bytes(range(50, 74))).decode()
TOKEN = "keyring-test-token"


class Keyring(unittest.TestCase):
    def setUp(self):
        self.agent = Agent(config_extra=f'[http]\ntoken = "{TOKEN}"\n[gossip]\nprofile = "local"\nencrypt = "{K1}"\n',
                           name="k1")
        self.path = os.path.join(self.agent.dir, "data", "keyring.json")

    def tearDown(self):
        self.agent.stop()

    def cli(self, *args, token=TOKEN):
        env = dict(os.environ, CAIRN_HTTP_ADDR=f"{self.agent.host}:{self.agent.http_port}")
        env.pop("CAIRN_HTTP_TOKEN", None)
        if token:
            env["CAIRN_HTTP_TOKEN"] = token
        r = subprocess.run([CAIRN_BIN, "keyring", *args], capture_output=True, env=env, timeout=20)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def file_keys(self):
        with open(self.path) as f:
            return json.load(f)

    def test_keyring_commands_and_file(self):
        self.agent.start()
        # Written from gossip.encrypt at the first start, for the owner alone.
        self.assertEqual(self.file_keys(), [K1])
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        self.assertIn("gossip.keyring_written", self.agent.read_log())

        rc, out, _ = self.cli("list")
        self.assertEqual(rc, 0)
        self.assertEqual(out.splitlines(), ["KEY" + " " * (len(K1) - 1) + "PRIMARY", f"{K1}  yes"])
        # The keys are secret: without the token, no list and no change.
        rc, _, err = self.cli("list", token=None)
        self.assertEqual(rc, 1)
        self.assertIn("401", err)
        self.assertEqual(self.agent.http("GET", "/v1/keyring")[0], 401)

        # Refusals, with the reason, change nothing.
        rc, _, err = self.cli("install", "AAAA")
        self.assertEqual((rc, err.strip()),
                         (1, "cairn: the agent answered 400: key: key size must be 16, 24 or 32 bytes, not 3"))
        rc, _, err = self.cli("install", "not base64!")
        self.assertEqual(rc, 1)
        self.assertIn("400: key: key is not valid base64", err)
        rc, _, err = self.cli("use", K2)
        self.assertEqual((rc, err.strip()),
                         (1, "cairn: the agent answered 404: key: not installed on this agent (install it first)"))
        rc, _, err = self.cli("remove", K1)
        self.assertEqual(rc, 1)
        self.assertIn("409: key: is the primary key", err)
        self.assertEqual(self.file_keys(), [K1])

        # A change the file cannot take is 503 and changes nothing: the
        # temporary file's name is taken by a directory.
        blocker = f"{self.path}.tmp-{self.agent.proc.pid}"
        os.mkdir(blocker)
        rc, _, err = self.cli("install", K2)
        self.assertEqual(rc, 1)
        self.assertIn("503: not stored, so not applied: open " + blocker, err)
        self.assertEqual(json.loads(self.cli("list", "--json")[1]), {"primary": K1, "keys": [K1]})
        self.assertEqual(self.file_keys(), [K1])
        os.rmdir(blocker)

        # install, use, remove: each one in the file by the time it is answered.
        rc, out, _ = self.cli("install", K2)
        self.assertEqual(rc, 0)
        self.assertEqual(self.file_keys(), [K1, K2])
        self.assertIn(f"{K2}\n", out)
        rc, _, _ = self.cli("install", K3)
        self.assertEqual(self.file_keys(), [K1, K2, K3])
        rc, out, _ = self.cli("use", K2)
        self.assertEqual(rc, 0)
        self.assertEqual(self.file_keys(), [K2, K1, K3])
        self.assertIn(f"{K2}  yes", out)
        rc, _, _ = self.cli("remove", K1)
        self.assertEqual(rc, 0)
        self.assertEqual(self.file_keys(), [K2, K3])
        status, body = self.agent.http("PUT", "/v1/keyring/remove", json.dumps({"key": K3}),
                                       headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"primary": K2, "keys": [K2]})
        self.assertEqual(self.file_keys(), [K2])
        rc, out, _ = self.cli("list", "--json")
        self.assertEqual(json.loads(out), {"primary": K2, "keys": [K2]})
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        self.assertEqual(sorted(os.listdir(os.path.dirname(self.path))).count("keyring.json"), 1)
        self.assertFalse([n for n in os.listdir(os.path.dirname(self.path)) if n.startswith("keyring.json.tmp")])

        # Restarted with the same config (encrypt = K1): the file wins.
        self.assertEqual(self.agent.stop(), 0)
        self.agent.start()
        rc, out, _ = self.cli("list", "--json")
        self.assertEqual(json.loads(out), {"primary": K2, "keys": [K2]})
        self.assertIn("gossip.encrypt_ignored", self.agent.read_log())

    def test_usage(self):
        self.agent.start()
        rc, _, err = self.cli("rotate", K2)
        self.assertEqual(rc, 2)
        self.assertIn("keyring needs list, or install, use or remove and a KEY", err)
        rc, _, _ = self.cli("install")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main()
