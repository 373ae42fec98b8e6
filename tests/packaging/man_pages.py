"""The man pages made at build time render without a warning, and hold what
they are made from: cairn(1) every command and flag of `cairn help`,
cairn.toml(5) every key of docs/configuration.md (which a unit test holds to
the keys the config reader reads).

usage: man_pages.py CAIRN_BIN SOURCE_ROOT cairn.1 cairn.toml.5"""
import os
import re
import shutil
import subprocess
import sys
import unittest

CAIRN_BIN, SOURCE_ROOT, CAIRN_1, CAIRN_TOML_5 = sys.argv[1:5]
del sys.argv[1:5]


def rendered(page):
    """`man -l` of the page as plain text; fails on anything on stderr."""
    env = dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "-l", page], capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0 or r.stderr:
        raise AssertionError(f"man -l {page}: exit {r.returncode}: {r.stderr}")
    # Bold and underline as man prints them to a pipe: "X\bX", "_\bX".
    return re.sub(r".\x08", "", r.stdout)


def documented_keys():
    """(section, key) of every `| key | default | meaning |` table row."""
    keys = []
    section = None
    in_table = False
    with open(os.path.join(SOURCE_ROOT, "docs", "configuration.md")) as f:
        for line in f:
            if line.startswith("#"):
                section, in_table = line.strip("# \n"), False
            elif line.startswith("| key | default | meaning |"):
                in_table = True
            elif in_table and line.startswith("| `"):
                keys.append((section, line.split("`")[1]))
            elif not line.startswith("|"):
                in_table = False
    return keys


class ManPages(unittest.TestCase):
    def test_groff_finds_nothing_to_warn_about(self):
        for page in (CAIRN_1, CAIRN_TOML_5):
            r = subprocess.run(["groff", "-ww", "-z", "-man", "-t", page], capture_output=True,
                               text=True, env=dict(os.environ, LC_ALL="C.UTF-8"), timeout=60)
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)

    @unittest.skipUnless(shutil.which("mandoc"), "mandoc is not installed (tools/deps.sh)")
    def test_mandoc_lint_finds_no_warning(self):
        for page in (CAIRN_1, CAIRN_TOML_5):
            r = subprocess.run(["mandoc", "-Tlint", "-Wwarning", page], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.stdout + r.stderr, "", page)

    def test_cairn_1_has_every_command_and_flag(self):
        text = rendered(CAIRN_1)
        usage = subprocess.run([CAIRN_BIN, "help"], capture_output=True, text=True).stdout
        commands = sorted(set(re.findall(r"^  cairn (\S+)", usage, re.M)))
        self.assertGreaterEqual(len(commands), 11, usage)
        sections = re.findall(r"^   (\S+)$", text, re.M)  # the .SS headings
        self.assertEqual(sorted(sections), commands)
        for flag in set(re.findall(r"(--[a-z-]+)", usage)):
            self.assertTrue(re.search(rf"(?m)^       {flag}\b", text), f"{flag} is not in cairn(1)")

    def test_cairn_toml_5_has_every_key(self):
        text = rendered(CAIRN_TOML_5)
        keys = documented_keys()
        self.assertGreater(len(keys), 50)
        for section, key in keys:
            # Each key is a tagged paragraph: "       key (default: ...)", or
            # a key without a default and its text on one line.
            tag = re.search(rf"(?m)^       {re.escape(key)}( \(default: |  |$)", text)
            self.assertTrue(tag, f"{section}: {key} is not a tagged paragraph of cairn.toml(5)")


if __name__ == "__main__":
    unittest.main()
