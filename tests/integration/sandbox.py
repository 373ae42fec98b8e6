"""What a test that runs processes in network namespaces of its own makes,
and removes on every way out: the end of a test, a failed assertion, SIGTERM
from meson's timeout, the interpreter's exit (harness.at_exit).

- `add_namespace(name)`: `ip netns add`; deleted by `cleanup()`, and with it
  every interface in it and its /etc/netns/<name> directory, if the test
  made one (`ip netns exec` binds the files there over /etc);
- `started(proc)`: a process to kill and reap;
- `temp_dir(prefix)`: a temporary directory to remove.

`cleanup()` kills the processes first, then deletes the namespaces, then the
directories; it is safe to call more than once (each test's addCleanup, and
at exit). `LogsOnFailure` prints the processes' logs when a test fails.
"""

import shutil
import subprocess
import tempfile

from harness import at_exit

_namespaces = []  # every namespace this process made and has not deleted
_processes = []  # every process started in them and not reaped
_dirs = []  # every temporary directory not removed yet


def run(*args, check=True, timeout=10, input=None):
    """Runs a command, its output captured as text; fails the test when it
    exits non-zero (unless check=False)."""
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def add_namespace(name):
    run("ip", "netns", "add", name)
    _namespaces.append(name)
    return name


def started(proc):
    _processes.append(proc)
    return proc


def temp_dir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    _dirs.append(path)
    return path


def cleanup():
    """Kills every process, then deletes every namespace (and so every
    interface in it) and its /etc/netns directory, then every directory."""
    while _processes:
        p = _processes.pop()
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    while _namespaces:
        ns = _namespaces.pop()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
    while _dirs:
        shutil.rmtree(_dirs.pop(), ignore_errors=True)


at_exit(cleanup)


class LogsOnFailure:
    """A unittest.TestCase mixin. `print_logs_on_failure(logs)` registers a
    cleanup that prints `logs()`, a list of (title, text), if the test failed
    after the call; registered after cleanup(), it runs before it, while the
    logs are still there."""

    def _failures(self):
        result = self._outcome.result
        return len(result.failures) + len(result.errors)

    def print_logs_on_failure(self, logs):
        before = self._failures()

        def print_logs():
            if self._failures() > before:
                for title, text in logs():
                    print(f"--- {title} ---\n{text}")

        self.addCleanup(print_logs)
