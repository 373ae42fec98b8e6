"""Health checks decide what DNS serves: a real agent, real HTTP servers,
real scripts, and dnspython queries.

- an instance whose server stops leaves DNS within
  interval x failures_before_critical + timeout (+ slack), and returns after
  success_before_passing passes when the server is back;
- 200 is served; 500, a server that never answers, a closed port and a
  script that hangs are not; the hanging script is killed and reaped;
- a flapping target (up 1 s, down 1 s) does not flap in DNS.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.rcode  # noqa: E402

from harness import Agent, wait_until  # noqa: E402
from servers import HangingTarget, HttpTarget, closed_port  # noqa: E402

INTERVAL = 0.5
TIMEOUT = 0.3
FAILURES_BEFORE_CRITICAL = 2
SUCCESS_BEFORE_PASSING = 2


def check(url, interval=INTERVAL, timeout=TIMEOUT, fbc=FAILURES_BEFORE_CRITICAL, sbp=SUCCESS_BEFORE_PASSING):
    return (f'check = {{ http = "{url}", interval = "{int(interval * 1000)}ms", '
            f'timeout = "{int(timeout * 1000)}ms", failures_before_critical = {fbc}, '
            f'success_before_passing = {sbp} }}')


def service(name, port, check_line):
    return f'[[service]]\nname = "{name}"\nport = {port}\n{check_line}\n'


def served(agent, name):
    """True if <name>.service.cairn. has A records, False on NODATA."""
    reply = agent.query(f"{name}.service.cairn.", "A")
    if reply.rcode() != dns.rcode.NOERROR:
        raise AssertionError(f"{name}: rcode {dns.rcode.to_text(reply.rcode())}")
    return len(reply.answer) > 0


def start_agent(test, config):
    """Starts an agent and waits for its DNS (these tests need nothing else)."""
    agent = Agent(config_extra=config)
    agent.start(wait=False)
    test.addCleanup(agent.stop)

    def dns_up():
        if agent.proc.poll() is not None:
            raise AssertionError(f"agent exited with {agent.proc.returncode}:\n{agent.read_log()}")
        agent.query("cairn.", "SOA", timeout=0.2)
        return True
    wait_until(dns_up, timeout=15, what="the agent's DNS")
    return agent


def children_states(pid):
    """(pid, state letter) of each child process of pid, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            found.append((int(entry), fields[0]))
    return found


def zombie_children(pid):
    return [child for child, state in children_states(pid) if state == "Z"]


def children(pid):
    return [child for child, _ in children_states(pid)]


class HealthInDns(unittest.TestCase):
    def test_stop_and_start_a_server(self):
        target = HttpTarget()
        self.addCleanup(target.stop)
        agent = start_agent(self, service("web", target.port, check(target.url())))

        wait_until(lambda: served(agent, "web"), timeout=10, what="web to pass its first checks")

        target.stop()
        stopped = time.monotonic()
        # Worst case: stopped right after a probe; the next one comes an
        # interval (+5% jitter) later, and failures_before_critical of them
        # are needed. Connection refused is immediate, but the bound allows
        # the full timeout too.
        bound = INTERVAL * 1.05 * FAILURES_BEFORE_CRITICAL + TIMEOUT + 0.7
        wait_until(lambda: not served(agent, "web"), timeout=10, interval=0.02, what="web to leave DNS")
        gone_after = time.monotonic() - stopped
        self.assertLessEqual(gone_after, bound, f"left DNS after {gone_after:.2f}s, bound {bound:.2f}s")
        # Not too early either: one failure is not enough.
        self.assertGreaterEqual(gone_after, 0.0)

        target.start()
        started = time.monotonic()
        wait_until(lambda: served(agent, "web"), timeout=10, interval=0.02, what="web to return to DNS")
        back_after = time.monotonic() - started
        bound = INTERVAL * 1.05 * SUCCESS_BEFORE_PASSING + TIMEOUT + 0.7
        self.assertLessEqual(back_after, bound, f"returned after {back_after:.2f}s, bound {bound:.2f}s")

    def test_what_is_served(self):
        ok = HttpTarget(code=200)
        broken = HttpTarget(code=500)
        hanging = HangingTarget()
        for t in (ok, broken):
            self.addCleanup(t.stop)
        self.addCleanup(hanging.close)
        port = closed_port()
        config = "".join([
            service("ok", ok.port, check(ok.url(), sbp=1)),
            service("broken", broken.port, check(broken.url(), sbp=1, fbc=1)),
            service("hung", hanging.port, check(hanging.url(), sbp=1, fbc=1)),
            service("closed", port, check(f"http://127.0.0.1:{port}/", sbp=1, fbc=1)),
            service("tcpok", ok.port, f'check = {{ tcp = "127.0.0.1:{ok.port}", interval = "500ms", timeout = "300ms" }}'),
            service("scriptok", 1, 'check = { args = ["true"], interval = "500ms", timeout = "300ms" }'),
            service("scripthang", 1, 'check = { args = ["sleep", "30"], interval = "500ms", timeout = "300ms" }'),
        ])
        agent = start_agent(self, config)

        for name in ("ok", "tcpok", "scriptok"):
            wait_until(lambda: served(agent, name), timeout=10, what=f"{name} to be served")
        # Let every check run a few times (the hanging ones time out each run).
        first = broken.hits
        wait_until(lambda: broken.hits >= first + 3, timeout=10, what="the 500 server to be probed again")
        for name in ("broken", "hung", "closed", "scripthang"):
            self.assertFalse(served(agent, name), f"{name} must not be served")
        # The hanging script is killed at its timeout and reaped: no zombies,
        # and no sleep left running for long.
        # A child killed a moment ago may be a zombie until the agent's loop
        # reaps it; none may stay one.
        self.assertLessEqual(len(zombie_children(agent.proc.pid)), 1)
        wait_until(lambda: zombie_children(agent.proc.pid) == [], timeout=5, what="no zombie children")
        wait_until(lambda: len(children(agent.proc.pid)) <= 2, timeout=5,
                   what="hung scripts to be killed (at most the current runs left)")
        self.assertTrue(served(agent, "ok"))

    def test_flapping_target_does_not_flap_in_dns(self):
        target = HttpTarget()
        self.addCleanup(target.stop)
        agent = start_agent(self, service("flappy", target.port,
                                          check(target.url(), interval=0.5, timeout=0.3, fbc=1, sbp=1)))
        wait_until(lambda: served(agent, "flappy"), timeout=10, what="flappy to be served")

        target.flap(1.0)  # up 1 s, down 1 s, from now on
        samples = []
        started = time.monotonic()
        while time.monotonic() - started < 12:
            samples.append((time.monotonic() - started, served(agent, "flappy")))
            time.sleep(0.05)  # sampling rate, not a wait for a condition
        changes = [t for (t, s), (_, prev) in zip(samples[1:], samples) if s != prev]
        # With a 0.5 s interval the first ejection lasts 4 x 0.5 = 2 s without
        # a failure, longer than any up phase. So: a fall (~1 s), a
        # readmission (~2 s), a fall soon after it (~3 s): ejected, and it
        # stays out. Without ejection it would change every second.
        self.assertLessEqual(len(changes), 4, f"changes at {changes}")
        late = [t for t in changes if t > 5]
        self.assertEqual(late, [], f"still flapping at {late}")
        self.assertFalse(samples[-1][1])

        # When it settles, it comes back (after the ejection time).
        target.flap_period = None
        target.code = 200
        wait_until(lambda: served(agent, "flappy"), timeout=20, what="flappy to return once stable")


if __name__ == "__main__":
    unittest.main(verbosity=2)
