#!/usr/bin/python3
"""Gossip benchmark: N real cairn agents as processes on 127.0.0.2.. (loopback),
the experiments of the memberlist harness, and, with --memberlist DIR, that
harness run for the same profile and N in the same invocation, so the figures
are compared as ratios on the same machine at the same time.

    tools/bench/gossip/bench_gossip.py --n 10 --profile local
    tools/bench/gossip/bench_gossip.py --n 10,50 --profile local,lan --memberlist PATH

Experiments (times in ms, from the moment the action was taken until every
agent shows the result, polled every --poll-ms):
  join       agents 2..N started at once with --join agent 1: all see N alive
             (from the first start, and from the last one)
  register   PUT /v1/services on a random agent: every agent answers it in DNS
  idle       gossip bytes sent per agent per second (from /metrics) over whole
             push-pull rounds, at least --idle-s,
             UDP and TCP payload as memberlist's harness counts them, from the
             same point: once every agent's first push-pull round is over
             (push-pull interval + its scaled interval + 1 s after the start)
  failure    kill -9 of a random agent: every other agent lists it dead
  leave      SIGTERM of a random agent: every other agent lists it left
  false_dead members ever listed dead that were never killed
"""

import argparse
import concurrent.futures
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import dns.message
import dns.query

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CAIRN = os.environ.get("CAIRN_BIN", os.path.join(ROOT, "build", "cairn"))
DNS_PORT, HTTP_PORT, GOSSIP_PORT = 18600, 18500, 18301


class Agent:
    def __init__(self, i, profile, base):
        self.name = f"b{i}"
        self.host = f"127.0.0.{i + 1}"
        self.dir = os.path.join(base, self.name)
        os.makedirs(self.dir)
        self.config = os.path.join(self.dir, "agent.toml")
        with open(self.config, "w") as f:
            f.write(f'node_name = "{self.name}"\ndata_dir = "{self.dir}/data"\n'
                    f'advertise_address = "{self.host}"\n'
                    f'[dns]\nlisten = ["{self.host}:{DNS_PORT}"]\nworkers = 1\nzones_dir = "{self.dir}"\n'
                    f'[http]\nlisten = "{self.host}:{HTTP_PORT}"\n'
                    f'[gossip]\nbind = "{self.host}:{GOSSIP_PORT}"\nprofile = "{profile}"\n'
                    '[storage]\nsync = "none"\n')
        self.proc = None

    def start(self, join=None):
        args = [CAIRN, "agent", "--config", self.config] + (["--join", join] if join else [])
        self.log = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def get(self, path, timeout=1.0):
        with urllib.request.urlopen(f"http://{self.host}:{HTTP_PORT}{path}", timeout=timeout) as r:
            return r.read()

    def members(self):
        try:
            return {m["name"]: m["state"] for m in json.loads(self.get("/v1/members"))}
        except Exception:
            return {}

    def metric(self, name):
        """The value of an unlabelled counter or gauge in /metrics (0 if absent)."""
        m = re.search(rf"^{name} (\d+)", self.get("/metrics").decode(), re.M)
        return int(m.group(1)) if m else 0

    def sent_bytes(self):
        return self.metric("cairn_gossip_sent_bytes_total")

    def answers(self, name):
        try:
            r = dns.query.udp(dns.message.make_query(name, "A"), self.host, port=DNS_PORT, timeout=0.3)
            return len(r.answer) > 0
        except Exception:
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def until(pred, timeout_s, poll_s):
    """ms until pred() holds, or None after timeout_s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if pred():
            return (time.monotonic() - t0) * 1000
        time.sleep(poll_s)
    return None


def summary(values):
    got = [v for v in values if v is not None]
    if not got:
        return {"median_ms": None, "max_ms": None, "missed": len(values)}
    return {"median_ms": round(statistics.median(got), 1), "max_ms": round(max(got), 1),
            "missed": len(values) - len(got)}


# The profiles' push-pull intervals (memberlist's DefaultLocalConfig and
# DefaultLANConfig), for the idle window's start.
PUSH_PULL_S = {"local": 15, "lan": 30, "wan": 60}


def push_pull_scaled_s(profile, n):
    """memberlist's pushPullScale: the interval times ceil(log2(n) - 5) + 1 past 32 nodes."""
    base = PUSH_PULL_S[profile]
    return base if n <= 32 else base * (math.ceil(math.log2(n) - math.log2(32)) + 1)


def run(n, profile, args):
    base = tempfile.mkdtemp(prefix="cairn-bench-gossip-")
    agents = [Agent(i, profile, base) for i in range(1, n + 1)]
    poll = args.poll_ms / 1000
    out = {"impl": "cairn", "profile": profile, "n": n}
    dead_seen = set()

    # Every agent is asked at once, so that one poll takes one request's time
    # at N = 50 too (memberlist's harness reads its nodes directly).
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=16)

    def all_see(names_states, among):
        views = list(pool.map(lambda a: a.members(), among))
        for v in views:
            dead_seen.update(k for k, s in v.items() if s == "dead")
        return all(all(v.get(k) == s for k, s in names_states.items()) for v in views)

    try:
        seed = agents[0]
        created = time.monotonic()
        seed.start()
        until(lambda: seed.members() != {}, 10, 0.05)
        t0 = time.monotonic()
        for a in agents[1:]:
            a.start(join=f"{seed.host}:{GOSSIP_PORT}")
        spawned = time.monotonic()
        want = {a.name: "alive" for a in agents}
        joined = until(lambda: all_see(want, agents), args.timeout_s, poll)
        out["join_all_ms"] = None if joined is None else round((time.monotonic() - t0) * 1000, 1)
        # Starting N-1 processes takes a while on a busy machine (memberlist's
        # harness creates its nodes before it times the joins): the same
        # convergence from the moment the last agent was started.
        out["join_after_last_start_ms"] = (None if joined is None else
                                           round((time.monotonic() - spawned) * 1000, 1))

        times = []
        for k in range(args.registrations):
            owner = random.choice(agents)
            body = json.dumps({"id": f"r{k}", "name": f"svc{k}", "address": "127.0.1.1", "port": 1000 + k})
            req = urllib.request.Request(f"http://{owner.host}:{HTTP_PORT}/v1/services", data=body.encode(),
                                         method="PUT")
            urllib.request.urlopen(req, timeout=5).read()
            t = time.monotonic()
            done = until(lambda: all(a.answers(f"svc{k}.service.cairn") for a in agents), 10, poll / 4)
            times.append(None if done is None else (time.monotonic() - t) * 1000)
        out["register"] = summary(times)

        # The first push-pull of an agent comes a random phase within the
        # interval and one scaled interval after its start: measure after
        # that, as memberlist's harness does, so that both windows see
        # steady state (and not this run's registrations).
        steady = created + PUSH_PULL_S[profile] + push_pull_scaled_s(profile, n) + 1
        time.sleep(max(0.0, steady - time.monotonic()))
        before = [a.sent_bytes() for a in agents]
        # A whole number of push-pull rounds (the smallest at least --idle-s
        # long): a window shorter than the round catches each agent's
        # push-pull or not depending on its phase. memberlist's figure is its
        # harness's window of the same kind (traffic_idle_full_pushpull).
        scaled = push_pull_scaled_s(profile, n)
        window = scaled * max(1, math.ceil(args.idle_s / scaled))
        time.sleep(window)
        after = [a.sent_bytes() for a in agents]
        per = [(b - a) / window for a, b in zip(before, after)]
        out["idle_window_s"] = window
        out["idle_bytes_per_agent_s"] = {"median": round(statistics.median(per)), "max": round(max(per))}

        live = list(agents)
        killed = set()
        fails = []
        for _ in range(args.failures):
            victim = random.choice(live[1:])
            live.remove(victim)
            killed.add(victim.name)
            t = time.monotonic()
            victim.stop(signal.SIGKILL)
            done = until(lambda: all_see({victim.name: "dead"}, live), args.timeout_s, poll)
            fails.append(None if done is None else (time.monotonic() - t) * 1000)
        out["failure"] = summary(fails)

        victim = random.choice(live[1:])
        live.remove(victim)
        t = time.monotonic()
        # Signalled, not waited for: the agent exits once its leave went out
        # and its state is flushed, which the others need not wait for (the
        # harness too times NotifyLeave at the others, not Leave()).
        victim.proc.send_signal(signal.SIGTERM)
        done = until(lambda: all_see({victim.name: "left"}, live), args.timeout_s, poll)
        out["leave_ms"] = None if done is None else round((time.monotonic() - t) * 1000, 1)
        victim.stop()
        out["false_dead"] = sorted(dead_seen - killed)
    finally:
        pool.shutdown(wait=False)
        for a in agents:
            a.stop(signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
    return out


def memberlist(n, profile, harness,
               extra="-join-trials 1 -bcast-reps 20 -leave-reps 1 -fail-reps 2 -traffic-secs 20"):
    """The memberlist harness for the same profile and N, with the harness
    arguments extra; its JSON lines by experiment."""
    out = tempfile.mktemp(suffix=".jsonl")
    env = dict(os.environ, CONFIGS=profile, NS=str(n), OUT=out, LOG=out + ".log", EXTRA_ARGS=extra)
    subprocess.run(["sh", os.path.join(harness, "run.sh")], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    rows = {}
    if os.path.exists(out):
        for line in open(out):
            r = json.loads(line)
            rows[r["experiment"]] = r
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", default="10")
    p.add_argument("--profile", default="local")
    p.add_argument("--registrations", type=int, default=20)
    p.add_argument("--failures", type=int, default=2)
    p.add_argument("--idle-s", type=float, default=20)
    p.add_argument("--poll-ms", type=float, default=100)
    p.add_argument("--timeout-s", type=float, default=60)
    p.add_argument("--memberlist", help="the memberlist harness directory (its run.sh) to run beside: a path outside this "
                   "repository, given here on the command line")
    args = p.parse_args()
    for profile in args.profile.split(","):
        for n in map(int, args.n.split(",")):
            c = run(n, profile, args)
            print(json.dumps(c), flush=True)
            if args.memberlist:
                m = memberlist(n, profile, args.memberlist)
                ml = {"impl": "memberlist", "profile": profile, "n": n,
                      "join_all_ms": m.get("join", {}).get("all_nodes_median_ms"),
                      "failure_median_ms": m.get("failure_detection", {}).get("all_nodes_median_ms"),
                      "leave_ms": m.get("graceful_leave", {}).get("all_nodes_median_ms"),
                      "broadcast_median_ms": m.get("broadcast", {}).get("all_nodes_median_ms"),
                      "idle_bytes_per_agent_s": m.get("traffic_idle_full_pushpull", {}).get(
                          "total_payload_bytes_per_node_s")}
                print(json.dumps(ml), flush=True)
                ratio = lambda a, b: None if not a or not b else round(a / b, 2)
                print(json.dumps({"ratio": "cairn/memberlist", "profile": profile, "n": n,
                                  "join": ratio(c["join_all_ms"], ml["join_all_ms"]),
                                  "failure": ratio(c["failure"]["median_ms"], ml["failure_median_ms"]),
                                  "leave": ratio(c["leave_ms"], ml["leave_ms"]),
                                  "idle_bytes": ratio(c["idle_bytes_per_agent_s"]["median"],
                                                      ml["idle_bytes_per_agent_s"]),
                                  "register_vs_broadcast": ratio(c["register"]["median_ms"],
                                                                 ml["broadcast_median_ms"])}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
