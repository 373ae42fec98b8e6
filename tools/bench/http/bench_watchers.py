#!/usr/bin/python3
"""Idle blocking watchers: what 5,000 parked Consul blocking queries
(GET /v1/health/service/web?index=N&wait=10m) cost one agent while nothing
changes, as CPU of the agent (utime + stime from /proc) over --seconds,
in per cent of one core; then one change to the watched service, and how
long until every watcher has its answer (and that each got a higher
X-Consul-Index). The requirement (issue 19): under 1 % of a core.

The watchers are plain non-blocking sockets in this process (one request
each, written once), so the client costs nothing while they are parked. A
second service that changes would wake no one: a short check of that runs
too (--other-changes changes to another service during the idle window
must not answer any watcher).

Usage (from the repository root, after `ninja -C build`):
  flock /work/bench.lock /usr/bin/python3 tools/bench/http/bench_watchers.py [--watchers 5000]
      [--seconds 30] [--cairn build/cairn]
"""
import argparse
import json
import os
import resource
import selectors
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402
from harness import Agent, wait_until  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def consul_index(agent, path):
    req = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", agent.http_port), timeout=10) as s:
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-consul-index":
            return int(value.strip())
    raise RuntimeError(f"no X-Consul-Index in: {head}")


def register(agent, body):
    status, reply = agent.http("PUT", "/v1/services", json.dumps(body))
    if status != 200:
        raise RuntimeError(f"register -> {status} {reply!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--watchers", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--other-changes", type=int, default=20)
    p.add_argument("--cairn", default=os.path.join(ROOT, "build", "cairn"))
    args = p.parse_args()
    harness.CAIRN_BIN = os.path.abspath(args.cairn)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.watchers + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    agent = Agent(config_extra=f"[http]\nmax_connections = {args.watchers + 100}\n")
    agent.start()
    try:
        register(agent, {"id": "web-1", "name": "web", "address": "127.0.0.1", "port": 8080})
        register(agent, {"id": "other-1", "name": "other", "address": "127.0.0.1", "port": 8081})
        path = "/v1/health/service/web"
        index = consul_index(agent, path)
        request = (f"GET {path}?index={index}&wait=10m HTTP/1.1\r\nHost: x\r\n\r\n").encode()
        sel = selectors.DefaultSelector()
        socks = []
        t0 = time.monotonic()
        for n in range(args.watchers):
            s = socket.create_connection(("127.0.0.1", agent.http_port), timeout=10)
            s.sendall(request)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, n)
            socks.append(s)
        print(f"{args.watchers} watchers opened in {time.monotonic() - t0:.1f} s; load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        time.sleep(2)  # let the last requests be parsed and parked before measuring
        early = sel.select(timeout=0)
        cpu0, wall0 = cpu_seconds(agent.proc.pid), time.monotonic()
        changes_left = args.other_changes
        answered_early = len(early)
        while time.monotonic() - wall0 < args.seconds:
            if changes_left > 0 and time.monotonic() - wall0 > args.seconds / 2:
                # Another service changes: no watcher of web may wake.
                register(agent, {"id": "other-1", "name": "other", "address": "127.0.0.1",
                                 "port": 8081, "tags": [f"t{changes_left}"]})
                changes_left -= 1
            answered_early += len(sel.select(timeout=0.5))
        cpu1, wall1 = cpu_seconds(agent.proc.pid), time.monotonic()
        share = (cpu1 - cpu0) / (wall1 - wall0) * 100
        print(f"idle: agent CPU {cpu1 - cpu0:.3f} s over {wall1 - wall0:.1f} s = {share:.2f} % of a core "
              f"with {args.watchers} parked watchers ({args.other_changes} changes to another service "
              f"meanwhile); watchers answered before any change to theirs: {answered_early}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)

        t_change = time.monotonic()
        register(agent, {"id": "web-1", "name": "web", "address": "127.0.0.1", "port": 8080, "tags": ["v2"]})
        done = set()
        higher = 0
        buffers = {}
        while len(done) < args.watchers and time.monotonic() - t_change < 60:
            for key, _ in sel.select(timeout=1):
                n = key.data
                try:
                    chunk = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                buffers[n] = buffers.get(n, b"") + chunk
                head = buffers[n].split(b"\r\n\r\n", 1)[0]
                if b"\r\n\r\n" in buffers[n] and n not in done:
                    done.add(n)
                    sel.unregister(key.fileobj)
                    for line in head.decode().split("\r\n"):
                        name, _, value = line.partition(":")
                        if name.strip().lower() == "x-consul-index" and int(value.strip()) > index:
                            higher += 1
        took = time.monotonic() - t_change
        print(f"after one change to web: {len(done)} of {args.watchers} watchers answered in {took * 1000:.0f} ms, "
              f"{higher} with a higher X-Consul-Index", flush=True)
        for s in socks:
            s.close()
        verdict = share < 1.0 and answered_early == 0 and len(done) == args.watchers
        print("PASS" if verdict else "FAIL", flush=True)
        return 0 if verdict else 1
    finally:
        agent.stop()


if __name__ == "__main__":
    sys.exit(main())
