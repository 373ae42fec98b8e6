"""The Debian package, built as a user would build it (packaging/build-deb:
dpkg-buildpackage -b -us -uc) and tried as a new user would try it: lintian
finds no error; it holds the binary, the unit, the configuration (a
conffile), the example zone, the man pages and the bash completion; its
postinst creates the user cairn; the binary is hardened. Then what it
installs (unpacked with dpkg -x into a throwaway root, and bound over /etc/cairn
and /var/lib/cairn in a private mount and network namespace, so that the
machine's own files and ports are never touched) runs `cairn version` and
`cairn validate /etc/cairn/cairn.toml`, and starts as its systemd unit starts
it: as an unprivileged user with CAP_NET_BIND_SERVICE only, READY=1, dig
answers from the example zone, `man cairn.toml` renders, `cairn <TAB>`
completes, a reload says RELOADING=1 and READY=1, SIGTERM stops it cleanly.

usage: deb.py SOURCE_ROOT OUTDIR   (root only: namespaces and setpriv)
With CAIRN_DEB=path/to/cairn_*.deb it checks that package instead of
building one (to work on the checks)."""
import glob
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

INSIDE = len(sys.argv) > 1 and sys.argv[1] == "--inside"
if not INSIDE:
    SOURCE_ROOT, OUTDIR = sys.argv[1:3]
    del sys.argv[1:3]


def run(argv, **kw):
    kw.setdefault("timeout", 300)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def unit_lines(unit_path, key):
    with open(unit_path) as f:
        return [line.split("=", 1)[1].strip() for line in f if line.startswith(key + "=")]


class Deb(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.getuid() != 0:
            raise unittest.SkipTest("needs root (namespaces, setpriv, dpkg -x ownership)")
        if os.environ.get("CAIRN_DEB"):
            cls.deb = os.environ["CAIRN_DEB"]
            cls.unpack()
            return
        os.makedirs(OUTDIR, exist_ok=True)
        log_path = os.path.join(OUTDIR, "build.log")
        started = time.monotonic()
        with open(log_path, "w") as log:
            r = subprocess.run([os.path.join(SOURCE_ROOT, "packaging", "build-deb"), OUTDIR],
                               stdout=log, stderr=subprocess.STDOUT, timeout=1500)
        cls.build_seconds = time.monotonic() - started
        if r.returncode != 0:
            with open(log_path) as f:
                tail = f.read()[-6000:]
            raise AssertionError(f"packaging/build-deb failed ({log_path}):\n{tail}")
        debs = glob.glob(os.path.join(OUTDIR, "cairn_*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]
        cls.unpack()
        print(f"built {os.path.basename(cls.deb)} in {cls.build_seconds:.0f}s", file=sys.stderr)

    @classmethod
    def unpack(cls):
        cls.root = tempfile.mkdtemp(prefix="cairn-deb-root-")
        r = run(["dpkg", "-x", cls.deb, cls.root])
        assert r.returncode == 0, r.stderr
        cls.control = tempfile.mkdtemp(prefix="cairn-deb-control-")
        r = run(["dpkg-deb", "-e", cls.deb, cls.control])
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        for d in (getattr(cls, "root", None), getattr(cls, "control", None)):
            if d:
                shutil.rmtree(d, ignore_errors=True)

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def test_lintian_reports_no_errors(self):
        r = run(["lintian", "--fail-on", "error", "--tag-display-limit", "0", self.deb], timeout=600)
        print(r.stdout, file=sys.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotRegex(r.stdout, r"(?m)^E: ")

    def test_contents(self):
        r = run(["dpkg-deb", "-c", self.deb])
        files = {line.split()[-1].lstrip(".") for line in r.stdout.splitlines()}
        for expected in ("/usr/bin/cairn", "/lib/systemd/system/cairn.service",
                         "/etc/cairn/cairn.toml", "/etc/cairn/zones/example.test.zone",
                         "/usr/share/man/man1/cairn.1.gz", "/usr/share/man/man5/cairn.toml.5.gz",
                         "/usr/share/bash-completion/completions/cairn",
                         "/usr/share/doc/cairn/copyright"):
            self.assertIn(expected, files)
        self.assertFalse([f for f in files if f.startswith("/usr/local")], "nothing in /usr/local")
        # The unit is the repository's, byte for byte.
        with open(os.path.join(SOURCE_ROOT, "packaging", "systemd", "cairn.service")) as a, \
                open(self.path("/lib/systemd/system/cairn.service")) as b:
            self.assertEqual(a.read(), b.read())
        with open(os.path.join(SOURCE_ROOT, "packaging", "debian", "cairn.toml")) as a, \
                open(self.path("/etc/cairn/cairn.toml")) as b:
            self.assertEqual(a.read(), b.read())

    def test_control_conffiles_and_postinst(self):
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout
        self.assertIn("adduser", depends)
        self.assertRegex(depends, r"libuv1")  # from ${shlibs:Depends}
        with open(os.path.join(self.control, "conffiles")) as f:
            conffiles = f.read().split()
        self.assertIn("/etc/cairn/cairn.toml", conffiles)
        self.assertIn("/etc/cairn/zones/example.test.zone", conffiles)
        postinst = os.path.join(self.control, "postinst")
        with open(postinst) as f:
            text = f.read()
        self.assertEqual(run(["sh", "-n", postinst]).returncode, 0)
        self.assertRegex(text, r"(?s)getent passwd cairn.*adduser --system --group .*?\scairn\n")
        # The user exists before dh_installsystemd's part enables and starts the unit.
        self.assertLess(text.index("adduser"), text.index("deb-systemd-helper"))

    def test_binary_is_hardened(self):
        binary = self.path("/usr/bin/cairn")
        header = run(["readelf", "-h", binary]).stdout
        self.assertRegex(header, r"Type:\s+DYN")  # PIE
        dynamic = run(["readelf", "-d", binary]).stdout
        self.assertRegex(dynamic, r"BIND_NOW|FLAGS_1.*NOW")
        self.assertIn("GNU_RELRO", run(["readelf", "-l", binary]).stdout)
        symbols = run(["readelf", "--dyn-syms", "-W", binary]).stdout
        self.assertRegex(symbols, r"__\w+_chk")  # _FORTIFY_SOURCE
        self.assertIn("__stack_chk_fail", symbols)
        self.assertNotIn("debug_info", run(["readelf", "-S", binary]).stdout, "stripped")

    def test_runs_as_installed(self):
        # The rest runs inside the namespace: this file again, with --inside.
        # The mount points it binds over are made if missing (an empty
        # directory, the only trace outside) and removed after.
        made = [d for d in ("/etc/cairn", "/var/lib/cairn") if not os.path.exists(d)]
        try:
            r = subprocess.run(["unshare", "--mount", "--net", "--fork", sys.executable,
                                os.path.abspath(__file__), "--inside", self.root],
                               capture_output=True, text=True, timeout=300)
        finally:
            for d in made:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        print(r.stdout + r.stderr, file=sys.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("inside: all checks passed", r.stdout)


    def test_runs_under_systemd(self):
        # systemd itself, booted with systemd-nspawn in a private network
        # namespace on a copy-on-write view of this machine's root (a tmpfs
        # overlay, thrown away after): dpkg -i installs the package, its
        # postinst creates the user and systemd starts the unit as installed.
        with SystemdContainer() as box:
            cp = box.run(["dpkg", "-i", "/var/tmp/" + os.path.basename(self.deb)],
                         timeout=300)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            self.assertEqual(box.run(["getent", "passwd", "cairn"]).returncode, 0)
            self.assertTrue(box.wait_active(), box.status())
            show = box.show("User", "Type", "WatchdogUSec", "NRestarts", "StatusErrno")
            self.assertEqual((show["User"], show["Type"], show["WatchdogUSec"]),
                             ("cairn", "notify", "30s"), show)
            dig = box.run(["dig", "@127.0.0.1", "-p", "8600", "+short", "+time=2",
                           "www.example.test"])
            self.assertTrue(dig.stdout.strip(), dig.stdout + dig.stderr)
            reg = box.run(["cairn", "register", "--name", "web", "--port", "8080",
                           "--address", "127.0.0.11"])
            self.assertEqual(reg.returncode, 0, reg.stdout + reg.stderr)
            web = box.run(["dig", "@127.0.0.1", "-p", "8600", "+short", "+time=2",
                           "web.service.cairn"])
            self.assertEqual(web.stdout.strip(), "127.0.0.11")
            promtool = box.run(["sh", "-c", "curl -sf --max-time 5 http://127.0.0.1:8500/metrics"
                                " | promtool check metrics"])
            self.assertEqual(promtool.returncode, 0, promtool.stdout + promtool.stderr)
            services = box.run(["curl", "-sf", "--max-time", "5",
                                "http://127.0.0.1:8500/v1/services"])
            self.assertIn('"web"', services.stdout)
            ui = box.run(["curl", "-sf", "--max-time", "5", "http://127.0.0.1:8500/ui/"])
            self.assertIn("<html", ui.stdout.lower())
            # The StateDirectory systemd made, owned by the unit's user.
            st = box.run(["stat", "-c", "%U %a", "/var/lib/cairn", "/var/lib/cairn/state.db"])
            self.assertEqual(st.stdout.split("\n")[:2], ["cairn 700", "cairn 600"], st.stdout)

            # systemctl reload: SIGHUP (ExecReload), and the agent stays up.
            pid = box.show("MainPID")["MainPID"]
            self.assertEqual(box.run(["systemctl", "reload", "cairn"]).returncode, 0)
            self.assertTrue(box.wait_active(), box.status())
            self.assertEqual(box.show("MainPID")["MainPID"], pid, "a reload keeps the process")

            # The watchdog: a hung main loop (SIGSTOP) stops the pings, and
            # systemd kills and restarts the agent. Shortened with a drop-in.
            box.write("/etc/systemd/system/cairn.service.d/watchdog.conf",
                      "[Service]\nWatchdogSec=4\n")
            box.run(["systemctl", "daemon-reload"])
            self.assertEqual(box.run(["systemctl", "restart", "cairn"]).returncode, 0)
            self.assertTrue(box.wait_active(), box.status())
            pid = box.show("MainPID")["MainPID"]
            # Alive after two watchdog periods: the agent pings. (A wait that
            # cannot be a condition: what is asserted is that nothing happens.)
            time.sleep(8)
            self.assertEqual(box.show("MainPID", "NRestarts"), {"MainPID": pid, "NRestarts": "0"})
            box.run(["kill", "-STOP", pid])
            self.assertTrue(box.wait_restarted(pid), box.status())
            self.assertTrue(box.wait_active(), box.status())
            journal = box.run(["journalctl", "-u", "cairn", "--no-pager", "-o", "cat"]).stdout
            self.assertIn("Watchdog timeout", box.run(
                ["journalctl", "--no-pager", "-o", "cat"]).stdout)
            self.assertRegex(journal, r"level=info msg=agent\.ready", "the agent's own lines")

            self.assertEqual(box.run(["systemctl", "stop", "cairn"]).returncode, 0)
            self.assertEqual(box.show("ActiveState", "Result"),
                             {"ActiveState": "inactive", "Result": "success"})


class SystemdContainer:
    """systemd booted by systemd-nspawn on a tmpfs overlay of / (lowerdir=/,
    so the packages this machine has are there), with a network namespace
    of its own; commands run in it with nsenter. The package's .deb is put
    in its /var/tmp."""
    MASKED = ("nftables", "unbound", "nsd", "knot", "haproxy", "prometheus",
              "systemd-networkd-wait-online")

    def __enter__(self):
        self.top = tempfile.mkdtemp(prefix="cairn-systemd-")
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", self.top], check=True)
        for d in ("upper", "work", "root"):
            os.mkdir(os.path.join(self.top, d))
        self.root = os.path.join(self.top, "root")
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir=/,upperdir={self.top}/upper,workdir={self.top}/work",
                        self.root], check=True)
        os.makedirs(self.root + "/var/tmp", exist_ok=True)
        for deb in glob.glob(os.path.join(OUTDIR, "cairn_*.deb")) + \
                [os.environ.get("CAIRN_DEB", "")]:
            if deb:
                shutil.copy(deb, self.root + "/var/tmp/")
        with open(self.root + "/etc/machine-id", "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        for unit in self.MASKED:
            link = f"{self.root}/etc/systemd/system/{unit}.service"
            if os.path.lexists(link):
                os.remove(link)
            os.symlink("/dev/null", link)
        # A container image's policy-rc.d (Docker's says 101) would keep the
        # postinst from starting the unit, as it would not on a machine.
        if os.path.lexists(self.root + "/usr/sbin/policy-rc.d"):
            os.remove(self.root + "/usr/sbin/policy-rc.d")
        self.console = open(os.path.join(self.top, "console.log"), "wb")
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "-D", self.root, "--boot", "--private-network",
             "--register=no", "--keep-unit", "--machine", "cairn-test", "--",
             "systemd.firstboot=off"],
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT)
        try:
            self.boot()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def boot(self):
        self.pid = self.init_pid()
        # `--wait` needs the manager's socket, which comes a moment after PID 1.
        booted = self.wait_until(lambda: self.run(
            ["systemctl", "is-system-running", "--wait"]).stdout.strip() in
            ("running", "degraded"), 120)
        assert booted, self.console_text()

    def init_pid(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.nspawn.poll() is None, self.console_text()
            try:
                with open(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children") as f:
                    children = f.read().split()
            except OSError:
                children = []
            if children and os.readlink(f"/proc/{children[0]}/exe").endswith("systemd"):
                return children[0]
            time.sleep(0.1)
        raise AssertionError("systemd did not start in the container: " + self.console_text())

    def console_text(self):
        with open(os.path.join(self.top, "console.log"), errors="replace") as f:
            return f.read()[-4000:]

    def run(self, argv, timeout=60):
        return run(["nsenter", "-t", str(self.pid), "-a", "--"] + argv, timeout=timeout)

    def write(self, path, text):
        self.run(["mkdir", "-p", os.path.dirname(path)])
        with open(self.root + path, "w") as f:
            f.write(text)

    def show(self, *props):
        r = self.run(["systemctl", "show", "cairn", "-p", ",".join(props)])
        return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)

    def status(self):
        return self.run(["systemctl", "status", "--no-pager", "-l", "cairn"]).stdout + \
            self.run(["journalctl", "-u", "cairn", "--no-pager", "-n", "40"]).stdout

    def wait_until(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.2)
        return False

    def wait_active(self, timeout=30):
        return self.wait_until(lambda: self.show("ActiveState")["ActiveState"] == "active",
                               timeout)

    def wait_restarted(self, old_pid, timeout=30):
        def restarted():
            s = self.show("MainPID", "NRestarts")
            return s["MainPID"] not in ("0", old_pid) and s["NRestarts"] != "0"
        return self.wait_until(restarted, timeout)

    def __exit__(self, *exc):
        if self.nspawn.poll() is None:
            self.nspawn.terminate()  # nspawn asks the container's systemd to power off
            try:
                self.nspawn.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        self.console.close()
        subprocess.run(["umount", "-R", self.root])
        subprocess.run(["umount", self.top])
        os.rmdir(self.top)


# ---- inside the private mount and network namespace ----

def check(ok, what):
    if not ok:
        raise SystemExit(f"inside: FAILED: {what}")
    print(f"inside: ok: {what}")


def notify_socket(directory):
    path = os.path.join(directory, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(directory, 0o755)
    os.chmod(path, 0o777)
    return s, path


def next_message(sock, key, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096).decode()
        except socket.timeout:
            break
        fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
        if key in fields:
            return fields
    return None


def inside(root):
    def at(p):
        return os.path.join(root, p.lstrip("/"))

    binary = at("/usr/bin/cairn")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    state = tempfile.mkdtemp(prefix="cairn-state-")
    os.chown(state, 65534, 65534)  # as StateDirectory= hands it to User=
    # The package's /etc/cairn and a fresh /var/lib/cairn, seen only in here.
    for source, target in ((at("/etc/cairn"), "/etc/cairn"), (state, "/var/lib/cairn")):
        os.makedirs(target, exist_ok=True)
        subprocess.run(["mount", "--bind", source, target], check=True)

    version = run([binary, "version"])
    check(re.fullmatch(r"cairn \d+\.\d+\.\d+\n", version.stdout), f"cairn version: {version.stdout!r}")
    valid = run([binary, "validate", "/etc/cairn/cairn.toml"])
    check(valid.returncode == 0 and "1 zone from /etc/cairn/zones" in valid.stdout,
          f"cairn validate /etc/cairn/cairn.toml: {valid.stdout}{valid.stderr}")

    unit = at("/lib/systemd/system/cairn.service")
    pre = shlex.split(unit_lines(unit, "ExecStartPre")[0].replace("/usr/bin/cairn", binary))
    start = shlex.split(unit_lines(unit, "ExecStart")[0].replace("/usr/bin/cairn", binary))
    cap = unit_lines(unit, "AmbientCapabilities")[0].lower().removeprefix("cap_")
    as_unit = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
               f"--inh-caps=-all,+{cap}", f"--ambient-caps=-all,+{cap}",
               f"--bounding-set=-all,+{cap}", "--no-new-privs"]
    r = run(as_unit + pre)
    check(r.returncode == 0, f"ExecStartPre {pre}: {r.stdout}{r.stderr}")

    notify_dir = tempfile.mkdtemp(prefix="cairn-notify-")
    sock, notify_path = notify_socket(notify_dir)
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": notify_path}
    log_path = os.path.join(notify_dir, "agent.log")
    with open(log_path, "wb") as log:
        agent = subprocess.Popen(as_unit + start, stdout=log, stderr=subprocess.STDOUT, env=env,
                                 cwd="/var/lib/cairn")
        try:
            ready = next_message(sock, "READY")
            check(ready is not None, "READY=1 from the agent started as the unit starts it")
            dig = run(["dig", "@127.0.0.1", "-p", "8600", "+short", "+time=2", "www.example.test"])
            check(dig.returncode == 0 and dig.stdout.strip(), f"dig www.example.test: {dig.stdout}")
            self_srv = run(["dig", "@127.0.0.1", "-p", "8600", "+short", "+time=2", "cairn.", "SOA"])
            check(self_srv.stdout.strip(), f"dig cairn. SOA: {self_srv.stdout}")
            health = run(["curl", "-sf", "--max-time", "5", "http://127.0.0.1:8500/health"])
            check(health.returncode == 0, f"curl /health: {health.stdout}")
            reg = run([binary, "register", "--name", "web", "--port", "8080", "--address",
                       "127.0.0.11"])
            check(reg.returncode == 0, f"cairn register: {reg.stdout}{reg.stderr}")
            web = run(["dig", "@127.0.0.1", "-p", "8600", "+short", "+time=2", "web.service.cairn"])
            check(web.stdout.strip() == "127.0.0.11", f"dig web.service.cairn: {web.stdout!r}")
            check(os.path.exists("/var/lib/cairn/state.db"), "state.db in the StateDirectory")

            man = subprocess.run(["man", "-l", at("/usr/share/man/man5/cairn.toml.5.gz")],
                                 capture_output=True, text=True, timeout=60,
                                 env={"PATH": "/usr/bin:/bin", "MANWIDTH": "80"})
            check(man.returncode == 0 and "zones_dir" in man.stdout and not man.stderr,
                  "man cairn.toml renders and explains zones_dir")
            completion = at("/usr/share/bash-completion/completions/cairn")
            words = run(["bash", "--norc", "--noprofile", "-c",
                         f"source {completion} && COMP_WORDS=(cairn se) && COMP_CWORD=1 && "
                         "_cairn && echo ${COMPREPLY[@]}; COMP_WORDS=(cairn services '') && "
                         "COMP_CWORD=2 && _cairn && echo ${COMPREPLY[@]}"])
            check(words.stdout.split("\n")[:2] == ["services", "web"],
                  f"cairn <TAB> completes: {words.stdout!r} {words.stderr}")

            agent.send_signal(1)  # SIGHUP: systemctl reload
            check(next_message(sock, "RELOADING") is not None, "RELOADING=1 on SIGHUP")
            check(next_message(sock, "READY") is not None, "READY=1 after the reload")
            agent.terminate()
            check(next_message(sock, "STOPPING") is not None, "STOPPING=1 on SIGTERM")
            check(agent.wait(timeout=30) == 0, "exit 0 after SIGTERM")
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
            with open(log_path) as f:
                print(f.read()[-3000:])
    print("inside: all checks passed")


if __name__ == "__main__":
    if INSIDE:
        inside(sys.argv[2])
    else:
        unittest.main()
