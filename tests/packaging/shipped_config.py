"""The configuration the Debian package ships (packaging/debian/cairn.toml)
is valid as it is, and so is every commented-out key in it once uncommented
(so that no key or value it shows goes stale); the package's version is the
binary's. No sockets.

usage: shipped_config.py CAIRN_BIN SOURCE_ROOT"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

CAIRN_BIN, SOURCE_ROOT = sys.argv[1:3]
del sys.argv[1:3]
SHIPPED = os.path.join(SOURCE_ROOT, "packaging", "debian", "cairn.toml")


def validate(text):
    with tempfile.TemporaryDirectory(prefix="cairn-shipped-") as d:
        # The package puts the zones in /etc/cairn/zones; here they are the tree's.
        text = text.replace('"/etc/cairn/zones"', '"%s"' % os.path.join(SOURCE_ROOT, "zones"))
        path = os.path.join(d, "cairn.toml")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([CAIRN_BIN, "validate", path], capture_output=True, text=True,
                              timeout=30)


class ShippedConfig(unittest.TestCase):
    def setUp(self):
        with open(SHIPPED) as f:
            self.text = f.read()

    def test_valid_as_shipped(self):
        r = validate(self.text)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 zone", r.stdout)

    def test_every_commented_key_is_valid(self):
        # "# key = value" and "# [table]" lines, not the prose around them.
        pattern = re.compile(r"^# (?=\[|[a-z_]+ = )", re.M)
        uncommented, count = pattern.subn("", self.text)
        self.assertGreater(count, 30)
        # A key shown commented and also set (zones_dir, bind) would repeat.
        lines, seen, table = [], set(), ""
        for line in uncommented.splitlines():
            if line.startswith("["):
                table = line
            key = re.match(r"^([a-z_]+) = ", line)
            if key and table != "[[service]]":
                if (table, key.group(1)) in seen:
                    continue
                seen.add((table, key.group(1)))
            lines.append(line)
        r = validate("\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 service", r.stdout)

    def test_package_version_is_the_binary_version(self):
        with open(os.path.join(SOURCE_ROOT, "packaging", "debian", "changelog")) as f:
            version = re.match(r"cairn \(([^)]+)\)", f.readline()).group(1)
        out = subprocess.run([CAIRN_BIN, "version"], capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), f"cairn {version}")


if __name__ == "__main__":
    unittest.main()
