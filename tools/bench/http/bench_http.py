#!/usr/bin/python3
"""HTTP registration throughput: how many PUT /v1/services per second one
agent accepts, over C keep-alive connections (reg_client.c, one request in
flight per connection), and what each costs the agent in CPU.

For each connection count it registers N distinct instances (100 services),
then deregisters them, reporting requests/s, latency percentiles, and the
agent's CPU time per request (utime + stime from /proc over the run). The
agent persists API registrations (debounced atomic rewrites of
data_dir/services.json), so that cost is included, as in production.

Usage (from the repository root, after `ninja -C build`):
  /usr/bin/python3 tools/bench/http/bench_http.py [--count 20000]
      [--connections 1,4,16] [--cairn build/cairn]
The agent is pinned to CPU 0 and the client to CPU 1 when taskset exists.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402
from harness import Agent, wait_until  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_client(binary, agent, connections, count, deregister):
    cmd = [binary, agent.host, str(agent.http_port), str(connections), str(count), "", "1" if deregister else "0"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1"] + cmd
    before = cpu_seconds(agent.proc.pid)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(agent.proc.pid) - before
    fields = dict(kv.split("=") for kv in out.split())
    seconds = float(fields["seconds"])
    return {
        "ok": int(fields["ok"]),
        "errors": int(fields["errors"]),
        "per_second": int(fields["ok"]) / seconds,
        "p50_us": int(fields["p50_us"]),
        "p99_us": int(fields["p99_us"]),
        "cpu_us_per_request": cpu * 1e6 / count,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--connections", default="1,4,16")
    p.add_argument("--cairn", default=os.path.join(ROOT, "build", "cairn"))
    args = p.parse_args()
    harness.CAIRN_BIN = os.path.abspath(args.cairn)

    work = tempfile.mkdtemp(prefix="cairn-bench-http-")
    client = os.path.join(work, "reg_client")
    subprocess.run(["cc", "-O2", "-pthread", "-o", client,
                    os.path.join(os.path.dirname(os.path.abspath(__file__)), "reg_client.c")], check=True)

    print(f"{'conns':>5} {'op':>10} {'req/s':>9} {'p50 us':>8} {'p99 us':>8} {'agent CPU us/req':>17} {'RSS MiB':>8}")
    for connections in [int(c) for c in args.connections.split(",")]:
        agent = Agent(config_extra='[log]\nlevel = "warn"\n')
        agent.start(wait=False)
        wait_until(lambda: agent.http("GET", "/health", timeout=0.5)[0] == 200, timeout=15, what="the HTTP API")
        try:
            if shutil.which("taskset"):
                subprocess.run(["taskset", "-pc", "0", str(agent.proc.pid)], check=True, capture_output=True)
            for op, dereg in (("register", False), ("deregister", True)):
                r = run_client(client, agent, connections, args.count, dereg)
                if r["errors"]:
                    print(f"warning: {r['errors']} requests failed", file=sys.stderr)
                print(f"{connections:>5} {op:>10} {r['per_second']:>9.0f} {r['p50_us']:>8} {r['p99_us']:>8} "
                      f"{r['cpu_us_per_request']:>17.1f} {rss_mib(agent.proc.pid):>8.1f}")
        finally:
            agent.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
