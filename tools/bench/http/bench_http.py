#!/usr/bin/python3
"""HTTP registration throughput: how many PUT /v1/services per second one
agent accepts, over C keep-alive connections (reg_client.c, one request in
flight per connection), and what each costs the agent in CPU.

For each [storage] sync mode (--sync, default fsync and normal), each
registry size already stored (--stored, default 0, 50,000 and 100,000
instances, imported into data_dir/state.db before the agent serves) and
each connection count, one fresh agent: it registers --count distinct
instances (100 services), then deregisters them, and a row reports
requests/s, latency percentiles, and the agent's CPU time per request
(utime + stime from /proc over the run). Every 200 is durable: the agent
answers after the commit that holds the write, so requests/s are durable
registrations per second and p50/p99 a durable write's latency. The last
columns are from the agent's /metrics: changes per commit (group commit)
and the mean commit time.

At the end, per sync mode and connection count: registrations per second
at each stored size with the fastest over the slowest (a write's cost must
not grow with the registry: at most 2, else the exit status is 1), and a
registration's p50 and p99.

Usage (from the repository root, after `ninja -C build`):
  flock /work/bench.lock /usr/bin/python3 tools/bench/http/bench_http.py [--count 2000]
      [--connections 1,16] [--stored 0,50000,100000] [--sync fsync,normal] [--cairn build/cairn]
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

sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "abuse"))
from storage_util import prefill  # noqa: E402


def storage_metrics(agent):
    """(changes, commits, commit seconds) from /metrics."""
    status, body = agent.http("GET", "/metrics", timeout=10)
    values = {}
    for line in body.decode().splitlines():
        if line.startswith("cairn_storage_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    commits = values.get('cairn_storage_commits_total{result="ok"}', 0) + \
        values.get('cairn_storage_commits_total{result="failed"}', 0)
    return values.get("cairn_storage_changes_total", 0), commits, values.get("cairn_storage_commit_seconds_total", 0)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    return harness.rss_kib(pid) / 1024


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


def measure(client, args, sync, stored, connections):
    """One agent with `stored` instances and [storage] sync = `sync`: the
    register and deregister runs, a printed row each; returns the rows."""
    agent = Agent(config_extra=f'[log]\nlevel = "warn"\n[storage]\nsync = "{sync}"\n')
    if stored:
        prefill(os.path.join(agent.dir, "data"), stored)
    agent.start(wait=False)
    wait_until(lambda: agent.http("GET", "/health", timeout=0.5)[0] == 200, timeout=300,
               what="the HTTP API")
    rows = {}
    try:
        if shutil.which("taskset"):
            subprocess.run(["taskset", "-pc", "0", str(agent.proc.pid)], check=True, capture_output=True)
        for op, dereg in (("register", False), ("deregister", True)):
            changes0, commits0, seconds0 = storage_metrics(agent)
            r = run_client(client, agent, connections, args.count, dereg)
            changes1, commits1, seconds1 = storage_metrics(agent)
            commits = max(commits1 - commits0, 1)
            if r["errors"]:
                print(f"warning: {r['errors']} requests failed", file=sys.stderr)
            print(f"{sync:>6} {stored:>7} {connections:>5} {op:>10} {r['per_second']:>9.0f} {r['p50_us']:>8} "
                  f"{r['p99_us']:>8} {r['cpu_us_per_request']:>17.1f} {rss_mib(agent.proc.pid):>8.1f} "
                  f"{(changes1 - changes0) / commits:>10.1f} {(seconds1 - seconds0) * 1e3 / commits:>9.2f}",
                  flush=True)
            rows[op] = r
    finally:
        agent.stop(timeout=120)
        shutil.rmtree(agent.dir, ignore_errors=True)
    return rows


def summarize(results, syncs, sizes, conns):
    """Per sync mode and connection count: registrations/s at each size and
    the slowest against the fastest (the bound is 2), then a write's p50 and
    p99. Returns False when a ratio is over 2."""
    within = True
    print("\nDurable registrations per second by instances already stored "
          "(the fastest over the slowest must be at most 2):")
    for sync in syncs:
        for c in conns:
            rates = [results[(sync, n, c)]["register"]["per_second"] for n in sizes]
            ratio = max(rates) / max(min(rates), 1e-9)
            within = within and ratio <= 2
            figures = " / ".join(f"{r:.0f}" for r in rates)
            print(f"  sync={sync:<6} {c:>2} conn: {figures} at {' / '.join(map(str, sizes))} stored; "
                  f"ratio {ratio:.2f} {'ok' if ratio <= 2 else 'OVER 2'}")
    print("\nA registration's latency, p50 / p99 in ms:")
    for sync in syncs:
        for c in conns:
            cells = [f"{results[(sync, n, c)]['register']['p50_us'] / 1e3:.2f} / "
                     f"{results[(sync, n, c)]['register']['p99_us'] / 1e3:.2f}" for n in sizes]
            print(f"  sync={sync:<6} {c:>2} conn: " + ", ".join(f"{n} stored {cell}" for n, cell in zip(sizes, cells)))
    return within


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=2000, help="registrations per run (then as many deregistrations)")
    p.add_argument("--connections", default="1,16")
    p.add_argument("--stored", default="0,50000,100000", help="instances stored before the run")
    p.add_argument("--sync", default="fsync,normal", help="[storage] sync modes to run: none, normal, fsync")
    p.add_argument("--cairn", default=os.path.join(ROOT, "build", "cairn"))
    args = p.parse_args()
    harness.CAIRN_BIN = os.path.abspath(args.cairn)
    syncs = args.sync.split(",")
    for sync in syncs:
        if sync not in ("none", "normal", "fsync"):
            p.error(f"--sync: {sync!r} is not none, normal or fsync")
    sizes = [int(n) for n in args.stored.split(",")]
    conns = [int(c) for c in args.connections.split(",")]

    work = tempfile.mkdtemp(prefix="cairn-bench-http-")
    client = os.path.join(work, "reg_client")
    subprocess.run(["cc", "-O2", "-pthread", "-o", client,
                    os.path.join(os.path.dirname(os.path.abspath(__file__)), "reg_client.c")], check=True)

    print(f"{'sync':>6} {'stored':>7} {'conns':>5} {'op':>10} {'req/s':>9} {'p50 us':>8} {'p99 us':>8} "
          f"{'agent CPU us/req':>17} {'RSS MiB':>8} {'per commit':>10} {'commit ms':>9}", flush=True)
    results = {}
    for sync in syncs:
        for stored in sizes:
            for connections in conns:
                results[(sync, stored, connections)] = measure(client, args, sync, stored, connections)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if summarize(results, syncs, sizes, conns) else 1)


if __name__ == "__main__":
    main()
