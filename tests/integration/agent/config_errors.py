"""A bad configuration stops `cairn agent` before it serves, and both the
agent and `cairn validate` name the file, the line and the key."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_util as util  # noqa: E402
from harness import Agent, CAIRN_BIN  # noqa: E402


class BadConfig(unittest.TestCase):
    def setUp(self):
        # A valid agent config from the harness, spoiled by one line each test.
        self.agent = Agent()
        self.path = self.agent.config_path

    def run_agent(self):
        return subprocess.run([CAIRN_BIN, "agent", "--config", self.path], capture_output=True, text=True,
                              timeout=20)

    def assert_rejected(self, needle, expected):
        line = util.line_of(self.path, needle)
        message = f"{self.path}:{line}: {expected}"
        p = self.run_agent()
        self.assertNotEqual(p.returncode, 0, "the agent must not start on a bad config")
        self.assertIn(message, p.stdout + p.stderr)
        code, out, err = util.run_cairn("validate", self.path)
        self.assertEqual(code, 1)
        self.assertIn(message, err)
        self.assertNotIn("configuration is valid", out)

    def test_valid_config_validates(self):
        code, out, err = util.run_cairn("validate", self.path)
        self.assertEqual(code, 0, err)
        self.assertIn("configuration is valid", out)

    def test_unknown_key(self):
        # Into the harness's own [dns.forward] (a second header would be a
        # TOML error of another kind).
        with open(self.path) as f:
            text = f.read()
        self.assertIn("[dns.forward]\n", text)
        with open(self.path, "w") as f:
            f.write(text.replace("[dns.forward]\n", "[dns.forward]\nupstream = [\"1.1.1.1\"]\n", 1))
        self.assert_rejected("upstream =", "dns.forward.upstream: unknown key")

    def test_unknown_top_level_key(self):
        text = util.read(self.path)
        util.write(self.path, "nodename = \"x\"\n" + text)
        self.assert_rejected("nodename", "nodename: unknown key")

    def test_bad_duration(self):
        text = util.read(self.path).replace("[dns]\n", "[dns]\nservice_ttl = \"5x\"\n", 1)
        util.write(self.path, text)
        self.assert_rejected("service_ttl", 'dns.service_ttl: "5x" is not a duration')

    def test_wrong_type(self):
        text = util.read(self.path).replace("workers = 1", "workers = \"one\"", 1)
        util.write(self.path, text)
        self.assert_rejected("workers", 'dns.workers: expected an integer, got "one"')

    def test_bad_address(self):
        text = util.read(self.path)
        text = re.sub(r'\[http\]\nlisten = "[^"]*"', '[http]\nlisten = "127.0.0.1:99999"', text)
        util.write(self.path, text)
        self.assert_rejected("99999", 'http.listen: "127.0.0.1:99999" is not an address')

    def test_bad_service(self):
        util.append(self.path, "\n[[service]]\nname = \"web\"\nport = 8080\ncheck = { interval = \"1s\" }\n")
        self.assert_rejected("check = {", "service[0].check: exactly one of http, tcp, args or ttl")

    def test_toml_syntax_error(self):
        util.append(self.path, "\n[dns\n")
        line = util.line_of(self.path, "[dns\n")
        p = self.run_agent()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"{self.path}:{line}:", p.stderr)

    def test_every_error_is_reported(self):
        util.append(self.path, "\n[log]\nlevel = \"loud\"\nformat = \"yaml\"\n")
        p = self.run_agent()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("log.level: unknown log level 'loud'", p.stderr)
        self.assertIn("log.format: \"yaml\" is not a log format (expected text or json)", p.stderr)

    def test_missing_file(self):
        code, out, err = util.run_cairn("validate", os.path.join(self.agent.dir, "nope.toml"))
        self.assertEqual(code, 1)
        self.assertIn("nope.toml", err)
        p = subprocess.run([CAIRN_BIN, "agent", "--config", os.path.join(self.agent.dir, "nope.toml")],
                           capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)

    def test_broken_zone_at_start(self):
        util.write(os.path.join(self.agent.zones_dir, "example.test.zone"),
                   util.zone() + "bad IN A 300.1.2.3\n")
        p = self.run_agent()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("example.test.zone:", p.stderr)
        code, _, err = util.run_cairn("validate", self.path)
        self.assertEqual(code, 1)
        self.assertIn("example.test.zone:", err)


class Usage(unittest.TestCase):
    def test_version(self):
        code, out, _ = util.run_cairn("version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^cairn \d+\.\d+\.\d+")

    def test_help(self):
        code, out, _ = util.run_cairn("--help")
        self.assertEqual(code, 0)
        self.assertIn("agent --config", out)

    def test_agent_without_config_is_a_usage_error(self):
        code, _, err = util.run_cairn("agent")
        self.assertEqual(code, 2)
        self.assertIn("--config", err)

    def test_unknown_command(self):
        code, _, err = util.run_cairn("frobnicate")
        self.assertEqual(code, 2)
        self.assertIn("usage", err)

    def test_config_directory_merges_in_name_order(self):
        d = tempfile.mkdtemp(prefix="cairn-test-confd-")
        util.write(os.path.join(d, "10-a.toml"), 'node_name = "first"\n')
        util.write(os.path.join(d, "20-b.toml"), 'node_name = "second"\n[dns]\nzones_dir = "/nonexistent-zones"\n')
        code, out, err = util.run_cairn("validate", d)
        self.assertEqual(code, 0, err)
        self.assertIn("node second", out)


if __name__ == "__main__":
    unittest.main()
