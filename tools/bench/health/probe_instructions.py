#!/usr/bin/python3
"""User-space instructions per HTTP probe, counted by callgrind.

The CPU share that bench_health.py reports moves by a tenth or more from one
run to the next on a shared VM, so a change worth a few percent cannot be seen
in it. Instructions executed are nearly the same from run to run, so this
tool is the one to compare two builds with (the kernel's side of a probe, which
it does not see, is counted by `strace -c -p <agent pid>`).

It starts a target_server.c, runs one `cairn agent` under valgrind's callgrind
with --checks HTTP checks at a 1 s interval for --seconds, stops it, and
divides the instructions the agent executed (start-up included: about 6% at
the defaults, mostly the dynamic linker and the config, the same for every
build) by the probes the server answered. Pass several binaries to
compare them in one run:

  /usr/bin/python3 tools/bench/health/probe_instructions.py build/cairn /tmp/old/cairn
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from bench_health import agent_config, build  # noqa: E402
from harness import Agent, free_port, wait_until  # noqa: E402


def measure(binary, checks, seconds, work):
    out_file = os.path.join(work, "callgrind.out")
    wrapper = os.path.join(work, "cairn-under-callgrind")
    with open(wrapper, "w") as w:
        w.write(f'#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file={out_file} {binary} "$@"\n')
    os.chmod(wrapper, 0o755)
    harness.CAIRN_BIN = wrapper
    server_bin = build(work, "target_server")
    port = free_port()
    counts = os.path.join(work, "per_second.txt")
    with open(counts, "w") as out:
        server = subprocess.Popen([server_bin, "127.0.0.1", str(port)], stdout=out)
    agent = Agent(config_extra=agent_config(checks, 100, 1, 2, port))
    try:
        agent.start(wait=False)
        wait_until(lambda: agent.query("cairn.", "SOA", timeout=1) is not None, timeout=120, interval=1,
                   what="the agent's DNS under valgrind")
        time.sleep(seconds)  # the run being counted
        agent.stop(timeout=60)
        agent = None
    finally:
        if agent:
            agent.stop(timeout=60)
        server.terminate()
        server.wait()
    probes = 0
    with open(counts) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                probes += int(parts[1])
    report = subprocess.run(["callgrind_annotate", out_file], capture_output=True, text=True, check=True).stdout
    match = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", report)
    if not match or probes == 0:
        raise SystemExit(f"{binary}: no instruction total or no probes ({probes})")
    return probes, int(match.group(1).replace(",", ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--checks", type=int, default=100, help="HTTP checks, each probed once a second")
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args()
    for binary in args.binaries:
        work = tempfile.mkdtemp(prefix="cairn-probe-instructions-")
        probes, instructions = measure(os.path.abspath(binary), args.checks, args.seconds, work)
        print(f"{binary}: {probes} probes, {instructions} instructions, {instructions / probes:.0f} per probe",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
