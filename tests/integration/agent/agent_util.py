"""Helpers shared by the agent integration tests (on top of harness.py)."""
import subprocess

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from harness import CAIRN_BIN, wait_until

ZONE_TEMPLATE = """$ORIGIN example.test.
$TTL 300
@       IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300
@       IN NS  ns1
ns1     IN A   192.0.2.53
www     IN A   {www}
"""


def zone(serial=1, www="192.0.2.10"):
    return ZONE_TEMPLATE.format(serial=serial, www=www)


def soa(agent, name="cairn.", tcp=False):
    """The response to a SOA query for name, or None if there is none yet."""
    return agent.query(name, "SOA", tcp=tcp, timeout=0.5)


def serves(agent):
    """True once the agent answers the SOA of its domain (whether or not HTTP is up)."""
    if agent.proc.poll() is not None:
        raise AssertionError(f"agent exited with {agent.proc.returncode}:\n{agent.read_log()}")
    r = soa(agent)
    return r.rcode() == dns.rcode.NOERROR and any(rr.rdtype == dns.rdatatype.SOA for rr in r.answer)


def start_dns(agent):
    """Starts the agent and waits for DNS only, so these tests do not depend on the HTTP API."""
    agent.start(wait=False)
    wait_until(lambda: serves(agent), timeout=15, what="the agent to answer SOA cairn.")
    return agent


def addresses(response):
    return sorted(rr.address for rrset in response.answer for rr in rrset
                  if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA))


def www_address(agent):
    return addresses(agent.query("www.example.test.", "A", timeout=0.5))


def log_has(agent, text):
    return text in agent.read_log()


def run_cairn(*args, timeout=20):
    """Runs the cairn binary to completion: (exit code, stdout, stderr)."""
    p = subprocess.run([CAIRN_BIN, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def line_of(path, needle):
    """The 1-based line number of the first line of path containing needle."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if needle in line:
                return n
    raise AssertionError(f"{needle!r} not in {path}")


def stop_and_wait(agent, signum, timeout=10):
    """Sends signum and returns the exit code, failing if it takes longer than timeout."""
    agent.signal(signum)
    try:
        return agent.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        agent.proc.kill()
        agent.proc.wait()
        raise AssertionError(f"agent did not exit within {timeout}s:\n{agent.read_log()}")
